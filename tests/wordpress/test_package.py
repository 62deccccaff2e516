"""plugin-js/wordpress/package.py: a zip WordPress installs, holding every file the plugin enqueues or loads."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import PACKAGE, PLUGIN_DIR, PLUGINS_URL, ROOT, config, package_zip, plugin_version, scripts

DIST = ROOT / "plugin-js" / "dist"
SCRIPTS = ("attribution.js", "classify.js", "convert.js", "booking.js")


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return package_zip(tmp_path_factory.mktemp("package") / "nested" / "connector-attribution.zip")


def test_the_zip_holds_the_plugin_and_the_three_scripts(package):
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        assert {
            "connector-attribution/connector-attribution.php",
            "connector-attribution/readme.txt",
            "connector-attribution/uninstall.php",
            *(f"connector-attribution/js/{name}" for name in SCRIPTS),
        } <= names
        assert all(
            name.startswith("connector-attribution/") for name in names
        )  # one folder, as WordPress expects
        for name in SCRIPTS:
            assert archive.read(f"connector-attribution/js/{name}") == (DIST / name).read_bytes()
        php = archive.read("connector-attribution/connector-attribution.php")
        assert php == (PLUGIN_DIR / "connector-attribution.php").read_bytes()


def test_every_url_the_installed_plugin_prints_is_a_file_it_ships(package, tmp_path, wordpress, node):
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path)
    installed = tmp_path / "connector-attribution"
    html = wordpress("head", plugin=installed / "connector-attribution.php")
    (_, inline), (tag, _) = scripts(html)
    prefix = f"{PLUGINS_URL}/connector-attribution/"

    def shipped(url: str) -> Path:
        assert url.startswith(prefix), url
        return installed / url.removeprefix(prefix).split("?")[0]

    assert shipped(tag["src"]).is_file()
    base = config(node, inline)["base"]
    assert base.endswith("/")
    # the parts attribution.js requests (name?hash), found next to it
    parts = set(re.findall(r"(\w+\.js)\?", (installed / "js" / "attribution.js").read_text()))
    assert parts == {"classify.js", "convert.js", "booking.js"}
    for name in parts:
        assert shipped(base + name).is_file()


def test_the_zip_is_the_same_for_the_same_sources(package, tmp_path):
    assert package_zip(tmp_path / "again.zip").read_bytes() == package.read_bytes()


def test_the_default_output_is_named_after_the_version_in_an_ignored_folder():
    output = ROOT / "plugin-js" / "build" / f"connector-attribution-{plugin_version()}.zip"
    done = subprocess.run([sys.executable, str(PACKAGE)], capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == output and output.is_file()
    assert "build/" in (ROOT / ".gitignore").read_text().splitlines()
