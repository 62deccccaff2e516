<?php
/**
 * Run PHP inside a real WordPress: php wp_eval.php WORDPRESS_DIR [--install] < {"code": "...", "args": [...]}
 *
 * `code` is a function body that sees $args and returns a value; its value is printed as one JSON line after
 * WP_EVAL_RESULT=. Whatever WordPress or a plugin echoes on the way is dropped. --install defines
 * WP_INSTALLING (wp_install() needs it before wp-load.php). The functions of wp_site.php are loaded too.
 */

$wp_eval_request = json_decode( (string) file_get_contents( 'php://stdin' ), true );
if ( ! is_array( $wp_eval_request ) || ! isset( $wp_eval_request['code'] ) ) {
	fwrite( STDERR, "wp_eval.php: stdin must be {\"code\": ..., \"args\": [...]}\n" );
	exit( 2 );
}
if ( in_array( '--install', $argv, true ) ) {
	define( 'WP_INSTALLING', true );
}
// wp-load.php and plugins read these as a web request would
$_SERVER['HTTP_HOST']   = (string) parse_url( (string) getenv( 'WP_EVAL_HOME' ), PHP_URL_HOST );
$_SERVER['SERVER_NAME'] = $_SERVER['HTTP_HOST'];
$_SERVER['REQUEST_URI'] = '/';

ob_start();
require rtrim( $argv[1], '/' ) . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once __DIR__ . '/wp_site.php';

$wp_eval_run    = function ( $args ) use ( $wp_eval_request ) {
	return eval( $wp_eval_request['code'] );
};
$wp_eval_result = $wp_eval_run( $wp_eval_request['args'] ?? array() );
ob_end_clean();
echo 'WP_EVAL_RESULT=' . wp_json_encode( $wp_eval_result ) . "\n";
