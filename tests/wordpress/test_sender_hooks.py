"""Each form plugin's "entry saved" action, with the arguments that plugin documents, queues one v1 body: the
contact found by field type and name, the attribution from the posted hidden fields over the `_attr` cookie.
Gravity Forms, WPForms, Elementor Pro and Ninja Forms are not installed in the real-WordPress suite, so their
handlers run here, under php-cli on the WordPress stub."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote

import pytest

SETTINGS = {"endpoint": "https://connector.example.com", "consent": "auto"}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
UUID = re.compile(r"00000000-0000-4000-8000-\d{12}")  # the stub's wp_generate_uuid4()
EVENT_ID = "6f1c2a7e-8d4b-4c1a-9e2f-0a1b2c3d4e5f"
REFERER = "https://example.test/contact/?utm_source=x"

# what the script writes: encodeURIComponent(JSON.stringify({f, l, c})) (plugin-js/src/attribution.js)
TOUCH = {
    "landing_page": "https://example.test/?utm_source=chatgpt&utm_medium=paid_ai",
    "referrer": "https://chatgpt.com/",
    "channel": "openai_ads",
    "ai_source": "openai_ads",
    "touch_at": "2099-01-01T10:00:00.000Z",
    "utm_source": "chatgpt",
    "utm_medium": "paid_ai",
}
COOKIE = {
    "f": TOUCH,
    "l": TOUCH | {"utm_source": "chatgpt.com"},
    "c": {"oppref": ["REF+1/=", "2099-01-01T10:00:00.000Z"]},
}
FROM_COOKIE = (
    {f"first_{k}": v for k, v in TOUCH.items()}
    | {f"latest_{k}": v for k, v in TOUCH.items()}
    | {"latest_utm_source": "chatgpt.com", "oppref": "REF+1/="}
)


def cookie(value: dict[str, Any] = COOKIE) -> str:
    """The cookie's value as PHP's $_COOKIE holds it (URL-decoded)."""
    return json.dumps(value, separators=(",", ":"))


@pytest.fixture
def fire(wordpress):
    """fire(hook, *args, cookie=..., settings=..., secret=...) -> the queued bodies (and the cron events)."""

    def run(
        hook: str,
        *args: Any,
        cookies: dict[str, str] | None = None,
        secret: str | None = SECRET,
        settings: dict[str, str] = SETTINGS,
    ) -> list[dict[str, Any]]:
        done = json.loads(
            wordpress(
                "hook",
                settings,
                secret=secret,
                hook=hook,
                args=list(args),
                cookies=cookies or {},
                server={"HTTP_REFERER": REFERER},
            )
        )
        rows = done["rows"]
        for row in rows:
            assert row["status"] == "waiting" and row["attempts"] == 0
            assert re.fullmatch(r"msg_[0-9a-f-]{32,}", row["delivery_id"].replace("-", "")), row[
                "delivery_id"
            ]
            assert {"hook": "connector_attribution_send", "args": [row["id"]]} == {
                k: v for k, v in done["cron"][0].items() if k != "timestamp"
            }
            row["body"] = json.loads(row["body"])
            assert row["event_id"] == row["body"]["attribution"]["event_id"]
        return [row["body"] for row in rows]

    return run


def common(body: dict[str, Any], plugin: str) -> None:
    assert body["v"] == 1 and body["type"] == "form_submission" and body["plugin"] == plugin
    assert body["site"] == "https://example.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["submitted_at"])


# ---- Gravity Forms: gform_after_submission ($entry, $form) ----

GF_FORM = {
    "id": 7,
    "title": "Demo request",
    "fields": [
        {
            "id": 1,
            "type": "name",
            "label": "Name",
            "inputs": [{"id": "1.3", "label": "First"}, {"id": "1.6", "label": "Last"}],
        },
        {"id": 2, "type": "email", "label": "Work email"},
        {"id": 3, "type": "phone", "label": "Phone"},
        {"id": 4, "type": "text", "label": "Company"},
        {"id": 5, "type": "textarea", "label": "Message"},
        {"id": 6, "type": "hidden", "label": "Source", "cssClass": "latest_utm_source"},
        {"id": 7, "type": "hidden", "label": "Event", "cssClass": "ca event_id"},
        {"id": 8, "type": "hidden", "label": "first_channel"},
        {"id": 9, "type": "checkbox", "label": "Topics", "inputs": [{"id": "9.1"}, {"id": "9.2"}]},
    ],
}
GF_ENTRY = {
    "id": "345",
    "form_id": "7",
    "status": "active",
    "source_url": "https://example.test/demo/",
    "1.3": "Ada",
    "1.6": "Lovelace",
    "2": "ada@example.com",
    "3": "+44 20 7946 0000",
    "4": "Analytical Engines",
    "5": "Hello",
    "6": "newsletter",
    "7": EVENT_ID,
    "8": "email",
    "9.1": "pricing",
    "9.2": "demo",
}


def test_gravity_forms_entry(fire):
    (body,) = fire("gform_after_submission", GF_ENTRY, GF_FORM)
    common(body, "gravity_forms")
    assert (body["form_id"], body["form_name"], body["entry_id"]) == ("7", "Demo request", "345")
    assert body["page_url"] == "https://example.test/demo/"  # the entry's source_url
    assert body["contact"] == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0000",
        "company": "Analytical Engines",
        "name": "Ada Lovelace",
    }
    assert body["attribution"] == {
        "latest_utm_source": "newsletter",
        "event_id": EVENT_ID,
        "first_channel": "email",
    }
    assert body["fields"] == {"Message": "Hello", "Topics": ["pricing", "demo"]}


def test_gravity_forms_spam_is_not_sent(fire):
    assert fire("gform_after_submission", GF_ENTRY | {"status": "spam"}, GF_FORM) == []


# ---- WPForms: wpforms_process_complete ($fields, $entry, $form_data, $entry_id) ----

WPF_FIELDS = {
    "1": {
        "name": "Name",
        "value": "Ada Lovelace",
        "id": 1,
        "type": "name",
        "first": "Ada",
        "middle": "",
        "last": "Lovelace",
    },
    "2": {"name": "Email", "value": "ada@example.com", "id": 2, "type": "email"},
    "3": {"name": "Organisation", "value": "Analytical Engines", "id": 3, "type": "text"},
    "4": {"name": "Hidden", "value": "chatgpt.com", "id": 4, "type": "hidden"},
    "5": {"name": "Hidden", "value": EVENT_ID, "id": 5, "type": "hidden"},
    "6": {"name": "Comment or Message", "value": "Hi", "id": 6, "type": "textarea"},
}
WPF_FORM = {
    "id": 12,
    "settings": {"form_title": "Contact us"},
    "fields": {
        "4": {"id": 4, "type": "hidden", "css": "first_utm_source"},
        "5": {"id": 5, "type": "hidden", "css": "event_id"},
    },
}
WPF_ENTRY = {"id": 12, "fields": {"1": {"first": "Ada", "last": "Lovelace"}, "2": "ada@example.com"}}


def test_wpforms_entry(fire):
    (body,) = fire("wpforms_process_complete", WPF_FIELDS, WPF_ENTRY, WPF_FORM, 345)
    common(body, "wpforms")
    assert (body["form_id"], body["form_name"], body["entry_id"]) == ("12", "Contact us", "345")
    assert body["page_url"] == REFERER
    assert body["contact"] == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "company": "Analytical Engines",
        "name": "Ada Lovelace",
    }
    assert body["attribution"] == {"first_utm_source": "chatgpt.com", "event_id": EVENT_ID}
    assert body["fields"] == {"Comment or Message": "Hi"}


def test_wpforms_lite_without_stored_entries_has_no_entry_id(fire):
    (body,) = fire("wpforms_process_complete", WPF_FIELDS, WPF_ENTRY, WPF_FORM, 0)
    assert "entry_id" not in body


# ---- Elementor Pro: elementor_pro/forms/new_record ($record, $handler) ----

ELEMENTOR_RECORD = {
    "settings": {"id": "3f2a1b9", "form_name": "New Form"},
    "data": {
        "fields": {
            "name": {
                "id": "name",
                "type": "text",
                "title": "Name",
                "value": "Ada Lovelace",
                "raw_value": "Ada Lovelace",
            },
            "email": {
                "id": "email",
                "type": "email",
                "title": "Email",
                "value": "ada@example.com",
                "raw_value": "ada@example.com",
            },
            "field_4c1": {
                "id": "field_4c1",
                "type": "tel",
                "title": "Mobile",
                "value": "+1 555",
                "raw_value": "+1 555",
            },
            "message": {
                "id": "message",
                "type": "textarea",
                "title": "Message",
                "value": "Hi",
                "raw_value": "Hi",
            },
            "latest_utm_campaign": {
                "id": "latest_utm_campaign",
                "type": "hidden",
                "title": "",
                "value": "spring",
                "raw_value": "spring",
            },
            "event_id": {
                "id": "event_id",
                "type": "hidden",
                "title": "",
                "value": EVENT_ID,
                "raw_value": EVENT_ID,
            },
        },
        "meta": {"page_url": {"title": "Page URL", "value": "https://example.test/landing/"}},
    },
}


def test_elementor_pro_record(fire):
    (body,) = fire("elementor_pro/forms/new_record", ELEMENTOR_RECORD)
    common(body, "elementor")
    assert (body["form_id"], body["form_name"]) == ("3f2a1b9", "New Form") and "entry_id" not in body
    assert body["page_url"] == "https://example.test/landing/"
    assert body["contact"] == {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 555"}
    assert body["attribution"] == {"latest_utm_campaign": "spring", "event_id": EVENT_ID}
    assert body["fields"] == {"Message": "Hi"}


# ---- Ninja Forms: ninja_forms_after_submission ($form_data) ----

NINJA_DATA = {
    "form_id": "3",
    "settings": {"title": "Contact Me"},
    "fields": {
        "1": {"id": 1, "key": "firstname_1701", "type": "firstname", "label": "First Name", "value": "Ada"},
        "2": {"id": 2, "key": "lastname_1702", "type": "lastname", "label": "Last Name", "value": "Lovelace"},
        "3": {"id": 3, "key": "email_1703", "type": "email", "label": "Email", "value": "ada@example.com"},
        "4": {
            "id": 4,
            "key": "hidden_1704",
            "type": "hidden",
            "label": "Hidden",
            "value": "REF123",
            "element_class": "oppref",
            "container_class": "",
        },
        "5": {"id": 5, "key": "event_id", "type": "hidden", "label": "event_id", "value": EVENT_ID},
        "6": {"id": 6, "key": "submit_1706", "type": "submit", "label": "Submit", "value": ""},
    },
    "actions": {"save": {"sub_id": 88}},
}


def test_ninja_forms_submission(fire):
    (body,) = fire("ninja_forms_after_submission", NINJA_DATA)
    common(body, "ninja_forms")
    assert (body["form_id"], body["form_name"], body["entry_id"]) == ("3", "Contact Me", "88")
    assert body["contact"] == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
    }
    assert body["attribution"] == {"oppref": "REF123", "event_id": EVENT_ID}
    assert body["fields"] == {}


# ---- which wins: posted hidden fields over the _attr cookie ----

PLAIN_FORM = {"id": 8, "title": "Plain", "fields": [{"id": 1, "type": "email", "label": "Email"}]}
PLAIN_ENTRY = {"id": "9", "status": "active", "1": "ada@example.com"}


def test_without_hidden_fields_the_cookie_gives_the_attribution_and_a_new_event_id(fire):
    (body,) = fire("gform_after_submission", PLAIN_ENTRY, PLAIN_FORM, cookies={"_attr": cookie()})
    attribution = body["attribution"]
    assert UUID.fullmatch(attribution.pop("event_id"))  # the pixel never saw this one
    assert attribution == FROM_COOKIE


def test_posted_fields_win_over_the_cookie_field_by_field(fire):
    (body,) = fire("gform_after_submission", GF_ENTRY, GF_FORM, cookies={"_attr": cookie()})
    assert body["attribution"] == FROM_COOKIE | {
        "latest_utm_source": "newsletter",  # posted, over the cookie's chatgpt.com
        "first_channel": "email",  # posted, over the cookie's openai_ads
        "event_id": EVENT_ID,  # the id the hidden field posted, which the pixel measured
    }


@pytest.mark.parametrize("consent", ["denied", "unknown"])
def test_the_cookie_is_not_read_when_the_entry_posted_no_consent(fire, consent):
    form = GF_FORM | {"fields": [*GF_FORM["fields"], {"id": 10, "type": "hidden", "cssClass": "consent"}]}
    (body,) = fire("gform_after_submission", GF_ENTRY | {"10": consent}, form, cookies={"_attr": cookie()})
    assert body["attribution"] == {
        "latest_utm_source": "newsletter",
        "event_id": EVENT_ID,
        "first_channel": "email",
        "consent": consent,
    }


@pytest.mark.parametrize(
    "raw",
    ["", "0", "not json", '{"f": "x", "l": [1], "c": {"oppref": "x", "gclid": [["a"], 1]}}', quote(cookie())],
)
def test_an_unreadable_cookie_gives_no_attribution_and_no_error(fire, raw):
    (body,) = fire("gform_after_submission", PLAIN_ENTRY, PLAIN_FORM, cookies={"_attr": raw})
    assert list(body["attribution"]) == ["event_id"]


def test_expired_click_ids_in_the_cookie_are_dropped(fire):
    old = {"c": {"oppref": ["OLD", "2000-01-01T00:00:00Z"], "gclid": ["G", "2099-01-01T00:00:00Z"]}}
    (body,) = fire("gform_after_submission", PLAIN_ENTRY, PLAIN_FORM, cookies={"_attr": cookie(old)})
    assert {k: v for k, v in body["attribution"].items() if k != "event_id"} == {"gclid": "G"}


@pytest.mark.parametrize(
    ("settings", "secret"), [(SETTINGS, None), (SETTINGS, ""), (SETTINGS | {"endpoint": ""}, SECRET)]
)
def test_nothing_is_queued_until_a_connector_url_and_a_secret_are_set(fire, settings, secret):
    assert fire("gform_after_submission", GF_ENTRY, GF_FORM, settings=settings, secret=secret) == []


# ---- signing, and what each answer means ----


@pytest.fixture
def call(wordpress):
    return lambda function, *args: json.loads(
        wordpress("call", SETTINGS, secret=SECRET, function=function, args=list(args))
    )


def test_the_signature_matches_the_standard_webhooks_reference_vector(call):
    signature = call(
        "connector_attribution_signature",
        SECRET,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        '{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("secret", ["plain-secret-value", "whsec_not*base64!"])
def test_a_secret_that_is_not_whsec_base64_signs_with_its_own_bytes(call, secret):
    mac = hmac.new(secret.encode(), b"msg_1.1700000000.{}", hashlib.sha256).digest()
    assert call("connector_attribution_signature", secret, "msg_1", "1700000000", "{}") == (
        "v1," + base64.b64encode(mac).decode()
    )


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (0, True),
        (408, True),
        (429, True),
        (500, True),
        (503, True),
        (400, False),
        (401, False),
        (404, False),
        (413, False),
        (301, False),
    ],
)
def test_which_answers_are_retried(call, status, retry):
    assert call("connector_attribution_retryable", status) is retry


def test_the_backoff_doubles_from_a_minute_to_at_most_six_hours_and_honours_retry_after(call):
    assert [call("connector_attribution_backoff", n) for n in (1, 2, 3, 10, 30)] == [
        60,
        120,
        240,
        21600,
        21600,
    ]
    assert call("connector_attribution_backoff", 1, 600) == 600


def test_the_reason_is_the_connectors_error(call):
    answer = {
        "status": 400,
        "body": '{"error": "v: expected 1", "status": 400}',
        "retry_after": 0,
        "error": "",
    }
    assert call("connector_attribution_reason", answer) == "HTTP 400: v: expected 1"
    assert call("connector_attribution_reason", answer | {"status": 0, "error": "cURL error 7"}) == (
        "no answer: cURL error 7"
    )
