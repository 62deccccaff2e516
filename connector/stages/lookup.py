"""Find a stage change's attribution: the record, its people in the CRM, then our own ledger.

Every step reads a whole batch at once: one query per object and batch, never one per record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce.format import format_soql
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connector.crm.base import CrmAdapter
from connector.mapping import MappingSet
from connector.store.models import CrmWrite
from connector.store.models import Submission as SubmissionRow

log = logging.getLogger(__name__)

EMAIL_FIELDS = {"Lead": "Email", "Contact": "Email", "contacts": "email"}
"""The email field of each person object."""


@dataclass
class Person:
    """Where attribution may sit: the record itself or a related contact / lead."""

    where: str
    crm_id: str
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return str(value).strip() or None if value not in (None, "") else None


@dataclass
class Attribution:
    """What the lookup found for one record, and where."""

    oppref: str | None = None
    event_id: str | None = None
    email: str | None = None
    consent: str = "unknown"
    source_url: str | None = None
    submission_id: int | None = None
    found: list[str] = field(default_factory=list)


def attribution_fields(mappings: MappingSet, crm: str, obj: str) -> dict[str, str]:
    """Our name -> CRM field for oppref, event_id and email on `obj` (from the mapping's [read])."""
    mapping = mappings.get(crm, obj)
    read = dict(mapping.read) if mapping else {}
    wanted = {k: v for k, v in read.items() if k in ("oppref", "event_id")}
    if obj in EMAIL_FIELDS:
        wanted["email"] = EMAIL_FIELDS[obj]
    return wanted


def existing(adapter: CrmAdapter, obj: str, names: dict[str, str]) -> dict[str, str]:
    """Only the fields the CRM has (an absent custom field would fail the whole query)."""
    schema = adapter.describe(obj)
    return {ours: theirs for ours, theirs in names.items() if schema.get(theirs) is not None}


def related_people(
    adapter: CrmAdapter, mappings: MappingSet, crm: str, obj: str, ids: Sequence[str]
) -> dict[str, list[Person]]:
    """Record id -> the people linked to it: Salesforce contact roles and converted leads of an
    Opportunity; HubSpot contacts associated with a deal. Lead and contact records are people themselves."""
    if crm == "salesforce" and obj == "Opportunity":
        return _salesforce_people(adapter, mappings, ids)
    if crm == "hubspot" and obj == "deals":
        return _hubspot_people(adapter, mappings, ids)
    return {}


def _read_people(
    adapter: CrmAdapter, mappings: MappingSet, crm: str, obj: str, ids: list[str]
) -> dict[str, dict]:
    if not ids:
        return {}
    names = existing(adapter, obj, attribution_fields(mappings, crm, obj))
    rows = adapter.read_records(obj, ids, list(dict.fromkeys(names.values())))
    return {rid: {ours: row.get(theirs) for ours, theirs in names.items()} for rid, row in rows.items()}


def _salesforce_people(adapter: Any, mappings: MappingSet, ids: Sequence[str]) -> dict[str, list[Person]]:
    roles = adapter.query(
        format_soql(
            "SELECT OpportunityId, ContactId FROM OpportunityContactRole WHERE OpportunityId IN {}", list(ids)
        )
    )
    contact_ids = list(dict.fromkeys(r["ContactId"] for r in roles if r.get("ContactId")))
    contacts = _read_people(adapter, mappings, "salesforce", "Contact", contact_ids)
    names = existing(adapter, "Lead", attribution_fields(mappings, "salesforce", "Lead"))
    columns = ", ".join(dict.fromkeys(["Id", "ConvertedOpportunityId", *names.values()]))
    leads = adapter.query(
        format_soql("SELECT {:literal} FROM Lead WHERE ConvertedOpportunityId IN {}", columns, list(ids))
    )
    people: dict[str, list[Person]] = {}
    for role in roles:
        if role.get("ContactId") in contacts:
            people.setdefault(role["OpportunityId"], []).append(
                Person(f"contact role {role['ContactId']}", role["ContactId"], contacts[role["ContactId"]])
            )
    for lead in leads:
        values = {ours: lead.get(theirs) for ours, theirs in names.items()}
        people.setdefault(lead["ConvertedOpportunityId"], []).append(
            Person(f"converted lead {lead['Id']}", lead["Id"], values)
        )
    return people


def _hubspot_people(adapter: Any, mappings: MappingSet, ids: Sequence[str]) -> dict[str, list[Person]]:
    # Imported here: it loads the HubSpot client library, which Salesforce sites never need.
    from connector.crm.hubspot_stages import associated_ids

    links = associated_ids(adapter, "deals", "contacts", ids)
    contact_ids = list(dict.fromkeys(c for found in links.values() for c in found))
    contacts = _read_people(adapter, mappings, "hubspot", "contacts", contact_ids)
    return {
        deal: [Person(f"associated contact {c}", c, contacts[c]) for c in found if c in contacts]
        for deal, found in links.items()
    }


def from_ledger(session: Session, crm: str, people: dict[str, list[Person]]) -> dict[str, Attribution]:
    """Combine the people found with our ledger: by CRM id (our CRM writes), then event id, then email."""
    all_ids = {p.crm_id for found in people.values() for p in found}
    by_crm_id: dict[str, int] = {}
    if all_ids:
        rows = session.execute(
            select(CrmWrite.crm_object_id, CrmWrite.submission_id)
            .where(CrmWrite.crm == crm, CrmWrite.crm_object_id.in_(all_ids))
            .order_by(CrmWrite.id)
        ).all()
        by_crm_id = {r.crm_object_id: r.submission_id for r in rows}  # the latest write wins
    event_ids = {e for found in people.values() for p in found if (e := p.get("event_id"))}
    emails = {e.lower() for found in people.values() for p in found if (e := p.get("email"))}
    submissions: dict[int, SubmissionRow] = {}
    clauses = [SubmissionRow.id.in_(set(by_crm_id.values()))]
    if event_ids:
        clauses.append(SubmissionRow.event_id.in_(event_ids))
    if emails:
        clauses.append(func.lower(SubmissionRow.email).in_(emails))

    for row in session.scalars(select(SubmissionRow).where(or_(*clauses)).order_by(SubmissionRow.id)):
        submissions[row.id] = row
    by_event = {s.event_id: s for s in submissions.values() if s.event_id}
    by_email: dict[str, SubmissionRow] = {}
    for s in submissions.values():
        if s.email:
            by_email[s.email.lower()] = s  # ordered by id: the most recent submission wins
    results: dict[str, Attribution] = {}
    for record_id, found in people.items():
        submission = (
            next((submissions.get(by_crm_id[p.crm_id]) for p in found if p.crm_id in by_crm_id), None)
            or next((by_event[e] for p in found if (e := p.get("event_id")) in by_event), None)
            or next(
                (by_email[e.lower()] for p in found if (e := p.get("email")) and e.lower() in by_email), None
            )
        )
        results[record_id] = _combine(found, submission)
    return results


def _combine(found: list[Person], submission: SubmissionRow | None) -> Attribution:
    result = Attribution()
    for person in found:
        for name in ("oppref", "event_id", "email"):
            if getattr(result, name) is None and (value := person.get(name)):
                setattr(result, name, value)
                result.found.append(f"{name} on {person.where}")
    if submission is not None:
        attribution = submission.attribution or {}
        result.submission_id = submission.id
        result.consent = attribution.get("consent") or "unknown"
        result.source_url = attribution.get("conversion_page") or attribution.get("latest_landing_page")
        for name, value in (
            ("oppref", attribution.get("oppref")),
            ("event_id", submission.event_id),
            ("email", submission.email),
        ):
            if getattr(result, name) is None and value:
                setattr(result, name, value)
                result.found.append(f"{name} from our submission {submission.id}")
    return result
