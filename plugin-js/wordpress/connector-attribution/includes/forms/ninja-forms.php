<?php
/**
 * Ninja Forms: `ninja_forms_after_submission` ($form_data), at the end of processing, after its actions ran
 * (the Save action's submission id is in $form_data['actions']['save']['sub_id']). $form_data['fields']: field
 * id => the field's settings flattened with its value (id, key, type, label, value, element_class,
 * container_class). A hidden field is ours when its key or one of its custom class names is a canonical name.
 */

defined( 'ABSPATH' ) || exit;

function connector_attribution_ninja_submission( $form_data ) {
	if ( ! is_array( $form_data ) || empty( $form_data['fields'] ) ) {
		return;
	}
	$fields = array();
	foreach ( (array) $form_data['fields'] as $field ) {
		if ( ! is_array( $field ) ) {
			continue;
		}
		$type = (string) ( $field['type'] ?? '' );
		if ( in_array( $type, array( 'submit', 'html', 'hr', 'spam', 'recaptcha' ), true ) ) {
			continue;
		}
		$key      = (string) ( $field['key'] ?? ( $field['id'] ?? '' ) );
		$fields[] = array(
			'key'       => $key,
			'label'     => (string) ( $field['label'] ?? '' ),
			'type'      => $type,
			'value'     => $field['value'] ?? '',
			'canonical' => 'hidden' === $type
				? ( connector_attribution_canonical_name( $key )
					?: connector_attribution_canonical_class( ( $field['element_class'] ?? '' ) . ' ' . ( $field['container_class'] ?? '' ) ) )
				: '',
		);
	}
	connector_attribution_capture(
		'ninja_forms',
		$form_data['form_id'] ?? '',
		(string) ( $form_data['settings']['title'] ?? '' ),
		$form_data['actions']['save']['sub_id'] ?? null,
		$fields
	);
}
add_action( 'ninja_forms_after_submission', 'connector_attribution_ninja_submission', 20 );
