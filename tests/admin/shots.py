"""`screenshot(console, page, name)`: a PNG of a console page under $ADMIN_SCREENSHOTS (nothing when unset),
so a person can look at every page with data and empty on each database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def screenshot(console: Any, page: Any, name: str, full_page: bool = False) -> Path | None:
    folder = os.environ.get("ADMIN_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}-{console.ctx.engine.dialect.name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path
