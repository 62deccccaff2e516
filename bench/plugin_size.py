"""Print the browser script's size (raw and gzipped, and its on-demand parts') and its measured run time on a
page with five forms.

Two builds side by side in one headless Chromium, interleaved (A B, then B A, ...): the build committed at REV
(default 504a358, before the script's speed work; its dist/ files are taken from git into a temporary folder)
and the working tree's dist/. For each, on the five-form ad landing (utm_*, oppref, gclid and a ChatGPT
referrer) and on a direct visit, the main-thread time of our files from a Chrome trace (`Tracing.start`):
EvaluateScript, compile and every FunctionCall (event listeners, observers, timers, idle callbacks) attributed
to our files' URLs on the renderer's main thread, from navigation until the load event + 300 ms, nested events
counted once. Three figures of it: wall time; the thread's CPU time within it; and busy: the CPU time plus the
waits of our synchronous calls to the browser (opening localStorage, reading cookies), i.e. the wall time
without the time the thread was ready but kept from running (on this shared 2-core machine, mostly other
processes holding both CPUs; under a load average of 10 it can be half the wall time). Each also with the page's
first storage, cookie and network use paid by an inline script before ours (a fresh renderer's one-off costs,
which a real page's other scripts, stylesheets and images pay first). --breakdown prints what each figure
holds: compile, storage, the cookie read, the requests started (the parts and the pixel loader) and our code's
own CPU. Beside it the performance.now() figures below, per build. The peers' figures are the ones measured in
issue 15 (their code is not part of this project), the trace's wall time.

Usage: python bench/plugin_size.py [--runs N] [--baseline REV] [--breakdown]

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
import json
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIST_DIR = ROOT / "plugin-js" / "dist"
BASELINE = "504a358"
"""The commit whose build the new one is compared with: the last one before the script's speed work."""
LANDING = "?utm_source=chatgpt.com&utm_medium=referral&utm_campaign=launch&oppref=B1&gclid=G1"
CHATGPT = "https://chatgpt.com/"
PEERS = {
    "landing": "Attributor 6.8 ms, utm_form 13.4 ms, HandL + jQuery 37.1 ms",
    "direct": "Attributor 7.4 ms",
}
"""Main-thread time of the peers on the same pages, as measured in issue 15."""
GOALS = {"landing": 1.5 * 6.8, "direct": 7.4}
"""ms: within 1.5 x Attributor's on the landing, 1.0 x on a direct visit (issue 15)."""
TRACE_CATEGORIES = ["devtools.timeline", "v8", "mojom", "blink.resource"]
"""devtools.timeline and v8: our scripts' runs, compiles and callbacks; mojom: the renderer's synchronous calls to
the browser process (storage, cookies), whose waits the busy figure counts; blink.resource: each request started."""
SYNC_CALLS = (
    "ContentSettingsManager::AllowStorageAccess",
    "StorageArea::GetAll",
    "RestrictedCookieManager::",
)
"""Names (prefixes) of the synchronous calls to the browser our scripts make: the first localStorage access asks
whether storage is allowed, then loads the origin's whole storage area; each document.cookie read is a call."""
PARTS_OF = {
    "v8.compile": "compile",
    "ContentSettingsManager::AllowStorageAccess": "storage",
    "StorageArea::GetAll": "storage",
    "RestrictedCookieManager::GetCookiesString": "cookie read",
    "ResourceFetcher::requestResource": "requests started",
}
"""--breakdown: the events nested in our scripts' runs that are counted apart (the rest is the scripts' own work)."""
DIST = DIST_DIR / "attribution.js"
PARTS = ("classify.js", "booking.js")
PAGE = ROOT / "plugin-js" / "tests" / "pages" / "five-forms.html"
BUDGET = 3124
"""Largest allowed gzipped size of dist/attribution.js (bytes)."""
HINT = "//# allFunctionsCalledOnLoad\n"
"""The first line of each built file (V8's explicit compile hint: every function compiled with the script)."""

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


def sizes(name: str = "attribution.js", dist_dir: Path = DIST_DIR) -> tuple[int, int]:
    """(raw bytes, gzipped bytes at level 9) of a built file."""
    code = (dist_dir / name).read_bytes()
    return len(code), len(gzip.compress(code, 9))


def page_html(first_use_paid: bool, nonce: str, dist_dir: Path = DIST_DIR) -> str:
    """The five-form page with the config, optionally FIRST_USE, and the timed inline script (made
    unique by `nonce`, so V8 compiles it afresh as on a first visit instead of reusing an earlier page's code)."""
    # __s1 is taken at the end of the same script, in the same task: a later inline script could run only after
    # the HTML parser yielded to other tasks (the pixel loader's fetch, timers), which are not the script's work
    script = (
        "<script>window.__s0 = performance.now();</script><script>"
        + (dist_dir / "attribution.js").read_text()
        + f"\n;window.__s1 = performance.now(); //{nonce}</script>"
    )
    return PAGE.read_text().replace("<!--SCRIPT-->", CONFIG + (FIRST_USE if first_use_paid else "") + script)


def serve(html: str) -> Callable[[Any], None]:
    """A route handler answering with `html` (a closure: Playwright passes handlers the request as well)."""
    return lambda route: route.fulfill(body=html, content_type="text/html")


def serve_parts(dist_dir: Path, prefix: str = "") -> Callable[[Any], None]:
    """A route handler answering /<prefix>name.js?hash with dist_dir/name.js (`prefix` runs the new classifier
    with `window.__c0` noted first, for the classifier-arrival figure)."""

    def handler(route: Any) -> None:
        name = route.request.url.split("?")[0].rsplit("/", 1)[1]
        body = (dist_dir / name).read_text()
        if name == "classify.js":
            # below the build's compile hint, which V8 honours only before any code
            hint = HINT if body.startswith(HINT) else ""
            body = hint + "window.__c0 = performance.now();\n" + body[len(hint) :]
        route.fulfill(body=body, content_type="text/javascript")

    return handler


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


def page_times(
    browser: Any, kind: str, first_use_paid: bool, nonce: str, dist_dir: Path = DIST_DIR
) -> dict[str, float]:
    """performance.now() figures (ms) of one fresh page load of `kind` ("landing" or "direct"): script_ms (the
    inline script's run), and on a landing with the first use paid: access_ms, classify_ms, submit_ms, refill_ms."""
    html = page_html(first_use_paid=first_use_paid, nonce=nonce, dist_dir=dist_dir)
    context = browser.new_context()
    try:
        context.route(
            "https://bzrcdn.openai.com/**", lambda r: r.fulfill(body="", content_type="text/javascript")
        )
        context.route("https://bench.test/**", serve(html))
        context.route("https://bench.test/*.js*", serve_parts(dist_dir))
        page = context.new_page()
        landing = kind == "landing"
        page.goto(
            "https://bench.test/five-forms.html" + (LANDING if landing else ""),
            referer=CHATGPT if landing else None,
        )
        page.wait_for_function("window.__c1 !== undefined")
        filled = page.evaluate("document.querySelector('#f5 [name=\"wpforms[fields][12]\"]').value")
        assert len(filled) == 36, "the five-form page was not filled"
        channel = page.evaluate("document.querySelector('#f5 [name=\"wpforms[fields][8]\"]').value")
        assert channel == ("openai_ads" if landing else "direct"), channel
        t = {"script_ms": page.evaluate("window.__s1 - window.__s0")}
        if landing and first_use_paid:
            t["access_ms"] = page.evaluate("window.__a1 - window.__a0")
            t["classify_ms"] = page.evaluate("window.__c1 - window.__c0")
            t["submit_ms"] = page.evaluate(SUBMIT)
            t["refill_ms"] = page.evaluate(REFILL)
        return t
    finally:
        context.close()


def run_times(
    runs: int = 20, browser: object = None, chromium: str = "/usr/bin/chromium", dist_dir: Path = DIST_DIR
) -> dict[str, float]:
    """Median milliseconds on the five-form page: own_ms (start-up, the browser's first-use costs paid before),
    access_ms (those first-use costs: storage, cookie, first script request), start_ms (cold start-up),
    classify_ms (the classifier's arrival), direct_ms (a direct visit's start-up), submit_ms and refill_ms (on
    the warm page)."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            launched = launch(p, chromium)
            try:
                return run_times(runs, launched, dist_dir=dist_dir)
            finally:
                launched.close()
    times: dict[str, list[float]] = {
        k: []
        for k in ("own_ms", "access_ms", "start_ms", "classify_ms", "direct_ms", "submit_ms", "refill_ms")
    }
    for run in range(runs):
        kinds = [("warm", True), ("cold", False), ("direct", True)]
        for kind, first_use_paid in kinds[run % 3 :] + kinds[: run % 3]:  # interleaved, rotating the order
            t = page_times(
                browser,
                "direct" if kind == "direct" else "landing",
                first_use_paid,
                f"{run}-{kind}",
                dist_dir,
            )
            script_ms = t.pop("script_ms")
            times[{"warm": "own_ms", "cold": "start_ms", "direct": "direct_ms"}[kind]].append(script_ms)
            for k, v in t.items():
                times[k].append(v)
    return {k: statistics.median(v) for k, v in times.items()}


def main_thread_ms(trace: dict[str, Any] | list[Any], base: str) -> dict[str, float]:
    """Milliseconds the renderer's main thread spent in our files (URLs starting with `base`): EvaluateScript,
    compile and FunctionCall events, nested ones counted once, from the trace's start to the load event + 300 ms.

    wall: their wall time, which counts whatever kept the thread from running (on a busy machine, the other
    processes holding both CPUs) as well as its waits for the browser; cpu: the thread's CPU time within them;
    busy: cpu plus the waits of the synchronous calls to the browser made within them (SYNC_CALLS): the time the
    page's main thread was ours, working or blocked on our behalf. Also, per PARTS_OF label, "<label> wall" and
    "<label> cpu" of the events nested in ours, and "own cpu": the cpu left to our code itself."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e["name"] == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    loads = [
        e["ts"] for e in events if e["name"] == "MarkLoad" and e["args"]["data"].get("isOutermostMainFrame")
    ]
    assert loads, "no load event in the trace"
    end = loads[-1] + 300_000
    spans = []
    nested = []
    for e in events:
        if e.get("ph") != "X" or (e["pid"], e["tid"]) not in main or e["ts"] > end:
            continue
        data = e.get("args", {}).get("data", {})
        if e["name"] in ("EvaluateScript", "v8.compile", "FunctionCall") and str(
            data.get("url", "")
        ).startswith(base):
            spans.append((e["ts"], min(e["ts"] + e.get("dur", 0), end), e.get("tdur", e.get("dur", 0)), e))
        elif e["name"] in PARTS_OF or e["name"].startswith(SYNC_CALLS):
            nested.append(e)
    found = {"wall": 0.0, "cpu": 0.0, "busy": 0.0}
    outer = []
    reach = 0
    for start, stop, thread, e in sorted(spans, key=lambda s: s[:3]):
        if start >= reach:
            found["cpu"] += thread  # an outermost event: its thread time covers the events nested in it
            outer.append(e)
        if stop > reach:
            found["wall"] += stop - max(start, reach)
            reach = stop
    for label in set(PARTS_OF.values()):
        found[f"{label} wall"] = found[f"{label} cpu"] = 0.0
    inside = [
        n
        for n in nested
        if any(
            (o["pid"], o["tid"]) == (n["pid"], n["tid"]) and o["ts"] <= n["ts"] < o["ts"] + o["dur"]
            for o in outer
        )
    ]
    # v8.compile of our own URL is one of our spans too, nested in its EvaluateScript
    inside += [e for _, _, _, e in spans if e["name"] == "v8.compile" and e not in outer]
    waits = 0
    for n in inside:
        if n["name"].startswith(SYNC_CALLS):
            waits += max(0, n["dur"] - n.get("tdur", n["dur"]))
        if n["name"] in PARTS_OF:
            found[f"{PARTS_OF[n['name']]} wall"] += n["dur"]
            found[f"{PARTS_OF[n['name']]} cpu"] += n.get("tdur", n["dur"])
    found["busy"] = found["cpu"] + waits
    found["own cpu"] = found["cpu"] - sum(found[f"{label} cpu"] for label in set(PARTS_OF.values()))
    return {k: v / 1000 for k, v in found.items()}


def traced_ms(
    browser: Any, kind: str, dist_dir: Path, run: str, first_use_paid: bool = False
) -> dict[str, float]:
    """Main-thread time (ms: main_thread_ms's figures) of our files on one fresh load of the five-form page as a
    `kind` visit, the script served under a URL of its own (https://bench.test/<run>/attribution.js, so nothing
    is cached), deferred as the README's tag is, with consent and a pixel id. With `first_use_paid`, an inline
    script of the page (FIRST_USE, not ours, so not counted) has opened localStorage, read the cookies and
    started a request before: the fresh renderer's one-off costs of its first storage, cookie and network use,
    which on a real page its other scripts, stylesheets and images pay before a deferred script runs."""
    base = f"https://bench.test/{run}/"
    html = PAGE.read_text().replace(
        "<!--SCRIPT-->",
        (FIRST_USE if first_use_paid else "")
        + '<script>window.attributionConfig={consent:"optional",pixelId:"px_bench"};</script>'
        f'<script defer src="{base}attribution.js"></script>',
    )
    context = browser.new_context()
    try:
        context.route(
            "https://bzrcdn.openai.com/**", lambda r: r.fulfill(body="", content_type="text/javascript")
        )
        context.route("https://bench.test/five-forms.html*", serve(html))
        context.route(base + "**", serve_parts(dist_dir))
        page = context.new_page()
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        landing = kind == "landing"
        try:
            page.goto(
                "https://bench.test/five-forms.html" + (LANDING if landing else ""),
                referer=CHATGPT if landing else None,
            )
            # one timer, not a polling wait: Playwright's polling would run in the page while it is traced
            page.evaluate(
                "new Promise(done => { const wait = () => performance.timing.loadEventEnd ?"
                " setTimeout(done, 300 + performance.timing.loadEventEnd - Date.now()) : setTimeout(wait, 20); wait(); })"
            )
        finally:
            trace = json.loads(browser.stop_tracing())
        channel = page.evaluate("document.querySelector('#f5 [name=\"wpforms[fields][8]\"]').value")
        assert channel == ("openai_ads" if landing else "direct"), f"{kind}: channel {channel!r}"
        return main_thread_ms(trace, base)
    finally:
        context.close()


def baseline_dist(rev: str, folder: Path) -> Path:
    """dist/ as committed at `rev`, written to `folder`."""
    for name in ("attribution.js", *PARTS, "convert.js"):
        code = subprocess.run(
            ["git", "show", f"{rev}:plugin-js/dist/{name}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        (folder / name).write_bytes(code)
    return folder


def compare(browser: Any, builds: dict[str, Path], runs: int) -> dict[str, dict[str, list[float]]]:
    """Per build, one figure per run: the traced main-thread time (main_thread_ms's figures, as
    "<kind> <figure>") of a landing and a direct visit,
    and the performance.now() figures (own start-up and classifier arrival on the landing, the direct visit's
    start-up), the builds interleaved A B, B A, ... within each kind."""
    found: dict[str, dict[str, list[float]]] = {b: {} for b in builds}
    names = list(builds)
    for _ in range(2):  # warm-up: the browser's first pages pay for its own start
        for name in names:
            traced_ms(browser, "landing", builds[name], f"warm-{names.index(name)}")
    for run in range(runs):
        order = names if run % 2 == 0 else names[::-1]
        for kind in ("landing", "direct"):
            for name in order:
                add = found[name].setdefault
                traced = traced_ms(browser, kind, builds[name], f"{run}-{kind}-{names.index(name)}")
                for figure, ms in traced.items():
                    add(f"{kind} {figure}", []).append(ms)
                paid = traced_ms(browser, kind, builds[name], f"{run}-{kind}-{names.index(name)}-paid", True)
                for figure, ms in paid.items():
                    add(f"{kind} paid {figure}", []).append(ms)
                t = page_times(browser, kind, True, f"{run}-{kind}-{names.index(name)}", builds[name])
                add(f"{kind}_now_ms", []).append(t["script_ms"])
                if kind == "landing":
                    add("classify_now_ms", []).append(t["classify_ms"])
    return found


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
    parser.add_argument("--runs", type=int, default=15, help="pairs of page loads per kind (default 15)")
    parser.add_argument(
        "--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also print what each figure holds (compile, storage, cookie, requests)",
    )
    args = parser.parse_args()
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    raw, gz = sizes()
    print(f"dist/attribution.js: {raw} bytes raw, {gz} bytes gzipped (budget {BUDGET}, {BUDGET - gz:+d})")
    for part in (*PARTS, "convert.js"):
        raw, gz = sizes(part)
        print(f"dist/{part} (loaded on demand): {raw} bytes raw, {gz} bytes gzipped")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as old, sync_playwright() as p:
        builds = {
            f"build at {args.baseline}": baseline_dist(args.baseline, Path(old)),
            "this build": DIST_DIR,
        }
        browser = launch(p)
        try:
            found = compare(browser, builds, args.runs)
            repeat = statistics.median(repeat_times(browser, args.runs))
        finally:
            browser.close()
    medians = {b: {k: statistics.median(v) for k, v in f.items()} for b, f in found.items()}
    old, new = builds
    print(
        f"main-thread time of our files, medians of {args.runs} interleaved pairs (trace: script run, compile and"
        " callbacks until load + 300 ms): wall time; CPU time within it; busy = CPU + the waits of our"
        " synchronous calls to the browser (storage, cookies), i.e. wall without the time the thread was kept"
        " from running:"
    )
    for kind, label in (("landing", "five-form ad landing"), ("direct", "direct visit")):
        for name, m in medians.items():
            now = f"own start-up {m[f'{kind}_now_ms']:.2f} ms"
            if kind == "landing":
                now += f", classifier arrival {m['classify_now_ms']:.2f} ms"
            print(
                f"  {label}, {name}: {m[f'{kind} wall']:.2f} ms wall, {m[f'{kind} cpu']:.2f} CPU,"
                f" {m[f'{kind} busy']:.2f} busy; performance.now(): {now}"
            )
            if args.breakdown:
                parts = ", ".join(
                    f"{p} {m[f'{kind} {p} cpu']:.2f} CPU / {m[f'{kind} {p} wall']:.2f} wall"
                    for p in dict.fromkeys(PARTS_OF.values())
                )
                print(f"    within it: {parts}; our code's own {m[f'{kind} own cpu']:.2f} CPU")
        for name, m in medians.items():
            print(
                f"  {label}, {name}, the page's first storage, cookie and request use paid before: "
                f"{m[f'{kind} paid wall']:.2f} ms wall, {m[f'{kind} paid cpu']:.2f} CPU, {m[f'{kind} paid busy']:.2f} busy"
            )
        ratio = {
            k: statistics.median(
                n / o for n, o in zip(found[new][f"{kind} {k}"], found[old][f"{kind} {k}"], strict=True)
            )
            for k in ("wall", "cpu", "busy", "paid wall", "paid cpu", "paid busy")
        }
        goal = GOALS[kind]
        met = ", ".join(
            f"{k} {medians[new][f'{kind} {k}']:.2f} {'met' if medians[new][f'{kind} {k}'] <= goal else 'NOT met'}"
            for k in ("busy", "wall", "paid busy", "paid wall")
        )
        print(
            f"  {label}: this build / {args.baseline}, median of the pairs' ratios: {ratio['wall']:.2f} wall,"
            f" {ratio['cpu']:.2f} CPU, {ratio['busy']:.2f} busy (first use paid: {ratio['paid wall']:.2f} wall,"
            f" {ratio['paid cpu']:.2f} CPU, {ratio['paid busy']:.2f} busy); goal <= {goal:.1f} ms: {met};"
            f" peer (measured in issue 15): {PEERS[kind]}"
        )
    print(f"direct visit as the fourth page view (script cached and code-cached): start-up {repeat:.2f} ms")
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
