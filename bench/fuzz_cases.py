"""Fuzz cases for every intake endpoint: valid seed requests per source, mutated reproducibly, signed or not.

`Generator(family, seed, ...).cases(count)` yields `Case`s: the exact bytes of one HTTP/1.1 request each.
About half carry valid credentials for the (mutated) body they send (the token, or a signature computed over
those exact bytes), so the parsers behind authentication are exercised, not only the 401 path. The other
half carry missing, wrong, malformed or hostile credentials. Cases are built lazily, just before they are
sent, so the timestamps that signatures carry stay inside the senders' tolerance windows.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench.fuzz_auth import forge, sign
from bench.fuzz_mutations import CONTENT_TYPES, header_noise, mutate_form, mutate_json, mutate_xml
from bench.fuzz_seeds import (
    BOOKING_SOURCES,
    FAMILIES,
    FORM,
    FORM_SOURCES,
    GENERIC,
    ID_KEYS,
    JSON,
    MAX_BEACON_BYTES,
    MAX_BODY_BYTES,
    NOTIFICATION,
    ORG_ID,
    SECRETS,
    Seed,
    seeds,
)

__all__ = ["FAMILIES", "Case", "Generator", "neighbour"]


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
