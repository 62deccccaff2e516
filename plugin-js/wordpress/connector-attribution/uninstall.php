<?php
/**
 * Deleting the plugin (not deactivating it) deletes its settings: one option, nothing else is stored.
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

delete_option( 'connector_attribution' );
