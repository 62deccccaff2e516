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

const CONNECTOR_ATTRIBUTION_OPTION  = 'connector_attribution';
const CONNECTOR_ATTRIBUTION_VERSION = '0.1.0'; // the header's Version; busts caches of js/attribution.js

/** The saved settings merged over the defaults. */
function connector_attribution_settings() {
	$defaults = array(
		'pixel_id'    => '',
		'endpoint'    => '',
		'consent'     => 'auto',
		'root_domain' => '',
	);
	return wp_parse_args( (array) get_option( CONNECTOR_ATTRIBUTION_OPTION, array() ), $defaults );
}

/** The script's configuration: the non-empty settings plus where its parts live. */
function connector_attribution_config() {
	$s      = connector_attribution_settings();
	$config = array(
		// The parts (classify.js, booking.js) sit next to attribution.js in js/. Said explicitly because an
		// optimization plugin that moves or combines our script changes the URL the script would guess from.
		'base' => trailingslashit( plugins_url( 'js', __FILE__ ) ),
	);
	$keys = array(
		'pixelId'    => 'pixel_id',
		'endpoint'   => 'endpoint',
		'consent'    => 'consent',
		'rootDomain' => 'root_domain',
	);
	foreach ( $keys as $key => $setting ) {
		if ( is_string( $s[ $setting ] ) && '' !== $s[ $setting ] ) {
			$config[ $key ] = $s[ $setting ];
		}
	}
	return $config;
}

/**
 * Enqueue js/attribution.js (deferred), its configuration in an inline script just before it.
 *
 * Why window.attributionConfig and not data-* attributes on the tag: an optimization plugin that combines
 * scripts replaces our tag, attributes and all, with its own file, while an inline script keeps its place
 * ahead of it. A "before" inline script also leaves the defer strategy in place (an "after" one would not).
 * A configuration object the theme sets itself still wins, as it does over data-* attributes.
 */
function connector_attribution_enqueue() {
	wp_enqueue_script(
		'connector-attribution',
		plugins_url( 'js/attribution.js', __FILE__ ),
		array(),
		CONNECTOR_ATTRIBUTION_VERSION,
		array( 'strategy' => 'defer', 'in_footer' => false )
	);
	// JSON_HEX_*: no <, >, & or quote reaches the page, so no value can end the script element or open a
	// comment in it; invalid UTF-8 (a value set around the settings form) becomes U+FFFD instead of failing.
	$json = wp_json_encode(
		connector_attribution_config(),
		JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_INVALID_UTF8_SUBSTITUTE
	);
	wp_add_inline_script(
		'connector-attribution',
		'window.attributionConfig = Object.assign(' . $json . ', window.attributionConfig);',
		'before'
	);
}
add_action( 'wp_enqueue_scripts', 'connector_attribution_enqueue' );

// Tell the WP Consent API that this plugin follows it (the script reads wp_has_consent('marketing') and listens
// for wp_listen_for_consent_change), so Site Health does not list it as a plugin that ignores consent.
add_filter( 'wp_consent_api_registered_' . plugin_basename( __FILE__ ), '__return_true' );

/** The canonical names of the hidden fields the script fills (plugin-js/README.md, "Hidden fields"). */
function connector_attribution_field_names() {
	$names = array( 'oppref', 'gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'ttclid', 'li_fat_id', 'conversion_page', 'consent', 'event_id', 'submitted_at' );
	$touch = array( 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'utm_id', 'landing_page', 'referrer', 'channel', 'ai_source', 'touch_at' );
	foreach ( array( 'first_', 'latest_' ) as $prefix ) {
		foreach ( $touch as $name ) {
			$names[] = $prefix . $name;
		}
	}
	return $names;
}

/**
 * The canonical name a Formidable hidden field's key stands for, or ''. Formidable keeps field keys unique
 * across the whole site: a second form's `first_utm_source` is saved as `first_utm_source2`.
 */
function connector_attribution_formidable_name( $field_key ) {
	$name = preg_replace( '/\d+$/', '', (string) $field_key );
	return in_array( $name, connector_attribution_field_names(), true ) ? $name : '';
}

/** The ids of a Formidable form's hidden fields whose field key is one of our canonical names. */
function connector_attribution_formidable_fields( $form_id ) {
	$ours = array();
	foreach ( (array) FrmField::get_all_for_form( $form_id ) as $field ) {
		if ( is_object( $field ) && 'hidden' === $field->type && connector_attribution_formidable_name( $field->field_key ) ) {
			$ours[ (int) $field->id ] = true;
		}
	}
	return $ours;
}

/**
 * Name our hidden fields for the script in every Formidable form, whatever number Formidable appended to their
 * key: `data-attribution="first_utm_source"` on the input (the script reads that attribute first of all).
 */
function connector_attribution_formidable_field_html( $html, $field ) {
	$field = (array) $field;
	$name  = isset( $field['type'], $field['field_key'] ) && 'hidden' === $field['type']
		? connector_attribution_formidable_name( $field['field_key'] )
		: '';
	if ( $name && is_array( $html ) ) {
		$html['data-attribution'] = 'data-attribution="' . esc_attr( $name ) . '"';
	}
	return $html;
}
add_filter( 'frm_field_extra_html', 'connector_attribution_formidable_field_html', 10, 2 );

/**
 * Formidable's spam denylist (on by default since 6.21) holds words such as "utm_source" and "_campaign" and
 * looks for them anywhere in an entry, so the landing page our hidden fields carry made every ad visitor's
 * entry "blocked spam". Its filter, frm_check_denylist, can only switch the whole check on or off for one
 * entry: we run the same check on the entry without our hidden fields and keep it on only when that finds
 * spam, so every other field, above all what the visitor typed, is checked exactly as before.
 */
function connector_attribution_formidable_denylist( $is_enabled, $values ) {
	static $checking = false; // the check we run ourselves asks this filter again
	if ( ! $is_enabled || $checking || ! class_exists( 'FrmSpamCheckDenylist' ) || ! is_array( $values )
		|| empty( $values['form_id'] ) || empty( $values['item_meta'] ) || ! is_array( $values['item_meta'] ) ) {
		return $is_enabled;
	}
	$rest = array_diff_key( $values['item_meta'], connector_attribution_formidable_fields( $values['form_id'] ) );
	if ( count( $rest ) === count( $values['item_meta'] ) ) {
		return $is_enabled; // none of our fields in this entry
	}
	$values['item_meta'] = $rest;
	$checking            = true;
	try {
		$check = new FrmSpamCheckDenylist( $values );
		$spam  = false !== $check->is_spam();
	} finally {
		$checking = false;
	}
	return $spam;
}
add_filter( 'frm_check_denylist', 'connector_attribution_formidable_denylist', 10, 2 );

/** One submitted field as a string (a crafted request may send an array). */
function connector_attribution_field( $input, $key ) {
	return isset( $input[ $key ] ) && is_scalar( $input[ $key ] ) ? trim( (string) $input[ $key ] ) : '';
}

/** A cookie domain from what an admin typed: "https://www.Example.com/" becomes "example.com". */
function connector_attribution_clean_domain( $value ) {
	$host = preg_replace( '#^[a-z][a-z0-9+.-]*://#', '', strtolower( $value ) );
	// the host name it starts with: a port, path, quote or anything else ends it
	preg_match( '/^[a-z0-9.-]*/', $host, $match );
	$host = trim( $match[0], '.-' );
	// A pasted site address means the site's domain: www. would keep the cookie from the other subdomains.
	return preg_replace( '/^www\./', '', $host );
}

/**
 * The consent mode: "required" (nothing stored and no pixel until a "yes"), else the default "auto" (follow
 * the site's consent platform when it has one, capture when it has none; "optional" was its old name).
 */
function connector_attribution_consent_mode( $value ) {
	return 'required' === $value ? 'required' : 'auto';
}

/** Sanitize the settings form. */
function connector_attribution_sanitize( $input ) {
	$input    = (array) $input;
	$endpoint = esc_url_raw( connector_attribution_field( $input, 'endpoint' ), array( 'https', 'http' ) );
	return array(
		'pixel_id'    => sanitize_text_field( connector_attribution_field( $input, 'pixel_id' ) ),
		// Only an absolute http(s) URL: the beacons go to {endpoint}/collect from every page of the site.
		'endpoint'    => preg_match( '#^https?://[^/?\#]#i', $endpoint ) ? $endpoint : '',
		'consent'     => connector_attribution_consent_mode( connector_attribution_field( $input, 'consent' ) ),
		'root_domain' => connector_attribution_clean_domain( connector_attribution_field( $input, 'root_domain' ) ),
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
				<tr><th scope="row"><label for="ca-consent"><?php esc_html_e( 'Consent', 'connector-attribution' ); ?></label></th>
					<td><select id="ca-consent" name="<?php echo esc_attr( $opt ); ?>[consent]" aria-describedby="ca-consent-help">
						<option value="auto" <?php selected( connector_attribution_consent_mode( $s['consent'] ), 'auto' ); ?>><?php esc_html_e( 'Automatic (recommended)', 'connector-attribution' ); ?></option>
						<option value="required" <?php selected( connector_attribution_consent_mode( $s['consent'] ), 'required' ); ?>><?php esc_html_e( 'Always wait for consent', 'connector-attribution' ); ?></option>
					</select>
					<div id="ca-consent-help" class="description">
						<p><?php esc_html_e( 'Automatic: if your site has a consent banner that speaks the WP Consent API or Google Consent Mode, or calls attribution(\'consent\', true), nothing is stored and the pixel does not load until the visitor agrees; the answer is remembered on the next pages. Without a banner, attribution is captured from the first page.', 'connector-attribution' ); ?></p>
						<p><?php esc_html_e( 'Always wait for consent: nothing is stored and the pixel does not load until a banner says yes. Choose it when your banner only calls attribution(\'consent\', true) after the page has loaded.', 'connector-attribution' ); ?></p>
						<p><?php esc_html_e( 'Before consent, forms receive only the page address without its query: no referrer, no UTM, no click id.', 'connector-attribution' ); ?></p>
					</div></td></tr>
				<tr><th scope="row"><label for="ca-root"><?php esc_html_e( 'Root domain for the cookie (e.g. example.com)', 'connector-attribution' ); ?></label></th>
					<td><input id="ca-root" class="regular-text" name="<?php echo esc_attr( $opt ); ?>[root_domain]" value="<?php echo esc_attr( $s['root_domain'] ); ?>"></td></tr>
			</table>
			<?php submit_button(); ?>
		</form>
	</div>
	<?php
}
