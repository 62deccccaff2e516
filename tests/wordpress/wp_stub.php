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
	apply_filters( $hook, null, ...$args );
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

function submit_button() {
	echo '<input type="submit" name="submit" class="button button-primary" value="Save Changes">';
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
