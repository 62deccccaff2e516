<?php
/**
 * Plugin Name: Connector Attribution
 * Description: Adds the connector's attribution script (UTMs, click ids, AI sources, hidden form fields, the OpenAI pixel, booking widgets) and sends every form entry to the connector, signed and queued.
 * Version: 0.2.0
 * Requires at least: 6.3
 * Requires PHP: 7.4
 * License: MIT
 * Text Domain: connector-attribution
 *
 * Each file under includes/ does one job; this one only loads them. The pixel id, connector URL, consent mode
 * and root domain are printed into every page; the secret never is (includes/settings.php).
 */

defined( 'ABSPATH' ) || exit;

const CONNECTOR_ATTRIBUTION_FILE = __FILE__;

require __DIR__ . '/includes/settings.php';      // the option, its defaults, the sanitizer, the secret
require __DIR__ . '/includes/script.php';        // js/attribution.js and its configuration on every page
require __DIR__ . '/includes/optimizers.php';    // kept out of optimization plugins' combined files
require __DIR__ . '/includes/fields.php';        // the canonical field names, Formidable's numbered keys
require __DIR__ . '/includes/formidable.php';    // Formidable: data-attribution, the spam denylist
require __DIR__ . '/includes/attribution.php';   // attribution of an entry: posted fields, else the _attr cookie
require __DIR__ . '/includes/submission.php';    // one entry as the connector's v1 body
require __DIR__ . '/includes/queue.php';         // the plugin's own table of deliveries
require __DIR__ . '/includes/delivery.php';      // signing, sending, retrying with backoff
require __DIR__ . '/includes/forms/contact-form-7.php';
require __DIR__ . '/includes/forms/gravity-forms.php';
require __DIR__ . '/includes/forms/wpforms.php';
require __DIR__ . '/includes/forms/elementor.php';
require __DIR__ . '/includes/forms/fluent-forms.php';
require __DIR__ . '/includes/forms/ninja-forms.php';
require __DIR__ . '/includes/forms/formidable.php';

if ( is_admin() ) {
	require __DIR__ . '/includes/admin-settings.php'; // Settings > Connector Attribution, Test connection
	require __DIR__ . '/includes/admin-status.php';   // its Deliveries tab, Retry now
}

register_activation_hook( __FILE__, 'connector_attribution_install' );
register_deactivation_hook( __FILE__, 'connector_attribution_unschedule' );
