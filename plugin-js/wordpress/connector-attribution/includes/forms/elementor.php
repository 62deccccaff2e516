<?php
/**
 * Elementor Pro Forms: `elementor_pro/forms/new_record` ($record, $handler), after the form's actions ran
 * without errors. $record->get( 'fields' ): custom field id => array( id, type, title, value, raw_value ); a
 * hidden field is ours when its ID (Advanced > ID) is a canonical name. The form's name and element id come
 * from $record->get_form_settings(); the page from $record->get( 'meta' )['page_url'] when the form collects
 * it, else the request's Referer.
 */

defined( 'ABSPATH' ) || exit;

function connector_attribution_elementor_record( $record, $handler = null ) {
	if ( ! is_object( $record ) || ! method_exists( $record, 'get' ) ) {
		return;
	}
	$fields = array();
	foreach ( (array) $record->get( 'fields' ) as $id => $field ) {
		if ( ! is_array( $field ) ) {
			continue;
		}
		$type     = (string) ( $field['type'] ?? '' );
		$key      = (string) ( $field['id'] ?? $id );
		$fields[] = array(
			'key'       => $key,
			'label'     => (string) ( $field['title'] ?? '' ),
			'type'      => $type,
			'value'     => $field['raw_value'] ?? ( $field['value'] ?? '' ),
			'canonical' => 'hidden' === $type ? connector_attribution_canonical_name( $key ) : '',
		);
	}
	$meta     = (array) $record->get( 'meta' );
	$page_url = isset( $meta['page_url']['value'] ) && is_string( $meta['page_url']['value'] ) ? $meta['page_url']['value'] : '';
	$settings = method_exists( $record, 'get_form_settings' ) ? array(
		'id'   => $record->get_form_settings( 'id' ),
		'name' => $record->get_form_settings( 'form_name' ),
	) : array();
	connector_attribution_capture( 'elementor', (string) ( $settings['id'] ?? '' ), (string) ( $settings['name'] ?? '' ), null, $fields, $page_url );
}
add_action( 'elementor_pro/forms/new_record', 'connector_attribution_elementor_record', 20, 2 );
