"""A loopback HTTP double of OpenAI's Conversions API (POST /v1/events?pid=...).

It checks requests on its own (nothing is imported from `connector`), so it can catch our bugs:
bearer auth, `pid`, 1-1000 events, per-event rules; one bad event rejects the whole batch with a 400
naming its index. Accepted events are deduplicated by (pid, type, custom_event_name, id).
Faults are queued and consumed one per request: latency, 429 + Retry-After, 500, dropped connection.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DAY_MS = 86_400_000
DATA_TYPE_OF = {
    **dict.fromkeys(
        ["page_viewed", "contents_viewed", "items_added", "checkout_started", "order_created"], "contents"
    ),
    **dict.fromkeys(["lead_created", "registration_completed", "appointment_scheduled"], "customer_action"),
    **dict.fromkeys(["subscription_created", "trial_started"], "plan_enrollment"),
    "custom": "custom",
}
DATA_KEYS = {
    "contents": {"type", "amount", "currency", "contents"},
    "customer_action": {"type", "amount", "currency"},
    "plan_enrollment": {"type", "plan_id", "amount", "currency", "contents"},
    "custom": {"type", "plan_id", "amount", "currency", "contents"},
}
EVENT_KEYS = {
    "id",
    "type",
    "timestamp_ms",
    "custom_event_name",
    "oppref",
    "source_url",
    "action_source",
    "user",
    "opt_out",
    "data",
}
SOURCES = {"web", "mobile_app", "offline", "physical_store", "phone_call", "email", "other"}
HASHED_LISTS = {
    "emails_sha256",
    "phone_numbers_sha256",
    "external_ids_sha256",
    "first_names_sha256",
    "last_names_sha256",
}
RAW_LISTS = {"countries", "cities", "regions", "postal_codes"}
LIST_USER_KEYS = HASHED_LISTS | RAW_LISTS | {"obref", "ip_address", "user_agent"}
SCALAR_USER_KEYS = {
    "email_sha256",
    "external_id_sha256",
    "country",
    "city",
    "zip_code",
    "ip_address",
    "user_agent",
}
ITEM_KEYS = {"id", "name", "content_type", "quantity", "amount", "currency"}
HEX64 = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Invalid(Exception):
    """One broken rule, with the JSON path of the offending value."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _is_int(value: Any) -> bool:
    return type(value) is int


def _money(where: str, obj: dict[str, Any]) -> None:
    if "amount" in obj:
        if not _is_int(obj["amount"]) or obj["amount"] < 0:
            raise Invalid(f"{where}.amount", "amount must be a non-negative integer in minor units")
        if "currency" not in obj:
            raise Invalid(f"{where}.currency", "currency is required with amount")
    if "currency" in obj and not (
        isinstance(obj["currency"], str) and re.fullmatch("[A-Z]{3}", obj["currency"])
    ):
        raise Invalid(f"{where}.currency", "currency must be an ISO 4217 code")


def check_event(ev: Any, now_ms: int, user_format: str) -> None:
    """Raise Invalid for the first rule `ev` breaks."""
    if not isinstance(ev, dict):
        raise Invalid("", "event must be an object")
    extra = set(ev) - EVENT_KEYS
    if extra:
        raise Invalid(sorted(extra)[0], "unknown field")
    if not isinstance(ev.get("id"), str) or not ev["id"].strip() or len(ev["id"]) > 512:
        raise Invalid("id", "id is required (non-empty string)")
    kind = ev.get("type")
    if kind not in DATA_TYPE_OF:
        raise Invalid("type", f"unsupported event type {kind!r}")
    ts = ev.get("timestamp_ms")
    if not _is_int(ts):
        raise Invalid("timestamp_ms", "timestamp_ms must be an integer")
    if ts < now_ms - 7 * DAY_MS:
        raise Invalid("timestamp_ms", "event is older than 7 days")
    if ts > now_ms + 600_000:
        raise Invalid("timestamp_ms", "event is more than 10 minutes in the future")
    if kind == "custom":
        name = ev.get("custom_event_name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise Invalid("custom_event_name", "custom_event_name is required for custom events")
    elif "custom_event_name" in ev:
        raise Invalid("custom_event_name", "custom_event_name only applies to custom events")
    source = ev.get("action_source")
    if source not in SOURCES:
        raise Invalid("action_source", "invalid action_source")
    url = ev.get("source_url")
    if source == "web" and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise Invalid("source_url", "source_url is required for web events")
    if "oppref" in ev and (not isinstance(ev["oppref"], str) or not ev["oppref"]):
        raise Invalid("oppref", "oppref must be a non-empty string")
    if "opt_out" in ev and type(ev["opt_out"]) is not bool:
        raise Invalid("opt_out", "opt_out must be a boolean")
    data = ev.get("data")
    if not isinstance(data, dict):
        raise Invalid("data", "data is required")
    if data.get("type") != DATA_TYPE_OF[kind]:
        raise Invalid("data.type", f"data.type for {kind} must be {DATA_TYPE_OF[kind]}")
    extra = set(data) - DATA_KEYS[data["type"]]
    if extra:
        raise Invalid(f"data.{sorted(extra)[0]}", "field not allowed for this data type")
    _money("data", data)
    if "plan_id" in data and (not isinstance(data["plan_id"], str) or not data["plan_id"]):
        raise Invalid("data.plan_id", "plan_id must be a non-empty string")
    for i, item in enumerate(data.get("contents", [])):
        where = f"data.contents[{i}]"
        if not isinstance(item, dict) or set(item) - ITEM_KEYS:
            raise Invalid(where, "bad content item")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise Invalid(f"{where}.id", "content id required")
        if "quantity" in item and (not _is_int(item["quantity"]) or item["quantity"] < 1):
            raise Invalid(f"{where}.quantity", "quantity must be a positive integer")
        _money(where, item)
    if "user" in ev:
        _check_user(ev["user"], user_format)


def _check_user(user: Any, user_format: str) -> None:
    if not isinstance(user, dict):
        raise Invalid("user", "user must be an object")
    allowed = {"list": LIST_USER_KEYS, "scalar": SCALAR_USER_KEYS, "both": LIST_USER_KEYS | SCALAR_USER_KEYS}
    extra = set(user) - allowed[user_format]
    if extra:
        raise Invalid(f"user.{sorted(extra)[0]}", "unknown user field")
    for key, value in user.items():
        if key in HASHED_LISTS | RAW_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise Invalid(f"user.{key}", "must be a list of strings")
            if key in HASHED_LISTS and not all(HEX64.fullmatch(v) for v in value):
                raise Invalid(f"user.{key}", "must be SHA-256 lowercase hex")
        elif key in ("email_sha256", "external_id_sha256"):
            if not isinstance(value, str) or not HEX64.fullmatch(value):
                raise Invalid(f"user.{key}", "must be SHA-256 lowercase hex")
        elif not isinstance(value, str) or not value:
            raise Invalid(f"user.{key}", "must be a non-empty string")


@dataclass
class Fault:
    """One injected misbehaviour, consumed by one request."""

    kind: str  # "status" or "drop"
    status: int = 500
    retry_after: str | None = None


@dataclass
class OpenAIDouble:
    """The server, its counters and its fault queue. Use as a context manager or via `serve()`."""

    api_key: str = "test-conversions-key"
    user_format: str = "both"
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    latency_s: float = 0.0
    requests: int = 0
    events_received: int = 0
    accepted: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def unique_accepted(self) -> int:
        return len(self.accepted)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1/events"

    def fail_with(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests get `status` (with Retry-After when given)."""
        self.faults.extend(Fault("status", status, retry_after) for _ in range(times))

    def drop_connections(self, times: int = 1) -> None:
        """The next `times` requests are read, then the socket is closed without an answer."""
        self.faults.extend(Fault("drop") for _ in range(times))

    def start(self) -> OpenAIDouble:
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> OpenAIDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(
        self, query: str, headers: Any, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Answer one POST: (status, json body, extra headers), or None to drop the connection."""
        with self.lock:
            self.requests += 1
            fault = self.faults.popleft() if self.faults else None
            entry: dict[str, Any] = {"n": self.requests, "fault": fault.kind if fault else None}
            self.log.append(entry)
        if self.latency_s:
            time.sleep(self.latency_s)
        if fault and fault.kind == "drop":
            return None
        if fault:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            entry["status"] = fault.status
            return (
                fault.status,
                _error("server_error" if fault.status >= 500 else "rate_limited", "injected"),
                extra,
            )
        status, body = self._answer(query, headers, raw, entry)
        entry["status"] = status
        return status, body, {}

    def _answer(
        self, query: str, headers: Any, raw: bytes, entry: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, _error("invalid_api_key", "missing or invalid bearer token")
        pid = (parse_qs(query).get("pid") or [""])[0]
        if not pid:
            return 400, _error("invalid_request", "query parameter pid is required", param="pid")
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, _error("invalid_json", "body is not JSON")
        if not isinstance(body, dict) or set(body) - {"validate_only", "events", "integration_source"}:
            return 400, _error("invalid_request", "unexpected top-level fields")
        validate_only = body.get("validate_only", False)
        if type(validate_only) is not bool:
            return 400, _error("invalid_request", "validate_only must be a boolean", param="validate_only")
        source = body.get("integration_source")
        if source is not None and not (isinstance(source, str) and SOURCE_NAME.fullmatch(source)):
            return 400, _error("invalid_request", "bad integration_source", param="integration_source")
        events = body.get("events")
        if not isinstance(events, list) or not 1 <= len(events) <= 1000:
            return 400, _error("invalid_request", "events must hold 1 to 1000 events", param="events")
        entry.update(
            pid=pid,
            events=len(events),
            validate_only=validate_only,
            ids=[e.get("id") if isinstance(e, dict) else None for e in events],
        )
        now = self.now_ms()
        for index, event in enumerate(events):
            try:
                check_event(event, now, self.user_format)
            except Invalid as exc:
                param = f"events[{index}].{exc.param}".rstrip(".")
                return 400, _error("invalid_event", str(exc), param=param, event_index=index)
        if not validate_only:
            with self.lock:
                self.events_received += len(events)
                for event in events:
                    key = (pid, event["type"], event.get("custom_event_name", ""), event["id"])
                    self.accepted.setdefault(key, event)
        return 200, {"validate_only": validate_only, "events_received": len(events)}


def _error(code: str, message: str, **more: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **more}}


class _Handler(BaseHTTPRequestHandler):
    double: OpenAIDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if parts.path != "/v1/events":
            self._send(404, _error("not_found", "unknown path"), {})
            return
        answer = self.double.handle(parts.query, self.headers, raw)
        if answer is None:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(*answer)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        # The client may have given up (timeout test); that is its business, not an error here.
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(payload)


@contextmanager
def serve(**options: Any) -> Iterator[OpenAIDouble]:
    """Run a double for the duration of a `with` block (what the pytest fixture uses)."""
    with OpenAIDouble(**options) as double:
        yield double
