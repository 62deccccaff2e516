"""HubSpot adapter (hubspot-api-client): batch upsert by a unique property, policies, setup, describe."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.objects import (
    ApiException as ObjectsApiException,
)
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate
from urllib3.util.retry import Retry

from connector.crm.base import (
    AuthError,
    CrmAdapter,
    CrmError,
    PermanentError,
    PersonPlan,
    RateLimited,
    RetryableError,
    SetupReport,
    UpsertItem,
    UpsertResult,
    chunks,
    fan_out,
    group_people,
    plan_person,
    results_in_order,
)
from connector.mapping.model import Mapping
from connector.mapping.schema import FieldSchema, ObjectSchema
from connector.mapping.transforms import RESULT_KIND

log = logging.getLogger(__name__)

BATCH_SIZE = 100
"""HubSpot's maximum inputs per batch call."""

DEFAULT_HOST = "https://api.hubapi.com"
"""Production API host; tests point `host` at the double."""

API_ERRORS = (ObjectsApiException, PropertiesApiException)

KIND = {
    "string": "text",
    "number": "number",
    "date": "date",
    "datetime": "datetime",
    "enumeration": "picklist",
    "bool": "bool",
    "phone_number": "text",
}

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


def _body(exc: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {"message": str(exc.body)}
    return parsed if isinstance(parsed, dict) else {"message": str(parsed)}


def translate(exc: Exception) -> CrmError:
    """Turn a hubspot-api-client or urllib3 exception into one of the shared error types."""
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return RetryableError(f"HubSpot unreachable: {exc}", "CONNECTION", delay=60)
    status = getattr(exc, "status", None)
    body = _body(exc)
    message = body.get("message") or str(getattr(exc, "reason", exc))
    code = body.get("category") or body.get("errorType")
    if status == 429:
        headers = getattr(exc, "headers", None) or {}
        retry_after = float(headers.get("Retry-After") or 10)
        return RateLimited(message, code or "RATE_LIMIT", retry_after=retry_after)
    if status in (401, 403):
        return AuthError(message, code or str(status))
    if status is not None and (status >= 500 or status in (408, 423)):
        return RetryableError(message, code or str(status), delay=30)
    return PermanentError(message, code or str(status))


class HubSpotAdapter(CrmAdapter):
    """HubSpot through hubspot-api-client: 1 call per 100 new people (batch create), 2 per 100 known ones
    (batch read for the policy fields, batch upsert)."""

    name = "hubspot"
    batch_size = BATCH_SIZE

    def __init__(
        self,
        access_token: str,
        host: str = DEFAULT_HOST,
        property_group: str = "attribution",
        property_group_label: str = "Attribution",
        timeout: float = 30.0,
    ):
        # No urllib3 retries at all, deliberately: a 429 becomes RateLimited(Retry-After) so the job is
        # re-scheduled instead of a worker sleeping inside a request (and GETs would otherwise be retried
        # by urllib3 on 429 while POSTs never are: crm.md). Connection errors surface at once as retryable.
        retry = Retry(
            total=0,
            connect=0,
            read=0,
            status=0,
            redirect=0,
            raise_on_status=False,
            respect_retry_after_header=False,
            allowed_methods=None,
        )
        self.client = HubSpot(access_token=access_token, host=host.rstrip("/"), retry=retry)
        self.property_group = property_group
        self.property_group_label = property_group_label
        self.timeout = timeout
        self._schemas: dict[str, ObjectSchema] = {}

    # -- upsert
    def upsert_people(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        """Batch read current values for policy fields, then batch upsert: 100 people per call."""
        results: list[UpsertResult] = []
        by_mapping: dict[tuple[str, str], list[UpsertItem]] = {}
        for item in items:
            by_mapping.setdefault(
                (item.mapping.object, item.mapping.match.field if item.mapping.match else ""), []
            ).append(item)
        for (object_type, id_property), group in by_mapping.items():
            people, failed = group_people(group)
            results += failed
            for batch in chunks(list(people.values()), BATCH_SIZE):
                results += self._upsert_batch(object_type, id_property, list(batch))
        return results_in_order(items, results)

    def _upsert_batch(
        self, object_type: str, id_property: str, people: list[PersonPlan]
    ) -> list[UpsertResult]:
        fresh = [p for p in people if id_property == "email" and all(i.new_to_ledger for i in p.items)]
        results: list[UpsertResult] = []
        if fresh:
            created = self._create_fresh(object_type, fresh)
            if created is not None:
                results = created
                people = [p for p in people if p not in fresh]
                if not people:
                    return results
        return results + self._read_and_upsert(object_type, id_property, people)

    def _create_fresh(self, object_type: str, people: list[PersonPlan]) -> list[UpsertResult] | None:
        """People our ledger never wrote are most likely new: one batch create, no read (None: fall back).

        HubSpot fails the whole create batch (409) when one email already exists; then the batch takes the
        read + upsert path, which honours the policies against the existing record's values.
        """
        for person in people:
            plan_person(person, None)
            person.fields["email"] = person.match
        inputs = [
            SimplePublicObjectBatchInputForCreate(
                properties=p.fields, associations=[], object_write_trace_id=str(n)
            )
            for n, p in enumerate(people)
        ]
        try:
            response = self.client.crm.objects.batch_api.create(
                object_type,
                BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs),
                _request_timeout=self.timeout,
            )
        except API_ERRORS as exc:
            error = translate(exc)
            if not isinstance(error, PermanentError):
                raise error from exc
            log.info("hubspot create %s: %s; reading and upserting instead", object_type, error)
            return None
        except urllib3.exceptions.HTTPError as exc:
            raise translate(exc) from exc
        rows = {int(r.object_write_trace_id): r for r in response.results or [] if r.object_write_trace_id}
        if len(rows) != len(people) or getattr(response, "errors", None):
            return None  # partial create: the upsert path finds what was created and completes it
        log.info("hubspot create %s: %d new people in one call", object_type, len(people))
        return [
            r
            for n, p in enumerate(people)
            for r in fan_out(p, record_id=rows[n].id, created=True, written=p.fields)
        ]

    def _read_and_upsert(
        self, object_type: str, id_property: str, people: list[PersonPlan]
    ) -> list[UpsertResult]:
        for person in people:
            known = [i.known_values for i in person.items]
            if all(k is not None for k in known):
                # our ledger already decides every policy field of these submissions: no read needed
                person.current = {k: v for values in known if values for k, v in values.items()}
        unknown = [p for p in people if p.current is None]
        to_read = sorted({f for p in unknown for i in p.items for f in i.mapping.fields_to_read()})
        if to_read and unknown:
            current = self._read_by(object_type, id_property, [p.match for p in unknown], to_read)
            for person in unknown:
                found = current.get(person.match.lower())
                if found:
                    person.record_id, person.current = found[0], found[1]
        for person in people:
            plan_person(person, None)
            person.fields.setdefault(id_property, person.match)
        return self._send(object_type, id_property, people)

    def _send(self, object_type: str, id_property: str, people: list[PersonPlan]) -> list[UpsertResult]:
        inputs = [
            SimplePublicObjectBatchInputUpsert(
                id_property=id_property, id=p.match, properties=p.fields, object_write_trace_id=str(n)
            )
            for n, p in enumerate(people)
        ]
        try:
            response = self.client.crm.objects.batch_api.upsert(
                object_type,
                BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs),
                _request_timeout=self.timeout,
            )
        except API_ERRORS as exc:
            return self._batch_failed(object_type, id_property, people, exc)
        except urllib3.exceptions.HTTPError as exc:
            raise translate(exc) from exc
        results: list[UpsertResult] = []
        done: set[int] = set()
        for row in response.results or []:
            index = (
                int(row.object_write_trace_id)
                if row.object_write_trace_id
                else self._index_of(people, (row.properties or {}).get(id_property))
            )
            if index is None:
                continue
            done.add(index)
            results += fan_out(
                people[index], record_id=row.id, created=bool(row.new), written=people[index].fields
            )
        for error in getattr(response, "errors", None) or []:
            context = error.context or {}
            traces = context.get("objectWriteTraceId") or []
            indexes: list[int | None] = [int(t) for t in traces] or [
                self._index_of(people, i) for i in context.get("ids", [])
            ]
            code = (error.errors[0].code if error.errors else None) or error.category
            for index in indexes:
                if index is not None and index not in done:
                    done.add(index)
                    results += fan_out(people[index], error=PermanentError(error.message, code))
        for index, person in enumerate(people):
            if index not in done:
                results += fan_out(
                    person, error=RetryableError("HubSpot returned no result for it", "NO_RESULT")
                )
        log.info("hubspot upsert %s: %d people, %d results", object_type, len(people), len(results))
        return results

    def _batch_failed(
        self, object_type: str, id_property: str, people: list[PersonPlan], exc: Exception
    ) -> list[UpsertResult]:
        error = translate(exc)
        if not isinstance(error, PermanentError):
            raise error from exc
        body = _body(exc)
        details = body.get("errors") or []
        unknown = {
            name
            for d in details
            if d.get("code") == "PROPERTY_DOESNT_EXIST"
            for name in (d.get("context") or {}).get("propertyName", [])
        }
        if unknown:
            # Never drop unknown properties silently: the records that use them fail, the rest go through.
            bad = [p for p in people if unknown & set(p.fields)]
            good = [p for p in people if not unknown & set(p.fields)]
            names = ", ".join(sorted(unknown))
            message = f"properties do not exist in HubSpot: {names} (run `connector crm setup`)"
            results = [
                r for p in bad for r in fan_out(p, error=PermanentError(message, "PROPERTY_DOESNT_EXIST"))
            ]
            return results + (self._send(object_type, id_property, good) if good else [])
        if len(people) > 1:
            # A whole-batch 400/409 is caused by some input: split so the others still get written.
            half = len(people) // 2
            return self._send(object_type, id_property, people[:half]) + self._send(
                object_type, id_property, people[half:]
            )
        existing = _EXISTING_ID.search(error.message)
        if getattr(exc, "status", None) == 409 and existing:
            return self._update_existing(object_type, people[0], existing.group(1))
        return fan_out(people[0], error=error)

    def _update_existing(self, object_type: str, person: PersonPlan, record_id: str) -> list[UpsertResult]:
        """409: the match value belongs to another record (e.g. a secondary email): update that record."""
        batch = BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=record_id, properties=person.fields)]
        )
        try:
            self.client.crm.objects.batch_api.update(object_type, batch, _request_timeout=self.timeout)
        except (*API_ERRORS, urllib3.exceptions.HTTPError) as exc:
            error = translate(exc)
            if isinstance(error, PermanentError):
                return fan_out(person, error=error)
            raise error from exc
        return fan_out(
            person,
            record_id=record_id,
            created=False,
            written=person.fields,
            note=f"409 conflict: {person.match} belongs to existing record {record_id}; updated it",
        )

    @staticmethod
    def _index_of(people: list[PersonPlan], value: Any) -> int | None:
        if value is None:
            return None
        return next((n for n, p in enumerate(people) if p.match.lower() == str(value).lower()), None)

    def _read_by(
        self, object_type: str, id_property: str | None, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """One batch read per 100 ids: id value (lowercased) -> (record id, properties)."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for batch in chunks(list(ids), BATCH_SIZE):
            body = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=v) for v in batch],
                properties=list(fields),
                properties_with_history=[],
                id_property=id_property,
            )
            try:
                response = self.client.crm.objects.batch_api.read(
                    object_type, body, archived=False, _request_timeout=self.timeout
                )
            except (*API_ERRORS, urllib3.exceptions.HTTPError) as exc:
                raise translate(exc) from exc
            for row in response.results or []:
                props = dict(row.properties or {})
                key = props.get(id_property) if id_property else row.id
                found[str(key or row.id).lower()] = (row.id, props)
        return found

    def read_records(
        self, object_name: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Record id -> properties, one batch read per 100 ids."""
        rows = self._read_by(object_name, None, ids, fields)
        return {record_id: props for record_id, props in rows.values()}

    def update_records(
        self, object_name: str, updates: dict[str, dict[str, str]]
    ) -> dict[str, CrmError | None]:
        """One batch update per 100 records; a record HubSpot does not know fails alone (207 or 404)."""
        outcome: dict[str, CrmError | None] = {}
        for batch in chunks(list(updates.items()), BATCH_SIZE):
            body = BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id=rid, properties=fields) for rid, fields in batch]
            )
            try:
                response = self.client.crm.objects.batch_api.update(
                    object_name, body, _request_timeout=self.timeout
                )
            except (*API_ERRORS, urllib3.exceptions.HTTPError) as exc:
                error = translate(exc)
                if not isinstance(error, PermanentError):
                    raise error from exc
                if len(batch) > 1 and error.code == "OBJECT_NOT_FOUND":  # one deleted deal fails all: halve
                    half = len(batch) // 2
                    outcome |= self.update_records(object_name, dict(batch[:half]))
                    outcome |= self.update_records(object_name, dict(batch[half:]))
                else:
                    outcome |= {rid: error for rid, _ in batch}
                continue
            for failure in getattr(response, "errors", None) or []:
                code = (failure.errors[0].code if failure.errors else None) or failure.category
                for rid in (failure.context or {}).get("ids", []):
                    outcome[str(rid)] = PermanentError(failure.message, code)
            done = {str(row.id) for row in response.results or []}
            for rid, _ in batch:
                if rid not in outcome:
                    outcome[rid] = (
                        None
                        if rid in done
                        else RetryableError("HubSpot returned no result for it", "NO_RESULT")
                    )
            log.info("hubspot update %s: %d records by id", object_name, len(batch))
        return outcome

    # -- schema and setup
    def describe(self, object_name: str) -> ObjectSchema:
        """Properties of the object, cached."""
        if object_name not in self._schemas:
            try:
                response = self.client.crm.properties.core_api.get_all(
                    object_name, archived=False, _request_timeout=self.timeout
                )
            except (*API_ERRORS, urllib3.exceptions.HTTPError) as exc:
                raise translate(exc) from exc
            fields = {}
            for prop in response.results or []:
                read_only = bool(prop.modification_metadata and prop.modification_metadata.read_only_value)
                fields[prop.name] = FieldSchema(
                    name=prop.name,
                    kind=KIND.get(prop.type, "other"),
                    vendor_type=prop.type,
                    length=65536 if prop.type == "string" else None,
                    createable=not read_only,
                    updateable=not read_only,
                    unique=bool(prop.has_unique_value),
                    picklist_values=tuple(o.value for o in prop.options or []),
                    restricted_picklist=prop.type == "enumeration",
                    label=prop.label or "",
                )
            self._schemas[object_name] = ObjectSchema(object_name, fields)
        return self._schemas[object_name]

    def ensure_fields(self, mapping: Mapping) -> SetupReport:
        """Create the property group and every missing property the mapping writes (409 = already there)."""
        report = SetupReport()
        self._schemas.pop(mapping.object, None)
        schema = self.describe(mapping.object)
        missing = [r for r in mapping.all_rules() if schema.get(r.target) is None]
        try:
            self.client.crm.properties.groups_api.create(
                mapping.object, PropertyGroupCreate(name=self.property_group, label=self.property_group_label)
            )
            report.created.append(f"group {self.property_group}")
        except PropertiesApiException as exc:
            if exc.status != 409:
                raise translate(exc) from exc
            report.existing.append(f"group {self.property_group}")
        seen: set[str] = set()
        for rule in mapping.all_rules():
            if rule.target in seen:
                continue
            seen.add(rule.target)
            if rule not in missing:
                report.existing.append(rule.target)
                continue
            kinds = [RESULT_KIND[t.name] for t in rule.transforms if t.name in RESULT_KIND]
            type_ = kinds[-1] if kinds else "string"
            create = PropertyCreate(
                name=rule.target,
                label=rule.target.replace("_", " ").title(),
                type=type_,
                field_type="date" if type_ != "string" else "text",
                group_name=self.property_group,
                description=f"Attribution connector: {rule.describe_source}",
            )
            try:
                self.client.crm.properties.core_api.create(mapping.object, create)
                report.created.append(rule.target)
            except PropertiesApiException as exc:
                if exc.status == 409:
                    report.existing.append(rule.target)
                    continue
                error = translate(exc)
                if isinstance(error, AuthError):
                    report.manual_steps.append(
                        f"In HubSpot > Settings > Properties > {mapping.object}: create property "
                        f"{rule.target!r} (type {type_}) in group {self.property_group!r}; the private app "
                        f"token needs the crm.schemas.{mapping.object}.write scope"
                    )
                else:
                    report.errors.append(f"{rule.target}: {error}")
        self._schemas.pop(mapping.object, None)
        return report
