<?php
/**
 * The plugin's own table of deliveries, {prefix}connector_attribution_queue: one row per entry, written in the
 * request that saved the entry, before anything is sent.
 *
 * status: `waiting` (due at next_attempt_at), `sent` (the connector answered 2xx), `failed` (refused, or given
 * up on). A sent row keeps no personal data: body is emptied, leaving id, delivery id, plugin, form, event_id,
 * status, times, attempts and the HTTP status. A failed row keeps its body, so "Retry now" can send it;
 * uninstalling the plugin drops the table. Times are UTC.
 */

defined( 'ABSPATH' ) || exit;

const CONNECTOR_ATTRIBUTION_DB_VERSION        = '1';
const CONNECTOR_ATTRIBUTION_DB_VERSION_OPTION = 'connector_attribution_db_version';

/** The table's name with this site's prefix. */
function connector_attribution_table() {
	global $wpdb;
	return $wpdb->prefix . 'connector_attribution_queue';
}

/** Now, as the table stores times (UTC, MySQL DATETIME), optionally moved by $seconds. */
function connector_attribution_now( $seconds = 0 ) {
	return gmdate( 'Y-m-d H:i:s', time() + (int) $seconds );
}

/** Create or upgrade the table (on activation, and when an update changed its version). */
function connector_attribution_install() {
	global $wpdb;
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$table   = connector_attribution_table();
	$charset = $wpdb->get_charset_collate();
	// dbDelta's format: two spaces after PRIMARY KEY, one field per line
	dbDelta(
		"CREATE TABLE {$table} (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  delivery_id varchar(64) NOT NULL,
  plugin varchar(32) NOT NULL,
  form_id varchar(191) NOT NULL DEFAULT '',
  form_name varchar(255) NOT NULL DEFAULT '',
  event_id varchar(255) NOT NULL DEFAULT '',
  status varchar(16) NOT NULL DEFAULT 'waiting',
  body longtext NULL,
  attempts int(10) unsigned NOT NULL DEFAULT 0,
  created_at datetime NOT NULL,
  next_attempt_at datetime NULL,
  give_up_at datetime NULL,
  last_attempt_at datetime NULL,
  sent_at datetime NULL,
  http_status smallint(5) unsigned NULL,
  last_error text NULL,
  PRIMARY KEY  (id),
  UNIQUE KEY delivery_id (delivery_id),
  KEY status_next (status,next_attempt_at)
) {$charset};"
	);
	update_option( CONNECTOR_ATTRIBUTION_DB_VERSION_OPTION, CONNECTOR_ATTRIBUTION_DB_VERSION, false );
	connector_attribution_schedule_sweep();
}

/** An update that did not run the activation hook still gets the table. */
function connector_attribution_maybe_install() {
	if ( get_option( CONNECTOR_ATTRIBUTION_DB_VERSION_OPTION ) !== CONNECTOR_ATTRIBUTION_DB_VERSION ) {
		connector_attribution_install();
	}
}
add_action( 'plugins_loaded', 'connector_attribution_maybe_install' );

/** Add one body to the queue, due now, with a new delivery id; returns the row id (0 on failure). */
function connector_attribution_queue_add( $body ) {
	global $wpdb;
	$json = wp_json_encode( $body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE );
	if ( ! is_string( $json ) ) {
		return 0;
	}
	$now = connector_attribution_now();
	$ok  = $wpdb->insert(
		connector_attribution_table(),
		array(
			// the webhook-id: one per entry, the same on every retry (the connector's delivery key)
			'delivery_id'     => 'msg_' . str_replace( '-', '', wp_generate_uuid4() ),
			'plugin'          => (string) $body['plugin'],
			'form_id'         => substr( (string) ( $body['form_id'] ?? '' ), 0, 191 ),
			'form_name'       => substr( (string) ( $body['form_name'] ?? '' ), 0, 255 ),
			'event_id'        => substr( (string) ( ( (array) $body['attribution'] )['event_id'] ?? '' ), 0, 255 ),
			'status'          => 'waiting',
			'body'            => $json,
			'attempts'        => 0,
			'created_at'      => $now,
			'next_attempt_at' => $now,
			'give_up_at'      => connector_attribution_now( CONNECTOR_ATTRIBUTION_GIVE_UP_SECONDS ),
		)
	);
	return $ok ? (int) $wpdb->insert_id : 0;
}

/** One row as an array, or null. */
function connector_attribution_queue_get( $id ) {
	global $wpdb;
	$table = connector_attribution_table();
	$row   = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE id = %d", $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	return $row ? $row : null;
}

/** Ids of waiting rows that are due, oldest first. */
function connector_attribution_queue_due( $limit = 20 ) {
	global $wpdb;
	$table = connector_attribution_table();
	return array_map(
		'intval',
		$wpdb->get_col( $wpdb->prepare( "SELECT id FROM {$table} WHERE status = 'waiting' AND next_attempt_at <= %s ORDER BY id LIMIT %d", connector_attribution_now(), $limit ) ) // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	);
}

/**
 * Take a due row for one attempt: count the attempt and push next_attempt_at out by a lease, in one UPDATE
 * that only one process can win (two cron runs, or cron and the shutdown send, never send a row twice at
 * once). A process that dies mid-send leaves the row due again when the lease ends. True when taken.
 */
function connector_attribution_queue_claim( $id, $lease_seconds ) {
	global $wpdb;
	$table = connector_attribution_table();
	$now   = connector_attribution_now();
	$taken = $wpdb->query(
		$wpdb->prepare(
			"UPDATE {$table} SET attempts = attempts + 1, last_attempt_at = %s, next_attempt_at = %s WHERE id = %d AND status = 'waiting' AND next_attempt_at <= %s", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			$now,
			connector_attribution_now( $lease_seconds ),
			$id,
			$now
		)
	);
	return 1 === $taken;
}

/** Record the connector's 2xx: the row is sent and its personal data (the body) deleted. */
function connector_attribution_queue_sent( $id, $http_status ) {
	global $wpdb;
	$wpdb->update(
		connector_attribution_table(),
		array(
			'status'          => 'sent',
			'body'            => null,
			'sent_at'         => connector_attribution_now(),
			'next_attempt_at' => null,
			'http_status'     => (int) $http_status,
			'last_error'      => null,
		),
		array( 'id' => (int) $id )
	);
}

/** Record a failed attempt: due again at $next (a datetime), or failed for good when $next is null. */
function connector_attribution_queue_attempt_failed( $id, $http_status, $reason, $next ) {
	global $wpdb;
	$wpdb->update(
		connector_attribution_table(),
		array(
			'status'          => null === $next ? 'failed' : 'waiting',
			'next_attempt_at' => $next,
			'http_status'     => $http_status ? (int) $http_status : null,
			'last_error'      => substr( (string) $reason, 0, 1000 ),
		),
		array( 'id' => (int) $id )
	);
}

/** Make every waiting or failed row that still has its body due now ("Retry now"); returns how many. */
function connector_attribution_queue_retry_all() {
	global $wpdb;
	$table = connector_attribution_table();
	return (int) $wpdb->query(
		$wpdb->prepare(
			"UPDATE {$table} SET status = 'waiting', next_attempt_at = %s, give_up_at = %s WHERE status IN ('waiting', 'failed') AND body IS NOT NULL", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			connector_attribution_now(),
			connector_attribution_now( CONNECTOR_ATTRIBUTION_GIVE_UP_SECONDS )
		)
	);
}

/** Row counts by status, and the latest rows (no bodies), for the status page. */
function connector_attribution_queue_summary( $limit = 25 ) {
	global $wpdb;
	$table  = connector_attribution_table();
	$counts = array( 'waiting' => 0, 'sent' => 0, 'failed' => 0 );
	$by     = array();
	foreach ( (array) $wpdb->get_results( "SELECT plugin, status, COUNT(*) AS n, MAX(created_at) AS latest FROM {$table} GROUP BY plugin, status", ARRAY_A ) as $row ) { // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$counts[ $row['status'] ] = ( $counts[ $row['status'] ] ?? 0 ) + (int) $row['n'];
		$by[ $row['plugin'] ][ $row['status'] ] = (int) $row['n'];
		$by[ $row['plugin'] ]['latest']         = max( $by[ $row['plugin'] ]['latest'] ?? '', (string) $row['latest'] );
	}
	$rows = $wpdb->get_results(
		$wpdb->prepare( "SELECT id, plugin, form_id, form_name, event_id, status, attempts, created_at, next_attempt_at, give_up_at, last_attempt_at, sent_at, http_status, last_error FROM {$table} ORDER BY id DESC LIMIT %d", $limit ), // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		ARRAY_A
	);
	return array(
		'counts'    => $counts,
		'by_plugin' => $by,
		'rows'      => (array) $rows,
	);
}
