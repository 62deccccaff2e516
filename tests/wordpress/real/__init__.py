"""End-to-end tests on a real WordPress (../shared/fixtures/wordpress/wordpress-fixture.tar.xz, see its README).

One site per session (site.py): unpacked into a temporary folder, its own MariaDB database and user (root at
127.0.0.1:3306 creates them; dropped at the end), wp-config.php with WP_DEBUG_LOG, `php -S` with a router on a
free loopback port, WordPress installed from PHP, Contact Form 7 + Flamingo + CF7 to Webhook, Formidable and
Fluent Forms activated, our plugin installed from the zip plugin-js/wordpress/package.py builds. wp_eval.php runs
PHP inside the site (wp_site.php: forms made through each plugin's own API, readers of each plugin's entries).
Needs php with mysqli, xml, mbstring, curl, gd, zip and intl, MariaDB and /usr/bin/chromium; skipped only
when the fixture archive is absent.
"""
