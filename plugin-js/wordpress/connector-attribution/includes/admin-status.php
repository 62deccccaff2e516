<?php
/**
 * Settings > Connector Attribution > Deliveries: what was sent, what waits, what failed and why, per form
 * plugin found on the site, and "Retry now".
 */

defined( 'ABSPATH' ) || exit;

/** The form plugins we read entries from, and whether each is active on this site. */
function connector_attribution_form_plugins() {
	return array(
		'contact_form_7' => array( 'Contact Form 7', defined( 'WPCF7_VERSION' ) ),
		'gravity_forms'  => array( 'Gravity Forms', class_exists( 'GFForms' ) ),
		'wpforms'        => array( 'WPForms', function_exists( 'wpforms' ) ),
		'elementor'      => array( 'Elementor Pro Forms', defined( 'ELEMENTOR_PRO_VERSION' ) ),
		'fluent_forms'   => array( 'Fluent Forms', defined( 'FLUENTFORM' ) || defined( 'FLUENTFORM_VERSION' ) ),
		'ninja_forms'    => array( 'Ninja Forms', class_exists( 'Ninja_Forms' ) ),
		'formidable'     => array( 'Formidable Forms', class_exists( 'FrmForm' ) ),
	);
}

/** A UTC time from the table in the site's timezone, or a dash. */
function connector_attribution_time( $utc ) {
	return $utc ? get_date_from_gmt( $utc, get_option( 'date_format' ) . ' ' . get_option( 'time_format' ) ) : '—';
}

function connector_attribution_status_page() {
	$summary  = connector_attribution_queue_summary();
	$statuses = array(
		'waiting' => __( 'waiting', 'connector-attribution' ),
		'sent'    => __( 'sent', 'connector-attribution' ),
		'failed'  => __( 'failed', 'connector-attribution' ),
	);
	// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a count to show, nothing changes
	$retried = isset( $_GET['retried'] ) ? absint( $_GET['retried'] ) : null;
	?>
	<?php if ( null !== $retried ) : ?>
		<div class="notice notice-info"><p><?php echo esc_html( sprintf( /* translators: %d: number of entries */ _n( '%d entry was sent again.', '%d entries were sent again.', $retried, 'connector-attribution' ), $retried ) ); ?></p></div>
	<?php endif; ?>
	<?php if ( ! connector_attribution_sending_enabled() ) : ?>
		<div class="notice notice-warning"><p><?php esc_html_e( 'Sending is off: set the connector URL and the secret on the Settings tab. Entries made until then are not sent.', 'connector-attribution' ); ?></p></div>
	<?php endif; ?>
	<p><?php esc_html_e( 'Each entry is stored here first, then sent. An entry the connector does not answer is tried again after 1, 2, 4 ... minutes (at most 6 hours apart) for 3 days. Once sent, its contact and attribution data are deleted from this table.', 'connector-attribution' ); ?></p>
	<h2><?php esc_html_e( 'Form plugins', 'connector-attribution' ); ?></h2>
	<table class="widefat striped" id="ca-plugins">
		<thead><tr><th><?php esc_html_e( 'Form plugin', 'connector-attribution' ); ?></th><th><?php esc_html_e( 'On this site', 'connector-attribution' ); ?></th>
			<?php foreach ( $statuses as $label ) : ?><th><?php echo esc_html( $label ); ?></th><?php endforeach; ?>
			<th><?php esc_html_e( 'Latest entry', 'connector-attribution' ); ?></th></tr></thead>
		<tbody>
		<?php foreach ( connector_attribution_form_plugins() as $key => list( $name, $active ) ) : ?>
			<?php $counts = $summary['by_plugin'][ $key ] ?? array(); ?>
			<tr><td><?php echo esc_html( $name ); ?></td><td><?php echo $active ? esc_html__( 'active', 'connector-attribution' ) : esc_html__( 'not active', 'connector-attribution' ); ?></td>
				<?php foreach ( array_keys( $statuses ) as $status ) : ?><td><?php echo esc_html( (string) ( $counts[ $status ] ?? 0 ) ); ?></td><?php endforeach; ?>
				<td><?php echo esc_html( connector_attribution_time( $counts['latest'] ?? '' ) ); ?></td></tr>
		<?php endforeach; ?>
		</tbody>
	</table>
	<h2><?php esc_html_e( 'Latest entries', 'connector-attribution' ); ?></h2>
	<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
		<input type="hidden" name="action" value="connector_attribution_retry">
		<?php wp_nonce_field( 'connector_attribution_retry' ); ?>
		<p><?php echo esc_html( sprintf( /* translators: 1: waiting, 2: failed */ __( '%1$d waiting, %2$d failed.', 'connector-attribution' ), $summary['counts']['waiting'], $summary['counts']['failed'] ) ); ?>
			<?php submit_button( __( 'Retry now', 'connector-attribution' ), 'secondary', 'ca-retry', false, array( 'id' => 'ca-retry' ) ); ?></p>
	</form>
	<table class="widefat striped" id="ca-deliveries">
		<thead><tr><th>#</th><th><?php esc_html_e( 'Form', 'connector-attribution' ); ?></th><th><?php esc_html_e( 'Status', 'connector-attribution' ); ?></th><th><?php esc_html_e( 'Attempts', 'connector-attribution' ); ?></th><th><?php esc_html_e( 'Received', 'connector-attribution' ); ?></th><th><?php esc_html_e( 'Sent / next attempt', 'connector-attribution' ); ?></th><th><?php esc_html_e( 'HTTP', 'connector-attribution' ); ?></th><th><?php esc_html_e( 'Reason', 'connector-attribution' ); ?></th></tr></thead>
		<tbody>
		<?php if ( ! $summary['rows'] ) : ?>
			<tr><td colspan="8"><?php esc_html_e( 'No entries yet.', 'connector-attribution' ); ?></td></tr>
		<?php endif; ?>
		<?php foreach ( $summary['rows'] as $row ) : ?>
			<tr data-status="<?php echo esc_attr( $row['status'] ); ?>">
				<td><?php echo esc_html( $row['id'] ); ?></td>
				<td><?php echo esc_html( ( connector_attribution_form_plugins()[ $row['plugin'] ][0] ?? $row['plugin'] ) . ': ' . $row['form_name'] . ' (' . $row['form_id'] . ')' ); ?></td>
				<td><?php echo esc_html( $statuses[ $row['status'] ] ?? $row['status'] ); ?></td>
				<td><?php echo esc_html( $row['attempts'] ); ?></td>
				<td><?php echo esc_html( connector_attribution_time( $row['created_at'] ) ); ?></td>
				<td><?php echo esc_html( connector_attribution_time( 'sent' === $row['status'] ? $row['sent_at'] : ( 'waiting' === $row['status'] ? $row['next_attempt_at'] : '' ) ) ); ?></td>
				<td><?php echo esc_html( (string) $row['http_status'] ); ?></td>
				<td><?php echo esc_html( (string) $row['last_error'] ); ?></td>
			</tr>
		<?php endforeach; ?>
		</tbody>
	</table>
	<?php
}

/** admin-post.php?action=connector_attribution_retry: every waiting and failed entry due now, sent now. */
function connector_attribution_handle_retry() {
	if ( ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'You are not allowed to do this.', 'connector-attribution' ), 403 );
	}
	check_admin_referer( 'connector_attribution_retry' );
	connector_attribution_queue_retry_all();
	$done = connector_attribution_process_queue( 50 );
	wp_safe_redirect( add_query_arg( 'retried', count( $done ), connector_attribution_page_url_admin( 'status' ) ) );
	exit;
}
add_action( 'admin_post_connector_attribution_retry', 'connector_attribution_handle_retry' );
