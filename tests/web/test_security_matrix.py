"""The security matrix: every way a stranger tried to get in from outside, one row each, in process.

Each row sends one request and asserts its exact status, the JSON error body (`{"error", "status"}`) where
there is one, that no secret (configured or presented) is echoed in the answer, that the answer is no
redirect, and that the ledger holds nothing afterwards (every table of connector/store/models.py is
empty), except the few rows that show the right credentials are accepted, which store exactly one receipt.

Groups:
- shared-secret senders (every form plugin, wpforms unsigned, Calendly and Cal.com without a signature,
  Salesforce flow callouts and outbound messages) x every kind of wrong token;
- senders that sign: Calendly, Cal.com, WPForms, HubSpot v3, Salesforce's OrganizationId, our WordPress
  plugin (Standard Webhooks; it takes no token at all, neither does HubSpot);
- /collect: origin allowlist, CORS, preflight, the rate limit behind a forged X-Forwarded-For, its size limit;
- routing and ops: no 3xx anywhere, /metrics and /readyz name no secret.

No shared-secret source forbids `?token=` (senders that cannot set headers need it); the two that take no
token at all (HubSpot, WordPress) have rows for a valid token in the header and in the query.

The formerly unauthenticated 500s are rows here: Unicode digits in HubSpot's timestamp and in the
`t=` of Calendly / WPForms (`parse_timestamped`), non-ASCII `X-Cal-Signature-256`, and non-ASCII signatures
for every signed sender. Slow and endless bodies need a real server and are covered in
tests/web/test_slow_senders.py (408 after the body timeout, nothing stored), not repeated here.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.config import CollectSettings, Settings
from connector.sources.salesforce import ACK
from connector.store.models import Base
from tests.intake.helpers import FORM, JSON, cal_signature, fixture, standard_webhook, stripe_style
from tests.stages.conftest import hubspot_event, signed

PUBLIC_URL = "https://hooks.example.com"
ORIGIN = "https://www.example.com"
ORG_ID = "00D5g000004ErxKEAS"
"""The configured Salesforce org (18 characters); its 15-character form is ORG_ID[:15]."""

WORDPRESS_KEY = b"matrix-wordpress-hmac-key-012345"
SECRETS = {
    name: f"matrix-{name.replace('_', '-')}-secret-5f0c9a3e71b24d68"
    for name in (
        "generic",
        "gravity_forms",
        "contact_form_7",
        "wpforms",
        "elementor",
        "fluent_forms",
        "ninja_forms",
        "formidable",
        "calendly",
        "cal_com",
        "salesforce",
        "hubspot",
    )
}
SECRETS["wordpress"] = "whsec_" + base64.b64encode(WORDPRESS_KEY).decode()
WRONG = "matrix-wrong-token-9d2e71c04b5a"


def every_secret() -> list[str]:
    return [*SECRETS.values(), WORDPRESS_KEY.decode()]


@dataclass(frozen=True)
class Attempt:
    """One request, built when the row runs (signatures carry the current time)."""

    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    presented: tuple[str, ...] = ()
    """What the request carries that must never come back in the answer."""


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], Attempt]
    status: int = 401
    error: str | None = ""
    """A substring of the JSON `error`; None when the answer has no JSON error body (200, 204)."""
    settings: Callable[[Settings], Settings] | None = None
    stored: int = 0
    """Receipts the row leaves (only the rows where the right credentials are accepted store one)."""
    check: Callable[[Any], None] | None = None


def row(case: Case) -> Any:
    return pytest.param(case, id=case.id)


# -- the shared-secret senders --------------------------------------------------------------------

FLOW = {
    "object": "Opportunity",
    "records": [
        {"Id": "006000000000001AAA", "StageName": "Closed Won", "LastStageChangeDate": "2026-11-26T10:00:00Z"}
    ],
}


def outbound_message(org_id: str) -> bytes:
    """A Salesforce outbound message with one Opportunity notification from `org_id`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
        '<Notification><Id>04l000000000001AAA</Id><sObject xsi:type="sf:Opportunity" '
        'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>006000000000001AAA</sf:Id>'
        "<sf:StageName>Closed Won</sf:StageName>"
        "<sf:LastStageChangeDate>2026-11-26T10:00:00.000Z</sf:LastStageChangeDate>"
        "</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


@dataclass(frozen=True)
class Sender:
    source: str
    path: str
    content_type: str
    body: Callable[[], bytes]


SENDERS = {
    "generic": Sender(
        "generic",
        "/webhooks/forms/generic",
        JSON,
        lambda: json.dumps({"email": "lead@example.com", "event_id": "evt-matrix-1"}).encode(),
    ),
    "gravity_forms": Sender(
        "gravity_forms",
        "/webhooks/forms/gravity_forms",
        JSON,
        lambda: fixture("gravity_forms_all_fields.json"),
    ),
    "contact_form_7": Sender(
        "contact_form_7", "/webhooks/forms/contact_form_7", JSON, lambda: fixture("contact_form_7.json")
    ),
    "wpforms": Sender("wpforms", "/webhooks/forms/wpforms", JSON, lambda: fixture("wpforms.json")),
    "elementor": Sender(
        "elementor", "/webhooks/forms/elementor", FORM, lambda: fixture("elementor_simple.form")
    ),
    "fluent_forms": Sender(
        "fluent_forms", "/webhooks/forms/fluent_forms", JSON, lambda: fixture("fluent_forms.json")
    ),
    "ninja_forms": Sender(
        "ninja_forms", "/webhooks/forms/ninja_forms", JSON, lambda: fixture("ninja_forms.json")
    ),
    "formidable": Sender(
        "formidable", "/webhooks/forms/formidable", JSON, lambda: fixture("formidable.json")
    ),
    "calendly": Sender(
        "calendly", "/webhooks/booking/calendly", JSON, lambda: fixture("calendly_invitee_created.json")
    ),
    "cal_com": Sender(
        "cal_com", "/webhooks/booking/cal_com", JSON, lambda: fixture("cal_com_booking_created.json")
    ),
    "salesforce_flow": Sender(
        "salesforce", "/webhooks/crm/salesforce", JSON, lambda: json.dumps(FLOW).encode()
    ),
    "salesforce_outbound": Sender(
        "salesforce", "/webhooks/crm/salesforce", "text/xml; charset=utf-8", lambda: outbound_message(ORG_ID)
    ),
}


def other_source(source: str) -> str:
    """A different source's valid secret."""
    return SECRETS["cal_com" if source == "generic" else "generic"]


def token_in_body(sender: Sender, token: str) -> bytes:
    body = sender.body()
    if sender.content_type == FORM:
        return body.rstrip(b"&\n") + b"&token=" + token.encode()
    if "xml" in sender.content_type:
        return body.replace(b"<ActionId>", f"<token>{token}</token><ActionId>".encode())
    data = json.loads(body)
    data["token"] = token
    data["X-Connector-Token"] = token
    return json.dumps(data).encode()


TokenPlacement = Callable[[Sender], tuple[str, dict[str, str], bytes, tuple[str, ...]]]
"""sender -> (query string, headers, body, presented values)."""


def _header(value: Callable[[str], str]) -> TokenPlacement:
    def place(sender: Sender) -> tuple[str, dict[str, str], bytes, tuple[str, ...]]:
        token = value(sender.source)
        return "", {"X-Connector-Token": token}, sender.body(), (token,)

    return place


TOKEN_CASES: dict[str, tuple[TokenPlacement, str]] = {
    "missing": (lambda s: ("", {}, s.body(), ()), "missing credentials"),
    "empty": (lambda s: ("?token=", {"X-Connector-Token": ""}, s.body(), ()), "missing credentials"),
    "wrong": (_header(lambda source: WRONG), "invalid token"),
    "prefix-of-the-right-one": (_header(lambda source: SECRETS[source][:-1]), "invalid token"),
    "right-one-plus-a-suffix": (_header(lambda source: SECRETS[source] + "0"), "invalid token"),
    "another-sources-valid-token": (_header(other_source), "invalid token"),
    "non-ascii": (_header(lambda source: SECRETS[source][:-1] + "é"), "invalid token"),
    "wrong-header-right-query": (
        lambda s: (f"?token={SECRETS[s.source]}", {"X-Connector-Token": WRONG}, s.body(), (WRONG,)),
        "invalid token",
    ),
    "in-the-body": (
        lambda s: ("", {}, token_in_body(s, SECRETS[s.source]), (SECRETS[s.source],)),
        "missing credentials",
    ),
    "in-authorization-bearer": (
        lambda s: ("", {"Authorization": f"Bearer {SECRETS[s.source]}"}, s.body(), (SECRETS[s.source],)),
        "missing credentials",
    ),
    "in-another-header": (
        lambda s: (
            "",
            {"X-Api-Key": SECRETS[s.source], "X-Connector-Secret": SECRETS[s.source]},
            s.body(),
            (SECRETS[s.source],),
        ),
        "missing credentials",
    ),
    "in-another-query-parameter": (
        lambda s: (
            f"?secret={SECRETS[s.source]}&TOKEN={SECRETS[s.source]}&api_key={SECRETS[s.source]}",
            {},
            s.body(),
            (SECRETS[s.source],),
        ),
        "missing credentials",
    ),
}


def token_case(label: str, case: str) -> Case:
    sender = SENDERS[label]
    place, error = TOKEN_CASES[case]

    def build() -> Attempt:
        query, headers, body, presented = place(sender)
        return Attempt(
            sender.path + query, body, {"Content-Type": sender.content_type, **headers}, presented=presented
        )

    return Case(f"{label}-token-{case}", build, 401, error)


TOKEN_ROWS = [row(token_case(label, case)) for label in SENDERS for case in TOKEN_CASES]

# -- Calendly, Cal.com and WPForms signatures ------------------------------------------------------

CALENDLY = "/webhooks/booking/calendly"
CAL_COM = "/webhooks/booking/cal_com"
WPFORMS = "/webhooks/forms/wpforms"
SIGNATURE_HEADERS = {"calendly": "Calendly-Webhook-Signature", "wpforms": "X-WPForms-Webhook-Signature"}
VERSIONS = {"calendly": "v1", "wpforms": "v"}


def _timestamped(source: str, header: Callable[[bytes], str], query: str = "", tamper: bool = False) -> Case:
    """A Calendly or WPForms request whose signature header is `header(body)`."""
    sender = SENDERS[source]

    def build() -> Attempt:
        body = sender.body()
        value = header(body)
        sent = body.replace(b"@", b"+evil@", 1) if tamper else body
        headers = {"Content-Type": JSON, SIGNATURE_HEADERS[source]: value}
        return Attempt(sender.path + query, sent, headers, presented=(value,))

    return Case("", build)


def timestamped_rows(source: str) -> list[Any]:
    v = VERSIONS[source]
    secret = SECRETS[source]

    def valid_hex(body: bytes) -> str:
        return stripe_style(secret, body, v).split(f"{v}=", 1)[1]

    cases = {
        "signed-with-a-wrong-key": (lambda b: stripe_style("not-the-signing-key", b, v), "invalid signature"),
        "signed-with-another-sources-secret": (
            lambda b: stripe_style(SECRETS["generic"], b, v),
            "invalid signature",
        ),
        "timestamp-older-than-the-tolerance": (
            lambda b: stripe_style(secret, b, v, at=int(time.time()) - 600),
            "tolerance is 300s",
        ),
        "timestamp-in-the-future-beyond-the-tolerance": (
            lambda b: stripe_style(secret, b, v, at=int(time.time()) + 600),
            "tolerance is 300s",
        ),
        "timestamp-superscript-digits-formerly-500": (
            lambda b: f"t=\u00b2\u00b3,{v}={valid_hex(b)}",
            "malformed signature header",
        ),
        "timestamp-arabic-indic-digits-formerly-500": (
            lambda b: f"t=\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660,{v}={valid_hex(b)}",
            "malformed signature header",
        ),
        "timestamp-of-thousands-of-digits": (
            lambda b: f"t={'9' * 5000},{v}={valid_hex(b)}",
            "malformed signature header",
        ),
        "malformed-header": (lambda b: "garbage", "malformed signature header"),
        "header-without-timestamp": (lambda b: f"{v}={valid_hex(b)}", "malformed signature header"),
        "header-without-signature": (lambda b: f"t={int(time.time())}", "malformed signature header"),
        "signature-under-another-version": (
            lambda b: f"t={int(time.time())},v9={valid_hex(b)}",
            "malformed signature header",
        ),
        "non-ascii-signature": (lambda b: f"t={int(time.time())},{v}={'é' * 64}", "invalid signature"),
    }
    rows = [
        row(replace(_timestamped(source, header), id=f"{source}-{name}", error=error))
        for name, (header, error) in cases.items()
    ]
    rows.append(
        row(
            replace(
                _timestamped(source, lambda b: stripe_style(secret, b, v), tamper=True),
                id=f"{source}-valid-signature-over-another-body",
                error="invalid signature",
            )
        )
    )
    return rows


CALENDLY_ROWS = [
    *timestamped_rows("calendly"),
    row(
        replace(
            _timestamped(
                "calendly",
                lambda b: stripe_style("not-the-signing-key", b, "v1"),
                query=f"?token={SECRETS['calendly']}",
            ),
            id="calendly-wrong-signature-is-not-saved-by-the-right-url-token",
            error="invalid signature",
        )
    ),
]
WPFORMS_ROWS = [
    *timestamped_rows("wpforms"),
    row(
        replace(
            _timestamped("wpforms", lambda b: stripe_style(SECRETS["wpforms"], b, "v1")),
            id="wpforms-signed-in-calendlys-v1-format",
            error="malformed signature header",
        )
    ),
]


def _cal(
    name: str, signature: Callable[[bytes], str | None], error: str, query: str = "", tamper: bool = False
) -> Any:
    def build() -> Attempt:
        body = fixture("cal_com_booking_created.json")
        value = signature(body)
        headers = {"Content-Type": JSON, **({"X-Cal-Signature-256": value} if value is not None else {})}
        sent = body.replace(b"@", b"+evil@", 1) if tamper else body
        return Attempt(
            CAL_COM + query,
            sent,
            headers,
            presented=(value,) if value and value != "no-secret-provided" else (),
        )

    return row(Case(f"cal_com-{name}", build, 401, error))


CAL_COM_ROWS = [
    _cal("no-secret-provided-sentinel", lambda b: "no-secret-provided", "no-secret-provided"),
    _cal(
        "no-secret-provided-sentinel-even-with-the-right-url-token",
        lambda b: "no-secret-provided",
        "no-secret-provided",
        query=f"?token={SECRETS['cal_com']}",
    ),
    _cal("wrong-hex", lambda b: cal_signature("not-the-webhook-secret", b), "invalid signature"),
    _cal(
        "signed-with-another-sources-secret",
        lambda b: cal_signature(SECRETS["generic"], b),
        "invalid signature",
    ),
    _cal("non-ascii-signature-formerly-500", lambda b: "é" * 64, "invalid signature"),
    _cal("non-ascii-prefixed-signature-formerly-500", lambda b: "sha256=ü" + "0" * 56, "invalid signature"),
    _cal(
        "prefixed-right-hex", lambda b: "sha256=" + cal_signature(SECRETS["cal_com"], b), "invalid signature"
    ),
    _cal("truncated-right-hex", lambda b: cal_signature(SECRETS["cal_com"], b)[:-1], "invalid signature"),
    _cal(
        "valid-signature-over-another-body",
        lambda b: cal_signature(SECRETS["cal_com"], b),
        "invalid signature",
        tamper=True,
    ),
    _cal(
        "wrong-signature-is-not-saved-by-the-right-url-token",
        lambda b: cal_signature("not-the-webhook-secret", b),
        "invalid signature",
        query=f"?token={SECRETS['cal_com']}",
    ),
    _cal("signature-missing", lambda b: None, "missing credentials"),
]

# -- HubSpot v3 ------------------------------------------------------------------------------------

HUBSPOT = "/webhooks/crm/hubspot"
HUBSPOT_URL = PUBLIC_URL + HUBSPOT


def no_public_url(settings: Settings) -> Settings:
    return replace(settings, web=replace(settings.web, public_url=""))


def _hubspot(
    name: str,
    error: str,
    secret: str = SECRETS["hubspot"],
    url: str = HUBSPOT_URL,
    skew_ms: int = 0,
    change: Callable[[dict[str, str]], dict[str, str]] = lambda h: h,
    tamper: bool = False,
    path: str = HUBSPOT,
    settings: Callable[[Settings], Settings] | None = None,
) -> Any:
    def build() -> Attempt:
        now = int(time.time() * 1000)
        body, headers = signed([hubspot_event("1001", "closedwon", now)], secret, url, now + skew_ms)
        headers = change(dict(headers))
        sent = body.replace(b"closedwon", b"closedlost") if tamper else body
        return Attempt(path, sent, headers, presented=(headers.get("X-HubSpot-Signature-v3", ""),))

    return row(Case(f"hubspot-{name}", build, 401, error, settings=settings))


def _without(*names: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda h: {k: v for k, v in h.items() if k not in names}


def _with(**values: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda h: {**h, **{k.replace("_", "-"): v for k, v in values.items()}}


HUBSPOT_ROWS = [
    _hubspot("wrong-client-secret", "invalid HubSpot signature", secret="not-the-client-secret"),
    _hubspot("signed-with-another-sources-secret", "invalid HubSpot signature", secret=SECRETS["generic"]),
    _hubspot("timestamp-six-minutes-old", "older than 5 minutes", skew_ms=-6 * 60 * 1000),
    _hubspot("timestamp-six-minutes-in-the-future", "within the 5-minute window", skew_ms=6 * 60 * 1000),
    _hubspot(
        "timestamp-superscript-digits-formerly-500",
        "within the 5-minute window",
        change=_with(X_HubSpot_Request_Timestamp="\u00b2" * 13),
    ),
    _hubspot(
        "timestamp-arabic-indic-digits-formerly-500",
        "within the 5-minute window",
        change=_with(X_HubSpot_Request_Timestamp="\u0661" * 13),
    ),
    _hubspot(
        "timestamp-of-thousands-of-digits",
        "within the 5-minute window",
        change=_with(X_HubSpot_Request_Timestamp="9" * 5000),
    ),
    _hubspot(
        "non-ascii-signature",
        "invalid HubSpot signature",
        change=_with(X_HubSpot_Signature_v3="é" * 44),
    ),
    _hubspot(
        "signature-missing", "missing X-HubSpot-Signature-v3", change=_without("X-HubSpot-Signature-v3")
    ),
    _hubspot(
        "timestamp-missing", "X-HubSpot-Request-Timestamp", change=_without("X-HubSpot-Request-Timestamp")
    ),
    _hubspot("valid-signature-over-another-body", "invalid HubSpot signature", tamper=True),
    _hubspot(
        "signed-over-another-url-with-a-matching-host-header",
        f"invalid HubSpot signature for {HUBSPOT_URL}",
        url="https://evil.example" + HUBSPOT,
        change=_with(Host="evil.example"),
    ),
    _hubspot(
        "signed-over-the-test-clients-own-url",
        f"invalid HubSpot signature for {HUBSPOT_URL}",
        url="http://localhost" + HUBSPOT,
    ),
    _hubspot(
        "signed-over-the-url-without-its-query",
        "invalid HubSpot signature",
        path=HUBSPOT + "?portal=1",
    ),
    _hubspot(
        "no-public-url-signed-over-the-host-header-url",
        "web.public_url",
        url="http://hooks.example.com" + HUBSPOT,
        change=_with(Host="hooks.example.com"),
        settings=no_public_url,
    ),
    _hubspot(
        "no-public-url-even-a-request-signed-over-the-real-url",
        "web.public_url",
        change=_with(Host="hooks.example.com"),
        settings=no_public_url,
    ),
    row(
        Case(
            "hubspot-a-valid-connector-token-in-the-header-is-not-a-signature",
            lambda: Attempt(
                HUBSPOT,
                b"[]",
                {"Content-Type": JSON, "X-Connector-Token": SECRETS["hubspot"]},
                presented=(SECRETS["hubspot"],),
            ),
            401,
            "missing X-HubSpot-Signature-v3",
        )
    ),
    row(
        Case(
            "hubspot-a-valid-connector-token-in-the-query-is-not-a-signature",
            lambda: Attempt(
                f"{HUBSPOT}?token={SECRETS['hubspot']}",
                b"[]",
                {"Content-Type": JSON},
                presented=(SECRETS["hubspot"],),
            ),
            401,
            "missing X-HubSpot-Signature-v3",
        )
    ),
]

# -- Salesforce outbound messages: the OrganizationId ----------------------------------------------

SALESFORCE = f"/webhooks/crm/salesforce?token={SECRETS['salesforce']}"


def org_configured(org_id: str) -> Callable[[Settings], Settings]:
    return lambda s: replace(s, stages=replace(s.stages, salesforce_organization_id=org_id))


def _org(
    name: str,
    org_id: str,
    status: int = 401,
    configured: str | None = None,
    error: str | None = "OrganizationId",
) -> Any:
    def build() -> Attempt:
        return Attempt(SALESFORCE, outbound_message(org_id), {"Content-Type": "text/xml; charset=utf-8"})

    def acked(response: Any) -> None:
        assert response.get_data(as_text=True) == ACK
        assert response.headers["Content-Type"].startswith("text/xml")

    return row(
        Case(
            f"salesforce-outbound-{name}",
            build,
            status,
            error if status != 200 else None,
            settings=org_configured(configured) if configured is not None else None,
            stored=1 if status == 200 else 0,
            check=acked if status == 200 else None,
        )
    )


SALESFORCE_ROWS = [
    _org("another-org", "00D000000000999AAA"),
    _org("same-first-15-characters-other-checksum-suffix", ORG_ID[:15] + "AAB"),
    _org("same-first-15-characters-lower-case-suffix", ORG_ID[:15] + "eas"),
    _org("15-character-form-of-another-org", "00D000000000999"),
    _org("15-character-form-of-the-right-org-is-accepted", ORG_ID[:15], status=200),
    _org(
        "18-character-id-when-the-15-character-form-is-configured", ORG_ID, status=200, configured=ORG_ID[:15]
    ),
    _org(
        "other-suffix-when-the-15-character-form-is-configured",
        ORG_ID[:15] + "ZZZ",
        configured=ORG_ID[:15],
    ),
    _org("no-org-configured-refuses-every-message", ORG_ID, configured=""),
]

# -- our WordPress plugin: Standard Webhooks -------------------------------------------------------

WORDPRESS = "/webhooks/forms/wordpress"


def wordpress_entry() -> bytes:
    return json.dumps(
        {
            "v": 1,
            "type": "form_submission",
            "plugin": "contact_form_7",
            "form_id": "12",
            "entry_id": "345",
            "contact": {"email": "ada@example.com"},
            "attribution": {"event_id": "evt-matrix-wp", "first_utm_source": "chatgpt.com"},
        }
    ).encode()


def _wordpress(
    name: str,
    error: str,
    key: bytes = WORDPRESS_KEY,
    skew: int = 0,
    change: Callable[[dict[str, str]], dict[str, str]] = lambda h: h,
    tamper: bool = False,
    path: str = WORDPRESS,
) -> Any:
    def build() -> Attempt:
        body = wordpress_entry()
        headers = change(standard_webhook(key, body, "msg_matrix_1", int(time.time()) + skew))
        sent = body.replace(b"ada@", b"mallory@") if tamper else body
        return Attempt(path, sent, headers, presented=(headers.get("webhook-signature", ""),))

    return row(Case(f"wordpress-{name}", build, 401, error))


def _signed_for_another_id(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "webhook-id": "msg_matrix_2"}


def _signed_for_another_time(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}


def _token_instead(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": JSON, "X-Connector-Token": SECRETS["wordpress"]}


WORDPRESS_ROWS = [
    _wordpress("webhook-id-missing", "missing header(s) webhook-id", change=_without("webhook-id")),
    _wordpress(
        "webhook-timestamp-missing",
        "missing header(s) webhook-timestamp",
        change=_without("webhook-timestamp"),
    ),
    _wordpress(
        "webhook-signature-missing",
        "missing header(s) webhook-signature",
        change=_without("webhook-signature"),
    ),
    _wordpress(
        "every-signature-header-missing",
        "missing header(s) webhook-id, webhook-timestamp, webhook-signature",
        change=_without("webhook-id", "webhook-timestamp", "webhook-signature"),
    ),
    _wordpress("signed-with-a-wrong-key", "invalid signature", key=b"not-the-wordpress-key"),
    _wordpress(
        "signed-with-the-secret-text-instead-of-its-decoded-key",
        "invalid signature",
        key=SECRETS["wordpress"].encode(),
    ),
    _wordpress("signed-with-another-sources-secret", "invalid signature", key=SECRETS["generic"].encode()),
    _wordpress("timestamp-older-than-the-tolerance", "tolerance is 300s", skew=-600),
    _wordpress("timestamp-in-the-future-beyond-the-tolerance", "tolerance is 300s", skew=600),
    _wordpress(
        "timestamp-superscript-digits",
        "malformed webhook-timestamp",
        change=_with(webhook_timestamp="\u00b2\u00b3"),
    ),
    _wordpress(
        "timestamp-arabic-indic-digits",
        "malformed webhook-timestamp",
        change=_with(webhook_timestamp="\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660"),
    ),
    _wordpress(
        "timestamp-of-thousands-of-digits",
        "malformed webhook-timestamp",
        change=_with(webhook_timestamp="9" * 5000),
    ),
    _wordpress(
        "valid-signature-for-a-different-webhook-id", "invalid signature", change=_signed_for_another_id
    ),
    _wordpress(
        "valid-signature-for-a-different-timestamp", "invalid signature", change=_signed_for_another_time
    ),
    _wordpress("valid-signature-over-another-body", "invalid signature", tamper=True),
    _wordpress("non-ascii-signature", "invalid signature", change=_with(webhook_signature="v1," + "é" * 44)),
    _wordpress(
        "signature-of-another-version",
        "malformed webhook-signature",
        change=_with(webhook_signature="v2,abc"),
    ),
    _wordpress(
        "a-valid-connector-token-in-the-header-is-not-a-signature",
        "missing header(s)",
        change=_token_instead,
    ),
    _wordpress(
        "a-valid-connector-token-in-the-query-is-not-a-signature",
        "missing header(s)",
        change=lambda h: {"Content-Type": JSON},
        path=f"{WORDPRESS}?token={SECRETS['wordpress']}",
    ),
]

# -- /collect ------------------------------------------------------------------------------------

BEACON = {
    "v": 1,
    "type": "booking",
    "event_id": "evt-matrix-beacon",
    "provider": "calendly",
    "booking": {"invitee_uri": "https://api.calendly.com/scheduled_events/E/invitees/I", "event_uri": "x"},
    "attribution": {"first_utm_source": "chatgpt.com", "event_id": "evt-matrix-beacon"},
    "page": "https://www.example.com/book/",
}


def beacon(
    origin: str | None, body: dict[str, Any] = BEACON, method: str = "POST", **headers: str
) -> Callable[[], Attempt]:
    def build() -> Attempt:
        sent = {"Content-Type": "text/plain", **({"Origin": origin} if origin is not None else {}), **headers}
        return Attempt("/collect", json.dumps(body).encode() if method == "POST" else b"", sent, method)

    return build


def no_cors(response: Any) -> None:
    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"):
        assert name not in response.headers, name


def cors_for_origin(response: Any) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers.getlist("Access-Control-Allow-Origin") == [ORIGIN], "only that origin"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Vary"] == "Origin"


def cors_accepted(response: Any) -> None:
    cors_for_origin(response)
    assert response.get_json()["status"] == "accepted"


OVERSIZED = {**BEACON, "page": "https://www.example.com/" + "x" * 5000}

COLLECT_ROWS = [
    row(
        Case(
            "collect-origin-not-in-the-allowlist",
            beacon("https://evil.example"),
            403,
            "allowed_origins",
            check=no_cors,
        )
    ),
    row(Case("collect-no-origin", beacon(None), 403, "allowed_origins", check=no_cors)),
    row(Case("collect-origin-null", beacon("null"), 403, "allowed_origins", check=no_cors)),
    row(
        Case(
            "collect-origin-that-only-starts-with-an-allowed-one",
            beacon(ORIGIN + ".evil.example"),
            403,
            "allowed_origins",
            check=no_cors,
        )
    ),
    row(
        Case(
            "collect-allowed-host-over-http",
            beacon("http://www.example.com"),
            403,
            "allowed_origins",
            check=no_cors,
        )
    ),
    row(
        Case(
            "collect-allowed-origin-is-accepted-with-cors",
            beacon(ORIGIN),
            200,
            None,
            stored=1,
            check=cors_accepted,
        )
    ),
    row(
        Case(
            "collect-preflight-for-an-unlisted-origin",
            beacon("https://evil.example", method="OPTIONS", **{"Access-Control-Request-Method": "POST"}),
            204,
            None,
            check=no_cors,
        )
    ),
    row(
        Case(
            "collect-preflight-for-the-allowed-origin",
            beacon(ORIGIN, method="OPTIONS", **{"Access-Control-Request-Method": "POST"}),
            204,
            None,
            check=cors_for_origin,
        )
    ),
    row(
        Case(
            "collect-body-over-its-limit",
            beacon(ORIGIN, OVERSIZED),
            413,
            "4096-byte limit",
            check=cors_for_origin,
        )
    ),
    row(
        Case(
            "collect-body-over-its-limit-from-an-unlisted-origin",
            beacon("https://evil.example", OVERSIZED),
            403,
            "allowed_origins",
            check=no_cors,
        )
    ),
    row(Case("collect-get", beacon(ORIGIN, method="GET"), 405, "method not allowed")),
]

# -- routing: nothing redirects ---------------------------------------------------------------------

ROUTING_ROWS = [
    row(
        Case(
            "routing-trailing-slash-is-a-404-not-a-redirect",
            lambda: Attempt(
                "/webhooks/forms/generic/",
                SENDERS["generic"].body(),
                {"Content-Type": JSON, "X-Connector-Token": SECRETS["generic"]},
            ),
            404,
            "not found",
        )
    ),
    row(
        Case(
            "routing-collect-trailing-slash",
            lambda: Attempt(
                "/collect/", json.dumps(BEACON).encode(), {"Content-Type": "text/plain", "Origin": ORIGIN}
            ),
            404,
            "not found",
        )
    ),
    row(
        Case(
            "routing-get-on-a-webhook-with-the-right-token",
            lambda: Attempt(f"/webhooks/forms/generic?token={SECRETS['generic']}", method="GET"),
            405,
            "method not allowed",
        )
    ),
    row(
        Case(
            "routing-unknown-source-with-a-valid-token",
            lambda: Attempt(
                "/webhooks/forms/typeform",
                b"{}",
                {"Content-Type": JSON, "X-Connector-Token": SECRETS["generic"]},
            ),
            404,
            "no webhook source forms/typeform",
        )
    ),
    row(
        Case(
            "routing-the-beacon-source-is-not-a-webhook",
            lambda: Attempt("/webhooks/beacon/beacon", json.dumps(BEACON).encode(), {"Content-Type": JSON}),
            404,
            "no webhook source",
        )
    ),
    row(
        Case(
            "routing-a-source-under-another-family",
            lambda: Attempt(
                "/webhooks/crm/generic",
                SENDERS["generic"].body(),
                {"Content-Type": JSON, "X-Connector-Token": SECRETS["generic"]},
            ),
            404,
            "no webhook source crm/generic",
        )
    ),
]

ALL_ROWS = [
    *TOKEN_ROWS,
    *CALENDLY_ROWS,
    *CAL_COM_ROWS,
    *WPFORMS_ROWS,
    *HUBSPOT_ROWS,
    *SALESFORCE_ROWS,
    *WORDPRESS_ROWS,
    *COLLECT_ROWS,
    *ROUTING_ROWS,
]

# -- fixtures and the one check every row makes ---------------------------------------------------


@pytest.fixture
def secured(ctx, monkeypatch):  # type: ignore[no-untyped-def]
    """Every source with its own secret (read from the environment, as in production), the public URL,
    stage changes on for the configured Salesforce org, and /collect open to one origin."""
    for name, secret in SECRETS.items():
        monkeypatch.setenv(f"CONNECTOR_{name.upper()}_SECRET", secret)
    settings = ctx.settings
    ctx.settings = replace(
        settings,
        web=replace(settings.web, public_url=PUBLIC_URL),
        stages=replace(settings.stages, enabled=True, salesforce_organization_id=ORG_ID),
        collect=CollectSettings(allowed_origins=[ORIGIN]),
    )
    return ctx


def ledger_rows(ctx) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rows in every table of the ledger's models."""
    with ctx.sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def send(client, attempt: Attempt):  # type: ignore[no-untyped-def]
    return client.open(attempt.path, method=attempt.method, data=attempt.body, headers=attempt.headers)


def assert_refused_cleanly(response, case: Case, attempt: Attempt) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == case.status, response.get_data()[:300]
    assert not 300 <= response.status_code < 400 and "Location" not in response.headers, "no redirect"
    answer = (
        response.get_data(as_text=True) + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    )
    for secret in [*every_secret(), *attempt.presented]:
        if len(secret) >= 8:
            assert secret not in answer, f"the answer echoes {secret[:12]}..."
    if case.error is not None:
        body = response.get_json()
        assert set(body) == {"error", "status"} and body["status"] == case.status, body
        assert case.error in body["error"], body["error"]


@pytest.mark.parametrize("case", ALL_ROWS)
def test_security_matrix(secured, client, ctx, case: Case):
    if case.settings is not None:
        ctx.settings = case.settings(ctx.settings)
    attempt = case.build()
    # What the migrations wrote (e.g. the report's stage names) is there before any request.
    before = ledger_rows(ctx)
    response = send(client, attempt)
    assert_refused_cleanly(response, case, attempt)
    if case.check is not None:
        case.check(response)
    stored = ledger_rows(ctx)
    assert stored["receipts"] == case.stored, stored
    # ledger_counts is the receipts' own status counter (kept by triggers), not something else kept.
    kept = {
        name: n - before.get(name, 0)
        for name, n in stored.items()
        if name not in ("receipts", "ledger_counts") and n != before.get(name, 0)
    }
    assert kept == {}, "nothing else kept"


# -- controls: the right credentials in the right place are accepted (so a refusal above means the
# credentials, not a bad body) ---------------------------------------------------------------------------


@pytest.mark.parametrize("placement", ["header", "query"])
@pytest.mark.parametrize("label", list(SENDERS))
def test_control_the_right_token_is_accepted(secured, client, ctx, label, placement):
    sender = SENDERS[label]
    token = SECRETS[sender.source]
    query = f"?token={token}" if placement == "query" else ""
    headers = {"Content-Type": sender.content_type}
    if placement == "header":
        headers["X-Connector-Token"] = token
    response = client.post(sender.path + query, data=sender.body(), headers=headers)
    assert response.status_code == 200, response.get_data()[:300]
    assert token not in response.get_data(as_text=True)
    assert ledger_rows(ctx)["receipts"] == 1


def test_control_every_signed_sender_is_accepted(secured, client, ctx):
    calendly = fixture("calendly_invitee_created.json")
    cal_com = fixture("cal_com_booking_created.json")
    wpforms = fixture("wpforms.json")
    entry = wordpress_entry()
    now_ms = int(time.time() * 1000)
    hubspot_body, hubspot_headers = signed(
        [hubspot_event("1001", "closedwon", now_ms)], SECRETS["hubspot"], HUBSPOT_URL, now_ms
    )
    answers = [
        client.post(
            CALENDLY,
            data=calendly,
            headers={
                "Content-Type": JSON,
                "Calendly-Webhook-Signature": stripe_style(SECRETS["calendly"], calendly, "v1"),
            },
        ),
        client.post(
            CAL_COM,
            data=cal_com,
            headers={"Content-Type": JSON, "X-Cal-Signature-256": cal_signature(SECRETS["cal_com"], cal_com)},
        ),
        client.post(
            WPFORMS,
            data=wpforms,
            headers={
                "Content-Type": JSON,
                "X-WPForms-Webhook-Signature": stripe_style(SECRETS["wpforms"], wpforms, "v"),
            },
        ),
        client.post(WORDPRESS, data=entry, headers=standard_webhook(WORDPRESS_KEY, entry, "msg_matrix_1")),
        client.post(HUBSPOT, data=hubspot_body, headers=hubspot_headers),
        client.post(SALESFORCE, data=outbound_message(ORG_ID), headers={"Content-Type": "text/xml"}),
    ]
    assert [a.status_code for a in answers] == [200] * 6, [a.get_data()[:200] for a in answers]
    assert ledger_rows(ctx)["receipts"] == 6


# -- /collect's rate limit: a forged X-Forwarded-For buys nothing when it is not trusted ---------------


def distinct_beacon(n: int) -> dict[str, Any]:
    """A beacon for another booking (its own delivery key), so each accepted one is its own receipt."""
    uri = f"https://api.calendly.com/scheduled_events/E/invitees/I{n}"
    return {**BEACON, "event_id": f"evt-rl-{n}", "booking": {**BEACON["booking"], "invitee_uri": uri}}


def test_collect_rate_limit_is_not_bypassed_by_varying_x_forwarded_for(secured, client, ctx):
    ctx.settings = replace(
        ctx.settings, collect=CollectSettings(allowed_origins=[ORIGIN], rate_limit_per_minute=3)
    )
    answers = [
        client.post(
            "/collect",
            data=json.dumps(distinct_beacon(n)),
            headers={"Content-Type": "text/plain", "Origin": ORIGIN, "X-Forwarded-For": f"198.51.100.{n}"},
        )
        for n in range(6)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
    for limited in answers[3:]:
        body = limited.get_json()
        assert set(body) == {"error", "status"} and body["status"] == 429
        assert "3 beacons a minute" in body["error"] and int(limited.headers["Retry-After"]) >= 1
        cors_for_origin(limited)  # the page can read why
    assert ledger_rows(ctx)["receipts"] == 3, "the refused beacons stored nothing"


# -- ops endpoints name no secret --------------------------------------------------------------------


def test_metrics_readyz_and_healthz_name_no_secret(secured, client, ctx):
    # a few refused requests first, so every counter and label the matrix touches exists
    for label in SENDERS:
        client.post(
            SENDERS[label].path, data=b"{}", headers={"Content-Type": JSON, "X-Connector-Token": WRONG}
        )
        client.post(SENDERS[label].path + f"?token={other_source(SENDERS[label].source)}", data=b"{}")
    client.post(
        HUBSPOT, data=b"[]", headers={"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "1"}
    )
    for path in ("/metrics", "/readyz", "/healthz"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data()[:300])
        answer = response.get_data(as_text=True) + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for secret in [*every_secret(), WRONG]:
            assert secret not in answer, (path, secret[:12])
        assert "token=" not in answer and "secret-5f0c" not in answer, path
    assert ledger_rows(ctx)["receipts"] == 0
