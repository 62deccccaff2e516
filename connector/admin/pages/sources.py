"""Sources /admin/sources: every sender, the URL to paste into it, its secret's state (never the
secret), its last delivery and 24-hour counts, and its setup guide."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template

from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.guides import guide_html, guide_path
from connector.admin.sources_info import describe


@bp.get("/sources")
@requires("viewer")
def sources() -> Any:
    ctx = current_app.extensions["connector"]
    with ctx.sessions() as session:
        infos = describe(ctx.settings, session)
        names = frozenset(info.name for info in infos)
        guides = {info.name: guide_html(info.name, names) for info in infos}
        paths = {
            info.name: str(guide_path(info.name).relative_to(guide_path(info.name).parents[1]))
            for info in infos
        }
        return render_template(
            "admin/sources.html",
            sources=infos,
            guides=guides,
            guide_files=paths,
            public_url=ctx.settings.web.public_url,
        )
