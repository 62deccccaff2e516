"""Run the WordPress plugin under php-cli on a stub of the WordPress functions it calls (wp_stub.php)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = ROOT / "plugin-js" / "wordpress" / "connector-attribution"
PLUGIN = PLUGIN_DIR / "connector-attribution.php"
RUNNER = Path(__file__).with_name("run_plugin.php")
PACKAGE = ROOT / "plugin-js" / "wordpress" / "package.py"
OPTION = "connector_attribution"
SECRET_OPTION = "connector_attribution_secret"
PLUGINS_URL = "https://example.test/wp-content/plugins"  # WP_STUB_PLUGINS_URL in wp_stub.php
UNSET = object()


def _tool(name: str, install: str) -> str:
    found = shutil.which(name)
    if not found:
        # not a skip: CI installs it, so a missing one is a broken setup, not an optional test
        pytest.fail(f"`{name}` not found; the WordPress plugin tests need it: {install}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def php() -> str:
    return _tool("php", "apt-get install -y php-cli (scripts/setup --test and .ci/run do this)")


@pytest.fixture(scope="session")
def node() -> str:
    return _tool("node", "apt-get install -y nodejs (the browser script's build needs it too)")


@pytest.fixture
def wordpress(php):
    """wordpress(do, options=..., **request) -> what php printed: do is head, admin or sanitize."""

    def run(
        do: str, options: object = UNSET, plugin: Path = PLUGIN, secret: str | None = None, **request: object
    ) -> str:
        stored = {} if options is UNSET else {OPTION: options}
        if secret is not None:
            stored[SECRET_OPTION] = secret
        request |= {"plugin": str(plugin), "do": do, "options": stored}
        done = subprocess.run(
            [php, "-d", "error_reporting=-1", "-d", "display_errors=stderr", str(RUNNER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=60,
        )
        # a notice or deprecation counts as a failure: sites run with WP_DEBUG too
        assert done.returncode == 0 and not done.stderr, done.stderr or done.stdout
        return done.stdout

    return run


class Elements(HTMLParser):
    """The elements of an HTML fragment as (tag, attributes, text inside)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None], str]] = []
        self.open = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs), ""))
        self.open = True

    def handle_endtag(self, tag):
        self.open = False

    def handle_data(self, data):
        if self.open:
            tag, attrs, text = self.found[-1]
            self.found[-1] = (tag, attrs, text + data)

    def all(self, tag: str) -> list[tuple[dict[str, str | None], str]]:
        return [(attrs, text) for name, attrs, text in self.found if name == tag]


def scripts(html: str) -> list[tuple[dict[str, str | None], str]]:
    return Elements(html).all("script")


def config(node: str, inline: str, theme: dict | None = None) -> dict:
    """window.attributionConfig after the inline script ran in a JavaScript engine (with a theme's own object)."""
    window = json.dumps({"attributionConfig": theme} if theme is not None else {})
    program = (
        f"const window = {window};\n{inline}\nprocess.stdout.write(JSON.stringify(window.attributionConfig));"
    )
    done = subprocess.run([node, "-e", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def plugin_version(php_file: Path = PLUGIN) -> str:
    return re.search(r"^\s*\*\s*Version:\s*(\S+)", php_file.read_text(), re.M).group(1)


def package_zip(output: Path) -> Path:
    """Run the package step (plugin-js/wordpress/package.py) writing to output."""
    done = subprocess.run(
        [sys.executable, str(PACKAGE), str(output)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(output)
    return output
