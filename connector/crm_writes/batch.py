"""One CRM batch, built: the adapter's upsert items, and what our earlier writes already decided.

The job that sends batches is `connector.jobs.crm`; this module only reads the ledger and the mappings.
"""

from __future__ import annotations

from typing import Any

from connector.context import Context
from connector.crm.base import CrmError, UpsertItem, UpsertResult
from connector.crm_writes.ledger import ClaimedWrite, earlier_writes
from connector.mapping import Mapping, submission_values


def upsert_items(ctx: Context, writes: list[ClaimedWrite]) -> tuple[list[UpsertItem], list[ClaimedWrite]]:
    """The adapter's items for these writes, and the writes no mapping covers any more."""
    mappings = ctx.mappings
    items, unmapped = [], []
    earlier = _earlier(ctx, writes)
    for w in writes:
        mapping = mappings.for_submission(w.crm, w.source, w.form_id)
        if mapping is None or mapping.object != w.object_type:
            mapping = mappings.get(w.crm, w.object_type)
        if mapping is None or not mapping.writes:
            unmapped.append(w)
            continue
        by_email = mapping.match is not None and mapping.match.value == "email" and bool(w.email)
        written = earlier.get((w.object_type, (w.email or "").strip().lower())) if by_email else None
        known = written if written and decided_by(mapping, w, written) else None
        new = by_email and written is None
        items.append(
            UpsertItem(str(w.id), mapping, w.attribution, w.contact, w.source, w.form_id, new, known)
        )
    return items, unmapped


def _earlier(ctx: Context, writes: list[ClaimedWrite]) -> dict[tuple[str, str], dict[str, Any]]:
    """(object, email) -> fields our earlier writes put there: one query per object in the batch."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for crm, obj in {(w.crm, w.object_type) for w in writes}:
        emails = {w.email for w in writes if w.email and w.object_type == obj}
        found |= {(obj, e): f for e, f in earlier_writes(ctx, crm, obj, emails).items()}
    return found


def decided_by(mapping: Mapping, w: ClaimedWrite, written: dict[str, Any]) -> bool:
    """Do our earlier writes decide every once / if_empty field this submission has a value for?

    A `once` group we wrote is taken; an `if_empty` field we wrote is filled. Anything else needs the
    record's current value. (A value a CRM user cleared after our write stays cleared: first touch is the
    first one we recorded.)
    """
    rules = mapping.resolve(w.source, w.form_id).fields
    values = submission_values(w.attribution, w.contact, w.source, w.form_id)
    ours = {name.lower() for name, value in written.items() if value not in (None, "")}
    taken = {r.group for r in rules if r.policy == "once" and r.target.lower() in ours}
    for rule in rules:
        has_value = (
            rule.constant is not None or rule.default is not None or any(values.get(s) for s in rule.sources)
        )
        if rule.policy == "always" or not has_value:
            continue
        if rule.policy == "once" and rule.group not in taken:
            return False
        if rule.policy == "if_empty" and rule.target.lower() not in ours:
            return False
    return True


def failed(w: ClaimedWrite, error: CrmError) -> UpsertResult:
    """The result of a write that was never sent."""
    return UpsertResult(str(w.id), error=error)
