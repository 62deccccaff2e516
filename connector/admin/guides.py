"""Setup guides (docs/sources/*.md, docs/stages.md) rendered to HTML for the Sources page.

The guides are the repository's own files, rendered with raw HTML off (markdown-it's "commonmark" preset
with html disabled), so even an edited guide cannot put markup or scripts on the page. Links to another
source's guide point at its section of the Sources page.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markupsafe import Markup

DOCS = Path(__file__).resolve().parents[2] / "docs"
"""The repository's docs/ (beside the package in a checkout or an editable install)."""

GUIDE_OF = {"generic": "sources/README.md", "beacon": "sources/collect.md", "hubspot": "stages.md"}
GUIDE_OF["salesforce"] = "stages.md"
"""Sources whose guide is not docs/sources/<name>.md."""

_SOURCE_LINK = re.compile(r"\A([a-z0-9_]+)\.md(#[\w-]*)?\Z")


def guide_path(source: str) -> Path:
    return DOCS / GUIDE_OF.get(source, f"sources/{source}.md")


def guide_html(source: str, known_sources: frozenset[str]) -> Markup | None:
    """The source's guide as HTML, or None when this installation has no docs/ beside the package."""
    path = guide_path(source)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return Markup(_render(str(path), mtime, known_sources))


@lru_cache(maxsize=64)
def _render(path: str, _mtime: float, known_sources: frozenset[str]) -> str:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    renderer = cast(RendererHTML, md.renderer)
    default_link = renderer.rules.get("link_open")

    def link_open(_renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        href = str(token.attrGet("href") or "")
        match = _SOURCE_LINK.match(href)
        if match and match.group(1) in known_sources:
            token.attrSet("href", f"#source-{match.group(1)}")
        elif not href.startswith(("http://", "https://", "#", "mailto:")):
            token.attrSet("href", "#")  # a file of the repository, not a page of the console
        else:
            token.attrSet("rel", "noopener noreferrer")
        if default_link is not None:
            return str(default_link(tokens, idx, options, env))
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return str(md.render(Path(path).read_text(encoding="utf-8")))
