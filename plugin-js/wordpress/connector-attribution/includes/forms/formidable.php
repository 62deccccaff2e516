<?php
/**
 * Formidable: `frm_after_create_entry` ($entry_id, $form_id, $args with is_child), fired once the entry and
 * its metas are stored (FrmEntry::create; spam-blocked entries never get there). Our hidden fields are found
 * by field key, numbered or not (first_utm_source2).
 */

defined( 'ABSPATH' ) || exit;

function connector_attribution_formidable_entry( $entry_id, $form_id, $args = array() ) {
	if ( ! empty( $args['is_child'] ) || ! class_exists( 'FrmEntry' ) || ! class_exists( 'FrmField' ) ) {
		return; // a repeater's child entry belongs to its parent's
	}
	$entry = FrmEntry::getOne( $entry_id, true );
	if ( ! $entry || ! empty( $entry->is_draft ) ) {
		return;
	}
	$metas  = isset( $entry->metas ) ? (array) $entry->metas : array();
	$fields = array();
	foreach ( (array) FrmField::get_all_for_form( $form_id ) as $field ) {
		if ( ! is_object( $field ) || ! array_key_exists( $field->id, $metas ) ) {
			continue;
		}
		$fields[] = array(
			'key'       => (string) $field->field_key,
			'label'     => (string) $field->name,
			'type'      => (string) $field->type,
			'value'     => maybe_unserialize( $metas[ $field->id ] ),
			'canonical' => 'hidden' === $field->type ? connector_attribution_formidable_name( $field->field_key ) : '',
		);
	}
	connector_attribution_capture( 'formidable', $form_id, (string) ( $entry->form_name ?? '' ), $entry_id, $fields );
}
add_action( 'frm_after_create_entry', 'connector_attribution_formidable_entry', 30, 3 );
