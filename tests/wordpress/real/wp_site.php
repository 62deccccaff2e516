<?php
/**
 * Test-site helpers run inside WordPress by wp_eval.php: forms made through each plugin's own PHP API, the
 * settings of CF7 to Webhook, and readers for each plugin's stored entries (field => value).
 */

/** A Contact Form 7 form (wpcf7_save_contact_form, as the editor saves one): name, email, hidden fields. */
function ct_create_cf7_form( $title, $hidden ) {
	$body = "<label>Your name [text* your-name]</label>\n<label>Your email [email* your-email]</label>\n";
	foreach ( $hidden as $name ) {
		$body .= "[hidden $name]\n";
	}
	$body .= '[submit "Send"]';
	$form  = wpcf7_save_contact_form( array( 'title' => $title, 'form' => $body ) );
	return $form->id();
}

/**
 * CF7 to Webhook's settings of one form: its form property ctz_zapier (post meta _ctz_zapier), over the
 * add-on's defaults. Not over what the form holds: saving a form without the Webhook tab's fields posted (as
 * wpcf7_save_contact_form() from PHP does) stores custom_method '', and an empty method is a 400 anywhere.
 */
function ct_set_cf7_webhook( $form_id, $hook_url ) {
	$form                     = wpcf7_contact_form( $form_id );
	$properties               = $form->get_properties();
	$properties['ctz_zapier'] = array_merge(
		CFTZ_Module_CF7::get_form_properties(),
		array(
			'activate'          => '1',
			'hook_url'          => array( $hook_url ),
			'send_mail'         => '0',
			'special_mail_tags' => "[_url]\n[_date]",
		)
	);
	$form->set_properties( $properties );
	$form->save();
	return get_post_meta( $form_id, '_ctz_zapier', true );
}

/** A Formidable form (FrmForm::create, FrmField::create with the builder's defaults); fields by field key. */
function ct_create_formidable_form( $title, $hidden ) {
	$form_id = FrmForm::create(
		array(
			'form_key'    => 'connector_contact',
			'name'        => $title,
			'description' => '',
			'options'     => array( 'submit_value' => 'Send' ),
		)
	);
	$fields  = array(
		array( 'type' => 'text', 'name' => 'Your name', 'field_key' => 'your_name', 'required' => 1 ),
		array( 'type' => 'email', 'name' => 'Your email', 'field_key' => 'your_email', 'required' => 1 ),
	);
	foreach ( $hidden as $name ) {
		$fields[] = array( 'type' => 'hidden', 'name' => $name, 'field_key' => $name, 'required' => 0 );
	}
	$keys = array();
	foreach ( $fields as $field ) {
		$values = array_merge( FrmFieldsHelper::setup_new_vars( $field['type'], $form_id ), $field );
		$id     = FrmField::create( $values );
		$keys[ $field['field_key'] ] = FrmField::getOne( $id )->field_key;
	}
	return array( 'id' => $form_id, 'keys' => $keys );
}

/** A Fluent Forms form: a row in fluentform_forms with its form_fields JSON and formSettings, as its importer does. */
function ct_create_fluent_form( $title, $hidden ) {
	$element = function ( $kind, $type, $name, $label, $required ) {
		$rules = array( 'required' => array( 'value' => $required, 'message' => 'This field is required', 'global' => true ) );
		if ( 'input_email' === $kind ) {
			$rules['email'] = array( 'value' => true, 'message' => 'This field must contain a valid email', 'global' => true );
		}
		return array(
			'index'          => 0,
			'element'        => $kind,
			'attributes'     => array( 'type' => $type, 'name' => $name, 'value' => '', 'class' => '', 'placeholder' => '' ),
			'settings'       => array(
				'container_class'   => '',
				'label'             => $label,
				'admin_field_label' => $label,
				'label_placement'   => '',
				'help_message'      => '',
				'validation_rules'  => $rules,
				'conditional_logics' => array(),
			),
			'editor_options' => array( 'title' => $label, 'template' => 'hidden' === $type ? 'inputHidden' : 'inputText' ),
			'uniqElKey'      => 'el_' . $name,
		);
	};
	$fields = array(
		$element( 'input_text', 'text', 'your_name', 'Your name', true ),
		$element( 'input_email', 'email', 'email', 'Your email', true ),
	);
	foreach ( $hidden as $name ) {
		$fields[] = $element( 'input_hidden', 'hidden', $name, $name, false );
	}
	$form_fields = array(
		'fields'       => $fields,
		'submitButton' => array(
			'uniqElKey'      => 'el_submit',
			'element'        => 'button',
			'attributes'     => array( 'type' => 'submit', 'class' => '' ),
			'settings'       => array(
				'align'           => 'left',
				'button_style'    => 'default',
				'container_class' => '',
				'help_message'    => '',
				'button_size'     => 'md',
				'button_ui'       => array( 'type' => 'default', 'text' => 'Send', 'img_url' => '' ),
			),
			'editor_options' => array( 'title' => 'Submit Button' ),
		),
	);
	$form_id = \FluentForm\App\Models\Form::insertGetId(
		array(
			'title'       => $title,
			'form_fields' => wp_json_encode( $form_fields ),
			'status'      => 'published',
			'has_payment' => 0,
			'type'        => 'form',
			'created_by'  => get_current_user_id(),
			'created_at'  => current_time( 'mysql' ),
			'updated_at'  => current_time( 'mysql' ),
		)
	);
	\FluentForm\App\Models\FormMeta::persist( $form_id, 'formSettings', wp_json_encode( \FluentForm\App\Models\Form::getFormsDefaultSettings() ) );
	do_action( 'fluentform/form_imported', $form_id );
	return $form_id;
}

/** A published page; returns its path ("/pricing/"). */
function ct_create_page( $slug, $title, $content ) {
	$id = wp_insert_post(
		array(
			'post_type'    => 'page',
			'post_status'  => 'publish',
			'post_name'    => $slug,
			'post_title'   => $title,
			'post_content' => $content,
		),
		true
	);
	if ( is_wp_error( $id ) ) {
		throw new RuntimeException( $id->get_error_message() );
	}
	return array( 'id' => $id, 'path' => wp_make_link_relative( get_permalink( $id ) ) );
}

/** Flamingo's latest inbound message of a CF7 form: its _field_* meta, plus _status and _count. */
function ct_flamingo_latest( $form_id ) {
	$meta    = get_post_meta( $form_id, '_flamingo', true );
	$channel = get_term( (int) ( $meta['channel'] ?? 0 ), Flamingo_Inbound_Message::channel_taxonomy );
	if ( ! $channel || is_wp_error( $channel ) ) {
		return null;
	}
	$posts = get_posts(
		array(
			'post_type'      => Flamingo_Inbound_Message::post_type,
			'post_status'    => 'any',
			'posts_per_page' => -1,
			'orderby'        => 'ID',
			'order'          => 'DESC',
			'tax_query'      => array( array( 'taxonomy' => Flamingo_Inbound_Message::channel_taxonomy, 'field' => 'term_id', 'terms' => $channel->term_id ) ),
		)
	);
	if ( ! $posts ) {
		return null;
	}
	$entry = array();
	foreach ( array_keys( (array) get_post_meta( $posts[0]->ID, '_fields', true ) ) as $key ) {
		$entry[ $key ] = get_post_meta( $posts[0]->ID, sanitize_key( '_field_' . $key ), true );
	}
	$entry['_status'] = get_post_meta( $posts[0]->ID, '_submission_status', true );
	$entry['_count']  = count( $posts );
	return $entry;
}

/** Formidable's latest entry of a form (frm_items, frm_item_metas) by field key, plus _count. */
function ct_formidable_latest( $form_id ) {
	global $wpdb;
	$items = $wpdb->get_col( $wpdb->prepare( "SELECT id FROM {$wpdb->prefix}frm_items WHERE form_id = %d ORDER BY id DESC", $form_id ) );
	if ( ! $items ) {
		return null;
	}
	$rows  = $wpdb->get_results(
		$wpdb->prepare(
			"SELECT f.field_key, m.meta_value FROM {$wpdb->prefix}frm_item_metas m JOIN {$wpdb->prefix}frm_fields f ON f.id = m.field_id WHERE m.item_id = %d",
			$items[0]
		)
	);
	$entry = array();
	foreach ( $rows as $row ) {
		$entry[ $row->field_key ] = $row->meta_value;
	}
	$entry['_count'] = count( $items );
	return $entry;
}

/** Fluent Forms' latest submission of a form (fluentform_submissions.response), plus _status and _count. */
function ct_fluent_latest( $form_id ) {
	global $wpdb;
	$rows = $wpdb->get_results( $wpdb->prepare( "SELECT response, status FROM {$wpdb->prefix}fluentform_submissions WHERE form_id = %d ORDER BY id DESC", $form_id ) );
	if ( ! $rows ) {
		return null;
	}
	$entry            = (array) json_decode( $rows[0]->response, true );
	$entry['_status'] = $rows[0]->status;
	$entry['_count']  = count( $rows );
	return $entry;
}

/** The tables of this site whose names end with one of $suffixes. */
function ct_tables( $suffixes ) {
	global $wpdb;
	$found = array();
	foreach ( $suffixes as $suffix ) {
		if ( $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->prefix . $suffix ) ) ) {
			$found[] = $suffix;
		}
	}
	return $found;
}

/**
 * Formidable's denylist verdict (FrmAntiSpamController::is_denylist_spam) on an entry of a form given as
 * field key => value, as a logged-out visitor; without our frm_check_denylist filter when $ours is false.
 */
function ct_formidable_denylist( $form_id, $values_by_key, $ours ) {
	if ( ! $ours ) {
		remove_filter( 'frm_check_denylist', 'connector_attribution_formidable_denylist', 10 );
	}
	$item_meta = array();
	foreach ( $values_by_key as $key => $value ) {
		$item_meta[ (int) FrmField::get_id_by_key( $key ) ] = $value;
	}
	$spam = FrmAntiSpamController::is_denylist_spam( array( 'form_id' => $form_id, 'item_meta' => $item_meta ) );
	add_filter( 'frm_check_denylist', 'connector_attribution_formidable_denylist', 10, 2 );
	return $spam;
}
