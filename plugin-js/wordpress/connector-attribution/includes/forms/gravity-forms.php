<?php
/**
 * Gravity Forms: `gform_after_submission` ($entry, $form), after validation, entry creation and
 * notifications. It also runs for entries marked as spam: those are skipped. $entry holds each value under its
 * input id ("3", or "2.3" / "2.6" for a name field's first and last inputs); $form['fields'] are GF_Field
 * objects (id, type, label, adminLabel, cssClass, inputName, inputs). A hidden field is ours when its Custom
 * CSS Class (or its parameter name, or its label) is a canonical name.
 */

defined( 'ABSPATH' ) || exit;

/** A property of a GF_Field object, or a key of the same data as an array. */
function connector_attribution_prop( $thing, $key ) {
	if ( is_array( $thing ) ) {
		return $thing[ $key ] ?? null;
	}
	return is_object( $thing ) && isset( $thing->$key ) ? $thing->$key : null;
}

function connector_attribution_gravity_entry( $entry, $form ) {
	if ( ! is_array( $entry ) || ! is_array( $form ) || 'spam' === ( $entry['status'] ?? '' ) ) {
		return;
	}
	$fields = array();
	foreach ( (array) ( $form['fields'] ?? array() ) as $field ) {
		$type   = (string) connector_attribution_prop( $field, 'type' );
		$label  = (string) ( connector_attribution_prop( $field, 'adminLabel' ) ?: connector_attribution_prop( $field, 'label' ) );
		$inputs = connector_attribution_prop( $field, 'inputs' );
		if ( 'hidden' === $type ) {
			$canonical = connector_attribution_canonical_class( (string) connector_attribution_prop( $field, 'cssClass' ) )
				?: connector_attribution_canonical_name( (string) connector_attribution_prop( $field, 'inputName' ) )
				?: connector_attribution_canonical_name( $label );
		} else {
			$canonical = '';
		}
		if ( is_array( $inputs ) && $inputs && 'checkbox' !== $type ) {
			foreach ( $inputs as $input ) { // name, address: one value per input ("2.3" First, "2.6" Last)
				$id       = (string) connector_attribution_prop( $input, 'id' );
				$fields[] = array(
					'key'       => 'input_' . $id,
					'label'     => trim( $label . ' ' . connector_attribution_prop( $input, 'label' ) ),
					'type'      => 'name' === $type ? '' : $type,
					'value'     => $entry[ $id ] ?? '',
					'canonical' => '',
				);
			}
			continue;
		}
		$id    = (string) connector_attribution_prop( $field, 'id' );
		$value = $entry[ $id ] ?? '';
		if ( 'checkbox' === $type && is_array( $inputs ) ) {
			$value = array();
			foreach ( $inputs as $input ) {
				$value[] = $entry[ (string) connector_attribution_prop( $input, 'id' ) ] ?? '';
			}
		}
		$fields[] = array(
			'key'       => 'input_' . $id,
			'label'     => $label,
			'type'      => $type,
			'value'     => $value,
			'canonical' => $canonical,
		);
	}
	connector_attribution_capture( 'gravity_forms', $form['id'] ?? '', (string) ( $form['title'] ?? '' ), $entry['id'] ?? null, $fields, (string) ( $entry['source_url'] ?? '' ) );
}
add_action( 'gform_after_submission', 'connector_attribution_gravity_entry', 20, 2 );
