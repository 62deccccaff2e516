"""Salesforce (POST /webhooks/crm/salesforce): SOAP outbound messages and JSON flow callouts.

The content type picks the format: `text/xml` is an outbound message (parsed with defusedxml, org id
checked, answered with the Ack envelope), `application/json` a flow HTTP callout. Both authenticate with
the source's secret: outbound messages cannot set headers, so their endpoint URL carries `?token=`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from connector.config import Settings, SourceSettings
from connector.events.stage_rules import STAGE_FIELDS
from connector.intake.base import Reply, body_digest
from connector.intake.body import parse_json
from connector.intake.errors import BadPayload, Unauthorized
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.sources.stage_base import StageSource
from connector.stages.changes import StageChange, StageDelivery
from connector.timeutil import parse_iso

log = logging.getLogger(__name__)

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

MAX_NOTIFICATIONS = 100
"""Salesforce sends at most this many notifications per message."""

ENTERED_AT_FIELDS = ("LastStageChangeDate", "LastModifiedDate", "SystemModstamp")
"""Record fields that say when the stage was entered, best first (select one in the outbound message)."""

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)
"""The only answer Salesforce counts as delivered."""


@register
class SalesforceSource(StageSource):
    name = "salesforce"

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> StageDelivery:
        if "xml" in request.content_type.lower():
            return _outbound_message(request.body)
        if "json" in request.content_type.lower():
            return _flow_callout(request.body)
        raise BadPayload("expected text/xml (outbound message) or application/json (flow callout)")

    def verify_parsed(self, parsed: StageDelivery, settings: Settings) -> None:
        """Stages must be on; outbound messages must come from the configured org."""
        super().verify_parsed(parsed, settings)
        org = parsed.organization_id
        if org is None:
            return
        expected = settings.stages.salesforce_organization_id
        if not expected or id18(org) != id18(expected):
            raise Unauthorized(
                f"OrganizationId {org} is not the configured stages.salesforce_organization_id"
            )

    def acknowledge(self, parsed: StageDelivery) -> Reply | None:
        if parsed.organization_id is None:
            return None
        return Reply(ACK, "text/xml; charset=utf-8")


CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(record_id: str) -> str:
    """A Salesforce id in its 18-character form: a 15-character id gains its case checksum, so the two
    forms of one id compare equal and an 18-character id with another suffix does not."""
    if len(record_id) != 15:
        return record_id
    suffix = ""
    for start in (0, 5, 10):
        chunk = record_id[start : start + 5]
        bits = sum(1 << n for n, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += CHECKSUM_ALPHABET[bits]
    return record_id + suffix


def _outbound_message(body: bytes) -> StageDelivery:
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise BadPayload(f"not a SOAP message: {exc}") from None
    except (LookupError, ValueError) as exc:  # an unknown or multi-byte encoding="..." in the declaration
        raise BadPayload(f"not a SOAP message: {exc}"[:200]) from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise BadPayload("no <notifications> element in the outbound message namespace")
    org = _text(notifications, "OrganizationId")
    if not org:
        raise BadPayload("notifications: missing OrganizationId")
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if not 1 <= len(items) <= MAX_NOTIFICATIONS:
        raise BadPayload(f"expected 1 to {MAX_NOTIFICATIONS} Notification elements, got {len(items)}")
    changes = []
    for n, item in enumerate(items):
        notification_id = _text(item, "Id")
        sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
        if not notification_id or sobject is None:
            raise BadPayload(f"Notification[{n}]: missing Id or sObject")
        obj = sobject.get(XSI_TYPE, "").rpartition(":")[2]
        values = {child.tag.rpartition("}")[2]: (child.text or "") for child in sobject}
        changes.append(_change(f"Notification[{n}]", obj, values, f"outbound:{notification_id}", "outbound"))
    return StageDelivery("salesforce", body_digest(body), tuple(changes), organization_id=org)


def _flow_callout(body: bytes) -> StageDelivery:
    """`{"object": "Opportunity", "records": [{"Id", "StageName", "LastStageChangeDate", ...}]}`; a record
    may carry `ChangeId` (e.g. the flow interview GUID) to name the delivery."""
    data = parse_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("records"), list) or not data["records"]:
        raise BadPayload('expected {"object": "Opportunity", "records": [{...}, ...]}')
    obj = str(data.get("object") or "")
    changes = []
    for n, values in enumerate(data["records"][:MAX_NOTIFICATIONS]):
        if not isinstance(values, dict):
            raise BadPayload(f"records[{n}]: expected an object")
        values = {k: "" if v is None else str(v) for k, v in values.items()}
        change = _change(f"records[{n}]", obj, values, "", "flow")
        key = values.get("ChangeId") or change.change_key
        changes.append(_with_key(change, f"flow:{key}"))
    return StageDelivery("salesforce", body_digest(body), tuple(changes))


def _change(where: str, obj: str, values: dict[str, str], key: str, via: str) -> StageChange:
    if obj not in ("Opportunity", "Lead"):
        raise BadPayload(f"{where}: expected an Opportunity or Lead, got {obj!r}")
    stage_field = STAGE_FIELDS[obj]
    if not values.get("Id") or not values.get(stage_field):
        raise BadPayload(f"{where}: select Id and {stage_field} in the message")
    entered = _entered_at(values)
    if entered is None:
        raise BadPayload(f"{where}: select one of {', '.join(ENTERED_AT_FIELDS)} to date the change")
    return StageChange(
        crm="salesforce",
        object_type=obj,
        record_id=values["Id"],
        stage=values[stage_field],
        entered_at=entered,
        delivery_key=key,
        via=via,
        fields={k: v for k, v in values.items() if k not in ("Id", stage_field)},
    )


def _with_key(change: StageChange, key: str) -> StageChange:
    from dataclasses import replace

    return replace(change, delivery_key=key)


def _entered_at(values: dict[str, str]) -> datetime | None:
    for name in ENTERED_AT_FIELDS:
        moment = parse_iso(values.get(name))
        if moment is not None:
            return moment
    return None


def _text(parent: Element, name: str) -> str:
    found = parent.find(f"{{{OUTBOUND_NS}}}{name}")
    return (found.text or "").strip() if found is not None else ""
