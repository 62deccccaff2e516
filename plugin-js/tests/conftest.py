"""Browser-test fixtures: a loopback site, headless Chromium, and stand-ins for third parties.

Pages live in plugin-js/tests/pages and load the committed dist/attribution.js. Every page is served as
http://www.example.test:PORT (Chromium maps *.example.test to 127.0.0.1), so the root-domain cookie and the
internal-referrer rules see a real site host. Playwright routing stands in for the OpenAI pixel loader, the
connector's /collect endpoint and the Calendly / Cal.com iframes, and counts every call.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PLUGIN = Path(__file__).resolve().parents[1]
LOADER_URL = "https://bzrcdn.openai.com/sdk/oaiq.min.js"
ENDPOINT = "https://connector.example.test"

# Stands in for OpenAI's loader: drains the queue stub into window.__oaiq and records every later call.
FAKE_LOADER = """(function(){var q=(window.oaiq&&window.oaiq.q)||[];window.__oaiq=window.__oaiq||[];
window.oaiq=function(){window.__oaiq.push(JSON.parse(JSON.stringify([].slice.call(arguments))))};
q.forEach(function(a){window.oaiq.apply(null,a)});})();"""

# Stands in for Cal.com's embed.js: once the attribution script's booking part is in (the usual order: the
# script requests it the moment it sees embed.js's tag), runs the queued "inline" instructions as the real one
# does: an iframe whose query carries the embed's config.
FAKE_CAL_EMBED = """(function run() {
  if (!(window.attribution && attribution.booking)) return setTimeout(run, 20);
  var queues = [Cal.q].concat(Object.keys(Cal.ns).map(function (n) { return Cal.ns[n].q; }));
  queues.forEach(function (q) { (q || []).forEach(function (a) {
    if (a[0] !== 'inline') return;
    var f = document.createElement('iframe');
    f.id = 'cal-inline-frame';
    f.src = 'https://app.cal.com/' + a[1].calLink + '?embed=&' + new URLSearchParams(a[1].config || {});
    document.querySelector(a[1].elementOrSelector).appendChild(f);
  }); });
})();"""

# Stands in for a booking iframe: reports the URL it was loaded with and posts the vendor's message on book().
FAKE_BOOKING_FRAME = """<!doctype html><meta charset=utf-8><title>booking</title><script>
window.book = function (msg) { parent.postMessage(msg, '*'); };
</script><p>booking widget stand-in</p>"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the loopback server for plugin-js/ (pages under /tests/pages, the script under /dist)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(PLUGIN)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://www.example.test:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser(site: str, launch_chromium: Any) -> Iterator[Any]:
    port = site.rsplit(":", 1)[1]
    secure = ",".join(f"http://{h}.example.test:{port}" for h in ("www", "shop", "blog"))
    b = launch_chromium(
        "--host-resolver-rules=MAP *.example.test 127.0.0.1",
        # booking iframes in the page's own process: with out-of-process iframes, a stand-in frame whose
        # first navigation the script replaced (it decorates the src the moment the iframe is inserted)
        # was now and then lost to Playwright on a loaded machine (content_frame() None for good)
        "--disable-site-isolation-trials",
        # crypto.randomUUID needs a secure context, as on any https site
        f"--unsafely-treat-insecure-origin-as-secure={secure}",
    )
    yield b
    b.close()


class Harness:
    """One browser context (one visitor) with the third parties stubbed and their calls recorded."""

    def __init__(self, browser: Any, site: str) -> None:
        self.site = site
        self.context = browser.new_context()
        self.loader_requests = 0
        self.beacons: list[dict[str, Any]] = []
        self.beacon_requests: list[Any] = []
        self.frames_loaded: list[str] = []
        self.errors: list[str] = []
        self.context.route(LOADER_URL, self._loader)
        self.context.route(
            "https://assets.calendly.com/**",
            lambda route: route.fulfill(status=200, content_type="application/javascript", body=""),
        )
        self.context.route(f"{ENDPOINT}/**", self._collect)
        for pattern in (
            "https://calendly.com/**",
            "https://app.cal.com/**",
            "https://cal.com/**",
            "https://evil.test/**",
        ):
            self.context.route(pattern, self._frame)
        # registered after the frames: Playwright tries the newest matching route first
        self.context.route(
            "https://app.cal.com/embed/embed.js",
            lambda route: route.fulfill(
                status=200, content_type="application/javascript", body=FAKE_CAL_EMBED
            ),
        )

    def _loader(self, route: Any) -> None:
        self.loader_requests += 1
        route.fulfill(status=200, content_type="application/javascript", body=FAKE_LOADER)

    def _collect(self, route: Any) -> None:
        request = route.request
        self.beacon_requests.append(request)
        self.beacons.append(json.loads(request.post_data or "null"))
        # as the connector answers an allowed origin (connector/web/collect.py): the beacon goes with
        # credentials, so "*" would be a CORS error in the page
        origin = request.headers.get("origin", "")
        route.fulfill(
            status=200,
            headers={"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"},
            content_type="application/json",
            body='{"status": "accepted"}',
        )

    def _frame(self, route: Any) -> None:
        self.frames_loaded.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=FAKE_BOOKING_FRAME)

    def open(
        self,
        page_name: str,
        query: str = "",
        config: dict[str, Any] | None = None,
        referrer: str | None = None,
        page: Any = None,
        host: str = "www",
        init: str = "",
    ) -> Any:
        """Open tests/pages/<page_name>?<query> in a new tab (or `page`), configured by `config`."""
        if page is None:
            page = self.context.new_page()
            page.on("pageerror", lambda exc: self.errors.append(str(exc)))
            # a CORS refusal is no exception: Chromium reports it on the console
            page.on(
                "console",
                lambda m: self.errors.append("console: " + m.text) if "CORS" in m.text else None,
            )
            page.on(
                "dialog", lambda dialog: (self.errors.append("dialog: " + dialog.message), dialog.dismiss())
            )
        if config is not None:
            page.add_init_script(f"window.attributionConfig = {json.dumps(config)};")
        if referrer is not None:
            page.add_init_script(
                "Object.defineProperty(Document.prototype, 'referrer', {get: () => "
                + json.dumps(referrer)
                + "});"
            )
        if init:
            page.add_init_script(init)
        base = self.site.replace("//www.", f"//{host}.")
        page.goto(f"{base}/tests/pages/{page_name}" + (f"?{query}" if query else ""))
        page.wait_for_function("window.attribution && window.attribution.loaded")
        # the touches are classified (dist/classify.js fetched when needed) and the forms filled
        page.evaluate("new Promise(done => attribution('get', done))")
        return page

    def booking_frame(self, page: Any, frame_id: str, decorated: bool = True) -> Any:
        """The stand-in booking iframe `#frame_id`, once it has loaded its final (decorated) URL; with
        `decorated=False` (no consent: no UTMs leave the page), once it has loaded at all."""
        page.wait_for_selector(f"#{frame_id}", state="attached")
        for i in range(300):
            handle = page.query_selector(f"#{frame_id}")
            frame = handle.content_frame() if handle else None
            final = (frame_id == "evil-frame" or not decorated) or (
                frame is not None and "utm_source=" in frame.url
            )
            try:
                if frame is not None and final and frame.evaluate("typeof window.book") == "function":
                    return frame
            except Exception:  # navigating: the decorated URL replaced the first one
                pass
            if i == 100 and handle and "utm_source=" in (handle.get_attribute("src") or ""):
                # Seen on a loaded machine only: the script set the decorated src while the routed first
                # navigation was pending, and Chromium dropped the second navigation (the frame stayed on the
                # first URL or an error page). The element holds the decorated URL: load it once more.
                handle.evaluate("f => { f.src = f.src; }")
            page.wait_for_timeout(50)
        handle = page.query_selector(f"#{frame_id}")
        frame = handle.content_frame() if handle else None
        raise AssertionError(
            f"booking frame #{frame_id} never loaded: frame at {frame and frame.url[:200]}, element src "
            f"{handle and (handle.get_attribute('src') or '')[:200]}, frames served "
            f"{[u[:200] for u in self.frames_loaded]}"
        )

    def wait_for_beacons(self, page: Any, count: int = 1, timeout_ms: int = 15_000) -> list[dict[str, Any]]:
        """The beacons once the stand-in /collect has received `count` of them (its route handler runs while
        Playwright waits here), instead of sleeping a fixed time that a loaded machine may not honour."""
        for _ in range(timeout_ms // 25):
            if len(self.beacons) >= count:
                return self.beacons
            page.wait_for_timeout(25)
        raise AssertionError(f"{len(self.beacons)} of {count} beacons reached /collect in {timeout_ms} ms")

    def pixel_calls(self, page: Any) -> list[list[Any]]:
        return page.evaluate("window.__oaiq || []")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def harness(browser: Any, site: str) -> Iterator[Harness]:
    h = Harness(browser, site)
    yield h
    h.close()
    assert not h.errors, f"page errors: {h.errors}"
