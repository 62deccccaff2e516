<?php
/**
 * Settings > Connector Attribution: the settings form, the "Settings" link on the Plugins screen, and
 * "Test connection". Every value printed here is escaped; the secret never is printed.
 */

defined( 'ABSPATH' ) || exit;

const CONNECTOR_ATTRIBUTION_PAGE = 'connector-attribution';

/** The settings page's URL (a tab: settings or status). */
function connector_attribution_page_url_admin( $tab = '' ) {
	$args = array( 'page' => CONNECTOR_ATTRIBUTION_PAGE );
	if ( $tab ) {
		$args['tab'] = $tab;
	}
	return add_query_arg( $args, admin_url( 'options-general.php' ) );
}

function connector_attribution_menu() {
	add_options_page(
		__( 'Connector Attribution', 'connector-attribution' ),
		__( 'Connector Attribution', 'connector-attribution' ),
		'manage_options',
		CONNECTOR_ATTRIBUTION_PAGE,
		'connector_attribution_page'
	);
}
add_action( 'admin_menu', 'connector_attribution_menu' );

/** "Settings" first among the plugin's links on the Plugins screen. */
function connector_attribution_action_links( $links ) {
	$settings = '<a href="' . esc_url( connector_attribution_page_url_admin() ) . '">' . esc_html__( 'Settings', 'connector-attribution' ) . '</a>';
	return array_merge( array( 'settings' => $settings ), (array) $links );
}
add_filter( 'plugin_action_links_' . plugin_basename( CONNECTOR_ATTRIBUTION_FILE ), 'connector_attribution_action_links' );

/** The page: two tabs, Settings and Deliveries. */
function connector_attribution_page() {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$tab = isset( $_GET['tab'] ) && 'status' === $_GET['tab'] ? 'status' : 'settings'; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
	?>
	<div class="wrap">
		<h1><?php esc_html_e( 'Connector Attribution', 'connector-attribution' ); ?></h1>
		<nav class="nav-tab-wrapper">
			<a href="<?php echo esc_url( connector_attribution_page_url_admin() ); ?>" class="nav-tab<?php echo 'settings' === $tab ? ' nav-tab-active' : ''; ?>"><?php esc_html_e( 'Settings', 'connector-attribution' ); ?></a>
			<a href="<?php echo esc_url( connector_attribution_page_url_admin( 'status' ) ); ?>" class="nav-tab<?php echo 'status' === $tab ? ' nav-tab-active' : ''; ?>"><?php esc_html_e( 'Deliveries', 'connector-attribution' ); ?></a>
		</nav>
		<?php
		if ( 'status' === $tab ) {
			connector_attribution_status_page();
		} else {
			connector_attribution_settings_form();
		}
		?>
	</div>
	<?php
}

/** The result of the last "Test connection" of this user, shown once. */
function connector_attribution_test_notice() {
	$key    = 'connector_attribution_test_' . get_current_user_id();
	$result = get_transient( $key );
	if ( ! is_array( $result ) ) {
		return;
	}
	delete_transient( $key );
	$ok = 200 === $result['status'];
	?>
	<div class="notice <?php echo $ok ? 'notice-success' : 'notice-error'; ?>" id="ca-test-result">
		<p><strong><?php echo $ok ? esc_html__( 'Connected: the connector accepted the signed test request.', 'connector-attribution' ) : esc_html__( 'Test connection failed.', 'connector-attribution' ); ?></strong></p>
		<p><?php echo esc_html( sprintf( /* translators: %s: URL */ __( 'Sent to %s', 'connector-attribution' ), $result['url'] ) ); ?></p>
		<p><?php echo esc_html( $result['status'] ? sprintf( /* translators: %d: HTTP status */ __( 'HTTP status %d. Answer:', 'connector-attribution' ), $result['status'] ) : __( 'No answer:', 'connector-attribution' ) ); ?>
			<code><?php echo esc_html( $result['answer'] ); ?></code></p>
		<?php if ( 401 === $result['status'] ) : ?>
			<p><?php esc_html_e( 'A 401 means the connector refused the signature: the secret here and the connector\'s CONNECTOR_WORDPRESS_SECRET differ (or the server clocks are more than 5 minutes apart).', 'connector-attribution' ); ?></p>
		<?php endif; ?>
	</div>
	<?php
}

function connector_attribution_settings_form() {
	$s          = connector_attribution_settings();
	$opt        = CONNECTOR_ATTRIBUTION_OPTION;
	$in_config  = defined( 'CONNECTOR_ATTRIBUTION_SECRET' );
	$has_secret = '' !== connector_attribution_secret();
	connector_attribution_test_notice();
	?>
	<form method="post" action="options.php" novalidate>
		<?php settings_fields( 'connector_attribution' ); ?>
		<table class="form-table" role="presentation">
			<tr><th scope="row"><label for="ca-endpoint"><?php esc_html_e( 'Connector URL', 'connector-attribution' ); ?></label></th>
				<td><input id="ca-endpoint" type="url" class="regular-text" name="<?php echo esc_attr( $opt ); ?>[endpoint]" value="<?php echo esc_attr( $s['endpoint'] ); ?>" placeholder="https://connector.example.com" aria-describedby="ca-endpoint-help">
				<p id="ca-endpoint-help" class="description"><?php esc_html_e( 'The address of your connector, without a path, query string or fragment. Every entry of Contact Form 7, Gravity Forms, WPForms, Elementor Pro, Fluent Forms, Ninja Forms and Formidable is sent from this site to its /webhooks/forms/wordpress: your forms need no webhook add-on and no per-form webhook URL. Booking beacons go to its /collect.', 'connector-attribution' ); ?></p></td></tr>
			<tr><th scope="row"><label for="ca-secret"><?php esc_html_e( 'Secret', 'connector-attribution' ); ?></label></th>
				<td><input id="ca-secret" type="password" class="regular-text" name="<?php echo esc_attr( CONNECTOR_ATTRIBUTION_SECRET_OPTION ); ?>" value="" autocomplete="new-password" spellcheck="false" aria-describedby="ca-secret-help"<?php disabled( $in_config ); ?>>
				<div id="ca-secret-help" class="description">
					<p><?php esc_html_e( 'The same value as the connector\'s CONNECTOR_WORDPRESS_SECRET: every entry is signed with it. It is never shown again here and never printed into your pages. Leave the field empty to keep the saved secret.', 'connector-attribution' ); ?></p>
					<?php if ( $in_config ) : ?>
						<p><strong><?php esc_html_e( 'Set in wp-config.php (CONNECTOR_ATTRIBUTION_SECRET): that value is used, whatever is saved here.', 'connector-attribution' ); ?></strong></p>
					<?php elseif ( $has_secret ) : ?>
						<p><?php esc_html_e( 'A secret is saved.', 'connector-attribution' ); ?>
							<label><input type="checkbox" name="connector_attribution_secret_remove" value="1"> <?php esc_html_e( 'Remove it', 'connector-attribution' ); ?></label></p>
					<?php else : ?>
						<p><strong><?php esc_html_e( 'No secret yet: entries are not sent until one is saved.', 'connector-attribution' ); ?></strong></p>
					<?php endif; ?>
					<p><?php esc_html_e( 'You may instead define it in wp-config.php: define( \'CONNECTOR_ATTRIBUTION_SECRET\', \'...\' ); which wins over this field.', 'connector-attribution' ); ?></p>
				</div></td></tr>
			<tr><th scope="row"><label for="ca-pixel"><?php esc_html_e( 'OpenAI pixel id (optional)', 'connector-attribution' ); ?></label></th>
				<td><input id="ca-pixel" type="text" class="regular-text" name="<?php echo esc_attr( $opt ); ?>[pixel_id]" value="<?php echo esc_attr( $s['pixel_id'] ); ?>" aria-describedby="ca-pixel-help">
				<p id="ca-pixel-help" class="description"><?php esc_html_e( 'From your OpenAI Ads account (the pixel\'s settings show its id: letters, digits, "_" and "-"). With it, a successful form submission fires the pixel\'s lead_created with the same event_id the connector receives. Leave empty for no pixel.', 'connector-attribution' ); ?></p></td></tr>
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
			<tr><th scope="row"><label for="ca-root"><?php esc_html_e( 'Root domain for the cookie', 'connector-attribution' ); ?></label></th>
				<td><input id="ca-root" type="text" class="regular-text" name="<?php echo esc_attr( $opt ); ?>[root_domain]" value="<?php echo esc_attr( $s['root_domain'] ); ?>" placeholder="example.com" aria-describedby="ca-root-help">
				<p id="ca-root-help" class="description"><?php esc_html_e( 'Optional, e.g. example.com: shares the attribution between www.example.com and shop.example.com. Leave empty for this host only.', 'connector-attribution' ); ?></p></td></tr>
		</table>
		<?php submit_button(); ?>
	</form>
	<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
		<input type="hidden" name="action" value="connector_attribution_test">
		<?php wp_nonce_field( 'connector_attribution_test' ); ?>
		<p><?php esc_html_e( 'Test connection sends a signed test request (it creates no lead) to the saved connector URL with the saved secret.', 'connector-attribution' ); ?></p>
		<?php submit_button( __( 'Test connection', 'connector-attribution' ), 'secondary', 'ca-test', false, array( 'id' => 'ca-test' ) ); ?>
	</form>
	<?php
}

/** admin-post.php?action=connector_attribution_test: send the test, keep the answer for the page, go back. */
function connector_attribution_handle_test() {
	if ( ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'You are not allowed to do this.', 'connector-attribution' ), 403 );
	}
	check_admin_referer( 'connector_attribution_test' );
	$answer = connector_attribution_send_test();
	set_transient(
		'connector_attribution_test_' . get_current_user_id(),
		array(
			'url'    => connector_attribution_webhook_url(),
			'status' => $answer['status'],
			'answer' => $answer['status'] ? substr( $answer['body'], 0, 500 ) : $answer['error'],
		),
		5 * MINUTE_IN_SECONDS
	);
	wp_safe_redirect( connector_attribution_page_url_admin() );
	exit;
}
add_action( 'admin_post_connector_attribution_test', 'connector_attribution_handle_test' );
