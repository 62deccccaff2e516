<?php
/**
 * Load the plugin on the WordPress stub and do one thing a site does, from a JSON request on stdin:
 *   {"plugin": "/path/connector-attribution.php", "options": {...}, "do": "head" | "admin" | "sanitize" |
 *    "uninstall", "input": ..., "can": true, "uninstalling": true}
 * head: the script tags of a front-end page; admin: the settings page; sanitize: the saved value, as JSON;
 * hook: fire a form plugin's action with "hook", "args" (form_plugins.php), "cookies" and "server", then print
 * the queued rows and cron events, as JSON; call: print "function"(...$args) as JSON;
 * uninstall: run uninstall.php (as WordPress does when the plugin is deleted if "uninstalling"), then print
 * the options left, as JSON.
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
		$saved = $setting['sanitize_callback']( $request['input'] );
		echo json_encode( isset( $request['errors'] ) ? array( 'saved' => $saved, 'errors' => get_settings_errors() ) : $saved );
		break;
	case 'uninstall':
		if ( $request['uninstalling'] ?? true ) {
			define( 'WP_UNINSTALL_PLUGIN', 'connector-attribution/connector-attribution.php' );
		}
		register_shutdown_function(
			function () {
				echo json_encode( (object) $GLOBALS['wp_stub']['options'] );
			}
		);
		require dirname( $request['plugin'] ) . '/uninstall.php';
		break;
	case 'hook':
		// a form plugin's action as it fires in the request that saved an entry (cookies slashed, as WordPress has them)
		require __DIR__ . '/form_plugins.php';
		$_COOKIE = array_map( 'addslashes', $request['cookies'] ?? array() );
		$_SERVER = array_merge( $_SERVER, $request['server'] ?? array() );
		do_action( $request['hook'], ...wp_stub_form_plugin_args( $request['hook'], $request['args'] ) );
		echo json_encode( array( 'rows' => array_values( $GLOBALS['wpdb']->rows ), 'cron' => $GLOBALS['wp_stub']['cron'] ?? array() ) );
		break;
	case 'call':
		echo json_encode( call_user_func_array( $request['function'], $request['args'] ) );
		break;
	default:
		fwrite( STDERR, "unknown request\n" );
		exit( 2 );
}
