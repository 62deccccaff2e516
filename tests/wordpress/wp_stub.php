<?php
/**
 * The few WordPress functions the plugin calls, small stand-ins that behave like WordPress 6.4+ for the
 * inputs the tests use. Hooks, enqueued scripts, settings and options are kept in $GLOBALS['wp_stub'].
 */

define( 'ABSPATH', __DIR__ . '/' );

$GLOBALS['wp_stub'] = array(
	'hooks'    => array(),
	'options'  => array(),
	'scripts'  => array(),
	'settings' => array(),
	'pages'    => array(),
	'can'      => true,
);

const WP_STUB_PLUGINS_URL = 'https://example.test/wp-content/plugins';

// ---- hooks ----

function add_action( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	$GLOBALS['wp_stub']['hooks'][ $hook ][ $priority ][] = array( $callback, $accepted_args );
	return true;
}

function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	return add_action( $hook, $callback, $priority, $accepted_args );
}

function apply_filters( $hook, $value, ...$args ) {
	$by_priority = $GLOBALS['wp_stub']['hooks'][ $hook ] ?? array();
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as list( $callback, $accepted ) ) {
			$value = $callback( ...array_slice( array_merge( array( $value ), $args ), 0, $accepted ) );
		}
	}
	return $value;
}

function do_action( $hook, ...$args ) {
	$by_priority = $GLOBALS['wp_stub']['hooks'][ $hook ] ?? array();
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as list( $callback, $accepted ) ) {
			$callback( ...array_slice( $args, 0, $accepted ) );
		}
	}
}

// ---- options and settings ----

function get_option( $name, $default = false ) {
	return array_key_exists( $name, $GLOBALS['wp_stub']['options'] ) ? $GLOBALS['wp_stub']['options'][ $name ] : $default;
}

function delete_option( $name ) {
	$found = array_key_exists( $name, $GLOBALS['wp_stub']['options'] );
	unset( $GLOBALS['wp_stub']['options'][ $name ] );
	return $found;
}

function wp_parse_args( $args, $defaults = array() ) {
	return array_merge( $defaults, is_array( $args ) ? $args : array() );
}

function register_setting( $group, $name, $args = array() ) {
	$GLOBALS['wp_stub']['settings'][ $name ] = array( 'group' => $group ) + $args;
}

function add_options_page( $page_title, $menu_title, $capability, $slug, $callback ) {
	$GLOBALS['wp_stub']['pages'][ $slug ] = compact( 'page_title', 'menu_title', 'capability', 'callback' );
	return 'settings_page_' . $slug;
}

function current_user_can( $capability ) {
	return $GLOBALS['wp_stub']['can'];
}

function settings_fields( $group ) {
	echo '<input type="hidden" name="option_page" value="' . esc_attr( $group ) . '">';
}

function selected( $selected, $current = true, $display = true ) {
	$result = (string) $selected === (string) $current ? " selected='selected'" : '';
	if ( $display ) {
		echo $result;
	}
	return $result;
}

function submit_button( $text = "Save Changes", $type = "primary", $name = "submit", $wrap = true, $attributes = array() ) {
	echo "<input type=\"submit\" name=\"" . esc_attr( $name ) . "\" class=\"button button-" . esc_attr( $type ) . "\" value=\"" . esc_attr( $text ) . "\">";
}

// ---- URLs and scripts ----

function trailingslashit( $value ) {
	return rtrim( $value, '/\\' ) . '/';
}

function plugin_basename( $file ) {
	return basename( dirname( $file ) ) . '/' . basename( $file );
}

function plugins_url( $path = '', $plugin = '' ) {
	$url = WP_STUB_PLUGINS_URL . ( $plugin ? '/' . basename( dirname( $plugin ) ) : '' );
	return $path ? $url . '/' . ltrim( $path, '/' ) : $url;
}

function wp_enqueue_script( $handle, $src = '', $deps = array(), $ver = false, $args = array() ) {
	$GLOBALS['wp_stub']['scripts'][ $handle ] = array(
		'src'    => $src,
		'ver'    => $ver,
		'args'   => $args,
		'before' => array(),
		'after'  => array(),
	);
}

function wp_add_inline_script( $handle, $data, $position = 'after' ) {
	if ( ! isset( $GLOBALS['wp_stub']['scripts'][ $handle ] ) ) {
		return false;
	}
	$GLOBALS['wp_stub']['scripts'][ $handle ][ $position ][] = $data;
	return true;
}

/** Print the enqueued scripts as wp_head does: inline "before" code, then the tag, then "after" code. */
function wp_stub_print_scripts() {
	foreach ( $GLOBALS['wp_stub']['scripts'] as $handle => $script ) {
		foreach ( array( 'before', 'after' ) as $position ) {
			$inline[ $position ] = $script[ $position ]
				? sprintf( "<script id=\"%s-js-%s\">\n%s\n</script>\n", esc_attr( $handle ), $position, implode( "\n", $script[ $position ] ) )
				: '';
		}
		$src      = $script['src'] . ( $script['ver'] ? '?ver=' . rawurlencode( $script['ver'] ) : '' );
		$strategy = $script['args']['strategy'] ?? '';
		// WordPress drops the strategy of a script that has "after" inline code.
		$strategy = $script['after'] ? '' : $strategy;
		$tag      = sprintf(
			"<script src=\"%s\" id=\"%s-js\"%s></script>\n",
			esc_url( $src ),
			esc_attr( $handle ),
			$strategy ? sprintf( ' %1$s data-wp-strategy="%1$s"', esc_attr( $strategy ) ) : ''
		);
		echo $inline['before'] . apply_filters( 'script_loader_tag', $tag, $handle, $src ) . $inline['after'];
	}
}

// ---- escaping, sanitizing, translation ----

function esc_attr( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_html( $text ) {
	return esc_attr( $text );
}

function esc_url( $url ) {
	return esc_attr( esc_url_raw( $url ) );
}

/** Like WordPress: strip characters URLs cannot hold, add http:// to a bare host, refuse other protocols. */
function esc_url_raw( $url, $protocols = array( 'http', 'https', 'mailto', 'tel' ) ) {
	$url = preg_replace( '|[^a-z0-9-~+_.?#=!&;,/:%@$\|*\'()\[\]\x80-\xff]|i', '', trim( (string) $url ) );
	if ( '' === $url ) {
		return '';
	}
	if ( ! preg_match( '#^[a-z][a-z0-9+.-]*:#i', $url ) && ! in_array( $url[0], array( '/', '#', '?' ), true ) ) {
		$url = 'http://' . $url;
	}
	if ( preg_match( '#^([a-z][a-z0-9+.-]*):#i', $url, $m ) && ! in_array( strtolower( $m[1] ), $protocols, true ) ) {
		return '';
	}
	return $url;
}

/** Like WordPress: no tags, no line breaks or tabs, whitespace collapsed and trimmed. */
function sanitize_text_field( $text ) {
	if ( is_array( $text ) || is_object( $text ) ) {
		return '';
	}
	$text = preg_replace( '@<(script|style)[^>]*?>.*?</\\1>@si', '', (string) $text );
	$text = strip_tags( $text );
	return trim( preg_replace( '/[\r\n\t ]+/', ' ', $text ) );
}

function wp_json_encode( $data, $flags = 0, $depth = 512 ) {
	return json_encode( $data, $flags, $depth );
}

function __( $text, $domain = 'default' ) {
	return $text;
}

function esc_html_e( $text, $domain = 'default' ) {
	echo esc_html( $text );
}

// ---- what the sender and the settings page call ----

const DAY_IN_SECONDS    = 86400;
const HOUR_IN_SECONDS   = 3600;
const MINUTE_IN_SECONDS = 60;
const ARRAY_A           = 'ARRAY_A';

function is_admin() {
	return $GLOBALS['wp_stub']['is_admin'] ?? true;
}

function register_activation_hook( $file, $callback ) {
	$GLOBALS['wp_stub']['activation'] = $callback;
}

function register_deactivation_hook( $file, $callback ) {
	$GLOBALS['wp_stub']['deactivation'] = $callback;
}

function untrailingslashit( $value ) {
	return rtrim( $value, '/\\' );
}

/** Like WordPress: the header values of a file's first 8 KB. */
function get_file_data( $file, $headers ) {
	$data = file_get_contents( $file, false, null, 0, 8192 );
	foreach ( $headers as $field => $regex ) {
		$headers[ $field ] = preg_match( '/^(?:[ \t]*<\?php)?[ \t\/*#@]*' . preg_quote( $regex, '/' ) . ':(.*)$/mi', $data, $m ) ? trim( $m[1] ) : '';
	}
	return $headers;
}

function add_settings_error( $setting, $code, $message, $type = 'error' ) {
	$GLOBALS['wp_stub']['settings_errors'][] = compact( 'setting', 'code', 'message', 'type' );
}

function get_settings_errors( $setting = '' ) {
	$all = $GLOBALS['wp_stub']['settings_errors'] ?? array();
	return $setting ? array_values( array_filter( $all, fn( $e ) => $e['setting'] === $setting ) ) : $all;
}

function update_option( $name, $value, $autoload = null ) {
	$GLOBALS['wp_stub']['options'][ $name ] = $value;
	return true;
}

function get_transient( $name ) {
	return $GLOBALS['wp_stub']['transients'][ $name ] ?? false;
}

function set_transient( $name, $value, $expiration = 0 ) {
	$GLOBALS['wp_stub']['transients'][ $name ] = $value;
	return true;
}

function delete_transient( $name ) {
	unset( $GLOBALS['wp_stub']['transients'][ $name ] );
	return true;
}

function get_current_user_id() {
	return 1;
}

function home_url( $path = '' ) {
	return 'https://example.test' . ( $path ? '/' . ltrim( $path, '/' ) : '' );
}

function admin_url( $path = '' ) {
	return 'https://example.test/wp-admin/' . ltrim( $path, '/' );
}

function add_query_arg( $args, $url ) {
	return $url . ( strpos( $url, '?' ) === false ? '?' : '&' ) . http_build_query( $args );
}

function wp_unslash( $value ) {
	return is_array( $value ) ? array_map( 'wp_unslash', $value ) : stripslashes( (string) $value );
}

function wp_doing_ajax() {
	return false;
}

function wp_doing_cron() {
	return false;
}

function wp_strip_all_tags( $text ) {
	return trim( strip_tags( (string) $text ) );
}

function maybe_unserialize( $value ) {
	return is_string( $value ) && preg_match( '/^[aOs]:\d+:/', $value ) ? unserialize( $value ) : $value;
}

/** A fixed sequence, so a test can name the ids it expects. */
function wp_generate_uuid4() {
	$GLOBALS['wp_stub']['uuids'] = ( $GLOBALS['wp_stub']['uuids'] ?? 0 ) + 1;
	return sprintf( '00000000-0000-4000-8000-%012d', $GLOBALS['wp_stub']['uuids'] );
}

function wp_schedule_single_event( $timestamp, $hook, $args = array() ) {
	$GLOBALS['wp_stub']['cron'][] = compact( 'timestamp', 'hook', 'args' );
	return true;
}

function wp_next_scheduled( $hook ) {
	return false;
}

function wp_schedule_event( $timestamp, $recurrence, $hook ) {
	return wp_schedule_single_event( $timestamp, $hook );
}

function esc_html__( $text, $domain = 'default' ) {
	return esc_html( $text );
}

function _n( $single, $plural, $number, $domain = 'default' ) {
	return 1 === $number ? $single : $plural;
}

function disabled( $disabled, $current = true, $display = true ) {
	$result = (string) $disabled === (string) $current ? " disabled='disabled'" : '';
	if ( $display ) {
		echo $result;
	}
	return $result;
}

function wp_nonce_field( $action ) {
	echo '<input type="hidden" name="_wpnonce" value="stub-nonce">';
}

/** A $wpdb that keeps inserted rows in memory (the queue table). */
class WP_Stub_DB {
	public $prefix    = 'wp_';
	public $insert_id = 0;
	public $rows      = array();
	public $queries   = array();

	public function insert( $table, $data ) {
		$this->insert_id                      = count( $this->rows ) + 1;
		$this->rows[ $this->insert_id ]       = array( 'id' => $this->insert_id ) + $data;
		return 1;
	}

	public function query( $sql ) {
		$this->queries[] = $sql;
		return 0;
	}

	public function get_charset_collate() {
		return '';
	}
}

$GLOBALS['wpdb'] = new WP_Stub_DB();
