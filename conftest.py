"""Fixtures every test tree shares (tests/ and plugin-js/tests).

Playwright's sync API allows one running instance per thread, and a session-scoped browser of one tree
(plugin-js/tests, tests/wordpress/real) would otherwise still hold it when the other tree starts its own:
both launch their browsers from this one instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
