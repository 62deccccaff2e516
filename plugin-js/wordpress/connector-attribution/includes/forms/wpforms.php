<?php
/**
 * WPForms: `wpforms_process_complete` ($fields, $entry, $form_data, $entry_id), after the entry is processed
 * and saved ($entry_id is 0 where entries are not stored, e.g. WPForms Lite). $fields: field id => array(
 * name (the label), value, id, type; a name field also first, middle, last ). $form_data['fields'][id]['css']
 * holds a field's CSS classes: a hidden field is ours when one of them is a canonical name.
 */

defined( 'ABSPATH' ) || exit;

function connector_attribution_wpforms_entry( $fields, $entry, $form_data, $entry_id ) {
	if ( ! is_array( $fields ) || ! is_array( $form_data ) ) {
		return;
	}
	$list = array();
	foreach ( $fields as $id => $field ) {
		if ( ! is_array( $field ) ) {
			continue;
		}
		$type    = (string) ( $field['type'] ?? '' );
		$label   = (string) ( $field['name'] ?? '' );
		$setting = (array) ( $form_data['fields'][ $id ] ?? array() );
		if ( 'name' === $type && ( isset( $field['first'] ) || isset( $field['last'] ) ) ) {
			foreach ( array( 'first' => 'first_name', 'last' => 'last_name' ) as $part => $key ) {
				$list[] = array( 'key' => $key, 'label' => $label, 'type' => '', 'value' => $field[ $part ] ?? '', 'canonical' => '' );
			}
			continue;
		}
		$list[] = array(
			'key'       => 'wpforms[fields][' . $id . ']',
			'label'     => $label,
			'type'      => $type,
			'value'     => $field['value'] ?? '',
			'canonical' => 'hidden' === $type
				? ( connector_attribution_canonical_class( (string) ( $setting['css'] ?? '' ) ) ?: connector_attribution_canonical_name( $label ) )
				: '',
		);
	}
	$page_url = is_array( $entry ) && isset( $entry['page_url'] ) && is_string( $entry['page_url'] ) ? $entry['page_url'] : '';
	connector_attribution_capture( 'wpforms', $form_data['id'] ?? '', (string) ( $form_data['settings']['form_title'] ?? '' ), $entry_id, $list, $page_url );
}
add_action( 'wpforms_process_complete', 'connector_attribution_wpforms_entry', 20, 4 );
