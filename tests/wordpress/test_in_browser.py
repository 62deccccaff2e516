"""The installed plugin in Chromium: the page WordPress prints loads the script, its settings and its parts, also
when an optimization plugin has moved the script to a combined file elsewhere."""

from __future__ import annotations

import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import PLUGINS_URL, package_zip

CHROMIUM = "/usr/bin/chromium"
SITE = PLUGINS_URL.split("/wp-content/")[0]  # the stub's site: https://example.test
SETTINGS = {"consent": "optional", "root_domain": "example.test"}
FORM = (
    '<form><input type="hidden" name="latest_ai_source"><input type="hidden" name="latest_utm_source"></form>'
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The plugin folder as WordPress unpacks the zip."""
    root = tmp_path_factory.mktemp("wp-content")
    with zipfile.ZipFile(package_zip(root / "plugin.zip")) as archive:
        archive.extractall(root / "plugins")
    return root / "plugins" / "connector-attribution"


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    return CHROMIUM


def visit(chromium: str, installed: Path, head: str, moved: bytes | None = None) -> tuple[dict, list[str]]:
    """Open a landing page with head in it; serve the plugin's files (and a combined file); return the
    attribution the page holds and the URLs of the scripts it requested."""
    # In a thread of its own: Playwright's sync API refuses to start while another instance (the browser
    # tests' session browser) runs in this thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_visit, chromium, installed, head, moved).result()


def _visit(chromium: str, installed: Path, head: str, moved: bytes | None) -> tuple[dict, list[str]]:
    from playwright.sync_api import sync_playwright

    requested: list[str] = []

    def serve(route):
        url = route.request.url.split("?")[0]
        requested.append(route.request.url)
        if url.startswith(f"{PLUGINS_URL}/connector-attribution/"):
            path = installed / url.removeprefix(f"{PLUGINS_URL}/connector-attribution/")
            if path.is_file():
                return route.fulfill(body=path.read_bytes(), content_type="text/javascript")
        if url == f"{SITE}/wp-content/cache/combined.js" and moved is not None:
            return route.fulfill(body=moved, content_type="text/javascript")
        if url == f"{SITE}/landing":
            return route.fulfill(
                body=f"<!doctype html><html><head>{head}</head><body>{FORM}</body></html>",
                content_type="text/html",
            )
        return route.fulfill(status=404, body="")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.route(f"{SITE}/**", serve)
            page.goto(f"{SITE}/landing?utm_source=chatgpt.com&utm_medium=referral")
            page.wait_for_function("document.querySelector('[name=latest_ai_source]').value", timeout=10_000)
            got = page.evaluate("attribution('get')")
        finally:
            browser.close()
    return got, [url for url in requested if url.split("?")[0].endswith(".js")]


def test_the_installed_plugin_classifies_a_landing_with_its_parts(wordpress, chromium, installed):
    head = wordpress("head", SETTINGS, plugin=installed / "connector-attribution.php")
    got, requested = visit(chromium, installed, head)
    assert got["latest_ai_source"] == "chatgpt" and got["latest_utm_source"] == "chatgpt.com"
    js = f"{PLUGINS_URL}/connector-attribution/js/"
    # the page has a form with our fields: the conversions part comes along
    assert sorted(url.split("?")[0] for url in requested) == [
        js + n for n in ("attribution.js", "classify.js", "convert.js")
    ]


def test_the_parts_still_load_when_an_optimizer_moves_the_script(wordpress, chromium, installed):
    head = wordpress("head", SETTINGS, plugin=installed / "connector-attribution.php")
    tag_start = head.index("<script src=")
    moved_tag = f'<script src="{SITE}/wp-content/cache/combined.js" defer></script>\n'
    head = head[:tag_start] + moved_tag  # the combined file replaces our tag, attributes and all
    got, requested = visit(
        chromium, installed, head, moved=(installed / "js" / "attribution.js").read_bytes()
    )
    assert got["latest_ai_source"] == "chatgpt"
    assert f"{PLUGINS_URL}/connector-attribution/js/classify.js" in [url.split("?")[0] for url in requested]
