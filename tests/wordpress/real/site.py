"""A real WordPress for end-to-end tests: unpacked from the shared fixture, its own MariaDB database, served by
PHP's built-in server, installed and configured from PHP (wp_eval.php), with our plugin installed from its zip."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
ARCHIVE = ROOT.parent / "shared" / "fixtures" / "wordpress" / "wordpress-fixture.tar.xz"
HERE = Path(__file__).resolve().parent
WP_EVAL = HERE / "wp_eval.php"
PACKAGE = ROOT / "plugin-js" / "wordpress" / "package.py"
MARKER = "WP_EVAL_RESULT="

MYSQL_HOST = "127.0.0.1"
"""MariaDB of the machine (root, empty password): each run creates its own database and user in it."""
MYSQL_PORT = 3306

FORM_PLUGINS = (
    "contact-form-7/wp-contact-form-7.php",
    "flamingo/flamingo.php",
    "cf7-to-zapier/cf7-to-zapier.php",
    "formidable/formidable.php",
    "fluentform/fluentform.php",
)
CONSENT_API = "wp-consent-api/wp-consent-api.php"
OURS = "connector-attribution/connector-attribution.php"
OPTION = "connector_attribution"
TABLES = (
    "frm_forms",
    "frm_fields",
    "frm_items",
    "frm_item_metas",
    "fluentform_forms",
    "fluentform_submissions",
)
"""Tables of Formidable and Fluent Forms that their installs create (without the wp_ prefix)."""

HIDDEN_FIELDS = (
    "first_utm_source",
    "first_utm_medium",
    "first_utm_campaign",
    "first_landing_page",
    "first_referrer",
    "first_channel",
    "first_ai_source",
    "latest_utm_source",
    "latest_utm_medium",
    "latest_utm_campaign",
    "latest_landing_page",
    "latest_referrer",
    "latest_channel",
    "latest_ai_source",
    "oppref",
    "event_id",
)
"""The hidden fields every test form carries, named as docs/sources/*.md tell site owners to name them."""


class WordPressError(RuntimeError):
    """PHP run inside the site failed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mysql_admin(php: str, statements: list[str]) -> None:
    """Run SQL statements as MariaDB's root (through PHP's mysqli, which WordPress needs anyway)."""
    program = (
        "mysqli_report(MYSQLI_REPORT_OFF);"
        f"$db = @mysqli_connect('{MYSQL_HOST}', 'root', '', '', {MYSQL_PORT});"
        "if (!$db) { fwrite(STDERR, mysqli_connect_error()); exit(3); }"
        "foreach (json_decode(stream_get_contents(STDIN), true) as $sql) {"
        " if (!mysqli_query($db, $sql)) { fwrite(STDERR, $sql . ': ' . mysqli_error($db)); exit(4); } }"
    )
    done = subprocess.run(
        [php, "-r", program], input=json.dumps(statements), capture_output=True, text=True, timeout=60
    )
    if done.returncode:
        raise WordPressError(f"MariaDB at {MYSQL_HOST}:{MYSQL_PORT} as root: {done.stderr or done.stdout}")


ROUTER = """<?php
// PHP's built-in server: existing files (and folders with an index.php) as they are, the rest to WordPress.
$path = rawurldecode((string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
$file = $_SERVER['DOCUMENT_ROOT'] . $path;
if ($path !== '/' && (is_file($file) || is_file(rtrim($file, '/') . '/index.php'))) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
chdir($_SERVER['DOCUMENT_ROOT']);
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
"""


def wp_config(db: dict[str, str], base_url: str, debug_log: Path) -> str:
    keys = ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE")
    salts = "".join(
        f"define('{name}_{kind}', '{secrets.token_hex(32)}');\n" for name in keys for kind in ("KEY", "SALT")
    )
    return f"""<?php
define('DB_NAME', '{db["name"]}');
define('DB_USER', '{db["user"]}');
define('DB_PASSWORD', '{db["password"]}');
define('DB_HOST', '{MYSQL_HOST}:{MYSQL_PORT}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}$table_prefix = 'wp_';
define('WP_HOME', '{base_url}');
define('WP_SITEURL', '{base_url}');
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', '{debug_log}');
define('WP_DEBUG_DISPLAY', false);
// no cron requests, updates or calls to wordpress.org (loopback requests, e.g. to the connector, still work)
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('FS_METHOD', 'direct');
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""


MAIL_DELIVERED = """<?php
// This machine has no mail server: every wp_mail() counts as delivered (WordPress's pre_wp_mail short-circuit),
// so Contact Form 7 answers mail_sent, as on a site with working mail, whether or not CF7 to Webhook skips
// CF7's own mail.
add_filter( 'pre_wp_mail', '__return_true' );
"""

FORMIDABLE_NO_DUPLICATE_WINDOW = """<?php
// Formidable refuses an entry whose values equal another entry's of the last 60 s (its double-click guard,
// frm_time_to_check_duplicates). The tests send the same visitor again and again (each database variant of a
// test, each journey): without this, the second identical entry would fail as a duplicate.
add_filter( 'frm_time_to_check_duplicates', '__return_zero' );
"""


class Site:
    """One WordPress install: its folder, database, server, and PHP run inside it."""

    def __init__(self, php: str, workdir: Path):
        self.php = php
        self.workdir = workdir
        self.docroot = workdir / "wordpress"
        self.debug_log = workdir / "debug.log"
        self.server_log = workdir / "php-server.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        run = uuid.uuid4().hex[:10]
        self.db = {"name": f"wp_e2e_{run}", "user": f"wp_e2e_{run}", "password": secrets.token_hex(12)}
        self.server: subprocess.Popen | None = None
        self.forms: dict[str, Any] = {}
        self.pages: dict[str, str] = {}

    # building

    def build(self) -> Site:
        """Unpack, create the database, configure, install, activate the plugins, start serving."""
        with tarfile.open(ARCHIVE) as archive:
            archive.extractall(self.workdir, filter="tar")
        self._create_database()
        (self.docroot / "wp-config.php").write_text(wp_config(self.db, self.base_url, self.debug_log))
        (self.workdir / "router.php").write_text(ROUTER)
        mu_plugins = self.docroot / "wp-content" / "mu-plugins"
        mu_plugins.mkdir(exist_ok=True)
        (mu_plugins / "ct-mail-delivered.php").write_text(MAIL_DELIVERED)
        (mu_plugins / "ct-formidable-no-duplicate-window.php").write_text(FORMIDABLE_NO_DUPLICATE_WINDOW)
        self._install_our_plugin()
        self.run(
            "wp_install('Connector E2E', 'admin', 'admin@example.com', false, '', wp_generate_password(20));"
            "return get_option('siteurl');",
            install=True,
        )
        self.run(
            "global $wp_rewrite; $wp_rewrite->set_permalink_structure('/%postname%/');"
            "flush_rewrite_rules(false); return true;"
        )
        self.activate(*FORM_PLUGINS, OURS)
        # Formidable creates its tables on the first admin page load after activation (admin_init finds
        # frm_db_version outdated and runs its silent upgrade), not in its activation hook: run that upgrade.
        self.run("return FrmAppController::api_install();")
        # For 60 s after its activation Formidable sends the next admin request to its onboarding wizard, even
        # a visitor's admin-ajax.php POST (Fluent Forms' submissions got a 302): the owner has seen it.
        self.run("return delete_transient('frm_activation_redirect');")
        missing = set(TABLES) - set(self.call("ct_tables", list(TABLES)))
        if missing:
            raise WordPressError(
                f"tables the form plugins should have created are missing: {sorted(missing)}"
            )
        self._serve()
        return self

    def _create_database(self) -> None:
        name, user, password = self.db["name"], self.db["user"], self.db["password"]
        statements = [f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"]
        for host in ("127.0.0.1", "localhost"):
            statements += [
                f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'",
                f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{host}'",
            ]
        mysql_admin(self.php, statements)

    def _drop_database(self) -> None:
        statements = [f"DROP DATABASE IF EXISTS `{self.db['name']}`"]
        statements += [f"DROP USER IF EXISTS '{self.db['user']}'@'{h}'" for h in ("127.0.0.1", "localhost")]
        mysql_admin(self.php, statements)

    def _install_our_plugin(self) -> None:
        """Our plugin as a site owner installs it: the zip that plugin-js/wordpress/package.py builds."""
        output = self.workdir / "connector-attribution.zip"
        done = subprocess.run(
            [sys.executable, str(PACKAGE), str(output)], capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            raise WordPressError(f"package.py failed: {done.stderr}")
        with zipfile.ZipFile(output) as archive:
            archive.extractall(self.docroot / "wp-content" / "plugins")

    def _serve(self) -> None:
        log = open(self.server_log, "wb")
        self.server = subprocess.Popen(
            [
                self.php,
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(self.docroot),
                str(self.workdir / "router.php"),
            ],
            env={"PATH": "/usr/bin:/bin", "PHP_CLI_SERVER_WORKERS": "4"},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.docroot,
            # PHP_CLI_SERVER_WORKERS forks the workers: they outlive a stopped parent, so stop the group
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise WordPressError(f"php -S exited: {self.server_log.read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise WordPressError(f"php -S did not listen on {self.port}")

    def close(self) -> None:
        if self.server:
            self._signal_server(signal.SIGTERM)
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_server(signal.SIGKILL)
                self.server.wait()
        self._drop_database()
        shutil.rmtree(self.docroot, ignore_errors=True)

    def _signal_server(self, signum: int) -> None:
        """Signal php -S and its workers (its own process group, started by _serve)."""
        assert self.server is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signum)

    # PHP inside WordPress

    def run(self, code: str, *args: Any, install: bool = False) -> Any:
        """Run `code` (a PHP function body that sees $args and returns) inside WordPress; its value from JSON."""
        command = [self.php, str(WP_EVAL), str(self.docroot)] + (["--install"] if install else [])
        done = subprocess.run(
            command,
            input=json.dumps({"code": code, "args": list(args)}),
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "WP_EVAL_HOME": self.base_url},
            cwd=self.docroot,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
        if done.returncode or not lines:
            raise WordPressError(
                f"PHP in WordPress failed (exit {done.returncode}):\n{code}\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-3000:]}\n--- debug.log\n{self.log()[-3000:]}"
            )
        return json.loads(lines[-1][len(MARKER) :])

    def call(self, function: str, *args: Any) -> Any:
        """Call one PHP function (WordPress's, a plugin's or wp_site.php's) with JSON-able arguments."""
        return self.run(f"return {function}(...$args);", *args)

    def activate(self, *plugins: str) -> None:
        """Activate plugins as the admin screen does (their activation hooks run)."""
        errors = self.run("wp_set_current_user(1); return activate_plugins($args[0]);", list(plugins))
        if errors is not True:
            raise WordPressError(f"activate_plugins{plugins}: {errors}")

    def deactivate(self, *plugins: str) -> None:
        self.run("deactivate_plugins($args[0]); return true;", list(plugins))

    def set_settings(self, **settings: str) -> None:
        """Our plugin's option (pixel_id, endpoint, consent, root_domain), as its settings page saves it."""
        self.run(
            "update_option($args[0], connector_attribution_sanitize($args[1])); return get_option($args[0]);",
            OPTION,
            settings,
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        """WP_DEBUG_LOG so far."""
        return self.debug_log.read_text(errors="replace") if self.debug_log.exists() else ""

    # content

    def create_content(self) -> None:
        """The pages and forms the journeys use: a front page, /pricing/ and one page per form plugin."""
        hidden = list(HIDDEN_FIELDS)
        self.forms["cf7"] = self.call("ct_create_cf7_form", "Contact (CF7)", hidden)
        self.forms["formidable"] = self.call("ct_create_formidable_form", "Contact (Formidable)", hidden)
        self.forms["fluent"] = self.call("ct_create_fluent_form", "Contact (Fluent Forms)", hidden)
        home = self.call(
            "ct_create_page", "home", "Home", "<p>Welcome.</p><p><a href='/pricing/'>Pricing</a></p>"
        )
        self.run(
            "update_option('show_on_front', 'page'); update_option('page_on_front', $args[0]); return true;",
            home["id"],
        )
        pages = {
            "pricing": ("pricing", "Pricing", "<p>Plans and prices.</p>"),
            "cf7": ("contact-cf7", "Contact CF7", f'[contact-form-7 id="{self.forms["cf7"]}"]'),
            "formidable": (
                "contact-formidable",
                "Contact Formidable",
                f"[formidable id={self.forms['formidable']['id']}]",
            ),
            "fluent": ("contact-fluent", "Contact Fluent", f"[fluentform id={self.forms['fluent']}]"),
        }
        for key, (slug, title, content) in pages.items():
            self.pages[key] = self.call("ct_create_page", slug, title, content)["path"]
