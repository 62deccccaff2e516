<?php
/**
 * Contact Form 7: `wpcf7_submit` ($contact_form, $result), after CF7 has validated, spam-checked and mailed.
 *
 * Why not `wpcf7_before_send_mail`: it fires before another callback of that hook may still abort the mail
 * (CF7's own Stripe module does, for a payment not made yet). `wpcf7_submit` fires for every attempt with the
 * outcome in $result['status']: we take `mail_sent` and `mail_failed` (a valid entry whose notification mail
 * failed is still a lead), as Flamingo stores them, and skip validation failures, spam, aborted and demo mode.
 */

defined( 'ABSPATH' ) || exit;

/** The entry's fields: CF7's posted data with each form tag's type; hidden tags with our names are ours. */
function connector_attribution_cf7_fields( $contact_form, $posted ) {
	$types = array();
	foreach ( (array) $contact_form->scan_form_tags() as $tag ) {
		if ( is_object( $tag ) && '' !== (string) $tag->name ) {
			$types[ $tag->name ] = (string) $tag->basetype;
		}
	}
	$fields = array();
	foreach ( (array) $posted as $name => $value ) {
		$name     = (string) $name;
		$type     = $types[ $name ] ?? '';
		$fields[] = array(
			'key'       => $name,
			'label'     => $name, // CF7 tags have no label of their own
			'type'      => $type,
			'value'     => $value,
			'canonical' => 'hidden' === $type || ! isset( $types[ $name ] ) ? connector_attribution_canonical_name( $name ) : '',
		);
	}
	return $fields;
}

function connector_attribution_cf7_submit( $contact_form, $result ) {
	$status = is_array( $result ) ? ( $result['status'] ?? '' ) : '';
	if ( ! in_array( $status, array( 'mail_sent', 'mail_failed' ), true ) || ! class_exists( 'WPCF7_Submission' )
		|| ( method_exists( $contact_form, 'in_demo_mode' ) && $contact_form->in_demo_mode() ) ) {
		return;
	}
	$submission = WPCF7_Submission::get_instance();
	if ( ! $submission ) {
		return;
	}
	connector_attribution_capture(
		'contact_form_7',
		$contact_form->id(),
		$contact_form->title(),
		null, // CF7 stores no entry (Flamingo's message id is not known here)
		connector_attribution_cf7_fields( $contact_form, $submission->get_posted_data() ),
		(string) $submission->get_meta( 'url' )
	);
}
add_action( 'wpcf7_submit', 'connector_attribution_cf7_submit', 20, 2 );
