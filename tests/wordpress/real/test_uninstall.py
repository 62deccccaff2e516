"""Activation creates the plugin's queue table (dbDelta); deleting the plugin drops it with its options and
cron events, so no entry's personal data stays behind."""

from __future__ import annotations

from .site import OPTION, OURS, Site

TABLE_EXISTS = "global $wpdb; return (bool) $wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->prefix . 'connector_attribution_queue'));"
UNINSTALL = (
    "define('WP_UNINSTALL_PLUGIN', 'connector-attribution/connector-attribution.php');"
    " include WP_PLUGIN_DIR . '/connector-attribution/uninstall.php'; return true;"
)


def test_activation_creates_the_table_and_uninstall_removes_everything(wordpress: Site) -> None:
    assert wordpress.run(TABLE_EXISTS) is True
    assert wordpress.run("return (bool) wp_next_scheduled('connector_attribution_sweep');") is True
    wordpress.run("update_option('connector_attribution_secret', 'x'); return true;")
    wordpress.deactivate(OURS)  # WordPress deletes only an inactive plugin
    try:
        assert wordpress.run("return (bool) wp_next_scheduled('connector_attribution_sweep');") is False
        wordpress.run(UNINSTALL)
        assert wordpress.run(TABLE_EXISTS) is False
        left = wordpress.run(
            "return array_values(array_filter(array_map(function ($n) { return get_option($n, null) === null ? null : $n; },"
            " $args[0])));",
            [OPTION, "connector_attribution_secret", "connector_attribution_db_version"],
        )
        assert left == []
    finally:
        wordpress.activate(OURS)  # the rest of the session needs it: activation creates the table again
    assert wordpress.run(TABLE_EXISTS) is True
