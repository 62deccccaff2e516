"""Opportunities and deals the connector learns of: one deal-attribution row each, queued once.

A stage change (pushed, polled, or the one Salesforce records when a Lead is converted) and a Lead
stage change that names its `ConvertedOpportunityId` both tell us a record exists. The row is written in
the caller's transaction; `connector.crm_writes.deals` finds the person and writes the attribution.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from connector.journal import record
from connector.mapping import MappingSet
from connector.mapping.model import DEAL_OBJECTS
from connector.store.models import DealAttribution, DealAttributionStatus, StageChange
from connector.store.upsert import insert_new
from connector.timeutil import utcnow

CONVERTED_OPPORTUNITY = "ConvertedOpportunityId"
"""The Lead field naming the Opportunity a conversion created."""


@dataclass(frozen=True)
class DealLearned:
    """A record we learned of, with what may already name its person."""

    crm: str
    object_type: str
    record_id: str
    via: str
    event_id: str | None = None
    """An event id found for the record (our submission's, when the stage change was attributed)."""
    person_id: str | None = None
    """A CRM person we may have written (the converted Lead)."""
    receipt_id: int | None = None


def learned_from(row: StageChange, attributed_event_id: str | None) -> DealLearned | None:
    """The deal a stage change tells us of: the record itself, or a converted Lead's Opportunity."""
    if DEAL_OBJECTS.get(row.crm) == row.object_type:
        return DealLearned(
            row.crm,
            row.object_type,
            row.record_id,
            f"stage {row.via}",
            attributed_event_id,
            None,
            row.receipt_id,
        )
    opportunity = (row.fields or {}).get(CONVERTED_OPPORTUNITY)
    if row.crm == "salesforce" and row.object_type == "Lead" and isinstance(opportunity, str) and opportunity:
        return DealLearned(
            "salesforce",
            "Opportunity",
            opportunity,
            "lead conversion",
            attributed_event_id,
            row.record_id,
            row.receipt_id,
        )
    return None


def rewrites_written(mappings: MappingSet, crm: str, object_type: str) -> bool:
    """Does a later stage change look at a written record again (its mapping has `always` rules)?"""
    mapping = mappings.get(crm, object_type)
    return mapping is not None and any(r.policy == "always" for r in mapping.all_rules())


def queue_deal_attribution(session: Session, mappings: MappingSet, learned: DealLearned) -> int | None:
    """Queue the record's attribution write unless it is queued or done; the row id when queued now.

    A record whose person or mapping was missing is looked at again; a written one only when its mapping
    has `always` rules (then the write decides, per policy, whether anything changed).
    """
    mapping = mappings.get(learned.crm, learned.object_type)
    if mapping is None or not mapping.writes or not mapping.for_deals:
        return None
    now = utcnow()
    key = (
        (DealAttribution.crm == learned.crm)
        & (DealAttribution.object_type == learned.object_type)
        & (DealAttribution.record_id == learned.record_id)
    )
    inserted = session.execute(
        insert_new(
            session,
            DealAttribution,
            ["crm", "object_type", "record_id"],
            crm=learned.crm,
            object_type=learned.object_type,
            record_id=learned.record_id,
            learned_via=learned.via,
            person_id=learned.person_id,
            event_id=learned.event_id,
            receipt_id=learned.receipt_id,
            status=DealAttributionStatus.PENDING,
            fields_written={},
            attempts=0,
            created_at=now,
            updated_at=now,
        ).returning(DealAttribution.id)
    ).scalar()
    if inserted is not None:
        what = f"{learned.crm} {learned.object_type} {learned.record_id}"
        record(
            session,
            "deal",
            f"{what}: attribution write queued (learned of it by {learned.via})",
            receipt_id=learned.receipt_id,
            event_id=learned.event_id,
            details={"deal_attribution_id": inserted},
        )
        return inserted
    again = list(DealAttributionStatus.REVISIT)
    if rewrites_written(mappings, learned.crm, learned.object_type):
        again.append(DealAttributionStatus.WRITTEN)
    hints = {k: v for k, v in (("event_id", learned.event_id), ("person_id", learned.person_id)) if v}
    revived = session.execute(
        update(DealAttribution)
        .where(key, DealAttribution.status.in_(again))
        .values(status=DealAttributionStatus.PENDING, next_attempt_at=None, updated_at=now, **hints)
        .returning(DealAttribution.id)
    ).scalar()
    return revived
