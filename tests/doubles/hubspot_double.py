"""HubSpot CRM v3 double on loopback: batch upsert/read/update, properties, groups, search, pipelines,
documented errors."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from tests.doubles.crm_http import LoopbackServer, Reply, Request

STANDARD_PROPERTIES = {
    "contacts": (
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "lifecyclestage",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    ),
    "deals": (
        "dealname",
        "dealstage",
        "amount",
        "deal_currency_code",
        "pipeline",
        "closedate",
        "hs_v2_date_entered_current_stage",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
}
DATE_TYPES = {
    "createdate": "datetime",
    "lastmodifieddate": "datetime",
    "closedate": "datetime",
    "hs_v2_date_entered_current_stage": "datetime",
}


LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]
"""HubSpot's default lifecycle stages (internal value, label); portals may add their own."""

SEARCH_MAX_GROUPS, SEARCH_MAX_FILTERS_PER_GROUP, SEARCH_MAX_FILTERS = 5, 6, 18
SEARCH_MAX_RESULTS = 10_000
"""Documented CRM search limits: filter groups (ORed), filters per group (ANDed), filters in all, and
the most results one query can page through."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stamp(moment: datetime) -> str:
    """HubSpot's datetime property format: ISO 8601, UTC, milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _comparable(value: Any) -> Any:
    """Search compares datetimes as epoch milliseconds and numbers as numbers; other values as text."""
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return text.casefold()


def _matches(props: dict[str, Any], f: dict[str, Any]) -> bool:
    value, operator = props.get(f["propertyName"]), f.get("operator", "EQ")
    if operator == "HAS_PROPERTY":
        return value not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if value in (None, ""):
        return False
    left, right = _comparable(value), _comparable(f.get("value"))
    if type(left) is not type(right):
        return operator == "NEQ"
    return {
        "EQ": left == right,
        "NEQ": left != right,
        "GT": left > right,
        "GTE": left >= right,
        "LT": left < right,
        "LTE": left <= right,
    }[operator]


def _error(
    status: int, category: str, message: str, errors: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": "00000000-test",
        "category": category,
        "errors": errors or [],
        "context": {},
        "links": {},
        **extra,
    }


class HubSpotDouble:
    """In-memory HubSpot: `records[object][id] = properties`; inject failures with the `fail_*` attributes."""

    def __init__(self, token: str = "pat-test-token"):
        self.token = token
        self.server = LoopbackServer()
        self.ids = itertools.count(1001)
        self.records: dict[str, dict[str, dict[str, str]]] = {"contacts": {}, "deals": {}}
        self.secondary_emails: dict[str, str] = {}
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            obj: {
                name: self._property(name, DATE_TYPES.get(name, "string"), "contactinformation")
                for name in names
            }
            for obj, names in STANDARD_PROPERTIES.items()
        }
        self.groups: dict[str, set[str]] = {"contacts": {"contactinformation"}, "deals": {"dealinformation"}}
        self.rate_limit_next = 0
        self.search_max_results = SEARCH_MAX_RESULTS
        self.search_rate_limit_next: dict[str, int] = {}
        """Object type -> how many of its next searches answer 429 (the search endpoints' own limit)."""
        self.retry_after = "1"
        self.fail_status_next: list[int] = []
        self.requests: list[tuple[str, Any]] = []
        s = self.server
        s.route("POST", r"/crm/v3/objects/(\w+)/batch/upsert", "batch_upsert", self._batch_upsert)
        s.route("POST", r"/crm/v3/objects/(\w+)/batch/read", "batch_read", self._batch_read)
        s.route("POST", r"/crm/v3/objects/(\w+)/batch/create", "batch_create", self._batch_create)
        s.route("POST", r"/crm/v3/objects/(\w+)/batch/update", "batch_update", self._batch_update)
        s.route("GET", r"/crm/v3/properties/(\w+)", "properties_get_all", self._properties_get_all)
        s.route("GET", r"/crm/v3/properties/(\w+)/(\w+)", "property_get", self._property_get)
        s.route("POST", r"/crm/v3/properties/(\w+)", "properties_create", self._properties_create)
        s.route("POST", r"/crm/v3/properties/(\w+)/groups", "groups_create", self._groups_create)
        s.route("GET", r"/crm/v3/pipelines/(\w+)", "pipelines_get_all", self._pipelines)
        s.route(
            "POST", r"/crm/v4/associations/(\w+)/(\w+)/batch/read", "associations_read", self._associations
        )
        s.route("POST", r"/crm/v3/objects/deals/search", "deals_search", self._deals_search)
        s.route("POST", r"/crm/v3/objects/contacts/search", "contacts_search", self._contacts_search)
        self.associations: dict[str, list[str]] = {}
        self.pipelines = [
            {
                "id": "default",
                "label": "Sales Pipeline",
                "stages": [
                    ("appointmentscheduled", "Appointment Scheduled"),
                    ("qualifiedtobuy", "Qualified To Buy"),
                    ("closedwon", "Closed Won"),
                    ("closedlost", "Closed Lost"),
                ],
            }
        ]
        self.lifecycle_stages = list(LIFECYCLE_STAGES)

    # -- lifecycle and helpers for tests
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def calls(self) -> Any:
        return self.server.calls

    def start(self) -> HubSpotDouble:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def add_contact(self, **properties: str) -> str:
        record_id = str(next(self.ids))
        self.records["contacts"][record_id] = {**properties, "hs_object_id": record_id}
        return record_id

    def add_deal(self, contact_ids: list[str], **properties: str) -> str:
        """A deal associated with contacts; `set_deal_stage` moves it."""
        record_id = str(next(self.ids))
        now = _now()
        self.records["deals"][record_id] = {
            "pipeline": "default",
            **properties,
            "hs_object_id": record_id,
            "createdate": now,
            "hs_lastmodifieddate": now,
        }
        self.associations[record_id] = list(contact_ids)
        return record_id

    def set_deal_stage(self, deal_id: str, stage: str, at: datetime | None = None) -> int:
        """Move the deal; returns the entry time in epoch ms (what the webhook's occurredAt says)."""
        moment = at or datetime.now(UTC)
        stamp = _stamp(moment)
        deal = self.records["deals"][deal_id]
        deal.update(dealstage=stage, hs_v2_date_entered_current_stage=stamp, hs_lastmodifieddate=stamp)
        return int(moment.timestamp() * 1000)

    def set_lifecycle_stage(self, contact_id: str, stage: str, at: datetime | None = None) -> int:
        """Move the contact's lifecycle stage; HubSpot dates the entry in the stage calculated property
        `hs_v2_date_entered_<stage id>`. Returns the entry time in epoch ms (the webhook's occurredAt)."""
        moment = at or datetime.now(UTC)
        stamp = _stamp(moment)
        contact = self.records["contacts"][contact_id]
        contact.update(
            {"lifecyclestage": stage, f"hs_v2_date_entered_{stage}": stamp, "lastmodifieddate": stamp}
        )
        return int(moment.timestamp() * 1000)

    def add_deal_stage(self, stage_id: str, label: str, pipeline: str = "default") -> None:
        """A stage sales ops adds to a pipeline."""
        next(p for p in self.pipelines if p["id"] == pipeline)["stages"].append((stage_id, label))

    def find(self, object_type: str, prop: str, value: str) -> tuple[str, dict[str, str]] | None:
        for record_id, props in self.records[object_type].items():
            if str(props.get(prop, "")).lower() == value.lower():
                return record_id, props
        return None

    def add_property(self, object_type: str, name: str, type_: str = "string", **extra: Any) -> None:
        self.properties[object_type][name] = {**self._property(name, type_, "attribution"), **extra}

    @staticmethod
    def _property(name: str, type_: str, group: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": name,
            "type": type_,
            "fieldType": "date" if "date" in type_ else "text",
            "groupName": group,
            "description": "",
            "options": [],
            "displayOrder": -1,
            "hasUniqueValue": name == "email",
            "hidden": False,
            "formField": True,
            "modificationMetadata": {
                "archivable": True,
                "readOnlyDefinition": False,
                "readOnlyValue": name in ("hs_object_id", "createdate"),
            },
            "createdAt": _now(),
            "updatedAt": _now(),
            "archived": False,
            "calculated": False,
            "externalOptions": False,
        }

    # -- cross-cutting checks every endpoint applies
    def _gate(self, request: Request) -> Reply | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return (
                401,
                _error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
                ),
                {},
            )
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            body = {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": "00000000-test",
                "policyName": "TEN_SECONDLY_ROLLING",
            }
            return 429, body, {"Retry-After": self.retry_after}
        if self.fail_status_next:
            status = self.fail_status_next.pop(0)
            return status, _error(status, "INTERNAL_ERROR", "internal error"), {}
        return None

    def _unknown_properties(self, object_type: str, inputs: list[dict[str, Any]]) -> Reply | None:
        known = self.properties[object_type]
        unknown = sorted({p for i in inputs for p in i.get("properties", {}) if p not in known})
        if not unknown:
            return None
        errors = [
            {
                "message": f'Property "{p}" does not exist',
                "code": "PROPERTY_DOESNT_EXIST",
                "context": {"propertyName": [p]},
            }
            for p in unknown
        ]
        return 400, _error(400, "VALIDATION_ERROR", "Property values were not valid", errors), {}

    # -- endpoints
    def _batch_upsert(self, request: Request, object_type: str) -> Reply:
        body = request.json()
        self.requests.append(("batch_upsert", body))
        if gated := self._gate(request):
            return gated
        inputs = body.get("inputs", [])
        if not 1 <= len(inputs) <= 100:
            return 400, _error(400, "VALIDATION_ERROR", "inputs must hold 1 to 100 entries"), {}
        if bad := self._unknown_properties(object_type, inputs):
            return bad
        keys = [str(i.get("id", "")).lower() for i in inputs]
        if len(set(keys)) != len(keys):
            return 400, _error(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input"), {}
        for item in inputs:
            key = str(item["id"]).lower()
            if key in self.secondary_emails and not self.find(object_type, item["idProperty"], key):
                existing = self.secondary_emails[key]
                return 409, _error(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}"), {}
        results, errors = [], []
        for item in inputs:
            prop, value = item["idProperty"], str(item["id"])
            if prop == "email" and "@" not in value:
                errors.append(
                    _error(
                        400,
                        "VALIDATION_ERROR",
                        f"Email address {value} is invalid",
                        [{"message": f"Email address {value} is invalid", "code": "INVALID_EMAIL"}],
                        context={
                            "ids": [value],
                            **(
                                {"objectWriteTraceId": [item["objectWriteTraceId"]]}
                                if item.get("objectWriteTraceId")
                                else {}
                            ),
                        },
                    )
                )
                continue
            found = self.find(object_type, prop, value)
            props = {k: str(v) for k, v in item.get("properties", {}).items()}
            if found:
                record_id, stored = found
                stored.update(props)
            else:
                record_id = str(next(self.ids))
                stored = self.records[object_type][record_id] = {
                    prop: value,
                    **props,
                    "hs_object_id": record_id,
                    "createdate": _now(),
                }
            results.append(
                {
                    "id": record_id,
                    "new": not found,
                    "properties": dict(stored),
                    "createdAt": _now(),
                    "updatedAt": _now(),
                    "archived": False,
                    **(
                        {"objectWriteTraceId": item["objectWriteTraceId"]}
                        if item.get("objectWriteTraceId")
                        else {}
                    ),
                }
            )
        payload = {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}
        if errors:
            return 207, {**payload, "errors": errors, "numErrors": len(errors)}, {}
        return 200, payload, {}

    def _batch_create(self, request: Request, object_type: str) -> Reply:
        """All or nothing, as HubSpot does: one existing email (409) or invalid value (400) fails the batch."""
        body = request.json()
        self.requests.append(("batch_create", body))
        if gated := self._gate(request):
            return gated
        inputs = body.get("inputs", [])
        if not 1 <= len(inputs) <= 100:
            return 400, _error(400, "VALIDATION_ERROR", "inputs must hold 1 to 100 entries"), {}
        if bad := self._unknown_properties(object_type, inputs):
            return bad
        for item in inputs:
            email = str(item.get("properties", {}).get("email", ""))
            if object_type == "contacts" and "@" not in email:
                message = f"Email address {email} is invalid"
                return (
                    400,
                    _error(400, "VALIDATION_ERROR", message, [{"message": message, "code": "INVALID_EMAIL"}]),
                    {},
                )
            found = self.find(object_type, "email", email) if email else None
            existing = found[0] if found else self.secondary_emails.get(email.lower())
            if existing:
                return 409, _error(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}"), {}
        results = []
        for item in inputs:
            record_id = str(next(self.ids))
            stored = self.records[object_type][record_id] = {
                **{k: str(v) for k, v in item.get("properties", {}).items()},
                "hs_object_id": record_id,
                "createdate": _now(),
            }
            results.append(
                {
                    "id": record_id,
                    "properties": dict(stored),
                    "createdAt": _now(),
                    "updatedAt": _now(),
                    "archived": False,
                    **(
                        {"objectWriteTraceId": item["objectWriteTraceId"]}
                        if item.get("objectWriteTraceId")
                        else {}
                    ),
                }
            )
        return 201, {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}, {}

    def _batch_update(self, request: Request, object_type: str) -> Reply:
        body = request.json()
        if gated := self._gate(request):
            return gated
        if bad := self._unknown_properties(object_type, body.get("inputs", [])):
            return bad
        results = []
        for item in body["inputs"]:
            stored = self.records[object_type].get(str(item["id"]))
            if stored is None:
                return 404, _error(404, "OBJECT_NOT_FOUND", f"Object {item['id']} not found"), {}
            stored.update({k: str(v) for k, v in item.get("properties", {}).items()})
            results.append(
                {
                    "id": item["id"],
                    "properties": dict(stored),
                    "createdAt": _now(),
                    "updatedAt": _now(),
                    "archived": False,
                }
            )
        return 200, {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}, {}

    def _batch_read(self, request: Request, object_type: str) -> Reply:
        body = request.json()
        self.requests.append(("batch_read", body))
        if gated := self._gate(request):
            return gated
        prop = body.get("idProperty") or "hs_object_id"
        wanted = body.get("properties") or []
        results, missing = [], []
        for entry in body.get("inputs", []):
            found = self.find(object_type, prop, str(entry["id"]))
            if not found:
                missing.append(str(entry["id"]))
                continue
            record_id, stored = found
            props = {name: stored.get(name) for name in (*wanted, prop, "hs_object_id")}
            results.append(
                {
                    "id": record_id,
                    "properties": props,
                    "createdAt": _now(),
                    "updatedAt": _now(),
                    "archived": False,
                }
            )
        payload = {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}
        if missing:
            error = _error(
                404,
                "OBJECT_NOT_FOUND",
                "Could not get some CONTACT objects, they may be deleted or not exist.",
                context={"ids": missing},
            )
            return 207, {**payload, "errors": [error], "numErrors": 1}, {}
        return 200, payload, {}

    def _properties_get_all(self, request: Request, object_type: str) -> Reply:
        if gated := self._gate(request):
            return gated
        names = self.properties.get(object_type, {})
        return 200, {"results": [self._property_view(object_type, n) for n in names]}, {}

    def _property_get(self, request: Request, object_type: str, name: str) -> Reply:
        self.requests.append(("property_get", {"object": object_type, "name": name}))
        if gated := self._gate(request):
            return gated
        if name not in self.properties.get(object_type, {}):
            return 404, _error(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}"), {}
        return 200, self._property_view(object_type, name), {}

    def _property_view(self, object_type: str, name: str) -> dict[str, Any]:
        prop = self.properties[object_type][name]
        if name != "lifecyclestage":
            return prop
        options = [
            {"label": label, "value": value, "displayOrder": n, "hidden": False, "description": ""}
            for n, (value, label) in enumerate(self.lifecycle_stages)
        ]
        return {**prop, "type": "enumeration", "fieldType": "radio", "options": options}

    def _properties_create(self, request: Request, object_type: str) -> Reply:
        body = request.json()
        if gated := self._gate(request):
            return gated
        name = body.get("name", "")
        if name in self.properties[object_type]:
            return 409, _error(409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists."), {}
        if body.get("groupName") not in self.groups[object_type]:
            return 400, _error(400, "VALIDATION_ERROR", f"group {body.get('groupName')} does not exist"), {}
        created = {
            **self._property(name, body.get("type", "string"), body["groupName"]),
            "label": body.get("label", name),
            "fieldType": body.get("fieldType", "text"),
        }
        self.properties[object_type][name] = created
        return 201, created, {}

    def _pipelines(self, request: Request, object_type: str) -> Reply:
        if gated := self._gate(request):
            return gated
        results = [
            {
                "id": p["id"],
                "label": p["label"],
                "displayOrder": 0,
                "archived": False,
                "createdAt": _now(),
                "updatedAt": _now(),
                "stages": [
                    {
                        "id": sid,
                        "label": label,
                        "displayOrder": n,
                        "metadata": {},
                        "archived": False,
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                        "createdAt": _now(),
                        "updatedAt": _now(),
                    }
                    for n, (sid, label) in enumerate(p["stages"])
                ],
            }
            for p in (self.pipelines if object_type == "deals" else [])
        ]
        return 200, {"results": results}, {}

    def _associations(self, request: Request, from_type: str, to_type: str) -> Reply:
        body = request.json()
        self.requests.append(("associations_read", body))
        if gated := self._gate(request):
            return gated
        results = [
            {
                "from": {"id": str(i["id"])},
                "to": [
                    {
                        "toObjectId": int(c),
                        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}],
                    }
                    for c in self.associations.get(str(i["id"]), [])
                ],
            }
            for i in body.get("inputs", [])
            if self.associations.get(str(i["id"]))
        ]
        return 200, {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}, {}

    def _deals_search(self, request: Request) -> Reply:
        return self._search(request, "deals")

    def _contacts_search(self, request: Request) -> Reply:
        return self._search(request, "contacts")

    def _search(self, request: Request, object_type: str) -> Reply:
        """CRM search: filter groups ORed, filters in a group ANDed, sorts, `after` paging, the
        documented limits; records lacking a filtered property do not match."""
        body = request.json()
        self.requests.append((f"{object_type}_search", body))
        if gated := self._gate(request):
            return gated
        if self.search_rate_limit_next.get(object_type):
            self.search_rate_limit_next[object_type] -= 1
            limited = {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": "00000000-test",
                "policyName": "SECONDLY",
            }
            return 429, limited, {"Retry-After": self.retry_after}
        groups = body.get("filterGroups") or []
        sizes = [len(g.get("filters") or []) for g in groups]
        if (
            len(groups) > SEARCH_MAX_GROUPS
            or any(n > SEARCH_MAX_FILTERS_PER_GROUP for n in sizes)
            or sum(sizes) > SEARCH_MAX_FILTERS
        ):
            message = "There was a problem with the request: too many filterGroups or filters"
            return 400, _error(400, "VALIDATION_ERROR", message), {}
        found = [
            (record_id, props)
            for record_id, props in self.records[object_type].items()
            if not groups or any(all(_matches(props, f) for f in g.get("filters") or []) for g in groups)
        ]
        for sort in reversed(body.get("sorts") or ["hs_object_id"]):
            name = sort if isinstance(sort, str) else sort["propertyName"]
            descending = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
            found.sort(key=lambda row, n=name: _comparable(row[1].get(n) or 0), reverse=descending)
        start, limit = int(body.get("after") or 0), int(body.get("limit") or 10)
        if start + limit > self.search_max_results:
            message = f"The maximum number of results returned by a search is {self.search_max_results}"
            return 400, _error(400, "VALIDATION_ERROR", message), {}
        page = found[start : start + limit]
        wanted = body.get("properties") or []
        results = [
            {
                "id": rid,
                "properties": {n: props.get(n) for n in (*wanted, "hs_object_id")},
                "createdAt": _now(),
                "updatedAt": _now(),
                "archived": False,
            }
            for rid, props in page
        ]
        paging = {"next": {"after": str(start + len(page))}} if start + len(page) < len(found) else None
        return 200, {"total": len(found), "results": results, **({"paging": paging} if paging else {})}, {}

    def _groups_create(self, request: Request, object_type: str) -> Reply:
        body = request.json()
        if gated := self._gate(request):
            return gated
        if body["name"] in self.groups[object_type]:
            return (
                409,
                _error(409, "OBJECT_ALREADY_EXISTS", f"A group named '{body['name']}' already exists."),
                {},
            )
        self.groups[object_type].add(body["name"])
        return (
            201,
            {"name": body["name"], "label": body.get("label", ""), "displayOrder": -1, "archived": False},
            {},
        )
