<?php
/**
 * js/attribution.js on every front-end page, after an inline script holding its configuration.
 */

defined( 'ABSPATH' ) || exit;

/** The plugin's version, from its header (written there only). */
function connector_attribution_version() {
	static $version = null;
	if ( null === $version ) {
		if ( ! function_exists( 'get_file_data' ) ) {
			require_once ABSPATH . 'wp-includes/functions.php';
		}
		$version = (string) get_file_data( CONNECTOR_ATTRIBUTION_FILE, array( 'Version' => 'Version' ) )['Version'];
	}
	return $version;
}

/**
 * The ?ver= of js/attribution.js: a hash of its content, so a rebuilt script is never served from a cache of
 * the old one, even within one plugin version; the plugin version when the file is missing.
 */
function connector_attribution_script_version() {
	$file = dirname( CONNECTOR_ATTRIBUTION_FILE ) . '/js/attribution.js';
	$hash = is_readable( $file ) ? md5_file( $file ) : false;
	return $hash ? substr( $hash, 0, 8 ) : connector_attribution_version();
}

/** The script's configuration: the non-empty public settings plus where its parts live. */
function connector_attribution_config() {
	$s      = connector_attribution_settings();
	$config = array(
		// The parts (classify.js, booking.js) sit next to attribution.js in js/. Said explicitly because an
		// optimization plugin that moves or combines our script changes the URL the script would guess from.
		'base' => trailingslashit( plugins_url( 'js', CONNECTOR_ATTRIBUTION_FILE ) ),
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
		plugins_url( 'js/attribution.js', CONNECTOR_ATTRIBUTION_FILE ),
		array(),
		connector_attribution_script_version(),
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
add_filter( 'wp_consent_api_registered_' . plugin_basename( CONNECTOR_ATTRIBUTION_FILE ), '__return_true' );
