<?php
/**
 * The settings: one public option (printed into every page by includes/script.php) and the secret, kept in an
 * option of its own that nothing prints. The CONNECTOR_ATTRIBUTION_SECRET constant, in wp-config.php, wins.
 */

defined( 'ABSPATH' ) || exit;

const CONNECTOR_ATTRIBUTION_OPTION        = 'connector_attribution';
const CONNECTOR_ATTRIBUTION_SECRET_OPTION = 'connector_attribution_secret';

/** The path of our endpoint under the connector URL (docs/sources/wordpress.md). */
const CONNECTOR_ATTRIBUTION_WEBHOOK_PATH = '/webhooks/forms/wordpress';

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

/** The signing secret: the wp-config.php constant when defined, else the saved option ('' when neither). */
function connector_attribution_secret() {
	if ( defined( 'CONNECTOR_ATTRIBUTION_SECRET' ) && is_string( CONNECTOR_ATTRIBUTION_SECRET ) ) {
		return CONNECTOR_ATTRIBUTION_SECRET;
	}
	$secret = get_option( CONNECTOR_ATTRIBUTION_SECRET_OPTION, '' );
	return is_string( $secret ) ? $secret : '';
}

/** Where entries go: {connector URL}/webhooks/forms/wordpress, or '' when no connector URL is set. */
function connector_attribution_webhook_url() {
	$base = connector_attribution_settings()['endpoint'];
	return is_string( $base ) && '' !== $base ? untrailingslashit( $base ) . CONNECTOR_ATTRIBUTION_WEBHOOK_PATH : '';
}

/** Whether entries are sent: a connector URL and a secret are both set. */
function connector_attribution_sending_enabled() {
	return '' !== connector_attribution_webhook_url() && '' !== connector_attribution_secret();
}

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

/** Report a value the settings form did not save (once: WordPress may run a sanitizer twice on one save). */
function connector_attribution_setting_error( $code, $message ) {
	if ( ! function_exists( 'add_settings_error' ) ) {
		return;
	}
	foreach ( get_settings_errors( CONNECTOR_ATTRIBUTION_OPTION ) as $error ) {
		if ( $error['code'] === $code ) {
			return;
		}
	}
	add_settings_error( CONNECTOR_ATTRIBUTION_OPTION, $code, $message, 'error' );
}

/**
 * The connector URL an admin typed, or null (with an error shown) when it cannot be one: only an absolute
 * http(s) URL without query string or fragment. A pasted full webhook URL (.../webhooks/forms/wordpress) or
 * beacon URL (.../collect) means its base.
 */
function connector_attribution_clean_endpoint( $value ) {
	if ( '' === $value ) {
		return '';
	}
	if ( preg_match( '/[?#]/', $value ) ) {
		connector_attribution_setting_error( 'endpoint', __( 'Connector URL not saved: it may not hold a query string (?...) or a fragment (#...). Enter the address only, e.g. https://connector.example.com', 'connector-attribution' ) );
		return null;
	}
	$url = esc_url_raw( $value, array( 'https', 'http' ) );
	if ( ! preg_match( '#^https?://#i', $value ) || preg_match( '/\s/', $value ) || ! preg_match( '#^https?://[^/?\#]#i', $url ) ) {
		connector_attribution_setting_error( 'endpoint', __( 'Connector URL not saved: enter an address starting with https:// (or http://), e.g. https://connector.example.com', 'connector-attribution' ) );
		return null;
	}
	$url = preg_replace( '#(' . preg_quote( CONNECTOR_ATTRIBUTION_WEBHOOK_PATH, '#' ) . '|/collect)/?$#', '', $url );
	return $url;
}

/** The pixel id an admin typed, or null (with an error shown) when it holds other than letters, digits, _ and -. */
function connector_attribution_clean_pixel_id( $value ) {
	if ( preg_match( '/^[A-Za-z0-9_-]*$/', $value ) ) {
		return $value;
	}
	connector_attribution_setting_error( 'pixel_id', __( 'OpenAI pixel id not saved: it holds only letters, digits, "_" and "-". Copy it again from the OpenAI Ads dashboard.', 'connector-attribution' ) );
	return null;
}

/** The root domain an admin typed as a host name, or null (with an error shown) when nothing of one is left. */
function connector_attribution_clean_root_domain( $value ) {
	$host = connector_attribution_clean_domain( $value );
	if ( '' === $value || '' !== $host ) {
		return $host;
	}
	connector_attribution_setting_error( 'root_domain', __( 'Root domain not saved: enter a domain name such as example.com (letters, digits, dots and hyphens).', 'connector-attribution' ) );
	return null;
}

/** Sanitize the settings form: a value that cannot be kept is reported and the saved one stays. */
function connector_attribution_sanitize( $input ) {
	$input = (array) $input;
	$old   = connector_attribution_settings();
	$clean = array(
		'pixel_id'    => connector_attribution_clean_pixel_id( connector_attribution_field( $input, 'pixel_id' ) ),
		// the beacons go to {endpoint}/collect from every page, entries to {endpoint}/webhooks/forms/wordpress
		'endpoint'    => connector_attribution_clean_endpoint( connector_attribution_field( $input, 'endpoint' ) ),
		'consent'     => connector_attribution_consent_mode( connector_attribution_field( $input, 'consent' ) ),
		'root_domain' => connector_attribution_clean_root_domain( connector_attribution_field( $input, 'root_domain' ) ),
	);
	foreach ( $clean as $key => $value ) {
		if ( null === $value ) {
			$clean[ $key ] = is_string( $old[ $key ] ) ? $old[ $key ] : '';
		}
	}
	return $clean;
}

/**
 * Sanitize the secret field: empty keeps the saved secret (the page never shows it back), the "remove" box
 * deletes it. No whitespace or control characters: a pasted secret with a line break would never verify.
 */
function connector_attribution_sanitize_secret( $input ) {
	$old = get_option( CONNECTOR_ATTRIBUTION_SECRET_OPTION, '' );
	$old = is_string( $old ) ? $old : '';
	// phpcs:ignore WordPress.Security.NonceVerification.Missing -- options.php checked the nonce
	if ( ! empty( $_POST['connector_attribution_secret_remove'] ) ) {
		return '';
	}
	$value = is_string( $input ) ? trim( $input ) : '';
	if ( '' === $value ) {
		return $old;
	}
	if ( preg_match( '/[\x00-\x20\x7f]/', $value ) || strlen( $value ) > 512 ) {
		connector_attribution_setting_error( 'secret', __( 'Secret not saved: it may not hold spaces, line breaks or control characters (at most 512 characters). Paste it again.', 'connector-attribution' ) );
		return $old;
	}
	return $value;
}

/** Register both settings (one form saves them). */
function connector_attribution_register_settings() {
	register_setting(
		'connector_attribution',
		CONNECTOR_ATTRIBUTION_OPTION,
		array( 'sanitize_callback' => 'connector_attribution_sanitize' )
	);
	register_setting(
		'connector_attribution',
		CONNECTOR_ATTRIBUTION_SECRET_OPTION,
		array( 'sanitize_callback' => 'connector_attribution_sanitize_secret' )
	);
}
add_action( 'admin_init', 'connector_attribution_register_settings' );
