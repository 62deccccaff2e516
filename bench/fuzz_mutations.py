"""Mutations for bench/fuzz.py: JSON, form and SOAP bodies made hostile, and the headers a stranger adds.

Each function takes a seeded `random.Random` and returns the mutation's name with a new document, new form
pairs or raw bytes, so the same seed mutates the same way.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from bench.fuzz_seeds import ID_KEYS, MAX_BODY_BYTES, NOTIFICATION, ORG_ID

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
