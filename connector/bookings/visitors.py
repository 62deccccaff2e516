"""First touch per visitor, keyed by the connector's first-party cookie (see /collect's `cookie` setting).

Safari deletes cookies written by script after 7 days; the script then believes the next visit is a first
touch. A visitor id held in an HttpOnly cookie set by the server survives, so the first touch recorded on
the visitor's earliest beacon wins over what a later beacon claims.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.attribution import TOUCH_FIELDS
from connector.store.models import Visitor
from connector.store.upsert import insert_new
from connector.timeutil import utcnow

FIRST_TOUCH = tuple(f"first_{name}" for name in TOUCH_FIELDS)
"""The attribution fields that describe the first touch."""


def apply_first_touch(session: Session, visitor_id: str, attribution: dict[str, str]) -> dict[str, str]:
    """Remember this visitor's first touch, or restore the remembered one over what the beacon says."""
    now = utcnow()
    offered = {k: v for k, v in attribution.items() if k in FIRST_TOUCH}
    session.execute(
        insert_new(
            session,
            Visitor,
            ["visitor_id"],
            visitor_id=visitor_id,
            first_touch=offered,
            first_seen=now,
            last_seen=now,
        )
    )
    visitor = session.scalars(
        select(Visitor)
        .where(Visitor.visitor_id == visitor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    visitor.last_seen = now
    if not visitor.first_touch and offered:
        visitor.first_touch = offered
    remembered = dict(visitor.first_touch)
    if not remembered:
        return attribution
    kept = {k: v for k, v in attribution.items() if k not in FIRST_TOUCH}
    return {**kept, **remembered}
