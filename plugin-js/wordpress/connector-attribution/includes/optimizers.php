<?php
/**
 * Keep js/attribution.js and its inline configuration out of what optimization plugins combine, minify or
 * delay: WP Rocket, Autoptimize, LiteSpeed Cache, SiteGround Speed Optimizer and W3 Total Cache, each through
 * the filter its own code applies, in the shape it passes (a list, Autoptimize's string or array, a boolean).
 *
 * Why: the built file opens with V8's compile hint //# allFunctionsCalledOnLoad, honoured only before a file's
 * first code. First in a combined file it would make V8 compile every function of the scripts after it up
 * front; a minifier may drop it. The script is deferred already, so combining it gains nothing. Delayed until
 * the visitor's first interaction, it could miss a form sent before then. The configuration goes with it: in a
 * combined or delayed file that runs after the script, the script would start without it.
 */

defined( 'ABSPATH' ) || exit;

/** The configuration's inline script contains this (script.php); so would a theme's own configuration. */
const CONNECTOR_ATTRIBUTION_INLINE_MARK = 'window.attributionConfig';

/** The script's URL path, e.g. /wp-content/plugins/connector-attribution/js/attribution.js. */
function connector_attribution_script_path() {
	return (string) parse_url( plugins_url( 'js/attribution.js', CONNECTOR_ATTRIBUTION_FILE ), PHP_URL_PATH );
}

/** $list (a list, one string, or false/null/'' for none) with each of $entries appended that it lacks. */
function connector_attribution_add_exclusions( $list, array $entries ) {
	if ( ! is_array( $list ) ) {
		$list = is_string( $list ) && '' !== $list ? array( $list ) : array();
	}
	foreach ( $entries as $entry ) {
		if ( ! in_array( $entry, $list, true ) ) {
			$list[] = $entry;
		}
	}
	return $list;
}

/** Substrings that the script tag or the inline configuration contains (LiteSpeed Cache). */
function connector_attribution_exclude_by_substring( $list ) {
	return connector_attribution_add_exclusions(
		$list,
		array( connector_attribution_script_path(), CONNECTOR_ATTRIBUTION_INLINE_MARK )
	);
}

/** WP Rocket's minify/combine list: regular expressions matched against each script's URL path. */
function connector_attribution_exclude_from_rocket_combine( $list ) {
	return connector_attribution_add_exclusions( $list, array( preg_quote( connector_attribution_script_path() ) ) );
}

/** Inline scripts kept out of the combined file, by substrings of their content (WP Rocket, SiteGround). */
function connector_attribution_exclude_inline( $list ) {
	return connector_attribution_add_exclusions( $list, array( CONNECTOR_ATTRIBUTION_INLINE_MARK ) );
}

/** WP Rocket's Delay JavaScript exclusions: regular expressions matched against each whole script element. */
function connector_attribution_exclude_from_rocket_delay( $list ) {
	return connector_attribution_add_exclusions(
		$list,
		array( preg_quote( connector_attribution_script_path() ), preg_quote( CONNECTOR_ATTRIBUTION_INLINE_MARK ) )
	);
}

/**
 * Autoptimize's exclusions, matched as substrings of each script element: a comma-separated string (its
 * setting), or an array keyed by the strings (what its own filters may return), kept in the shape it came in.
 */
function connector_attribution_exclude_from_autoptimize( $exclude ) {
	$ours = array( connector_attribution_script_path(), CONNECTOR_ATTRIBUTION_INLINE_MARK );
	if ( is_array( $exclude ) ) {
		foreach ( $ours as $entry ) {
			if ( ! array_key_exists( $entry, $exclude ) ) {
				$exclude[ $entry ] = ''; // a value would be an attribute to add (async) or 'remove'
			}
		}
		return $exclude;
	}
	$exclude = trim( (string) $exclude );
	$have    = array_map( 'trim', explode( ',', $exclude ) );
	$missing = array_diff( $ours, $have );
	if ( ! $missing ) {
		return $exclude;
	}
	return ( '' === $exclude ? '' : $exclude . ', ' ) . implode( ', ', $missing );
}

/**
 * Autoptimize's files taken as minified already (false, or substrings of their paths): ours is, and its
 * minifier would drop the compile hint when it minifies an excluded file on its own.
 */
function connector_attribution_minified_for_autoptimize( $list ) {
	return connector_attribution_add_exclusions( $list, array( connector_attribution_script_path() ) );
}

/** SiteGround Speed Optimizer's combine, minify and async exclusions: script handles. */
function connector_attribution_exclude_handle( $handles ) {
	return connector_attribution_add_exclusions( $handles, array( 'connector-attribution' ) );
}

/** W3 Total Cache asks of each script tag whether to minify (and combine) it. */
function connector_attribution_w3tc_minify_tag( $do_minify, $script_tag ) {
	return false !== strpos( (string) $script_tag, connector_attribution_script_path() ) ? false : $do_minify;
}

add_filter( 'rocket_exclude_js', 'connector_attribution_exclude_from_rocket_combine' );
add_filter( 'rocket_excluded_inline_js_content', 'connector_attribution_exclude_inline' );
add_filter( 'rocket_delay_js_exclusions', 'connector_attribution_exclude_from_rocket_delay' );
add_filter( 'autoptimize_filter_js_exclude', 'connector_attribution_exclude_from_autoptimize' );
add_filter( 'autoptimize_filter_js_consider_minified', 'connector_attribution_minified_for_autoptimize' );
add_filter( 'litespeed_optimize_js_excludes', 'connector_attribution_exclude_by_substring' );
add_filter( 'litespeed_optm_js_defer_exc', 'connector_attribution_exclude_by_substring' ); // deferred or delayed
add_filter( 'litespeed_optm_gm_js_exc', 'connector_attribution_exclude_by_substring' );    // the same, in guest mode
add_filter( 'sgo_javascript_combine_exclude', 'connector_attribution_exclude_handle' );
add_filter( 'sgo_js_minify_exclude', 'connector_attribution_exclude_handle' );
add_filter( 'sgo_js_async_exclude', 'connector_attribution_exclude_handle' );
add_filter( 'sgo_javascript_combine_excluded_inline_content', 'connector_attribution_exclude_inline' );
add_filter( 'w3tc_minify_js_do_tag_minification', 'connector_attribution_w3tc_minify_tag', 10, 2 );
