<?php
/**
 * One form entry as the connector's v1 body (docs/sources/wordpress.md). Each form plugin's handler
 * (includes/forms/) turns its entry into a list of fields:
 *   array( 'key' => input name or field id, 'label' => the form's label, 'type' => the field type,
 *          'value' => string or list of strings, 'canonical' => our hidden field's name or '' )
 * and calls connector_attribution_capture(); this file finds the contact in them and queues the body.
 */

defined( 'ABSPATH' ) || exit;

/** The contact role a field plays (email, first_name, last_name, name, phone, company), or ''. */
function connector_attribution_contact_role( $field ) {
	$type = strtolower( (string) ( $field['type'] ?? '' ) );
	if ( in_array( $type, array( 'email', 'input_email' ), true ) ) {
		return 'email';
	}
	if ( in_array( $type, array( 'tel', 'phone', 'input_phone' ), true ) ) {
		return 'phone';
	}
	// "your-name", "names[first_name]", "Company name": words of the input name and the label
	$words = ' ' . trim( preg_replace( '/[^a-z0-9]+/', ' ', strtolower( ( $field['key'] ?? '' ) . ' ' . ( $field['label'] ?? '' ) ) ) ) . ' ';
	$roles = array(
		'company'    => '/ (company|organi[sz]ation|organisation|business|employer|firma) /',
		'email'      => '/ (e ?mail|email address) /',
		'phone'      => '/ (phone|telephone|tel|mobile|cell) /',
		'first_name' => '/ (first|given|forename|fname|firstname|vorname) /',
		'last_name'  => '/ (last|surname|family|lname|lastname|nachname) /',
		'name'       => '/ (name|names|fullname|full name) /',
	);
	foreach ( $roles as $role => $pattern ) {
		if ( preg_match( $pattern, $words ) ) {
			return $role;
		}
	}
	return '';
}

/** A field's value as one string (a list joined with ", "). */
function connector_attribution_joined( $value ) {
	if ( is_array( $value ) ) {
		return implode( ', ', array_filter( array_map( 'connector_attribution_text', $value ), 'strlen' ) );
	}
	return connector_attribution_text( $value );
}

/** The page the entry was sent from: the form plugin's own record of it, else the request's Referer. */
function connector_attribution_page_url( $known = '' ) {
	$url = is_string( $known ) ? $known : '';
	if ( '' === $url && ! empty( $_SERVER['HTTP_REFERER'] ) ) {
		$url = wp_unslash( $_SERVER['HTTP_REFERER'] ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput
	}
	if ( '' === $url && ! wp_doing_ajax() && ! empty( $_SERVER['REQUEST_URI'] ) ) {
		$url = home_url( wp_unslash( $_SERVER['REQUEST_URI'] ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput
	}
	return connector_attribution_text( esc_url_raw( $url ) );
}

/**
 * The v1 body of one entry: contact fields by type and name, attribution from the posted hidden fields over
 * the _attr cookie, the posted event_id or a new one, every other non-empty field under its label.
 */
function connector_attribution_build( $plugin, $form_id, $form_name, $entry_id, $fields, $page_url = '' ) {
	$posted  = array();
	$contact = array();
	$other   = array();
	foreach ( (array) $fields as $field ) {
		$value = $field['value'] ?? '';
		$key   = (string) ( $field['key'] ?? '' );
		if ( ! empty( $field['canonical'] ) ) {
			$posted[ $field['canonical'] ] = connector_attribution_joined( $value );
			continue;
		}
		if ( '' === connector_attribution_joined( $value ) || '' === $key || '_' === $key[0] ) {
			continue; // empty, or the plugin's own (nonces, referrer, post id)
		}
		$role = connector_attribution_contact_role( $field );
		if ( $role && ! isset( $contact[ $role ] ) ) {
			$contact[ $role ] = connector_attribution_joined( $value );
			continue;
		}
		$label = connector_attribution_text( '' !== (string) ( $field['label'] ?? '' ) ? $field['label'] : $key );
		if ( isset( $other[ $label ] ) ) {
			$label .= ' (' . $key . ')';
		}
		$other[ $label ] = is_array( $value ) ? array_values( array_map( 'connector_attribution_text', $value ) ) : connector_attribution_text( $value );
	}
	if ( ! isset( $contact['name'] ) && ( isset( $contact['first_name'] ) || isset( $contact['last_name'] ) ) ) {
		$contact['name'] = trim( ( $contact['first_name'] ?? '' ) . ' ' . ( $contact['last_name'] ?? '' ) );
	}
	$attribution = connector_attribution_merge( $posted, connector_attribution_from_cookie() );
	if ( empty( $attribution['event_id'] ) ) {
		// no hidden field: the pixel (if any) measured another id or none, so this lead cannot be matched to it
		$attribution['event_id'] = wp_generate_uuid4();
	}
	$body = array(
		'v'            => 1,
		'type'         => 'form_submission',
		'plugin'       => $plugin,
		'form_id'      => (string) $form_id,
		'form_name'    => connector_attribution_text( $form_name ),
		'page_url'     => connector_attribution_page_url( $page_url ),
		'submitted_at' => gmdate( 'Y-m-d\TH:i:s\Z' ),
		'site'         => home_url(),
		'contact'      => (object) $contact,
		'attribution'  => (object) $attribution,
		'fields'       => (object) $other,
	);
	if ( null !== $entry_id && '' !== (string) $entry_id && '0' !== (string) $entry_id ) {
		$body['entry_id'] = (string) $entry_id;
	}
	return $body;
}

/**
 * Queue one entry for the connector and have it sent after the response. Never throws and never waits for the
 * connector: the visitor's submission does not depend on it. Returns the queue row id, or 0.
 *
 * The filter `connector_attribution_submission` ($body, $plugin) may change the body or return false to skip it.
 */
function connector_attribution_capture( $plugin, $form_id, $form_name, $entry_id, $fields, $page_url = '' ) {
	if ( ! connector_attribution_sending_enabled() ) {
		return 0; // no connector URL or secret yet: nothing is kept that could not be sent
	}
	try {
		$body = connector_attribution_build( $plugin, $form_id, $form_name, $entry_id, $fields, $page_url );
		$body = apply_filters( 'connector_attribution_submission', $body, $plugin );
		if ( ! is_array( $body ) ) {
			return 0;
		}
		$id = connector_attribution_queue_add( $body );
		if ( $id ) {
			connector_attribution_schedule( $id );
		}
		return $id;
	} catch ( Throwable $e ) {
		error_log( sprintf( '[Connector Attribution] could not queue a %s entry: %s', $plugin, $e->getMessage() ) ); // phpcs:ignore
		return 0;
	}
}
