<?php
/**
 * The canonical names of the hidden fields the script fills (plugin-js/README.md, "Hidden fields"), and the
 * contact fields the connector reads.
 */

defined( 'ABSPATH' ) || exit;

/** The click ids the script keeps (the `c` part of its _attr cookie). */
function connector_attribution_click_ids() {
	return array( 'oppref', 'gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'ttclid', 'li_fat_id' );
}

/** The fields of one touch (first_* and latest_*; the keys of `f` and `l` in the _attr cookie). */
function connector_attribution_touch_fields() {
	return array( 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'utm_id', 'landing_page', 'referrer', 'channel', 'ai_source', 'touch_at' );
}

/** Every canonical attribution field name. */
function connector_attribution_field_names() {
	$names = array_merge( connector_attribution_click_ids(), array( 'conversion_page', 'consent', 'event_id', 'submitted_at' ) );
	foreach ( array( 'first_', 'latest_' ) as $prefix ) {
		foreach ( connector_attribution_touch_fields() as $name ) {
			$names[] = $prefix . $name;
		}
	}
	return $names;
}

/** The canonical name a field's name or CSS class stands for, or ''. */
function connector_attribution_canonical_name( $name ) {
	$name = strtolower( trim( (string) $name ) );
	return in_array( $name, connector_attribution_field_names(), true ) ? $name : '';
}

/** The first canonical name among space-separated CSS classes, or ''. */
function connector_attribution_canonical_class( $classes ) {
	foreach ( preg_split( '/\s+/', (string) $classes ) as $class ) {
		$name = connector_attribution_canonical_name( $class );
		if ( $name ) {
			return $name;
		}
	}
	return '';
}

/**
 * The canonical name a Formidable hidden field's key stands for, or ''. Formidable keeps field keys unique
 * across the whole site: a second form's `first_utm_source` is saved as `first_utm_source2`.
 */
function connector_attribution_formidable_name( $field_key ) {
	$name = preg_replace( '/\d+$/', '', (string) $field_key );
	return in_array( $name, connector_attribution_field_names(), true ) ? $name : '';
}
