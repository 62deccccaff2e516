"""Salesforce adapter (simple-salesforce): one SOQL read and one sObject Collections write per 200 people."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from simple_salesforce.format import format_soql

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
from connector.crm.salesforce_auth import DEFAULT_API_VERSION, SalesforceAuth, sign_in
from connector.mapping.model import FieldRule, Mapping, Match
from connector.mapping.schema import FieldSchema, ObjectSchema
from connector.mapping.transforms import RESULT_KIND

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_SIZE = 200
"""sObject Collections maximum records per call (also the SOQL IN-list size we use, to keep URLs short)."""

LIMIT_RETRY_AFTER = 300.0
"""Seconds to wait after REQUEST_LIMIT_EXCEEDED (Salesforce sends no Retry-After)."""

RETRY_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}
KIND = {
    "string": "text",
    "textarea": "text",
    "url": "text",
    "email": "text",
    "phone": "text",
    "combobox": "text",
    "encryptedstring": "text",
    "picklist": "picklist",
    "multipicklist": "picklist",
    "date": "date",
    "datetime": "datetime",
    "double": "number",
    "currency": "number",
    "int": "number",
    "percent": "number",
    "long": "number",
    "boolean": "bool",
    "id": "id",
    "reference": "id",
}
LONG_TEXT_SOURCES = ("landing_page", "referrer", "conversion_page")
_NO_SUCH_COLUMN = re.compile(r"No such column '([^']+)'")


def translate(exc: Exception) -> CrmError:
    """Turn a simple-salesforce or requests exception into one of the shared error types."""
    if isinstance(exc, requests.RequestException):
        return RetryableError(f"Salesforce unreachable: {exc}", "CONNECTION", delay=60)
    content = getattr(exc, "content", None)
    first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
    code = first.get("errorCode")
    message = first.get("message") or str(content)
    status = getattr(exc, "status", 0) or 0
    if status == 401:
        return AuthError(message, code or "INVALID_SESSION_ID")
    if status == 403:
        if code == "REQUEST_LIMIT_EXCEEDED":
            return RateLimited(message, code, retry_after=LIMIT_RETRY_AFTER)
        return AuthError(message, code or "403")
    if status >= 500 or code in RETRY_CODES:
        return RetryableError(message, code or str(status), delay=30)
    return PermanentError(message, code or str(status))


def _record_error(errors: list[dict[str, Any]]) -> CrmError:
    first = errors[0] if errors else {}
    code = first.get("statusCode") or first.get("errorCode") or "UNKNOWN"
    message = "; ".join(e.get("message", "") for e in errors) or code
    return RetryableError(message, code, delay=5) if code in RETRY_CODES else PermanentError(message, code)


def _duplicate_ids(errors: list[dict[str, Any]], obj: str) -> tuple[list[str], str]:
    for error in errors:
        if (error.get("statusCode") or error.get("errorCode")) != "DUPLICATES_DETECTED":
            continue
        result = error.get("duplicateResult") or {}
        ids = [
            r["record"]["Id"]
            for m in result.get("matchResults", [])
            if m.get("entityType") == obj
            for r in m.get("matchRecords", [])
            if r.get("record", {}).get("Id")
        ]
        return ids, result.get("duplicateRule", "duplicate rule")
    return [], ""


class SalesforceAdapter(CrmAdapter):
    """Salesforce through simple-salesforce; refreshes the token once on INVALID_SESSION_ID."""

    name = "salesforce"
    batch_size = BATCH_SIZE

    def __init__(
        self,
        auth: SalesforceAuth,
        api_version: str = DEFAULT_API_VERSION,
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ):
        self.auth = auth
        self.api_version = api_version
        self.session = session or requests.Session()
        self.timeout = timeout
        self._sf: Salesforce | None = None
        self._schemas: dict[str, ObjectSchema] = {}

    # -- plumbing: sign-in, refresh once, translate errors
    def _client(self) -> Salesforce:
        if self._sf is None:
            token, instance_url = sign_in(self.auth, self.session)
            self._sf = Salesforce(
                session_id=token, instance_url=instance_url, version=self.api_version, session=self.session
            )
        return self._sf

    def _call(self, action: Callable[[Salesforce], T]) -> T:
        refreshed = False
        while True:
            sf = self._client()
            try:
                return action(sf)
            except SalesforceExpiredSession as exc:
                if refreshed or not self.auth.refreshable:
                    raise translate(exc) from exc
                log.info("salesforce session expired; signing in again")
                self._sf, refreshed = None, True
            except (SalesforceError, requests.RequestException) as exc:
                raise translate(exc) from exc

    def _query(self, soql: str) -> list[dict[str, Any]]:
        def run(sf: Salesforce) -> list[dict[str, Any]]:
            page = sf.query(soql, timeout=self.timeout)
            rows = list(page["records"])
            while not page.get("done", True):
                page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True, timeout=self.timeout)
                rows += page["records"]
            return rows

        return self._call(run)

    def _rest(self, method: str, path: str, payload: Any) -> Any:
        return self._call(lambda sf: sf.restful(path, method=method, json=payload, timeout=self.timeout))

    # -- upsert
    def upsert_people(self, items: Sequence[UpsertItem]) -> list[UpsertResult]:
        """Per 200 people: one SOQL read (ids + current values), then create/update/upsert collections."""
        results: list[UpsertResult] = []
        groups: dict[tuple[str, Match | None], list[UpsertItem]] = {}
        for item in items:
            groups.setdefault((item.mapping.object, item.mapping.match), []).append(item)
        for (obj, match), group in groups.items():
            if match is None:
                results += [
                    UpsertResult(i.key, error=PermanentError(f"{obj} mapping has no [match]")) for i in group
                ]
                continue
            people, failed = group_people(group)
            results += failed
            lengths = self.describe(obj).lengths()
            for batch in chunks(list(people.values()), BATCH_SIZE):
                self._read_current(obj, match, list(batch))
                for person in batch:
                    plan_person(person, lengths)
                    person.fields[match.field] = person.match
                results += self._write(obj, match, list(batch))
        return results_in_order(items, results)

    def _read_current(self, obj: str, match: Match, people: list[PersonPlan]) -> None:
        needed = {f for p in people for i in p.items for f in i.mapping.fields_to_read()}
        fields = ", ".join(dict.fromkeys(["Id", "CreatedDate", match.field, *sorted(needed)]))
        soql = format_soql(
            "SELECT {:literal} FROM {:literal} WHERE {:literal} IN {} ORDER BY CreatedDate DESC",
            fields,
            obj,
            match.field,
            [p.match for p in people],
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self._query(soql):
            found.setdefault(str(row.get(match.field) or "").lower(), []).append(row)
        for person in people:
            rows = found.get(person.match.lower())
            if not rows:
                continue
            person.record_id = rows[0]["Id"]
            person.current = {k: v for k, v in rows[0].items() if k != "attributes"}
            if len(rows) > 1:
                others = ", ".join(r["Id"] for r in rows[1:])
                person.note = (
                    f"{len(rows)} {obj} records match {match.field}={person.match}: updated the most "
                    f"recent ({person.record_id}); not touched: {others}"
                )
                log.warning("salesforce multiple match: %s", person.note)

    def _write(self, obj: str, match: Match, people: list[PersonPlan]) -> list[UpsertResult]:
        new = [p for p in people if p.record_id is None]
        existing = [p for p in people if p.record_id is not None]
        results: list[UpsertResult] = []
        if new and match.external_id:
            results += self._collection(
                "PATCH", f"composite/sobjects/{obj}/{match.field}", obj, new, "upsert"
            )
        elif new:
            results += self._collection("POST", "composite/sobjects", obj, new, "create")
        if existing:
            results += self._collection("PATCH", "composite/sobjects", obj, existing, "update")
        return results

    def _collection(
        self, method: str, path: str, obj: str, people: list[PersonPlan], kind: str
    ) -> list[UpsertResult]:
        records = [
            {"attributes": {"type": obj}, **({"Id": p.record_id} if kind == "update" else {}), **p.fields}
            for p in people
        ]
        try:
            rows = self._rest(method, path, {"allOrNone": False, "records": records})
        except PermanentError as error:
            return self._request_rejected(method, path, obj, people, kind, error)
        results: list[UpsertResult] = []
        duplicates: list[PersonPlan] = []
        for person, row in zip(people, rows or [], strict=False):
            if row.get("success"):
                created = row.get("created", kind == "create")
                results += fan_out(
                    person,
                    record_id=row["id"],
                    created=bool(created),
                    written=person.fields,
                    note=person.note,
                )
                continue
            ids, rule = _duplicate_ids(row.get("errors", []), obj) if kind != "update" else ([], "")
            if ids:
                person.record_id = ids[0]
                person.note = f"{rule} matched existing {obj} {ids[0]}: updated it instead of creating"
                duplicates.append(person)
            else:
                results += fan_out(person, error=_record_error(row.get("errors", [])), note=person.note)
        if duplicates:
            log.info("salesforce %s: %d duplicate-rule matches, updating them", obj, len(duplicates))
            results += self._collection("PATCH", "composite/sobjects", obj, duplicates, "update")
        log.info("salesforce %s %s: %d records", kind, obj, len(people))
        return results

    def _request_rejected(
        self, method: str, path: str, obj: str, people: list[PersonPlan], kind: str, error: PermanentError
    ) -> list[UpsertResult]:
        """A whole-request INVALID_FIELD: fail the records using that field (loudly), send the others."""
        column = _NO_SUCH_COLUMN.search(error.message)
        if error.code == "INVALID_FIELD" and column:
            bad = [p for p in people if column.group(1) in p.fields]
            good = [p for p in people if column.group(1) not in p.fields]
            if bad and good:
                return [r for p in bad for r in fan_out(p, error=error)] + self._collection(
                    method, path, obj, good, kind
                )
        return [r for p in people for r in fan_out(p, error=error)]

    # -- records by id (opportunities)
    def update_records(
        self, object_name: str, updates: dict[str, dict[str, str]]
    ) -> dict[str, CrmError | None]:
        """One sObject Collections update per 200 records (allOrNone false: one result per record)."""
        outcome: dict[str, CrmError | None] = {}
        for batch in chunks(list(updates.items()), BATCH_SIZE):
            records = [{"attributes": {"type": object_name}, "Id": rid, **fields} for rid, fields in batch]
            try:
                rows = self._rest("PATCH", "composite/sobjects", {"allOrNone": False, "records": records})
            except PermanentError as error:  # the whole request refused (e.g. INVALID_FIELD)
                outcome |= {rid: error for rid, _ in batch}
                continue
            for (rid, _), row in zip(batch, rows or [], strict=False):
                outcome[rid] = None if row.get("success") else _record_error(row.get("errors", []))
            for rid, _ in batch[len(rows or []) :]:
                outcome[rid] = RetryableError("Salesforce returned no result for it", "NO_RESULT")
            log.info("salesforce update %s: %d records by id", object_name, len(batch))
        return outcome

    # -- reads and schema
    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every row of a SOQL query (all pages), without the `attributes` entries."""
        return [{k: v for k, v in row.items() if k != "attributes"} for row in self._query(soql)]

    def read_records(
        self, object_name: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Record id -> values; one SOQL query per 200 ids."""
        found: dict[str, dict[str, Any]] = {}
        columns = ", ".join(dict.fromkeys(["Id", *fields]))
        for batch in chunks(list(ids), BATCH_SIZE):
            soql = format_soql(
                "SELECT {:literal} FROM {:literal} WHERE Id IN {}", columns, object_name, list(batch)
            )
            for row in self._query(soql):
                found[row["Id"]] = {k: v for k, v in row.items() if k != "attributes"}
        return found

    def describe(self, object_name: str) -> ObjectSchema:
        """The object's describe, cached per object."""
        if object_name not in self._schemas:
            raw = self._call(lambda sf: sf.restful(f"sobjects/{object_name}/describe", timeout=self.timeout))
            if raw is None:  # restful() returns None for an empty (204) response
                raise CrmError(f"salesforce describe {object_name}: empty response")
            fields = {
                f["name"]: FieldSchema(
                    name=f["name"],
                    kind=KIND.get(f["type"], "other"),
                    vendor_type=f["type"],
                    length=f.get("length") or None,
                    createable=bool(f.get("createable")),
                    updateable=bool(f.get("updateable")),
                    external_id=bool(f.get("externalId")),
                    unique=bool(f.get("unique")),
                    picklist_values=tuple(
                        p["value"] for p in f.get("picklistValues") or [] if p.get("active", True)
                    ),
                    restricted_picklist=bool(f.get("restrictedPicklist")),
                    label=f.get("label", ""),
                )
                for f in raw["fields"]
            }
            self._schemas[object_name] = ObjectSchema(object_name, fields)
        return self._schemas[object_name]

    # -- setup
    def ensure_fields(self, mapping: Mapping) -> SetupReport:
        """Create missing custom fields through the Tooling API; print exact steps where not permitted."""
        report = SetupReport()
        obj = mapping.object
        self._schemas.pop(obj, None)
        schema = self.describe(obj)
        rules = {r.target: r for r in mapping.all_rules()}
        for target, rule in rules.items():
            if schema.get(target) is not None:
                report.existing.append(target)
                continue
            if not target.endswith("__c"):
                report.errors.append(
                    f"{obj}.{target} is a standard field this user cannot see: check the "
                    "integration user's field-level security"
                )
                continue
            metadata = custom_field_metadata(rule)
            try:
                self._rest(
                    "POST",
                    "tooling/sobjects/CustomField",
                    {"FullName": f"{obj}.{target}", "Metadata": metadata},
                )
                report.created.append(target)
            except PermanentError as error:
                if error.code == "DUPLICATE_DEVELOPER_NAME":
                    report.existing.append(target)
                    report.manual_steps.append(
                        f"{obj}.{target} exists but is invisible to the integration user: "
                        "grant it Read and Edit field-level security"
                    )
                else:
                    report.errors.append(f"{obj}.{target}: {error}")
            except AuthError:
                report.manual_steps.append(manual_step(obj, target, metadata))
        if report.created:
            report.manual_steps.append(
                f"Setup > Permission Sets > (integration user's set) > Object Settings > {obj}: "
                f"grant Read and "
                f"Edit on {', '.join(report.created)}"
            )
        self._schemas.pop(obj, None)
        return report


def custom_field_metadata(rule: FieldRule) -> dict[str, Any]:
    """Tooling API CustomField Metadata: DateTime/Date, long text for URLs, else Text(255)."""
    label = rule.target.removesuffix("__c").replace("_", " ")[:40]
    kinds = [RESULT_KIND[t.name] for t in rule.transforms if t.name in RESULT_KIND]
    if kinds:
        return {"type": "DateTime" if kinds[-1] == "datetime" else "Date", "label": label}
    if any(s.endswith(LONG_TEXT_SOURCES) for s in rule.sources):
        return {"type": "LongTextArea", "length": 4096, "visibleLines": 3, "label": label}
    return {"type": "Text", "length": 255, "label": label}


def manual_step(obj: str, target: str, metadata: dict[str, Any]) -> str:
    """Exact click path for an admin to create the field by hand."""
    kind = {
        "Text": f"Text, length {metadata.get('length')}",
        "LongTextArea": f"Text Area (Long), length {metadata.get('length')}",
        "DateTime": "Date/Time",
        "Date": "Date",
    }[metadata["type"]]
    return (
        f"Setup > Object Manager > {obj} > Fields & Relationships > New > {kind}; Field Label "
        f"'{metadata['label']}', Field Name '{target.removesuffix('__c')}' (API name {target}); grant Edit "
        "to the integration user's profile or permission set"
    )
