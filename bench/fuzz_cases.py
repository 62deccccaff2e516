"""Fuzz cases for every intake endpoint: valid seed requests per source, mutated reproducibly, signed or not.

`cases(family, count, seed, ...)` yields `Case`s: the exact bytes of one HTTP/1.1 request each. About half carry
valid credentials for the (mutated) body they send (the token, or a signature computed over those exact
bytes), so the parsers behind authentication are exercised, not only the 401 path. The other half carry
missing, wrong, malformed or hostile credentials. Cases are built lazily, just before they are sent, so the
timestamps that signatures carry stay inside the senders' tolerance windows.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "intake"

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
ORIGIN = "https://www.example.com"
ORG_ID = "00D000000000001AAA"
"""The Salesforce org id the served connector is configured with (outbound messages must carry it)."""

FORM_SOURCES = (
    "generic",
    "gravity_forms",
    "contact_form_7",
    "wpforms",
    "elementor",
    "fluent_forms",
    "ninja_forms",
    "formidable",
    "wordpress",
)
BOOKING_SOURCES = ("calendly", "cal_com", "beacon")
CRM_SOURCES = ("hubspot", "salesforce")
FAMILIES = {"forms": FORM_SOURCES, "bookings": BOOKING_SOURCES, "crm": CRM_SOURCES}
"""Endpoint family -> the sources whose endpoints it fuzzes (`beacon` is POST /collect)."""

SECRETS = {name: f"fuzz-{name}-secret-0123456789" for name in FORM_SOURCES + BOOKING_SOURCES + CRM_SOURCES}
SECRETS["wordpress"] = "whsec_" + base64.b64encode(b"fuzz-wordpress-signing-key-0123456789").decode()
del SECRETS["beacon"]  # public: /collect checks the origin instead

MAX_BODY_BYTES = 1024 * 1024
"""The served connector's intake.max_body_bytes (its default)."""

MAX_BEACON_BYTES = 4096
"""The served connector's collect.max_body_bytes (its default)."""

ID_KEYS = frozenset(
    {"event_id", "id", "entry_id", "uri", "uid", "invitee_uri", "eventId", "objectId", "Id", "ChangeId"}
)
"""Keys whose values name a delivery: made unique per case, so valid cases are stored, not duplicates."""


def server_env(public_url: str) -> dict[str, str]:
    """The environment `connector serve` needs so every fuzzed source accepts valid requests."""
    env = {f"CONNECTOR_{name.upper()}_SECRET": secret for name, secret in SECRETS.items()}
    env.update(
        CONNECTOR_WEB__PUBLIC_URL=public_url,
        CONNECTOR_STAGES__ENABLED="true",
        CONNECTOR_STAGES__SALESFORCE_ORGANIZATION_ID=ORG_ID,
        CONNECTOR_COLLECT__ALLOWED_ORIGINS=json.dumps([ORIGIN]),
        CONNECTOR_COLLECT__RATE_LIMIT_PER_MINUTE="100000000",  # the parser, not the limiter, is fuzzed
        CONNECTOR_COLLECT__COOKIE="true",
    )
    return env


@dataclass
class Case:
    """One request: where it goes, its headers and body as sent, and how it was made."""

    family: str
    source: str
    mutation: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    authenticated: bool
    sends: int = 1
    """2: a replayed delivery (the same bytes again once the first answer is in)."""
    neighbour: str | None = None
    """The event_id of a neighbour (a valid generic webhook that must be accepted)."""
    chunked: bool = False

    def request(self, host: str) -> bytes:
        """The request as bytes on the wire (Connection: close, so one answer per connection)."""
        head = [b"POST " + self.path.encode("latin-1") + b" HTTP/1.1", b"Host: " + host.encode()]
        head += [name + b": " + value for name, value in self.headers]
        body = self.body
        if self.chunked:
            head.append(b"Transfer-Encoding: chunked")
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in _pieces(body)) + b"0\r\n\r\n"
        else:
            head.append(b"Content-Length: " + str(len(body)).encode())
        head.append(b"Connection: close")
        return b"\r\n".join(head) + b"\r\n\r\n" + body

    def describe(self) -> str:
        return (
            f"{self.family}/{self.source} {self.mutation} ({'signed' if self.authenticated else 'unsigned'})"
        )


def _pieces(body: bytes, size: int = 16384) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)] or []


# -- seeds: valid requests per source -----------------------------------------------------------------


@dataclass
class Seed:
    kind: str
    """`json` (value is the decoded document), `form` (a list of key/value pairs) or `xml` (a template)."""
    value: Any
    content_type: str = JSON


def _fixture(name: str) -> Seed:
    raw = (FIXTURES / name).read_text()
    if name.endswith(".form"):
        return Seed("form", parse_qsl(raw, keep_blank_values=True), FORM)
    return Seed("json", json.loads(raw))


GENERIC = {
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "event_id": "evt-fuzz",
    "first_utm_source": "chatgpt.com",
    "first_utm_medium": "referral",
    "latest_utm_source": "perplexity",
    "oppref": "b3BwcmVmLWV4YW1wbGU=",
    "conversion_page": "https://example.com/demo",
    "submitted_at": "2026-11-20T10:00:00Z",
    "consent": "granted",
    "form_id": "contact",
}
WORDPRESS = {
    "v": 1,
    "type": "form_submission",
    "plugin": "contact_form_7",
    "form_id": "12",
    "form_name": "Contact",
    "entry_id": "345",
    "page_url": "https://example.com/pricing",
    "submitted_at": "2026-12-01T10:00:00Z",
    "site": "https://example.com",
    "contact": {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace"},
    "attribution": {"event_id": "evt-wp", "first_utm_source": "chatgpt.com", "consent": "granted"},
    "fields": {"Your message": "Hello", "Topics": ["pricing", "demo"]},
}
BEACON_BOOKING = {
    "v": 1,
    "type": "booking",
    "event_id": "evt-b",
    "provider": "calendly",
    "booking": {"invitee_uri": "https://api.calendly.com/scheduled_events/E/invitees/I", "event_uri": "x"},
    "attribution": {"first_utm_source": "chatgpt.com", "event_id": "evt-b"},
    "page": "https://www.example.com/book/",
    "ts": "2026-11-20T10:00:00Z",
}
BEACON_TOUCH = {
    "v": 1,
    "type": "touch",
    "event_id": "evt-t",
    "attribution": {"latest_utm_source": "chatgpt.com", "latest_landing_page": "https://www.example.com/"},
    "page": "https://www.example.com/",
    "ts": "2026-11-20T10:00:00Z",
}
HUBSPOT_EVENT = {
    "eventId": 1,
    "subscriptionId": 4711,
    "portalId": 62515,
    "appId": 1234,
    "occurredAt": 1764000000000,
    "subscriptionType": "deal.propertyChange",
    "attemptNumber": 0,
    "objectId": 1001,
    "propertyName": "dealstage",
    "propertyValue": "closedwon",
    "changeSource": "CRM_UI",
}
FLOW = {
    "object": "Opportunity",
    "records": [
        {"Id": "006000000000001AAA", "StageName": "Closed Won", "LastStageChangeDate": "2026-11-20T10:00:00Z"}
    ],
}
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
OUTBOUND = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f'<soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
    "<OrganizationId>{org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
    '<SessionId xsi:nil="true"/>{items}</notifications></soapenv:Body></soapenv:Envelope>'
)
NOTIFICATION = (
    "<Notification><Id>{nid}</Id>"
    '<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
    "<sf:Id>{rid}</sf:Id><sf:StageName>{stage}</sf:StageName>"
    "<sf:LastStageChangeDate>2026-11-20T10:00:00Z</sf:LastStageChangeDate></sObject></Notification>"
)


def seeds() -> dict[str, list[Seed]]:
    """Valid bodies per source: the intake test fixtures plus our own JSON contracts."""
    found: dict[str, list[Seed]] = {name: [] for name in SECRETS}
    for path in sorted(FIXTURES.iterdir()):
        for name in found:
            if path.name.startswith(name):
                found[name].append(_fixture(path.name))
    found["generic"] += [Seed("json", GENERIC), Seed("form", list(GENERIC.items()), FORM)]
    found["wordpress"].append(Seed("json", WORDPRESS))
    found["beacon"] = [Seed("json", BEACON_BOOKING, "text/plain"), Seed("json", BEACON_TOUCH, "text/plain")]
    found["hubspot"] = [
        Seed("json", [HUBSPOT_EVENT]),
        Seed("json", [HUBSPOT_EVENT, {**HUBSPOT_EVENT, "eventId": 2}]),
    ]
    found["salesforce"] = [Seed("json", FLOW), Seed("xml", OUTBOUND, "text/xml; charset=utf-8")]
    return found


# -- mutations ----------------------------------------------------------------------------------------

WEIRD_TEXT = [
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "\udfff\ud800",
    "²³",
    "١٢٣٤",
    "１２３",
    "\u202egnp.exe",
    "e\u0301\u0301\u0301",
    "😀" * 50,
    "\ufeff",
    "null",
    "NaN",
    "<script>alert(1)</script>",
    "'; DROP TABLE receipts; --",
    "%00%ff",
    "\r\n\r\n",
    "9999-99-99T99:99:99Z",
    "0000-01-01T00:00:00Z",
    "+275760-09-13T00:00:00Z",
    "2026-11-20T10:00:00+25:00",
    "1e309",
]
WEIRD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**64),
    10**40,
    1.5,
    -0.0,
    1e308,
    [],
    {},
    [None],
    [[]],
    {"": ""},
    ["a", "b"],
    [1, {"email": "x@y.z"}],
    {"value": "ada@example.com"},
]
RAW_TOKENS = [
    b"1e999",
    b"-1e999",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"9" * 5000,
    b"-0",
    b"1E400",
    b"0.0e-99999",
]
CANONICAL = [
    "email",
    "first_name",
    "event_id",
    "first_utm_source",
    "oppref",
    "submitted_at",
    "conversion_page",
]
HUGE_SIZES = (1_000, 10_000, 100_000, 500_000, MAX_BODY_BYTES - 400, MAX_BODY_BYTES + 10)
NESTING = (10, 30, 63, 64, 65, 100, 500, 1000, 2500, 5000)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (keys and indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple) -> Any:
    if not path:
        return {}
    node = doc
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return doc


def _marker_body(rng: random.Random, doc: Any, token: bytes) -> bytes:
    """The document serialized with `token` (raw JSON text) in place of one of its values."""
    path = rng.choice(_paths(doc)[1:] or [()])
    marked = _set(copy.deepcopy(doc), path, "__FUZZ_MARK__")
    return json.dumps(marked).encode().replace(b'"__FUZZ_MARK__"', token, 1)


def _deep(rng: random.Random, depth: int) -> bytes:
    if rng.random() < 0.5:
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _huge(rng: random.Random, size: int) -> str:
    unit = rng.choice(["A", "é", "😀", "\u0000", "<", "%", " "])
    return unit * max(1, size // len(unit.encode()))


def mutate_json(rng: random.Random, doc: Any, limit: int) -> tuple[str, bytes | Any]:
    """One mutation of a JSON document: (its name, a new document, or raw bytes)."""
    doc = copy.deepcopy(doc)
    paths = _paths(doc)
    inner = paths[1:] or [()]
    choice = rng.randrange(18)
    if choice == 0:
        return "wrong_type", _set(doc, rng.choice(paths), copy.deepcopy(rng.choice(WEIRD_VALUES)))
    if choice == 1:
        return "drop_key", _delete(doc, rng.choice(inner))
    if choice == 2:
        return "weird_text", _set(doc, rng.choice(inner), rng.choice(WEIRD_TEXT))
    if choice == 3 and isinstance(doc, dict):
        for name in rng.sample(CANONICAL, 3):
            doc[name] = rng.choice([*WEIRD_TEXT, *WEIRD_VALUES[:8]])
        return "canonical_values", doc
    if choice == 4:
        size = min(rng.choice(HUGE_SIZES), limit + 10)
        return f"huge_string_{size}", _set(doc, rng.choice(inner), _huge(rng, size))
    if choice == 5:
        depth = rng.choice(NESTING)
        return f"deep_json_{depth}", _marker_body(rng, doc, _deep(rng, depth))
    if choice == 6:
        return "raw_number", _marker_body(rng, doc, rng.choice(RAW_TOKENS))
    if choice == 7:
        raw = json.dumps(doc).encode()
        return "truncated", raw[: rng.randrange(len(raw) + 1)]
    if choice == 8:
        raw = bytearray(json.dumps(doc).encode())
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return "bit_flip", bytes(raw)
    if choice == 9:
        bad = rng.choice([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"])
        return "invalid_utf8", _marker_body(rng, doc, b'"' + bad + b'x"')
    if choice == 10 and isinstance(doc, dict) and doc:
        key = rng.choice(list(doc))
        dup = json.dumps(key) + ": " + json.dumps(rng.choice(WEIRD_VALUES))
        raw = json.dumps(doc).encode()
        return "duplicate_keys", b"{" + dup.encode() + b", " + raw[1:] if rng.random() < 0.5 else raw[
            :-1
        ] + b", " + dup.encode() + b"}"
    if choice == 11:
        return "garbage", rng.randbytes(rng.randrange(2000))
    if choice == 12:
        return "empty", rng.choice(
            [b"", b" ", b"{}", b"[]", b"null", b'"x"', b"0", b"\xef\xbb\xbf{}", b"\x00", b"{" * 3]
        )
    if choice == 13:
        count = rng.choice([1000, 5001, 20000])
        target = {f"k{n}": n for n in range(count)} if rng.random() < 0.5 else list(range(count))
        return f"wide_{count}", _set(doc, rng.choice(inner), target)
    if choice == 14:
        raw = json.dumps(doc, ensure_ascii=False).encode()
        spot = rng.randrange(len(raw) + 1)
        return "nul_byte", raw[:spot] + b"\x00" + raw[spot:]
    if choice == 15:
        return "bom_or_padding", rng.choice([b"\xef\xbb\xbf", b"\n" * 1000, b" \t"]) + json.dumps(
            doc
        ).encode()
    if choice == 16:
        ids = [p for p in inner if p and p[-1] in ID_KEYS] or inner
        text = rng.choice(WEIRD_TEXT)
        for path in ids:
            doc = _set(doc, path, text)
        return "id_text", doc
    return "form_encoded", _form_from_json(rng, doc)


def _form_from_json(rng: random.Random, doc: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, f"{key}[{k}]" if key else str(k))
        elif isinstance(value, list) and value:
            for v in value:
                walk(v, f"{key}[]" if key else "list")
        else:
            pairs.append((key or "value", "" if value is None else str(value)))

    walk(doc, "")
    return pairs


def mutate_form(rng: random.Random, pairs: list[tuple[str, str]], limit: int) -> tuple[str, bytes | list]:
    """One mutation of form fields: (its name, new pairs, or raw bytes)."""
    pairs = list(pairs) or [("email", "a@b.c")]
    choice = rng.randrange(12)
    spot = rng.randrange(len(pairs))
    key, value = pairs[spot]
    if choice == 0:
        depth = rng.choice(NESTING)
        pairs.append((key + "[a]" * depth, "1") if rng.random() < 0.5 else (key + "[]" * depth, "1"))
        return f"deep_form_{depth}", pairs
    if choice == 1:
        pairs[spot] = (key, rng.choice(WEIRD_TEXT))
        return "weird_value", pairs
    if choice == 2:
        pairs.append(
            (
                rng.choice(["[", "]", "[]", "a[", "a]]", "a[b", "a[b]c", "[a]", "a[][b]", "a[b][]", "é", ""]),
                "x",
            )
        )
        return "odd_key", pairs
    if choice == 3:
        pairs += [(key, "again"), (f"{key}[x]", "nested"), (f"{key}[]", "listed")]
        return "conflicting_keys", pairs
    if choice == 4:
        size = min(rng.choice(HUGE_SIZES), limit + 10)
        pairs[spot] = (key, _huge(rng, size))
        return f"huge_value_{size}", pairs
    if choice == 5:
        count = rng.choice([4999, 5001, 20000])
        return f"many_fields_{count}", pairs + [(f"f{n}", "v") for n in range(count)]
    raw = urlencode(pairs, errors="surrogatepass").encode()
    if choice == 6:
        return "truncated", raw[: rng.randrange(len(raw) + 1)]
    if choice == 7:
        return "invalid_utf8", raw + b"&x=" + rng.choice(
            [b"\xff", b"%FF", b"%C0%80", b"%ED%A0%80", b"\x80abc"]
        )
    if choice == 8:
        return "nul", raw + rng.choice([b"&x=%00", b"&%00=1", b"&x=\x00", b"&email=a%00b"])
    if choice == 9:
        return "malformed", raw + rng.choice([b"&&", b"&=", b"&=x", b"%zz", b";a=1", b"&a=%", b"&&&&&&"])
    if choice == 10:
        return "garbage", rng.randbytes(rng.randrange(2000))
    return "as_json", json.dumps(dict(pairs)).encode()


XML_ATTACKS = [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><notifications>&lol3;</notifications>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd">%p;]><x/>',
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/x.dtd"><x/>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ELEMENT x ANY>]><x/>',
    b'<x xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/></x>',
    b'<?xml version="1.0" encoding="UTF-16"?><x/>',
    b'<?xml version="1.0" encoding="bogus-8"?><x/>',
    b'<?xml version="1.0" encoding="shift_jis"?><x/>',
    b'<?xml version="1.0" encoding="utf-7"?><x/>',
    b'<?xml version="1.0" encoding="hex"?><x/>',
    b"<x>" + b"&#0;" + b"</x>",
    b"<x><![CDATA[" + b"]]]]><![CDATA[>" * 50 + b"]]></x>",
    b"<?pi " + b"x" * 10000 + b"?><x/>",
    b"<a:x/>",
    b"",
    b"<",
    b"\xff\xfe<\x00x\x00/\x00>\x00",
]


def mutate_xml(
    rng: random.Random, template: str, fresh: Callable[[str], str], limit: int
) -> tuple[str, bytes]:
    """One mutation of a Salesforce outbound message."""
    choice = rng.randrange(12)

    def message(count: int = 1, org: str = ORG_ID, stage: str = "Closed Won") -> str:
        items = "".join(
            NOTIFICATION.format(nid=fresh(f"04l{n}"), rid=fresh("006"), stage=stage) for n in range(count)
        )
        return template.format(org=org, items=items)

    if choice == 0:
        return "xml_attack", rng.choice(XML_ATTACKS)
    if choice == 1:
        depth = rng.choice(NESTING)
        deep = "<d>" * depth + "</d>" * depth
        return f"deep_xml_{depth}", message().replace("<ActionId>", deep + "<ActionId>").encode()
    if choice == 2:
        count = rng.choice([0, 100, 101, 1000])
        return f"notifications_{count}", message(count).encode()
    if choice == 3:
        org = rng.choice(
            [
                "",
                ORG_ID[:15],
                ORG_ID[:15] + "ZZZ",
                "００Ｄ000000000001AAA",
                ORG_ID + "X",
                "&amp;",
                ORG_ID.lower(),
            ]
        )
        return "org_id", message(org=org).encode()
    if choice == 4:
        size = min(rng.choice(HUGE_SIZES), limit + 10)
        return f"huge_text_{size}", message(stage="S" * size).encode()
    if choice == 5:
        raw = message().encode()
        return "truncated", raw[: rng.randrange(len(raw) + 1)]
    if choice == 6:
        raw = bytearray(message().encode())
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return "bit_flip", bytes(raw)
    if choice == 7:
        raw = message()
        drop = rng.choice(["<sf:Id>", "<sf:StageName>", "<sf:LastStageChangeDate>", "<Id>", "xsi:type="])
        return "missing_field", raw.replace(drop, "<sf:Other>" if drop.startswith("<") else "x=", 1).encode()
    if choice == 8:
        raw = message().replace("sf:Opportunity", rng.choice(["sf:Account", "", "Lead", "sf:", ":::"]))
        return "object_type", raw.encode()
    if choice == 9:
        return "weird_text", message(
            stage=rng.choice(["&#0;", "&#xD800;", "\u0000", "²", "é" * 300, "]]>"])
        ).encode()
    if choice == 10:
        return "as_json", json.dumps({"records": [{"Id": "x"}]}).encode()
    return "valid_xml", message().encode()


# -- credentials --------------------------------------------------------------------------------------

UNICODE_DIGITS = ["²³⁴", "١٢٣٤٥٦٧٨٩٠", "１２３４５６", "߁߂߃", "१२३", "1_000", " 1", "1e9", "-1", "0x10"]


def _now() -> int:
    return int(time.time())


def _calendly_style(secret: str, body: bytes, version: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},{version}={digest}"


def _standard_webhook(secret: str, webhook_id: str, at: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    digest = hmac.new(key, f"{webhook_id}.{at}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _hubspot(secret: str, url: str, body: bytes, at: str) -> str:
    text = body.decode("utf-8", errors="replace")  # what the HubSpot SDK signs on our side
    message = ("POST" + url + text + at).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _wpforms_signed(body: bytes, content_type: str) -> bytes:
    """What WPForms signs: the body, or in form mode PHP's JSON encoding of the fields."""
    if not content_type.lower().startswith(FORM):
        return body
    from connector.intake.body import decode_body
    from connector.intake.errors import IntakeError
    from connector.sources.wpforms import php_json

    try:
        return php_json(decode_body(body, content_type)).encode()
    except IntakeError:
        return body


def sign(
    rng: random.Random, source: str, path: str, body: bytes, content_type: str, public_url: str, tag: str
) -> tuple[str, list[tuple[str, str]], str]:
    """Valid credentials for these exact bytes: (path with query, headers, how)."""
    secret = SECRETS.get(source, "")
    token = [("X-Connector-Token", secret)]
    if source == "beacon":
        return path, [("Origin", ORIGIN)], "origin"
    if source == "wordpress":
        webhook_id, at = f"msg_{tag}", str(_now())
        headers = [("webhook-id", webhook_id), ("webhook-timestamp", at)]
        return (
            path,
            [*headers, ("webhook-signature", _standard_webhook(secret, webhook_id, at, body))],
            "standard",
        )
    if source == "hubspot":
        at = str(_now() * 1000)
        signature = _hubspot(secret, public_url + path, body, at)
        return path, [("X-HubSpot-Signature-v3", signature), ("X-HubSpot-Request-Timestamp", at)], "v3"
    how = rng.randrange(3)
    if how == 0 or source in ("salesforce",) and "xml" in content_type:
        return f"{path}?token={quote(secret)}", [], "query_token"
    if source == "calendly" and how == 1:
        return (
            path,
            [("Calendly-Webhook-Signature", _calendly_style(secret, body, "v1", _now()))],
            "signature",
        )
    if source == "cal_com" and how == 1:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return path, [("X-Cal-Signature-256", digest)], "signature"
    if source == "wpforms" and how == 1:
        signed = _wpforms_signed(body, content_type)
        return (
            path,
            [("X-WPForms-Webhook-Signature", _calendly_style(secret, signed, "v", _now()))],
            "signature",
        )
    if source == "formidable" and how == 1:
        credentials = rng.choice([secret, f"user:{secret}", f"{secret}:x"])
        return path, [("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())], "basic"
    return path, token, "token"


def forge(
    rng: random.Random, source: str, path: str, body: bytes, public_url: str
) -> tuple[str, list[tuple[str, str]], str]:
    """Missing, wrong, stale or malformed credentials: (path with query, headers, how)."""
    secret = SECRETS.get(source, "wrong")
    choice = rng.randrange(9)
    digits = rng.choice(UNICODE_DIGITS)
    garbage = rng.choice(
        ["", "x", "é" * 64, "\u00ff", "v1,", "t=,v1=", "==", "a" * 5000, "sha256=" + "0" * 64]
    )
    if choice == 0:
        return path, [], "missing"
    if choice == 1:
        return (
            path,
            [("X-Connector-Token", rng.choice([secret + "x", secret[:-1], secret.upper(), garbage]))],
            "wrong_token",
        )
    if choice == 2:
        return f"{path}?token={quote(garbage)}&token={quote(secret)}", [], "query_garbage"
    if source == "beacon":
        origin = rng.choice(
            [
                "",
                "null",
                "https://evil.example",
                ORIGIN + "/",
                ORIGIN.upper(),
                ORIGIN + ".evil.com",
                "https://www.exаmple.com",
                ORIGIN * 200,
            ]
        )
        return path, [("Origin", origin)] if origin else [], "bad_origin"
    if source == "wordpress":
        at = rng.choice([str(_now() - 10_000), digits, "9" * rng.choice([11, 12, 5000]), str(_now())])
        webhook_id = rng.choice(["msg_1", "", "é", "a b", "x" * 300, "msg\x7f"])
        signature = rng.choice([garbage, _standard_webhook(secret, "other", at, body), "v1," + "A" * 44])
        return (
            path,
            [("webhook-id", webhook_id), ("webhook-timestamp", at), ("webhook-signature", signature)],
            "bad_standard",
        )
    if source == "hubspot":
        at = rng.choice(
            [
                str((_now() - 10_000) * 1000),
                digits,
                "9" * rng.choice([13, 400, 4400, 6000]),
                str(_now() * 1000),
            ]
        )
        signature = rng.choice(
            [
                garbage,
                _hubspot(secret, "https://evil.example" + path, body, at),
                _hubspot(secret + "x", public_url + path, body, at),
            ]
        )
        return path, [("X-HubSpot-Signature-v3", signature), ("X-HubSpot-Request-Timestamp", at)], "bad_v3"
    header = {"calendly": "Calendly-Webhook-Signature", "wpforms": "X-WPForms-Webhook-Signature"}.get(source)
    if header:
        version = "v1" if source == "calendly" else "v"
        value = rng.choice(
            [
                f"t={digits},{version}={'0' * 64}",
                _calendly_style(secret, body, version, _now() - 10_000),
                _calendly_style(secret, body + b" ", version, _now()),
                f"t={_now()},{version}={garbage}",
                garbage,
                ",".join([f"t={_now()}"] + [f"{version}=ab"] * 2000),
            ]
        )
        return path, [(header, value)], "bad_signature"
    if source == "cal_com":
        return (
            path,
            [("X-Cal-Signature-256", rng.choice(["no-secret-provided", garbage, "0" * 64, digits]))],
            "bad_signature",
        )
    if source == "formidable":
        value = rng.choice(
            [
                "Basic",
                "Basic !!!",
                "Basic " + base64.b64encode(b"\xff\xfe").decode(),
                "Basic " + "A" * 6000,
                "Bearer " + secret,
            ]
        )
        return path, [("Authorization", value)], "bad_basic"
    return path, [("X-Connector-Token", garbage)] if garbage else [], "garbage_token"


# -- headers ------------------------------------------------------------------------------------------

CONTENT_TYPES = [
    "",
    "application/json; charset=latin-1",
    "text/plain",
    "text/json",
    "application/vnd.api+json",
    "application/xml",
    "text/xml",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded; charset=utf-16",
    "APPLICATION/JSON",
    "application/json;;;;",
    "json",
    "é/ü",
    "a" * 5000,
]


def header_noise(rng: random.Random, source: str) -> tuple[str, list[tuple[bytes, bytes]]]:
    """Extra headers a stranger may add: non-ASCII bytes, over-long values, many headers, odd delivery ids."""
    choice = rng.randrange(8)
    if choice == 0:
        return "non_ascii_header", [
            (b"X-Delivery-Id", rng.choice(["é".encode(), b"\xff\xfe", "😀".encode(), b"\x80"]))
        ]
    if choice == 1:
        return "long_header", [(b"X-Padding", b"p" * rng.choice([4000, 8190, 9000, 20000]))]
    if choice == 2:
        return "many_headers", [(f"X-H{n}".encode(), b"v") for n in range(rng.choice([50, 99, 101, 300]))]
    if choice == 3:
        value = rng.choice(["x" * 300, "x" * 5000, "a b", "", "²", "dup"])
        name = rng.choice([b"Idempotency-Key", b"X-Delivery-Id", b"webhook-id"])
        return "delivery_header", [(name, value.encode("utf-8"))]
    if choice == 4:
        return "forwarded_for", [
            (b"X-Forwarded-For", rng.choice([b"1.2.3.4, " * 500, b"\xff", b"::1", b"x"]))
        ]
    if choice == 5:
        return "cookie", [
            (
                b"Cookie",
                rng.choice(
                    [
                        b"_attr_id=" + b"A" * 20,
                        b"_attr_id=" + b"A" * 5000,
                        b"_attr_id=\xff\xfe",
                        b"_attr_id",
                        b"=;=;=",
                        b"_attr_id=a;_attr_id=b",
                    ]
                ),
            )
        ]
    if choice == 6:
        return "header_nul", [(b"X-Note", b"a\x00b")]
    return "user_agent", [(b"User-Agent", rng.choice(["é" * 1000, "x" * 8000]).encode())]


# -- the case stream ----------------------------------------------------------------------------------


def _freshen(value: Any, tag: str) -> Any:
    """The document with every delivery-naming id made unique for this case."""
    if isinstance(value, dict):
        return {
            k: (
                _fresh_id(v, tag)
                if k in ID_KEYS and isinstance(v, (str, int)) and not isinstance(v, bool)
                else _freshen(v, tag)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_freshen(v, tag) for v in value]
    return value


def _fresh_id(value: str | int, tag: str) -> str | int:
    if isinstance(value, int):
        return value * 10**12 + int(hashlib.sha256(tag.encode()).hexdigest()[:10], 16)
    return f"{value}-{tag}"


@dataclass
class Generator:
    """Reproducible cases for one family: the same seed gives the same mutations in the same order."""

    family: str
    seed: int
    public_url: str
    run: str
    neighbour_every: int = 20
    seeds: dict[str, list[Seed]] = field(default_factory=seeds)

    def cases(self, count: int) -> Iterator[Case]:
        """`count` fuzz cases, with a neighbour (a valid generic webhook) about every `neighbour_every`."""
        rng = random.Random(f"{self.seed}:{self.family}")
        sources = FAMILIES[self.family]
        for n in range(count):
            if n % self.neighbour_every == self.neighbour_every // 2:
                yield neighbour(f"{self.run}-{self.family}-{n}", self.family, resend=rng.random() < 0.1)
            yield self.case(rng, rng.choice(sources), f"{self.run}-{n}")

    def case(self, rng: random.Random, source: str, tag: str) -> Case:
        seed = rng.choice(self.seeds[source])
        limit = MAX_BEACON_BYTES if source == "beacon" else MAX_BODY_BYTES
        content_type = seed.content_type
        replay = rng.random() < 0.05
        if rng.random() < 0.12 or replay:
            mutation, result = "valid", self._fresh(seed, tag)
        elif seed.kind == "json":
            mutation, result = mutate_json(rng, _freshen(seed.value, tag), limit)
        elif seed.kind == "form":
            mutation, result = mutate_form(
                rng, [(k, _fresh_id(v, tag) if _last_key(k) in ID_KEYS else v) for k, v in seed.value], limit
            )
        else:
            mutation, result = mutate_xml(rng, seed.value, lambda v: f"{v}{tag}", limit)
        if isinstance(result, list) and result and isinstance(result[0], tuple):
            body, content_type = urlencode(result, errors="surrogatepass").encode(), FORM
        elif isinstance(result, bytes):
            body = result
        else:
            body = json.dumps(result, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        if mutation == "as_json":
            content_type = JSON
        headers: list[tuple[bytes, bytes]] = []
        if rng.random() < 0.15:
            content_type = rng.choice(CONTENT_TYPES)
            mutation += "+content_type"
        if content_type:
            headers.append((b"Content-Type", content_type.encode()))
        if rng.random() < 0.2:
            noise, extra = header_noise(rng, source)
            headers += extra
            mutation += "+" + noise
        path = "/collect" if source == "beacon" else f"/webhooks/{_kind(source)}/{source}"
        authenticated = replay or rng.random() < 0.5
        if authenticated:
            path, auth, how = sign(rng, source, path, body, content_type, self.public_url, tag)
        else:
            path, auth, how = forge(rng, source, path, body, self.public_url)
        headers = [(k.encode(), v.encode("utf-8", "surrogatepass")) for k, v in auth] + headers
        chunked = rng.random() < 0.05
        return Case(
            family=self.family,
            source=source,
            mutation=f"{'replay' if replay else mutation}[{how}]{'+chunked' if chunked else ''}",
            path=path,
            headers=headers,
            body=body,
            authenticated=authenticated,
            sends=2 if replay else 1,
            chunked=chunked,
        )

    @staticmethod
    def _fresh(seed: Seed, tag: str) -> Any:
        if seed.kind == "json":
            return _freshen(seed.value, tag)
        if seed.kind == "form":
            return [(k, _fresh_id(v, tag) if _last_key(k) in ID_KEYS else v) for k, v in seed.value]
        items = NOTIFICATION.format(nid=f"04l{tag}", rid=f"006{tag}", stage="Closed Won")
        return seed.value.format(org=ORG_ID, items=items).encode()


def _last_key(key: str) -> str:
    return key.rstrip("]").rpartition("[")[2] if key.endswith("]") else key


def _kind(source: str) -> str:
    return "forms" if source in FORM_SOURCES else "booking" if source in BOOKING_SOURCES else "crm"


def neighbour(event_id: str, family: str, resend: bool = False) -> Case:
    """A valid generic webhook with its own event_id: it must be accepted whatever its neighbours send."""
    body = json.dumps({**GENERIC, "event_id": event_id, "email": f"{event_id}@example.com"}).encode()
    return Case(
        family=family,
        source="generic",
        mutation="neighbour",
        path="/webhooks/forms/generic",
        headers=[(b"Content-Type", JSON.encode()), (b"X-Connector-Token", SECRETS["generic"].encode())],
        body=body,
        authenticated=True,
        sends=2 if resend else 1,
        neighbour=event_id,
    )
