<?php
/**
 * Load the plugin on the WordPress stub and do one thing a site does, from a JSON request on stdin:
 *   {"plugin": "/path/connector-attribution.php", "options": {...}, "do": "head" | "admin" | "sanitize",
 *    "input": ..., "can": true}
 * head: the script tags of a front-end page; admin: the settings page; sanitize: the saved value, as JSON.
 */

require __DIR__ . '/wp_stub.php';

$request                        = json_decode( stream_get_contents( STDIN ), true );
$GLOBALS['wp_stub']['options'] = $request['options'] ?? array();
$GLOBALS['wp_stub']['can']     = $request['can'] ?? true;
require $request['plugin'];

switch ( $request['do'] ) {
	case 'head':
		do_action( 'wp_enqueue_scripts' );
		wp_stub_print_scripts();
		break;
	case 'admin':
		do_action( 'admin_init' );
		do_action( 'admin_menu' );
		foreach ( $GLOBALS['wp_stub']['pages'] as $page ) {
			$page['callback']();
		}
		break;
	case 'sanitize':
		do_action( 'admin_init' );
		$setting = $GLOBALS['wp_stub']['settings'][ CONNECTOR_ATTRIBUTION_OPTION ];
		echo json_encode( $setting['sanitize_callback']( $request['input'] ) );
		break;
	default:
		fwrite( STDERR, "unknown request\n" );
		exit( 2 );
}
