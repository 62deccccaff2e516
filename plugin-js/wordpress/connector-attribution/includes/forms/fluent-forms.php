<?php
/**
 * Fluent Forms: `fluentform/submission_inserted` ($entryId, $formData, $form), once the submission row is
 * stored. $formData is the posted data by input name (a name field is nested: names[first_name]); $form is
 * the form model, its form_fields JSON gives each input's element and label. Hidden fields are ours when
 * their Name Attribute is a canonical name.
 */

defined( 'ABSPATH' ) || exit;

/** Input name => array( element, label ) from a Fluent form's form_fields JSON (containers and name parts too). */
function connector_attribution_fluent_inputs( $elements, $parent = '', &$found = array() ) {
	foreach ( (array) $elements as $element ) {
		if ( ! is_array( $element ) ) {
			continue;
		}
		$name  = (string) ( $element['attributes']['name'] ?? '' );
		$label = (string) ( $element['settings']['admin_field_label'] ?? '' );
		$label = '' !== $label ? $label : (string) ( $element['settings']['label'] ?? '' );
		$key   = '' !== $parent && '' !== $name ? $parent . '[' . $name . ']' : $name;
		if ( '' !== $key ) {
			$found[ $key ] = array( 'element' => (string) ( $element['element'] ?? '' ), 'label' => wp_strip_all_tags( $label ) );
		}
		if ( isset( $element['fields'] ) && is_array( $element['fields'] ) ) {
			connector_attribution_fluent_inputs( $element['fields'], $key, $found ); // name field parts
		}
		foreach ( (array) ( $element['columns'] ?? array() ) as $column ) {
			connector_attribution_fluent_inputs( $column['fields'] ?? array(), $parent, $found ); // containers
		}
	}
	return $found;
}

/** Posted data flattened to input name => value (string keys nest: names[first_name]; lists stay lists). */
function connector_attribution_fluent_flatten( $data, $prefix = '', &$flat = array() ) {
	foreach ( (array) $data as $key => $value ) {
		$name = '' === $prefix ? (string) $key : $prefix . '[' . $key . ']';
		if ( is_array( $value ) && $value && array_keys( $value ) !== range( 0, count( $value ) - 1 ) ) {
			connector_attribution_fluent_flatten( $value, $name, $flat );
		} else {
			$flat[ $name ] = $value;
		}
	}
	return $flat;
}

function connector_attribution_fluent_entry( $entry_id, $form_data, $form ) {
	if ( ! is_object( $form ) ) {
		return;
	}
	$layout = json_decode( (string) ( $form->form_fields ?? '' ), true );
	$inputs = connector_attribution_fluent_inputs( is_array( $layout ) ? ( $layout['fields'] ?? array() ) : array() );
	$fields = array();
	foreach ( connector_attribution_fluent_flatten( $form_data ) as $name => $value ) {
		$input    = $inputs[ $name ] ?? array( 'element' => '', 'label' => '' );
		$fields[] = array(
			'key'       => $name,
			'label'     => '' !== $input['label'] ? $input['label'] : $name,
			'type'      => $input['element'],
			'value'     => $value,
			'canonical' => in_array( $input['element'], array( 'input_hidden', '' ), true ) ? connector_attribution_canonical_name( $name ) : '',
		);
	}
	connector_attribution_capture( 'fluent_forms', $form->id ?? '', (string) ( $form->title ?? '' ), $entry_id, $fields );
}
add_action( 'fluentform/submission_inserted', 'connector_attribution_fluent_entry', 20, 3 );
