<?php
/**
 * Deleting the plugin (not deactivating it) deletes everything it stored: its options, its queue table (with
 * any entry not yet sent) and its cron events.
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

global $wpdb;

delete_option( 'connector_attribution' );
delete_option( 'connector_attribution_secret' );
delete_option( 'connector_attribution_db_version' );
delete_transient( 'connector_attribution_pass' );
if ( isset( $wpdb ) ) {
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}connector_attribution_queue" ); // phpcs:ignore WordPress.DB
}
if ( function_exists( 'wp_unschedule_hook' ) ) {
	wp_unschedule_hook( 'connector_attribution_send' );
	wp_unschedule_hook( 'connector_attribution_sweep' );
}
