"""Print the browser script's size (raw and gzipped, and its on-demand parts') and its measured run time on a
page with five forms.

Usage: python bench/plugin_size.py [--runs N]

Run time on plugin-js/tests/pages/five-forms.html (five forms, 50 hidden fields to fill) with
dist/attribution.js inlined, in headless Chromium (/usr/bin/chromium), median over N fresh page loads of each
kind (consent given, OpenAI loader stubbed), measured with performance.now() in the page. The page is an ad
landing (UTMs and oppref), so the script also requests dist/classify.js:

- own start-up: parse, compile and run of the script on a page where an earlier inline script has already
  touched localStorage and document.cookie and started one script request, i.e. the script's own work;
- browser first use: what that earlier script cost: the browser opening its storage and starting its first
  subresource request (the pixel loader here), paid once per page by whichever script comes first (on a real
  page, usually another one);
- cold start-up: the script alone on a fresh page, so both of the above;
- classifier arrival: from the first line of dist/classify.js running to the end of the work it triggers
  (compile and run the part, classify the touch, store it again, refill the five forms);
- direct visit: the own start-up on the same page with no UTMs and no referrer (most page views), which needs
  no part at all;
- repeat view: a direct visit as the fourth page view of the same visitor, the script served as a file from
  a loopback HTTP server with a cache lifetime (so from the browser's cache, compiled from V8's code cache as
  on a real site; no pixel, as Playwright's routing would turn the cache off), timed from the end of the file's
  fetch;
- one submit (fresh event_id, refill, pixel call) and a refill of all five forms on the warm page.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIST_DIR = ROOT / "plugin-js" / "dist"
DIST = DIST_DIR / "attribution.js"
PARTS = ("classify.js", "booking.js")
PAGE = ROOT / "plugin-js" / "tests" / "pages" / "five-forms.html"
BUDGET = 3072
"""Largest allowed gzipped size of dist/attribution.js (bytes)."""

# the config, and a pre-load queue call that notes when the touches are classified and the forms filled
CONFIG = (
    '<script>window.attributionConfig={consent:"optional",pixelId:"px_bench"};'
    "window.attribution=function(){(attribution.q=attribution.q||[]).push(arguments)};"
    "attribution('get',function(){window.__c1=performance.now()});</script>"
)
# the browser's first localStorage and cookie access and its first script request (about 2 ms for the first,
# a fraction of that for the next), paid before the script so that its own work is timed alone
FIRST_USE = (
    "<script>window.__a0 = performance.now(); localStorage.getItem('_attr'); document.cookie;"
    " document.head.append(Object.assign(document.createElement('script'),"
    " {async: true, src: 'https://bzrcdn.openai.com/sdk/first-request.js'}));"
    " window.__a1 = performance.now();</script>"
)
SUBMIT = (
    "() => { const t = performance.now(); document.querySelector('#f3').requestSubmit();"
    " return performance.now() - t; }"
)
REFILL = "() => { const t = performance.now(); attribution('fill'); return performance.now() - t; }"


def sizes(name: str = "attribution.js") -> tuple[int, int]:
    """(raw bytes, gzipped bytes at level 9) of a built file."""
    code = (DIST_DIR / name).read_bytes()
    return len(code), len(gzip.compress(code, 9))


def page_html(first_use_paid: bool, nonce: str) -> str:
    """The five-form page with the config, optionally FIRST_USE, and the timed inline script (made
    unique by `nonce`, so V8 compiles it afresh as on a first visit instead of reusing an earlier page's code)."""
    # __s1 is taken at the end of the same script, in the same task: a later inline script could run only after
    # the HTML parser yielded to other tasks (the pixel loader's fetch, timers), which are not the script's work
    script = (
        "<script>window.__s0 = performance.now();</script><script>"
        + DIST.read_text()
        + f"\n;window.__s1 = performance.now(); //{nonce}</script>"
    )
    return PAGE.read_text().replace("<!--SCRIPT-->", CONFIG + (FIRST_USE if first_use_paid else "") + script)


def serve(html: str) -> Callable[[Any], None]:
    """A route handler answering with `html` (a closure: Playwright passes handlers the request as well)."""
    return lambda route: route.fulfill(body=html, content_type="text/html")


def launch(playwright: Any, chromium: str = "/usr/bin/chromium") -> Any:
    """Headless Chromium with the flags the project's browser tests use."""
    return playwright.chromium.launch(
        executable_path=chromium,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )


def run_times(
    runs: int = 20, browser: object = None, chromium: str = "/usr/bin/chromium"
) -> dict[str, float]:
    """Median milliseconds on the five-form page: own_ms (start-up, the browser's first-use costs paid before),
    access_ms (those first-use costs: storage, cookie, first script request), start_ms (cold start-up),
    submit_ms and refill_ms (on the warm page)."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            launched = launch(p, chromium)
            try:
                return run_times(runs, launched)
            finally:
                launched.close()
    times: dict[str, list[float]] = {
        k: []
        for k in ("own_ms", "access_ms", "start_ms", "classify_ms", "direct_ms", "submit_ms", "refill_ms")
    }
    classifier = "window.__c0 = performance.now();\n" + (DIST_DIR / "classify.js").read_text()
    for run in range(runs):
        kinds = [("warm", True), ("cold", False), ("direct", True)]
        for kind, first_use_paid in kinds[run % 3 :] + kinds[: run % 3]:  # interleaved, rotating the order
            html = page_html(first_use_paid=first_use_paid, nonce=f"{run}-{kind}")
            context = browser.new_context()  # type: ignore[attr-defined]
            context.route(
                "https://bzrcdn.openai.com/**", lambda r: r.fulfill(body="", content_type="text/javascript")
            )
            context.route("https://bench.test/**", serve(html))
            context.route(
                "https://bench.test/classify.js*",
                lambda r: r.fulfill(body=classifier, content_type="text/javascript"),
            )
            page = context.new_page()
            query = "" if kind == "direct" else "?utm_source=chatgpt.com&utm_medium=referral&oppref=B1"
            page.goto("https://bench.test/five-forms.html" + query)
            page.wait_for_function("window.__c1 !== undefined")
            filled = page.evaluate("document.querySelector('#f5 [name=\"wpforms[fields][12]\"]').value")
            assert len(filled) == 36, "the five-form page was not filled"
            channel = page.evaluate("document.querySelector('#f5 [name=\"wpforms[fields][8]\"]').value")
            assert channel == ("direct" if kind == "direct" else "openai_ads"), channel
            script_ms = page.evaluate("window.__s1 - window.__s0")
            if kind == "warm":
                times["own_ms"].append(script_ms)
                times["access_ms"].append(page.evaluate("window.__a1 - window.__a0"))
                times["classify_ms"].append(page.evaluate("window.__c1 - window.__c0"))
                times["submit_ms"].append(page.evaluate(SUBMIT))
                times["refill_ms"].append(page.evaluate(REFILL))
            elif kind == "cold":
                times["start_ms"].append(script_ms)
            else:
                times["direct_ms"].append(script_ms)
            context.close()
    return {k: statistics.median(v) for k, v in times.items()}


def repeat_times(browser: Any, runs: int) -> list[float]:
    """Own start-up (ms) of a direct visit that is the visitor's fourth page view, one per run."""
    import http.server
    import threading

    timed = (
        '<script>window.attributionConfig={consent:"optional"};window.__s0 = performance.now();</script>'
        + FIRST_USE.replace("document.head.append", "void")
        + '<script src="/attribution.js"></script><script>window.__s1 = performance.now();</script>'
    )
    html = PAGE.read_text().replace("<!--SCRIPT-->", timed).encode()
    script = DIST.read_bytes()

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body, kind = (
                (script, "text/javascript") if self.path == "/attribution.js" else (html, "text/html")
            )
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=86400")
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the browser dropped a request it no longer needed
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found = []
    try:
        for _ in range(runs):
            context = browser.new_context()
            page = context.new_page()
            for view in range(4):
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/five-forms.html?view={view}")
            fetched = page.evaluate(
                "performance.getEntriesByName(location.origin + '/attribution.js')[0].responseEnd"
            )
            found.append(page.evaluate("window.__s1") - max(fetched, page.evaluate("window.__s0")))
            context.close()
    finally:
        server.shutdown()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    raw, gz = sizes()
    print(f"dist/attribution.js: {raw} bytes raw, {gz} bytes gzipped (budget {BUDGET}, {BUDGET - gz:+d})")
    for part in PARTS:
        raw, gz = sizes(part)
        print(f"dist/{part} (loaded on demand): {raw} bytes raw, {gz} bytes gzipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        t = run_times(args.runs, browser)
        repeat = statistics.median(repeat_times(browser, args.runs))
        browser.close()
    print(
        f"five-form ad landing, median of {args.runs}: start-up {t['own_ms']:.2f} ms of the script's own work"
        f" (cold {t['start_ms']:.2f} ms, with the browser's first storage/cookie access and first script"
        f" request, which alone take {t['access_ms']:.2f} ms); classifier arrival {t['classify_ms']:.2f} ms;"
        f" direct visit start-up {t['direct_ms']:.2f} ms; one submit {t['submit_ms']:.2f} ms; refill of all"
        f" five forms {t['refill_ms']:.2f} ms"
    )
    print(f"direct visit as the fourth page view (script cached and code-cached): start-up {repeat:.2f} ms")


if __name__ == "__main__":
    main()
