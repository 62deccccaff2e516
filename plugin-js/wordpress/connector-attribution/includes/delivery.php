<?php
/**
 * Sending queued entries to the connector: signed as Standard Webhooks sign, outside the visitor's request,
 * retried with exponential backoff through WP-Cron.
 *
 * When: a WP-Cron event scheduled for "now" as the entry is queued (WordPress spawns it at the end of that
 * request); on PHP-FPM / LiteSpeed also straight after the response is finished (fastcgi_finish_request), at
 * `shutdown`; an hourly sweep; and, with DISABLE_WP_CRON set, on a later admin page load (or any request that
 * can finish its response first). What an answer means:
 *   2xx (also {"status": "duplicate"})  sent: the row's personal data is deleted
 *   408, 429, 5xx, no answer            retried: 1 min, 2, 4, ... at most 6 h apart, for 3 days, then failed
 *   any other 4xx (and 3xx)             failed at once, with the connector's reason
 */

defined( 'ABSPATH' ) || exit;

const CONNECTOR_ATTRIBUTION_SEND_HOOK  = 'connector_attribution_send';
const CONNECTOR_ATTRIBUTION_SWEEP_HOOK = 'connector_attribution_sweep';

/** Seconds one HTTP attempt may take. */
const CONNECTOR_ATTRIBUTION_TIMEOUT = 10;

/** Seconds a claimed row is left alone (longer than one attempt). */
const CONNECTOR_ATTRIBUTION_LEASE = 60;

/** Seconds before the first retry; doubled after each failed attempt. */
const CONNECTOR_ATTRIBUTION_FIRST_RETRY = 60;

/** Most seconds between two attempts (6 hours). */
const CONNECTOR_ATTRIBUTION_MAX_RETRY = 21600;

/** Seconds after queueing (or "Retry now") when a row that still fails is given up (3 days). */
const CONNECTOR_ATTRIBUTION_GIVE_UP_SECONDS = 259200;

/** The signing key: the base64 bytes after whsec_, else the secret's own bytes. */
function connector_attribution_signing_key( $secret ) {
	if ( 0 === strpos( $secret, 'whsec_' ) ) {
		$key = base64_decode( substr( $secret, 6 ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions
		if ( false !== $key && '' !== $key ) {
			return $key;
		}
	}
	return $secret;
}

/** The webhook-signature header value: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">. */
function connector_attribution_signature( $secret, $id, $timestamp, $body ) {
	$mac = hash_hmac( 'sha256', $id . '.' . $timestamp . '.' . $body, connector_attribution_signing_key( $secret ), true );
	return 'v1,' . base64_encode( $mac ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions
}

/**
 * POST one signed body (a JSON string) to the connector. Returns array( 'status' => int (0: no answer),
 * 'body' => string, 'retry_after' => int seconds, 'error' => string ).
 */
function connector_attribution_post( $delivery_id, $json ) {
	$url = connector_attribution_webhook_url();
	if ( '' === $url || '' === connector_attribution_secret() ) {
		return array( 'status' => 0, 'body' => '', 'retry_after' => 0, 'error' => __( 'no connector URL or secret set', 'connector-attribution' ) );
	}
	$timestamp = (string) time();
	$response  = wp_remote_post(
		$url,
		array(
			'timeout'     => CONNECTOR_ATTRIBUTION_TIMEOUT,
			'redirection' => 0,
			'headers'     => array(
				'Content-Type'      => 'application/json',
				'webhook-id'        => $delivery_id,
				'webhook-timestamp' => $timestamp,
				'webhook-signature' => connector_attribution_signature( connector_attribution_secret(), $delivery_id, $timestamp, $json ),
			),
			'body'        => $json,
		)
	);
	if ( is_wp_error( $response ) ) {
		return array( 'status' => 0, 'body' => '', 'retry_after' => 0, 'error' => $response->get_error_message() );
	}
	$retry_after = wp_remote_retrieve_header( $response, 'retry-after' );
	return array(
		'status'      => (int) wp_remote_retrieve_response_code( $response ),
		'body'        => (string) wp_remote_retrieve_body( $response ),
		'retry_after' => is_numeric( $retry_after ) ? (int) $retry_after : 0,
		'error'       => '',
	);
}

/** The connector's reason for an answer: its JSON "error", else the start of the body. */
function connector_attribution_reason( $answer ) {
	if ( ! $answer['status'] ) {
		return sprintf( /* translators: %s: the HTTP error */ __( 'no answer: %s', 'connector-attribution' ), $answer['error'] );
	}
	$data   = json_decode( $answer['body'], true );
	$reason = is_array( $data ) && isset( $data['error'] ) && is_string( $data['error'] ) ? $data['error'] : substr( wp_strip_all_tags( $answer['body'] ), 0, 300 );
	return trim( 'HTTP ' . $answer['status'] . ': ' . $reason, ': ' );
}

/** Whether an answer is worth another attempt: no answer, 408, 429 or 5xx. */
function connector_attribution_retryable( $status ) {
	return 0 === $status || 408 === $status || 429 === $status || $status >= 500;
}

/** Seconds before the next attempt after `attempts` failed ones (the connector's Retry-After, when longer). */
function connector_attribution_backoff( $attempts, $retry_after = 0 ) {
	$delay = CONNECTOR_ATTRIBUTION_FIRST_RETRY * ( 2 ** min( 20, max( 0, $attempts - 1 ) ) );
	return (int) min( CONNECTOR_ATTRIBUTION_MAX_RETRY, max( $delay, $retry_after ) );
}

/** One attempt at one row, if it is due and no other process has it. Returns its status after the attempt. */
function connector_attribution_deliver( $id ) {
	if ( ! connector_attribution_queue_claim( $id, CONNECTOR_ATTRIBUTION_LEASE ) ) {
		return '';
	}
	$row = connector_attribution_queue_get( $id );
	if ( ! $row || ! is_string( $row['body'] ) ) {
		return '';
	}
	$answer = connector_attribution_post( $row['delivery_id'], $row['body'] );
	if ( $answer['status'] >= 200 && $answer['status'] < 300 ) {
		connector_attribution_queue_sent( $id, $answer['status'] );
		return 'sent';
	}
	$reason = connector_attribution_reason( $answer );
	$next   = null;
	if ( connector_attribution_retryable( $answer['status'] ) ) {
		$at = time() + connector_attribution_backoff( (int) $row['attempts'], $answer['retry_after'] );
		if ( empty( $row['give_up_at'] ) || $at <= strtotime( $row['give_up_at'] . ' UTC' ) ) {
			$next = gmdate( 'Y-m-d H:i:s', $at );
			wp_schedule_single_event( $at, CONNECTOR_ATTRIBUTION_SEND_HOOK, array( (int) $id ) );
		} else {
			/* translators: 1: number of attempts, 2: the last reason */
			$reason = sprintf( __( 'gave up after %1$d attempts over 3 days; last: %2$s', 'connector-attribution' ), (int) $row['attempts'], $reason );
		}
	}
	connector_attribution_queue_attempt_failed( $id, $answer['status'], $reason, $next );
	if ( null === $next ) {
		// no personal data: the row id, its event_id and the connector's reason
		error_log( sprintf( '[Connector Attribution] delivery #%d (event_id %s) failed: %s', $id, $row['event_id'], $reason ) ); // phpcs:ignore
	}
	return null === $next ? 'failed' : 'waiting';
}

/** Attempt every due row (at most $limit); the retry function cron, the sweep and "Retry now" call. */
function connector_attribution_process_queue( $limit = 20 ) {
	$done = array();
	foreach ( connector_attribution_queue_due( $limit ) as $id ) {
		$done[ $id ] = connector_attribution_deliver( $id );
	}
	return $done;
}

/** The cron event of one row: that row, then whatever else is due (a backlog drains on the first success). */
function connector_attribution_send_event( $id = 0 ) {
	if ( $id && 'sent' !== connector_attribution_deliver( (int) $id ) ) {
		return;
	}
	connector_attribution_process_queue();
}
add_action( CONNECTOR_ATTRIBUTION_SEND_HOOK, 'connector_attribution_send_event' );
add_action( CONNECTOR_ATTRIBUTION_SWEEP_HOOK, 'connector_attribution_process_queue' );

/** Rows queued in this request, sent at shutdown once the response is finished. */
function connector_attribution_schedule( $id ) {
	static $hooked = false;
	$GLOBALS['connector_attribution_queued'][] = (int) $id;
	wp_schedule_single_event( time(), CONNECTOR_ATTRIBUTION_SEND_HOOK, array( (int) $id ) );
	if ( ! $hooked ) {
		$hooked = true;
		add_action( 'shutdown', 'connector_attribution_send_after_response', 1 );
	}
}

/** Finish the visitor's response first when the server can (PHP-FPM, LiteSpeed). False when it cannot. */
function connector_attribution_finish_response() {
	if ( function_exists( 'fastcgi_finish_request' ) ) {
		return fastcgi_finish_request();
	}
	if ( function_exists( 'litespeed_finish_request' ) ) {
		return litespeed_finish_request();
	}
	return false;
}

/**
 * At shutdown of the request that queued entries: send them now if the response can be finished first;
 * otherwise the cron event scheduled with them does it (WordPress spawns it at shutdown, without waiting).
 */
function connector_attribution_send_after_response() {
	$ids = $GLOBALS['connector_attribution_queued'] ?? array();
	if ( ! $ids || ! connector_attribution_finish_response() ) {
		return;
	}
	foreach ( $ids as $id ) {
		connector_attribution_deliver( $id );
	}
}

/**
 * With DISABLE_WP_CRON (a server cron that may run rarely, or none at all), a later request picks up due rows:
 * one whose response can be finished first, or an admin page (the site owner's, not a visitor's, may wait).
 * At most once a minute.
 */
function connector_attribution_opportunistic() {
	if ( ! ( defined( 'DISABLE_WP_CRON' ) && DISABLE_WP_CRON ) || wp_doing_cron() || get_transient( 'connector_attribution_pass' ) ) {
		return;
	}
	$finishable = function_exists( 'fastcgi_finish_request' ) || function_exists( 'litespeed_finish_request' );
	if ( ! $finishable && ! ( is_admin() && ! wp_doing_ajax() ) ) {
		return;
	}
	set_transient( 'connector_attribution_pass', 1, MINUTE_IN_SECONDS );
	if ( ! connector_attribution_queue_due( 1 ) ) {
		return;
	}
	if ( ! is_admin() ) {
		connector_attribution_finish_response();
	}
	connector_attribution_process_queue( 5 );
}
add_action( 'shutdown', 'connector_attribution_opportunistic', 20 );

/** The hourly sweep (rows whose own event was lost, e.g. the cron option was reset). */
function connector_attribution_schedule_sweep() {
	if ( function_exists( 'wp_next_scheduled' ) && ! wp_next_scheduled( CONNECTOR_ATTRIBUTION_SWEEP_HOOK ) ) {
		wp_schedule_event( time() + HOUR_IN_SECONDS, 'hourly', CONNECTOR_ATTRIBUTION_SWEEP_HOOK );
	}
}

/** On deactivation: no cron event of ours is left (the queue stays; reactivating resumes it). */
function connector_attribution_unschedule() {
	wp_clear_scheduled_hook( CONNECTOR_ATTRIBUTION_SWEEP_HOOK );
	wp_unschedule_hook( CONNECTOR_ATTRIBUTION_SEND_HOOK );
}

/** The settings page's "Test connection": a signed {"v": 1, "type": "test"} with a fresh delivery id. */
function connector_attribution_send_test() {
	$json = wp_json_encode( array( 'v' => 1, 'type' => 'test', 'site' => home_url() ), JSON_UNESCAPED_SLASHES );
	return connector_attribution_post( 'msg_test_' . str_replace( '-', '', wp_generate_uuid4() ), $json );
}
