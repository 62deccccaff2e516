<?php
/**
 * The arguments each form plugin passes to its "entry saved" action, built from JSON as those plugins build
 * them: Gravity Forms' $form['fields'] are GF_Field objects, Elementor Pro's $record is a Form_Record object
 * (get(), get_form_settings()); the other plugins pass arrays.
 */

/** Stands in for ElementorPro\Modules\Forms\Classes\Form_Record: get( 'fields' | 'meta' ), get_form_settings(). */
class Stub_Elementor_Record {
	private $data;
	private $settings;

	public function __construct( $data, $settings ) {
		$this->data     = $data;
		$this->settings = $settings;
	}

	public function get( $property ) {
		return $this->data[ $property ] ?? null;
	}

	public function get_form_settings( $setting ) {
		return $this->settings[ $setting ] ?? null;
	}
}

/** Stands in for GF_Field: its settings as public properties. */
#[AllowDynamicProperties]
class Stub_GF_Field {
	public function __construct( $settings ) {
		foreach ( $settings as $key => $value ) {
			$this->$key = $value;
		}
	}
}

/** The action's arguments from their JSON shape. */
function wp_stub_form_plugin_args( $hook, $args ) {
	switch ( $hook ) {
		case 'gform_after_submission':
			$args[1]['fields'] = array_map(
				function ( $field ) {
					return new Stub_GF_Field( $field );
				},
				$args[1]['fields']
			);
			return $args;
		case 'elementor_pro/forms/new_record':
			return array( new Stub_Elementor_Record( $args[0]['data'], $args[0]['settings'] ), new stdClass() );
		default:
			return $args;
	}
}
