<?php
/**
 * Formidable: our hidden fields named for the script whatever number Formidable appended to their key, and
 * kept out of its spam denylist.
 */

defined( 'ABSPATH' ) || exit;

/** The ids of a Formidable form's hidden fields whose field key is one of our canonical names. */
function connector_attribution_formidable_fields( $form_id ) {
	$ours = array();
	foreach ( (array) FrmField::get_all_for_form( $form_id ) as $field ) {
		if ( is_object( $field ) && 'hidden' === $field->type && connector_attribution_formidable_name( $field->field_key ) ) {
			$ours[ (int) $field->id ] = true;
		}
	}
	return $ours;
}

/**
 * Name our hidden fields for the script in every Formidable form, whatever number Formidable appended to their
 * key: `data-attribution="first_utm_source"` on the input (the script reads that attribute first of all).
 */
function connector_attribution_formidable_field_html( $html, $field ) {
	$field = (array) $field;
	$name  = isset( $field['type'], $field['field_key'] ) && 'hidden' === $field['type']
		? connector_attribution_formidable_name( $field['field_key'] )
		: '';
	if ( $name && is_array( $html ) ) {
		$html['data-attribution'] = 'data-attribution="' . esc_attr( $name ) . '"';
	}
	return $html;
}
add_filter( 'frm_field_extra_html', 'connector_attribution_formidable_field_html', 10, 2 );

/**
 * Formidable's spam denylist (on by default since 6.21) holds words such as "utm_source" and "_campaign" and
 * looks for them anywhere in an entry, so the landing page our hidden fields carry made every ad visitor's
 * entry "blocked spam". Its filter, frm_check_denylist, can only switch the whole check on or off for one
 * entry: we run the same check on the entry without our hidden fields and keep it on only when that finds
 * spam, so every other field, above all what the visitor typed, is checked exactly as before.
 */
function connector_attribution_formidable_denylist( $is_enabled, $values ) {
	static $checking = false; // the check we run ourselves asks this filter again
	if ( ! $is_enabled || $checking || ! class_exists( 'FrmSpamCheckDenylist' ) || ! is_array( $values )
		|| empty( $values['form_id'] ) || empty( $values['item_meta'] ) || ! is_array( $values['item_meta'] ) ) {
		return $is_enabled;
	}
	$rest = array_diff_key( $values['item_meta'], connector_attribution_formidable_fields( $values['form_id'] ) );
	if ( count( $rest ) === count( $values['item_meta'] ) ) {
		return $is_enabled; // none of our fields in this entry
	}
	$values['item_meta'] = $rest;
	$checking            = true;
	try {
		$check = new FrmSpamCheckDenylist( $values );
		$spam  = false !== $check->is_spam();
	} finally {
		$checking = false;
	}
	return $spam;
}
add_filter( 'frm_check_denylist', 'connector_attribution_formidable_denylist', 10, 2 );
