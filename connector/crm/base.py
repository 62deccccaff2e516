"""The contract every CRM adapter implements; the shared error types live in connector.errors."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.attribution import Attribution, Contact
from connector.errors import AuthError as AuthError  # re-exported: adapters raise these
from connector.errors import ConnectorError as CrmError
from connector.errors import PermanentError as PermanentError
from connector.errors import RateLimited as RateLimited
from connector.errors import RetryableError as RetryableError
from connector.mapping.engine import match_value as mapping_match_value
from connector.mapping.engine import plan_writes
from connector.mapping.model import Mapping
from connector.mapping.schema import ObjectSchema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpsertItem:
    """One submission to write: `key` is the caller's id for it (e.g. the CRM-write row id)."""

    key: str
    mapping: Mapping
    attribution: Attribution | dict[str, Any]
    contact: Contact | dict[str, Any]
    source: str | None = None
    form_id: str | None = None
    new_to_ledger: bool = False
    """True when no earlier write of ours reached this person: an adapter may create without reading."""
    known_values: dict[str, Any] | None = None
    """The record's values as our earlier writes left them, given only when they decide every once /
    if_empty field this submission would write: an adapter may skip reading the record."""


@dataclass
class UpsertResult:
    """The outcome for one item: the record id and whether it was created, or the error."""

    key: str
    record_id: str | None = None
    created: bool | None = None
    written: dict[str, str] = field(default_factory=dict)
    error: CrmError | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SetupReport:
    """What `crm setup` did: fields created, fields already there, steps a human must do, errors."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    manual_steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.manual_steps and not self.errors


class CrmAdapter(ABC):
    """One CRM behind four calls; vendor errors leave only as the shared error types."""

    name: str = ""
    batch_size: int = 100
    """Most records one batch API call takes."""

    @abstractmethod
    def upsert_people(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        """Create or update the people in batches; one result per item, in input order."""

    @abstractmethod
    def describe(self, object_name: str) -> ObjectSchema:
        """The object's fields (cached per object)."""

    def forget_schemas(self) -> None:
        """Drop the cached describes, so the next use reads the CRM's fields (and their lengths) again."""
        schemas = getattr(self, "_schemas", None)
        if isinstance(schemas, dict):
            schemas.clear()

    @abstractmethod
    def read_records(
        self, object_name: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Record id -> {field: value} for the ids found; one call per batch of ids."""

    @abstractmethod
    def ensure_fields(self, mapping: Mapping) -> SetupReport:
        """Create the custom fields a mapping needs where permitted; safe to run twice."""

    def update_records(
        self, object_name: str, updates: dict[str, dict[str, str]]
    ) -> dict[str, CrmError | None]:
        """Write fields onto records by id, in batch calls: record id -> None (written) or its error.
        A failure of the whole call raises (retryable, rate limited, auth)."""
        raise PermanentError(f"{self.name} cannot update {object_name} records by id", "NOT_SUPPORTED")


@dataclass
class PersonPlan:
    """The items that share one person (match value) within a batch, and the merged write for them."""

    match: str
    items: list[UpsertItem]
    record_id: str | None = None
    current: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    note: str = ""


def group_people(items: Iterable[UpsertItem]) -> tuple[dict[str, PersonPlan], list[UpsertResult]]:
    """Group items by match value (several submissions of one person in a burst make one write)."""
    people: dict[str, PersonPlan] = {}
    failed = []
    for item in items:
        value = mapping_match_value(item.mapping, item.attribution, item.contact, item.source, item.form_id)
        if value is None:
            field_name = item.mapping.match.field if item.mapping.match else "?"
            failed.append(
                UpsertResult(
                    item.key,
                    error=PermanentError(
                        f"submission has no {item.mapping.match.value if item.mapping.match else 'match'} "
                        "value to "
                        f"match on {field_name}",
                        "NO_MATCH_VALUE",
                    ),
                )
            )
            continue
        people.setdefault(value, PersonPlan(value, [])).items.append(item)
    return people, failed


def plan_person(person: PersonPlan, lengths: dict[str, int] | None) -> None:
    """Merge the person's items in order: each later submission sees the earlier ones as current values."""
    current = None if person.current is None else dict(person.current)
    merged: dict[str, str] = {}
    for item in person.items:
        writes = plan_writes(
            item.mapping, item.attribution, item.contact, item.source, item.form_id, current, lengths
        )
        merged.update(writes)
        current = {**(current or {}), **writes}
    person.fields = merged


def chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` values."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def results_in_order(items: Sequence[UpsertItem], results: Iterable[UpsertResult]) -> list[UpsertResult]:
    """Results sorted back into the order of the items."""
    by_key = {r.key: r for r in results}
    return [
        by_key.get(i.key) or UpsertResult(i.key, error=RetryableError("no result", "NO_RESULT"))
        for i in items
    ]


def fan_out(person: PersonPlan, **result: Any) -> list[UpsertResult]:
    """One result per item of a person, all with the same outcome."""
    return [UpsertResult(item.key, **result) for item in person.items]
