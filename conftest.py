"""Fixtures every test tree shares (tests/ and plugin-js/tests).

Playwright's sync API allows one running instance per thread, and a session-scoped browser of one tree
(plugin-js/tests, tests/wordpress/real) would otherwise still hold it when the other tree starts its own:
both launch their browsers from this one instance, with the flags this machine needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Debian's Chromium, never a downloaded build, with the flags every browser test here runs it with."""


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def launch_chromium(playwright_session: Any) -> Callable[..., Any]:
    """launch_chromium(*extra_flags) -> a Chromium browser; fails the test when Chromium is not installed."""

    def launch(*extra: str) -> Any:
        if not Path(CHROMIUM).exists():
            pytest.fail(
                f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`", pytrace=False
            )
        return playwright_session.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, *extra])

    return launch
