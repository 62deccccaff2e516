"""Fuzz every intake endpoint with arbitrary bodies and headers: never a 5xx, never an unhandled exception.

Valid credentials (token or a correct signature over the fuzzed body) are part of the search, so bodies
reach the parsers and the job, not only the authentication step. The case count is printed at the end.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector import context
from connector.attribution import ATTRIBUTION_FIELDS, CONTACT_FIELDS
from connector.config import CollectSettings
from connector.jobs.receipts import process_receipt
from tests.intake.helpers import SECRET, cal_signature, stripe_style, use_secrets

FORMS = (
    "generic",
    "gravity_forms",
    "contact_form_7",
    "wpforms",
    "elementor",
    "fluent_forms",
    "ninja_forms",
    "formidable",
)
BOOKINGS = ("calendly", "cal_com")
ORIGIN = "https://www.example.com"
CASES = {"run": 0, "accepted": 0, "rejected": 0}
REASONS: dict[str, int] = {}

keys = st.one_of(
    st.sampled_from(
        [
            *ATTRIBUTION_FIELDS,
            *CONTACT_FIELDS,
            "form_id",
            "id",
            "__submission",
            "fields",
            "form",
            "meta",
            "payload",
            "event",
            "triggerEvent",
            "v",
            "type",
            "booking",
            "provider",
            "uid",
            "uri",
        ]
    ),
    st.text(max_size=12),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
json_bodies = st.dictionaries(keys, values, max_size=8).map(lambda d: json.dumps(d).encode())
ids = st.text(min_size=1, max_size=40)
booking_bodies = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["invitee.created", "invitee.canceled", "x"]),
        "triggerEvent": st.sampled_from(["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED", "?"]),
        "v": st.sampled_from([1, 1, 1, 2]),
        "type": st.sampled_from(["booking", "touch", "x"]),
        "provider": st.sampled_from(["calendly", "cal_com", "x"]),
        "event_id": ids,
        "booking": st.fixed_dictionaries({"invitee_uri": ids, "uid": ids}),
        "payload": st.fixed_dictionaries(
            {"uri": ids, "uid": ids},
            optional={
                name: values
                for name in (
                    "email",
                    "name",
                    "tracking",
                    "responses",
                    "metadata",
                    "attendees",
                    "old_invitee",
                    "new_invitee",
                    "rescheduled",
                    "rescheduleUid",
                    "questions_and_answers",
                    "scheduled_event",
                    "cancellation",
                )
            },
        ),
        "attribution": st.dictionaries(keys, values, max_size=6),
    }
).map(lambda d: json.dumps(d).encode())
form_bodies = st.lists(st.tuples(keys, st.text(max_size=30)), max_size=8).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")
)
bodies = st.one_of(
    st.binary(max_size=300), json_bodies, json_bodies, booking_bodies, booking_bodies, form_bodies
)


def weighted(*choices: str) -> st.SearchStrategy[str]:
    """Pick from `choices`, repeats counting as weight."""
    return st.sampled_from(list(enumerate(choices))).map(lambda pair: pair[1])


content_types = weighted(
    *["application/json"] * 4,
    *["application/x-www-form-urlencoded"] * 3,
    "text/plain;charset=UTF-8",
    "",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
)
# mostly valid credentials, so that bodies reach the parsers and the job
auth_modes = weighted(*["token"] * 5, "query", "signature", "signature", "none", "garbage-signature")
endpoints = weighted(
    *(f"/webhooks/forms/{n}" for n in FORMS),
    *(f"/webhooks/booking/{n}" for n in BOOKINGS * 2),
    *["/collect"] * 3,
    "/webhooks/forms/nosuch",
    "/webhooks/beacon/beacon",
)
extra_headers = st.dictionaries(
    st.sampled_from(
        [
            "Authorization",
            "X-WPForms-Webhook-Signature",
            "Calendly-Webhook-Signature",
            "X-Cal-Signature-256",
            "Idempotency-Key",
            "Origin",
            "X-Forwarded-For",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    max_size=3,
)


def credentials(url: str, mode: str, body: bytes) -> tuple[str, dict[str, str]]:
    if mode == "token":
        return url, {"X-Connector-Token": SECRET}
    if mode == "query":
        return f"{url}?token={SECRET}", {}
    if mode == "garbage-signature":
        return url, {
            "Calendly-Webhook-Signature": "t=1,v1=00",
            "X-Cal-Signature-256": "zz",
            "X-WPForms-Webhook-Signature": "t=x",
        }
    if mode == "signature":
        return url, {
            "X-WPForms-Webhook-Signature": stripe_style(SECRET, body, "v"),
            "Calendly-Webhook-Signature": stripe_style(SECRET, body, "v1", at=int(time.time())),
            "X-Cal-Signature-256": cal_signature(SECRET, body),
        }
    return url, {}


def test_fuzz_every_intake_endpoint(client, ctx, database_url):
    if not database_url.startswith("sqlite"):
        return  # one database is enough for the parsers; the ledger paths are covered per dialect elsewhere
    use_secrets(client)
    client.application.config["PROPAGATE_EXCEPTIONS"] = True  # an exception fails the test, not a 500
    ctx.settings = replace(
        ctx.settings, collect=CollectSettings(allowed_origins=[ORIGIN], rate_limit_per_minute=10**6)
    )
    context.install(ctx)

    @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        endpoint=endpoints,
        body=bodies,
        ctype=content_types,
        mode=auth_modes,
        headers=extra_headers,
        origin=st.sampled_from([ORIGIN, "https://evil.example", ""]),
    )
    def run(endpoint: str, body: bytes, ctype: str, mode: str, headers: dict[str, str], origin: str) -> None:
        url, auth = credentials(endpoint, mode, body)
        sent = {**headers, **auth, **({"Content-Type": ctype} if ctype else {})}
        if endpoint == "/collect":
            sent["Origin"] = origin
        response = client.post(url, data=body, headers=sent)
        CASES["run"] += 1
        assert response.status_code < 500, (endpoint, body, response.get_data())
        assert response.is_json or response.status_code == 204
        if response.status_code == 200 and response.get_json()["status"] == "accepted":
            CASES["accepted"] += 1
            assert process_receipt(response.get_json()["receipt_id"]) in ("processed", "failed")
        else:
            CASES["rejected"] += 1
            reason = f"{response.status_code} {(response.get_json() or {}).get('error', response.get_json().get('status'))}"[
                :40
            ]
            REASONS[reason] = REASONS.get(reason, 0) + 1

    run()
    print("fuzz: most common answers:", sorted(REASONS.items(), key=lambda kv: -kv[1])[:8])
    print(
        f"\nfuzz: {CASES['run']} cases, {CASES['accepted']} accepted and processed, {CASES['rejected']} rejected"
    )
    assert CASES["run"] >= 3000 and CASES["accepted"] >= 100, "too few bodies reached the parsers and the job"
