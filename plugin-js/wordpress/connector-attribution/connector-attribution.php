<?php
/**
 * Plugin Name: Connector Attribution
 * Description: Adds the connector's attribution script: captures UTMs, click ids and AI sources, fills hidden form fields, bridges the OpenAI pixel and booking widgets.
 * Version: 0.1.0
 * Requires at least: 6.3
 * Requires PHP: 7.4
 * License: MIT
 * Text Domain: connector-attribution
 *
 * Settings > Connector Attribution holds only public values (pixel id, endpoint URL, consent mode, root
 * domain). Never put an API key here: everything below is printed into the page.
 */

defined( 'ABSPATH' ) || exit;

const CONNECTOR_ATTRIBUTION_OPTION = 'connector_attribution';

/** The saved settings merged over the defaults. */
function connector_attribution_settings() {
	$defaults = array(
		'pixel_id'    => '',
		'endpoint'    => '',
		'consent'     => 'required',
		'root_domain' => '',
	);
	return wp_parse_args( (array) get_option( CONNECTOR_ATTRIBUTION_OPTION, array() ), $defaults );
}

/** Enqueue the built script (deferred) with its data-* configuration. */
function connector_attribution_enqueue() {
	wp_enqueue_script(
		'connector-attribution',
		plugins_url( 'attribution.js', __FILE__ ),
		array(),
		'0.1.0',
		array( 'strategy' => 'defer', 'in_footer' => false )
	);
}
add_action( 'wp_enqueue_scripts', 'connector_attribution_enqueue' );

/** Add the data-* attributes to our script tag; every value is escaped. */
function connector_attribution_tag( $tag, $handle ) {
	if ( 'connector-attribution' !== $handle ) {
		return $tag;
	}
	$s     = connector_attribution_settings();
	$attrs = array(
		'data-pixel-id'    => $s['pixel_id'],
		'data-endpoint'    => $s['endpoint'],
		'data-consent'     => $s['consent'],
		'data-root-domain' => $s['root_domain'],
	);
	$extra = '';
	foreach ( $attrs as $name => $value ) {
		if ( '' !== $value ) {
			$extra .= ' ' . $name . '="' . esc_attr( $value ) . '"';
		}
	}
	return str_replace( ' src=', $extra . ' src=', $tag );
}
add_filter( 'script_loader_tag', 'connector_attribution_tag', 10, 2 );

/** Sanitize the settings form. */
function connector_attribution_sanitize( $input ) {
	$input = (array) $input;
	return array(
		'pixel_id'    => sanitize_text_field( $input['pixel_id'] ?? '' ),
		'endpoint'    => esc_url_raw( $input['endpoint'] ?? '', array( 'https', 'http' ) ),
		'consent'     => ( ( $input['consent'] ?? '' ) === 'optional' ) ? 'optional' : 'required',
		'root_domain' => preg_replace( '/[^a-z0-9.-]/', '', strtolower( $input['root_domain'] ?? '' ) ),
	);
}

/** Register the setting and the settings page. */
function connector_attribution_admin_init() {
	register_setting(
		'connector_attribution',
		CONNECTOR_ATTRIBUTION_OPTION,
		array( 'sanitize_callback' => 'connector_attribution_sanitize' )
	);
}
add_action( 'admin_init', 'connector_attribution_admin_init' );

function connector_attribution_menu() {
	add_options_page(
		__( 'Connector Attribution', 'connector-attribution' ),
		__( 'Connector Attribution', 'connector-attribution' ),
		'manage_options',
		'connector-attribution',
		'connector_attribution_page'
	);
}
add_action( 'admin_menu', 'connector_attribution_menu' );

function connector_attribution_page() {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$s   = connector_attribution_settings();
	$opt = CONNECTOR_ATTRIBUTION_OPTION;
	?>
	<div class="wrap">
		<h1><?php esc_html_e( 'Connector Attribution', 'connector-attribution' ); ?></h1>
		<p><?php esc_html_e( 'Public values only: they are printed into every page. Never enter an API key here.', 'connector-attribution' ); ?></p>
		<form method="post" action="options.php">
			<?php settings_fields( 'connector_attribution' ); ?>
			<table class="form-table" role="presentation">
				<tr><th scope="row"><label for="ca-pixel"><?php esc_html_e( 'OpenAI pixel id (optional)', 'connector-attribution' ); ?></label></th>
					<td><input id="ca-pixel" class="regular-text" name="<?php echo esc_attr( $opt ); ?>[pixel_id]" value="<?php echo esc_attr( $s['pixel_id'] ); ?>"></td></tr>
				<tr><th scope="row"><label for="ca-endpoint"><?php esc_html_e( 'Connector URL (for booking beacons)', 'connector-attribution' ); ?></label></th>
					<td><input id="ca-endpoint" type="url" class="regular-text" name="<?php echo esc_attr( $opt ); ?>[endpoint]" value="<?php echo esc_attr( $s['endpoint'] ); ?>"></td></tr>
				<tr><th scope="row"><?php esc_html_e( 'Consent', 'connector-attribution' ); ?></th>
					<td><select name="<?php echo esc_attr( $opt ); ?>[consent]">
						<option value="required" <?php selected( $s['consent'], 'required' ); ?>><?php esc_html_e( 'Required: store nothing and load no pixel until the visitor agrees', 'connector-attribution' ); ?></option>
						<option value="optional" <?php selected( $s['consent'], 'optional' ); ?>><?php esc_html_e( 'Optional: store unless the visitor declines', 'connector-attribution' ); ?></option>
					</select></td></tr>
				<tr><th scope="row"><label for="ca-root"><?php esc_html_e( 'Root domain for the cookie (e.g. example.com)', 'connector-attribution' ); ?></label></th>
					<td><input id="ca-root" class="regular-text" name="<?php echo esc_attr( $opt ); ?>[root_domain]" value="<?php echo esc_attr( $s['root_domain'] ); ?>"></td></tr>
			</table>
			<?php submit_button(); ?>
		</form>
	</div>
	<?php
}
