"""Every PHP file the project holds passes `php -l`."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import ROOT

PHP_FILES = sorted(
    path for folder in ("plugin-js/wordpress", "tests/wordpress") for path in (ROOT / folder).rglob("*.php")
)


def test_there_are_php_files():
    assert any(path.name == "connector-attribution.php" for path in PHP_FILES)


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_php_lint(php, path):
    done = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
