"""Salesforce REST double over TLS on loopback: OAuth, describe, SOQL subset, sObject Collections, Tooling."""

from __future__ import annotations

import itertools
import re
import ssl
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import trustme

from tests.doubles.crm_http import LoopbackServer, Reply, Request

V = r"/services/data/v\d+\.\d"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _field(name: str, type_: str = "string", length: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": type_,
        "length": length,
        "createable": True,
        "updateable": True,
        "externalId": False,
        "unique": False,
        "nillable": True,
        "picklistValues": [],
        "restrictedPicklist": False,
        "custom": name.endswith("__c"),
        **extra,
    }


READ_ONLY = {"createable": False, "updateable": False}
STANDARD = {
    "Lead": [
        _field("Id", "id", 18, **READ_ONLY),
        _field("Email", "email", 80),
        _field("FirstName", length=40),
        _field("LastName", length=80, nillable=False),
        _field("Company", length=255, nillable=False),
        _field("Phone", "phone", 40),
        _field("LeadSource", "picklist", 255, picklistValues=[{"value": "Web", "active": True}]),
        _field(
            "Status",
            "picklist",
            255,
            picklistValues=[
                {"value": v, "active": True} for v in ("Open", "Working", "Qualified", "Unqualified")
            ],
        ),
        _field("CreatedDate", "datetime", **READ_ONLY),
        _field("IsConverted", "boolean", **READ_ONLY),
        _field("ConvertedOpportunityId", "reference", 18, **READ_ONLY),
        _field("ConvertedContactId", "reference", 18, **READ_ONLY),
    ],
    "Contact": [
        _field("Id", "id", 18, **READ_ONLY),
        _field("Email", "email", 80),
        _field("FirstName", length=40),
        _field("LastName", length=80, nillable=False),
        _field("Phone", "phone", 40),
        _field("CreatedDate", "datetime", **READ_ONLY),
    ],
    "Opportunity": [
        _field("Id", "id", 18, **READ_ONLY),
        _field("Name", length=120),
        _field(
            "StageName",
            "picklist",
            255,
            picklistValues=[
                {"value": v, "label": v, "active": True}
                for v in ("Prospecting", "Qualification", "Negotiation", "Closed Won", "Closed Lost")
            ],
        ),
        _field("Amount", "currency"),
        _field("CloseDate", "date"),
        _field("LastStageChangeDate", "datetime", **READ_ONLY),
        _field("CreatedDate", "datetime", **READ_ONLY),
    ],
    "OpportunityContactRole": [
        _field("Id", "id", 18, **READ_ONLY),
        _field("OpportunityId", "reference", 18),
        _field("ContactId", "reference", 18),
        _field("IsPrimary", "boolean"),
    ],
    "OpportunityHistory": [
        _field("Id", "id", 18, **READ_ONLY),
        _field("OpportunityId", "reference", 18, **READ_ONLY),
        _field("StageName", "picklist", 255, **READ_ONLY),
        _field("Amount", "currency", **READ_ONLY),
        _field("CreatedDate", "datetime", **READ_ONLY),
    ],
}
REQUIRED_ON_CREATE = {"Lead": ("LastName", "Company"), "Contact": ("LastName",)}
PREFIX = {"Lead": "00Q", "Contact": "003", "Opportunity": "006", "OpportunityContactRole": "00K"}
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
_SOQL = re.compile(
    r"^SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)(?:\s+WHERE\s+(?P<field>\w+)\s*"
    r"(?P<op>=|IN|>)\s*(?P<values>\(.*\)|'(?:[^'\\]|\\.)*'|[\w:.+-]+))?(?:\s+ORDER BY\s+(?P<order>\w+)"
    r"(?:\s+(?P<dir>ASC|DESC))?)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))


def _errors(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


class SalesforceDouble:
    """In-memory org: `records[object][Id]`; injectable expiry, limits, locks and duplicate rules."""

    def __init__(
        self,
        client_id: str = "test-client",
        client_secret: str = "test-secret",
        public_key: str | None = None,
    ):
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._tmp = tempfile.TemporaryDirectory()
        self.ca_file = str(Path(self._tmp.name) / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.server = LoopbackServer(context)
        self.client_id, self.client_secret, self.public_key = client_id, client_secret, public_key
        self.tokens: set[str] = set()
        self.token_counter = itertools.count(1)
        self.ids = itertools.count(1)
        self.clock = itertools.count(1)
        self.fields = {obj: {f["name"]: dict(f) for f in fields} for obj, fields in STANDARD.items()}
        self.records: dict[str, dict[str, dict[str, Any]]] = {obj: {} for obj in STANDARD}
        self.duplicate_rules: dict[str, str] = {}
        self.limit_exceeded_next = 0
        self.fail_status_next: list[int] = []
        self.lock_values: set[str] = set()
        self.tooling_allowed = True
        self.queries: list[str] = []
        s = self.server
        s.route("POST", r"/services/oauth2/token", "token", self._token)
        s.route("GET", V + r"/sobjects/(\w+)/describe/?", "describe", self._describe)
        s.route("GET", V + r"/query/?", "query", self._query)
        s.route("POST", V + r"/composite/sobjects/?", "collections_create", self._create)
        s.route("PATCH", V + r"/composite/sobjects/?", "collections_update", self._update)
        s.route("PATCH", V + r"/composite/sobjects/(\w+)/(\w+)/?", "collections_upsert", self._upsert)
        s.route("POST", V + r"/tooling/sobjects/CustomField/?", "tooling_customfield", self._custom_field)

    # -- lifecycle and test helpers
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def calls(self) -> Any:
        return self.server.calls

    def start(self) -> SalesforceDouble:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self._tmp.cleanup()

    def issue_token(self) -> str:
        token = f"00Dtest!token{next(self.token_counter)}"
        self.tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def add_field(self, obj: str, name: str, type_: str = "string", length: int = 255, **extra: Any) -> None:
        self.fields[obj][name] = _field(name, type_, length, **extra)

    def add_record(self, obj: str, **values: Any) -> str:
        record_id = f"{PREFIX.get(obj, 'a00')}{next(self.ids):015d}"
        created = (_EPOCH + timedelta(minutes=next(self.clock))).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        self.records[obj][record_id] = {"Id": record_id, "CreatedDate": created, **values}
        return record_id

    def convert_lead(
        self, lead_id: str, amount: float, stage: str = "Prospecting", **opportunity: Any
    ) -> str:
        """Lead conversion as Salesforce does it: a Contact, an Opportunity with a contact role, and the
        Lead marked converted (custom Lead fields are not copied: no field mapping configured)."""
        lead = self.records["Lead"][lead_id]
        contact_id = self.add_record(
            "Contact", Email=lead.get("Email"), FirstName=lead.get("FirstName"), LastName=lead.get("LastName")
        )
        opp_id = self.add_record(
            "Opportunity", Name=f"{lead.get('Company')} deal", Amount=amount, **opportunity
        )
        self.set_stage(opp_id, stage)
        self.add_record("OpportunityContactRole", OpportunityId=opp_id, ContactId=contact_id, IsPrimary=True)
        lead.update(IsConverted=True, ConvertedOpportunityId=opp_id, ConvertedContactId=contact_id)
        return opp_id

    def set_stage(self, opp_id: str, stage: str, at: datetime | None = None) -> str:
        """Move an opportunity: StageName, LastStageChangeDate and an OpportunityHistory row; returns the
        entry time as Salesforce writes it."""
        moment = at or datetime.now(UTC)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
        opp = self.records["Opportunity"][opp_id]
        opp.update(StageName=stage, LastStageChangeDate=stamp)
        history_id = f"008{next(self.ids):015d}"
        self.records["OpportunityHistory"][history_id] = {
            "Id": history_id,
            "OpportunityId": opp_id,
            "StageName": stage,
            "Amount": opp.get("Amount"),
            "CreatedDate": stamp,
        }
        return stamp

    def outbound_message(self, org_id: str, notifications: list[tuple[str, str, dict[str, Any]]]) -> bytes:
        """The SOAP body of an outbound message: (notification id, object, selected fields) each."""
        items = "".join(
            f"<Notification><Id>{nid}</Id>"
            f'<sObject xsi:type="sf:{obj}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            + "".join(f"<sf:{k}>{v}</sf:{k}>" for k, v in fields.items())
            + "</sObject></Notification>"
            for nid, obj, fields in notifications
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
            f"<OrganizationId>{org_id}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
            '<SessionId xsi:nil="true"/>'
            f"<EnterpriseUrl>{self.url}/services/Soap/c/59.0/00D</EnterpriseUrl>"
            f"<PartnerUrl>{self.url}/services/Soap/u/59.0/00D</PartnerUrl>"
            f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
        ).encode()

    def find(self, obj: str, field: str, value: str) -> list[dict[str, Any]]:
        return [r for r in self.records[obj].values() if str(r.get(field) or "").lower() == value.lower()]

    # -- shared request checks
    def _gate(self, request: Request) -> Reply | None:
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return 401, _errors("INVALID_SESSION_ID", "Session expired or invalid"), {}
        if self.limit_exceeded_next > 0:
            self.limit_exceeded_next -= 1
            return 403, _errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), {}
        if self.fail_status_next:
            status = self.fail_status_next.pop(0)
            return status, _errors("SERVER_UNAVAILABLE", "Server temporarily unavailable"), {}
        return None

    def _ok(self, payload: Any, status: int = 200) -> Reply:
        return status, payload, {"Sforce-Limit-Info": f"api-usage={self.calls['total']}/15000"}

    # -- OAuth
    def _token(self, request: Request) -> Reply:
        form = request.form()
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self.public_key or "",
                    algorithms=["RS256"],
                    options={"verify_signature": self.public_key is not None, "verify_aud": False},
                )
            except jwt.PyJWTError as exc:
                return 400, {"error": "invalid_grant", "error_description": f"invalid assertion: {exc}"}, {}
            if claims.get("iss") != self.client_id or not claims.get("sub"):
                return (
                    400,
                    {"error": "invalid_client_id", "error_description": "client identifier invalid"},
                    {},
                )
        elif grant == "client_credentials":
            if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}, {}
        else:
            return (
                400,
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                {},
            )
        return (
            200,
            {
                "access_token": self.issue_token(),
                "instance_url": self.url,
                "token_type": "Bearer",
                "id": f"{self.url}/id/00D/005",
                "issued_at": "1767225600000",
                "signature": "x",
            },
            {},
        )

    # -- describe and query
    def _describe(self, request: Request, obj: str) -> Reply:
        if gated := self._gate(request):
            return gated
        if obj not in self.fields:
            return 404, _errors("NOT_FOUND", f"The requested resource does not exist: {obj}"), {}
        return self._ok({"name": obj, "fields": list(self.fields[obj].values()), "createable": True})

    def _query(self, request: Request) -> Reply:
        if gated := self._gate(request):
            return gated
        soql = request.query.get("q", [""])[0]
        self.queries.append(soql)
        parsed = _SOQL.match(soql.strip())
        if not parsed or parsed["object"] not in self.fields:
            return 400, _errors("MALFORMED_QUERY", f"unsupported query: {soql}"), {}
        obj = parsed["object"]
        names = [n.strip() for n in parsed["fields"].split(",")]
        unknown = [n for n in names + [parsed["field"] or "Id"] if n not in self.fields[obj]]
        if unknown:
            return 400, _errors("INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{obj}'"), {}
        rows = list(self.records[obj].values())
        if parsed["field"] and parsed["op"] == ">":
            since = _instant(parsed["values"])
            rows = [r for r in rows if r.get(parsed["field"]) and _instant(r[parsed["field"]]) > since]
        elif parsed["field"]:
            wanted = {v.replace("\\'", "'").lower() for v in _QUOTED.findall(parsed["values"])}
            rows = [r for r in rows if str(r.get(parsed["field"]) or "").lower() in wanted]
        if parsed["order"]:
            rows.sort(
                key=lambda r: str(r.get(parsed["order"]) or ""),
                reverse=(parsed["dir"] or "").upper() == "DESC",
            )
        records = [
            {
                "attributes": {"type": obj, "url": f"/services/data/v59.0/sobjects/{obj}/{r['Id']}"},
                **{n: r.get(n) for n in names},
            }
            for r in rows
        ]
        return self._ok({"totalSize": len(records), "done": True, "records": records})

    # -- sObject Collections
    def _check_batch(self, body: Any, obj_hint: str | None = None) -> Reply | None:
        records = body.get("records", []) if isinstance(body, dict) else []
        if len(records) > 200:
            return (
                400,
                _errors("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records"),
                {},
            )
        for record in records:
            obj = (record.get("attributes") or {}).get("type") or obj_hint
            if obj not in self.fields:
                return 400, _errors("INVALID_TYPE", f"sObject type '{obj}' is not supported."), {}
            for name in record:
                if name != "attributes" and name not in self.fields[obj]:
                    return (
                        400,
                        _errors("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}"),
                        {},
                    )
        return None

    def _record_errors(self, obj: str, values: dict[str, Any], creating: bool) -> list[dict[str, Any]]:
        errors = []
        for name, value in values.items():
            spec = self.fields[obj][name]
            if not spec["createable" if creating else "updateable"] and name != "Id":
                errors.append(
                    {
                        "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "message": f"Unable to create/update fields: {name}.",
                        "fields": [name],
                    }
                )
            elif (
                spec["length"]
                and isinstance(value, str)
                and len(value) > spec["length"]
                and spec["type"] != "id"
            ):
                errors.append(
                    {
                        "statusCode": "STRING_TOO_LONG",
                        "fields": [name],
                        "message": f"{name}: data value too large: {value[:20]}... "
                        f"(max length={spec['length']})",
                    }
                )
            elif spec["restrictedPicklist"] and value not in [p["value"] for p in spec["picklistValues"]]:
                errors.append(
                    {
                        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        "fields": [name],
                        "message": f"{name}: bad value for restricted picklist field: {value}",
                    }
                )
        if creating:
            missing = [n for n in REQUIRED_ON_CREATE.get(obj, ()) if not values.get(n)]
            if missing:
                errors.append(
                    {
                        "statusCode": "REQUIRED_FIELD_MISSING",
                        "fields": missing,
                        "message": f"Required fields are missing: [{', '.join(missing)}]",
                    }
                )
        if any(str(v).lower() in self.lock_values for v in values.values()):
            errors.append(
                {
                    "statusCode": "UNABLE_TO_LOCK_ROW",
                    "fields": [],
                    "message": "unable to obtain exclusive access to this record",
                }
            )
        return errors

    def _duplicate(self, obj: str, values: dict[str, Any]) -> dict[str, Any] | None:
        field = self.duplicate_rules.get(obj)
        if not field or not values.get(field):
            return None
        matches = self.find(obj, field, str(values[field]))
        if not matches:
            return None
        match_records = [
            {
                "additionalInformation": [],
                "fieldDiffs": [],
                "matchConfidence": 100.0,
                "record": {"attributes": {"type": obj}, "Id": m["Id"]},
            }
            for m in matches
        ]
        return {
            "statusCode": "DUPLICATES_DETECTED",
            "fields": [],
            "message": "Use one of these records?",
            "duplicateResult": {
                "allowSave": False,
                "duplicateRule": f"Standard_Rule_for_{obj}s",
                "duplicateRuleEntityType": obj,
                "errorMessage": "Use one of these records?",
                "matchResults": [
                    {
                        "entityType": obj,
                        "errors": [],
                        "matchEngine": "ExactMatchEngine",
                        "matchRecords": match_records,
                        "rule": f"Standard_{obj}_Match_Rule",
                        "size": len(matches),
                        "success": True,
                    }
                ],
            },
        }

    def _save(self, obj: str, record: dict[str, Any], existing_id: str | None) -> dict[str, Any]:
        values = {k: v for k, v in record.items() if k != "attributes"}
        creating = existing_id is None
        errors = self._record_errors(obj, {k: v for k, v in values.items() if k != "Id"}, creating)
        if not errors and creating and (duplicate := self._duplicate(obj, values)):
            errors = [duplicate]
        if errors:
            return {"id": existing_id, "success": False, "errors": errors}
        if creating:
            return {"id": self.add_record(obj, **values), "success": True, "errors": [], "created": True}
        self.records[obj][existing_id].update({k: v for k, v in values.items() if k != "Id"})
        return {"id": existing_id, "success": True, "errors": [], "created": False}

    def _create(self, request: Request) -> Reply:
        body = request.json()
        if (gated := self._gate(request)) or (bad := self._check_batch(body)):
            return gated or bad
        results = []
        for record in body["records"]:
            result = self._save(record["attributes"]["type"], record, None)
            result.pop("created", None)
            results.append(result)
        return self._ok(results)

    def _update(self, request: Request) -> Reply:
        body = request.json()
        if (gated := self._gate(request)) or (bad := self._check_batch(body)):
            return gated or bad
        results = []
        for record in body["records"]:
            obj = record["attributes"]["type"]
            if record.get("Id") not in self.records[obj]:
                results.append(
                    {
                        "id": record.get("Id"),
                        "success": False,
                        "errors": [
                            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}
                        ],
                    }
                )
                continue
            result = self._save(obj, record, record["Id"])
            result.pop("created", None)
            results.append(result)
        return self._ok(results)

    def _upsert(self, request: Request, obj: str, ext_field: str) -> Reply:
        body = request.json()
        if (gated := self._gate(request)) or (bad := self._check_batch(body, obj)):
            return gated or bad
        if not self.fields[obj].get(ext_field, {}).get("externalId"):
            return 400, _errors("INVALID_FIELD", f"{ext_field} is not an External ID field on {obj}"), {}
        results = []
        for record in body["records"]:
            matches = self.find(obj, ext_field, str(record.get(ext_field) or ""))
            if len(matches) > 1:
                ids = ", ".join(m["Id"] for m in matches)
                results.append(
                    {
                        "id": None,
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "DUPLICATE_EXTERNAL_ID",
                                "fields": [ext_field],
                                "message": f"{ext_field}: more than one record found for external id field: "
                                f"[{ids}]",
                            }
                        ],
                    }
                )
                continue
            results.append(self._save(obj, record, matches[0]["Id"] if matches else None))
        return self._ok(results)

    # -- Tooling API
    def _custom_field(self, request: Request) -> Reply:
        body = request.json()
        if gated := self._gate(request):
            return gated
        if not self.tooling_allowed:
            return 403, _errors("INSUFFICIENT_ACCESS", "insufficient access rights on cross-reference id"), {}
        obj, _, name = body.get("FullName", "").partition(".")
        meta = body.get("Metadata") or {}
        if (
            obj not in self.fields
            or not name.endswith("__c")
            or not meta.get("type")
            or not meta.get("label")
        ):
            return (
                400,
                _errors("FIELD_INTEGRITY_EXCEPTION", f"invalid CustomField {body.get('FullName')}"),
                {},
            )
        if name in self.fields[obj]:
            return (
                400,
                _errors("DUPLICATE_DEVELOPER_NAME", f"There is already a field named {name} on {obj}."),
                {},
            )
        kind = {"Text": "string", "LongTextArea": "textarea", "DateTime": "datetime", "Date": "date"}
        self.add_field(obj, name, kind.get(meta["type"], "string"), int(meta.get("length") or 0))
        return self._ok({"id": f"00N{next(self.ids):015d}", "success": True, "errors": []}, 201)
