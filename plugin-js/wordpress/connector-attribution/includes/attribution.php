<?php
/**
 * The attribution of one entry, from the request that saved it: the hidden fields it posted, field by field
 * over what the script's first-party cookie `_attr` holds.
 *
 * The cookie is `encodeURIComponent(JSON.stringify({f: firstTouch, l: latestTouch, c: {clickId: [value,
 * time]}}))` (plugin-js/src/attribution.js); PHP has already URL-decoded it in $_COOKIE. The script writes it
 * only with consent and deletes it when consent is withdrawn; a page whose consent platform starts "denied"
 * keeps it, so the cookie is not read when the entry posted consent `denied` or `unknown`.
 */

defined( 'ABSPATH' ) || exit;

const CONNECTOR_ATTRIBUTION_COOKIE = '_attr';

/** Longest value kept (characters), as the script and the connector keep. */
const CONNECTOR_ATTRIBUTION_MAX_LENGTH = 2048;

/** Days a click id lives in the script by default (`data-days`; `oppref` has `data-oppref-days`). */
const CONNECTOR_ATTRIBUTION_CLICK_DAYS  = 90;
const CONNECTOR_ATTRIBUTION_OPPREF_DAYS = 30;

/** A value as a string cut to the connector's length, or '' for anything that is not a scalar. */
function connector_attribution_text( $value ) {
	if ( is_bool( $value ) || ! is_scalar( $value ) ) {
		return '';
	}
	$value = trim( (string) $value );
	return function_exists( 'mb_substr' ) ? mb_substr( $value, 0, CONNECTOR_ATTRIBUTION_MAX_LENGTH ) : substr( $value, 0, CONNECTOR_ATTRIBUTION_MAX_LENGTH );
}

/** The _attr cookie as canonical fields (first_*, latest_*, click ids); empty when absent or unreadable. */
function connector_attribution_from_cookie( $raw = null ) {
	if ( null === $raw ) {
		$raw = isset( $_COOKIE[ CONNECTOR_ATTRIBUTION_COOKIE ] ) ? wp_unslash( $_COOKIE[ CONNECTOR_ATTRIBUTION_COOKIE ] ) : '';
	}
	$data = is_string( $raw ) && '' !== $raw ? json_decode( $raw, true ) : null;
	if ( ! is_array( $data ) ) {
		return array();
	}
	$found = array();
	foreach ( array( 'f' => 'first_', 'l' => 'latest_' ) as $key => $prefix ) {
		$touch = isset( $data[ $key ] ) && is_array( $data[ $key ] ) ? $data[ $key ] : array();
		foreach ( connector_attribution_touch_fields() as $name ) {
			$value = isset( $touch[ $name ] ) ? connector_attribution_text( $touch[ $name ] ) : '';
			if ( '' !== $value ) {
				$found[ $prefix . $name ] = $value;
			}
		}
	}
	$clicks = isset( $data['c'] ) && is_array( $data['c'] ) ? $data['c'] : array();
	foreach ( connector_attribution_click_ids() as $name ) {
		$click = isset( $clicks[ $name ] ) && is_array( $clicks[ $name ] ) ? array_values( $clicks[ $name ] ) : array();
		$value = isset( $click[0] ) ? connector_attribution_text( $click[0] ) : '';
		$at    = isset( $click[1] ) && is_string( $click[1] ) ? strtotime( $click[1] ) : false;
		$days  = 'oppref' === $name ? CONNECTOR_ATTRIBUTION_OPPREF_DAYS : CONNECTOR_ATTRIBUTION_CLICK_DAYS;
		// expired ids are dropped as the script drops them on its next read
		if ( '' !== $value && ( false === $at || $at > time() - $days * DAY_IN_SECONDS ) ) {
			$found[ $name ] = $value;
		}
	}
	return $found;
}

/**
 * The entry's attribution: each canonical field the form posted (non-empty) wins; the cookie fills the rest
 * unless the posted consent is `denied` or `unknown`. Returns canonical name => string.
 */
function connector_attribution_merge( $posted, $cookie ) {
	$merged = array();
	foreach ( (array) $posted as $name => $value ) {
		$name  = connector_attribution_canonical_name( $name );
		$value = connector_attribution_text( $value );
		if ( $name && '' !== $value ) {
			$merged[ $name ] = $value;
		}
	}
	$consent = isset( $merged['consent'] ) ? strtolower( $merged['consent'] ) : '';
	if ( in_array( $consent, array( 'denied', 'unknown' ), true ) ) {
		return $merged;
	}
	return $merged + (array) $cookie;
}
