"""Fixtures for the real-WordPress tests: one site per session, one Chromium per session, a visitor per test,
and a real connector (serve + worker) for CF7 to Webhook's deliveries."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, Processes, wait_for

from .site import ARCHIVE, CONSENT_API, OPTION, Site, WordPressError, free_port, mysql_admin

LOADER_URL = "https://bzrcdn.openai.com/sdk/oaiq.min.js"
CF7_SECRET = "cf7-e2e-secret-0123456789"
PIXEL_ID = "px_e2e_test"


def _fake_loader() -> str:
    """plugin-js/tests/conftest.py's stand-in for OpenAI's loader (that folder is no package: load the file)."""
    spec = importlib.util.spec_from_file_location(
        "plugin_js_tests_conftest", ROOT / "plugin-js" / "tests" / "conftest.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FAKE_LOADER


RECORDER_URL = "https://oaiq-recorder.test/call"
# Every call the stand-in records in window.__oaiq is also sent to RECORDER_URL (routed to the test): a form
# that posts its page (Formidable) navigates right after the pixel call, taking window.__oaiq with it, and a
# keepalive request outlives the page as the pixel's own would (a Playwright binding call does not).
RECORDING_LOADER = (
    "window.__oaiq = window.__oaiq || []; (function (calls) { var push = calls.push;"
    " calls.push = function (call) { fetch('" + RECORDER_URL + "', {method: 'POST', mode: 'no-cors',"
    " keepalive: true, body: JSON.stringify(call)}); return push.call(calls, call); }; })(window.__oaiq);\n"
    + _fake_loader()
)

# The page the visitor comes from: a real https://chatgpt.com/ document (routed), with a link to the landing.
# unsafe-url: the https page's address reaches our http test site (on a real https site no policy is needed).
REFERRER_PAGE = (
    "<!doctype html><meta charset=utf-8><meta name=referrer content=unsafe-url><title>ChatGPT</title>"
    "<a id=ad href='{url}'>Sponsored</a>"
)


@pytest.fixture(scope="session")
def wordpress_site(php: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """WordPress 7 with the form plugins and ours, installed once per session and torn down after it."""
    if not ARCHIVE.is_file():
        pytest.skip(
            f"needs ../shared/fixtures/wordpress/wordpress-fixture.tar.xz ({ARCHIVE}): a real WordPress with "
            "the form plugins, unpacked per run"
        )
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=30).stdout.split()
    missing = [m for m in ("mysqli", "xml", "mbstring", "curl", "gd", "zip", "intl") if m not in modules]
    if missing:
        # not a skip: CI installs them, so a missing one is a broken setup
        pytest.fail(
            f"PHP lacks {', '.join(missing)}: apt-get install -y php-cli php-mysql php-xml php-mbstring "
            "php-curl php-gd php-zip php-intl (scripts/setup --test and .ci/run do this)",
            pytrace=False,
        )
    try:
        mysql_admin(php, ["SELECT 1"])
    except WordPressError as exc:
        pytest.fail(f"{exc}: the real-WordPress tests need this machine's MariaDB", pytrace=False)
    site = Site(php, tmp_path_factory.mktemp("wordpress"))
    try:
        site.build()
        site.create_content()
        yield site
        # after every test of the session: our plugin wrote no notice, warning or deprecation
        ours = [line for line in site.log().splitlines() if "connector-attribution" in line]
        assert ours == [], "WP_DEBUG_LOG lines from our plugin:\n" + "\n".join(ours)
    finally:
        site.close()


@pytest.fixture
def wordpress(wordpress_site: Site) -> Iterator[Site]:
    """The session's site with our plugin's settings of this test: consent optional and a pixel id (saved
    through the settings page's sanitizer, which now stores 'optional' as 'auto')."""
    wordpress_site.set_settings(pixel_id=PIXEL_ID, consent="optional", endpoint="", root_domain="")
    yield wordpress_site
    wordpress_site.run("delete_option($args[0]); return true;", OPTION)


@pytest.fixture
def consent_api(wordpress: Site) -> Iterator[Site]:
    """WP Consent API active for this test only (it is inactive by default)."""
    wordpress.activate(CONSENT_API)
    yield wordpress
    wordpress.deactivate(CONSENT_API)


@pytest.fixture(scope="session")
def chromium(launch_chromium: Any) -> Iterator[Any]:
    browser = launch_chromium()
    yield browser
    browser.close()


class Visitor:
    """One visitor (a fresh browser context): OpenAI's loader stubbed, every pixel call recorded."""

    def __init__(self, browser: Any, site: Site):
        self.site = site
        self.context = browser.new_context()
        self.context.set_default_timeout(20_000)
        self.pixel_calls: list[list[Any]] = []
        self.errors: list[str] = []
        self.context.route(RECORDER_URL, self._record)
        self.context.route(
            LOADER_URL,
            lambda route: route.fulfill(
                status=200, content_type="application/javascript", body=RECORDING_LOADER
            ),
        )
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _record(self, route: Any) -> None:
        self.pixel_calls.append(json.loads(route.request.post_data or "null"))
        route.fulfill(status=204)

    def arrive_from(self, referrer: str, path: str) -> Any:
        """Follow a link on `referrer` (a routed stand-in page) to `path` of the site."""
        url = self.site.url(path)
        self.context.route(
            referrer,
            lambda route: route.fulfill(
                status=200, content_type="text/html", body=REFERRER_PAGE.format(url=url)
            ),
        )
        self.page.goto(referrer)
        with self.page.expect_navigation(url=url):
            self.page.click("#ad")
        return self.ready()

    def go(self, path: str) -> Any:
        self.page.goto(self.site.url(path))
        return self.ready()

    def ready(self) -> Any:
        """Wait until the script has loaded, classified the touch and filled the forms."""
        self.page.wait_for_function("window.attribution && window.attribution.loaded")
        self.page.evaluate("new Promise(done => attribution('get', done))")
        return self.page

    def measures(self, count: int = 1, timeout_ms: int = 5000) -> list[list[Any]]:
        """The pixel's measure calls on every page of the visit, once `count` have arrived (or the timeout)."""
        for _ in range(timeout_ms // 50):
            found = [call for call in self.pixel_calls if call and call[0] == "measure"]
            if len(found) >= count:
                break
            self.page.wait_for_timeout(50)  # route handlers run while Playwright waits
        return found

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitor(chromium: Any, wordpress: Site) -> Iterator[Visitor]:
    v = Visitor(chromium, wordpress)
    yield v
    v.close()
    assert not v.errors, f"page errors: {v.errors}"


class Connector:
    """`connector serve` and a worker as child processes, and `connector events show` against their ledger."""

    def __init__(self, processes: Processes, port: int):
        self.processes = processes
        self.base_url = f"http://127.0.0.1:{port}"

    def events_show(self, event_id: str) -> dict[str, Any] | None:
        done = subprocess.run(
            [sys.executable, "-m", "connector", "events", "show", event_id, "--json"],
            env=self.processes.env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        return json.loads(done.stdout) if done.returncode == 0 else None


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def connector(env: dict[str, str], processes: Processes) -> Connector:
    """A real connector (gunicorn + RQ worker on this test's database and queue) accepting CF7's secret."""
    env["CONNECTOR_CONTACT_FORM_7_SECRET"] = CF7_SECRET
    port = free_port()
    processes.start("serve", "--port", str(port), "--processes", "1", name="serve")
    processes.start("worker", name="worker")
    running = Connector(processes, port)
    wait_for(lambda: _up(f"{running.base_url}/readyz"), timeout=30, message="connector ready")
    return running
