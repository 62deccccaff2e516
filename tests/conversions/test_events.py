from dataclasses import replace

import pytest

from connector.events.model import (
    DATA_TYPE_FIELDS,
    EVENT_DATA_TYPES,
    MAX_AGE_MS,
    MAX_FUTURE_MS,
    ContentItem,
    ConversionEvent,
    EventData,
    UserData,
    validate_event,
)

HEX = "a" * 64
HEX2 = "b" * 64

SHAPES = {
    "contents": EventData(
        type="contents",
        amount=12999,
        currency="USD",
        contents=(
            ContentItem(
                id="sku-1", name="Shoe", content_type="product", quantity=2, amount=6500, currency="USD"
            ),
        ),
    ),
    "customer_action": EventData(type="customer_action", amount=5000, currency="EUR"),
    "plan_enrollment": EventData(
        type="plan_enrollment",
        plan_id="pro-monthly",
        amount=1900,
        currency="USD",
        contents=(ContentItem(id="seat"),),
    ),
    "custom": EventData(
        type="custom", plan_id="p", amount=1, currency="JPY", contents=(ContentItem(id="x"),)
    ),
}


@pytest.mark.parametrize("event_type", sorted(EVENT_DATA_TYPES))
def test_every_event_type_with_its_data_shape_is_valid(make_event, now_ms, event_type):
    data_type = EVENT_DATA_TYPES[event_type]
    custom_name = "demo_request" if event_type == "custom" else None
    event = make_event(type=event_type, custom_event_name=custom_name, data=SHAPES[data_type])
    assert validate_event(event, now_ms) == []
    wire = event.to_json()
    assert wire["data"]["type"] == data_type
    assert wire["type"] == event_type


@pytest.mark.parametrize("event_type", sorted(EVENT_DATA_TYPES))
def test_every_event_type_rejects_the_wrong_data_type(make_event, now_ms, event_type):
    expected = EVENT_DATA_TYPES[event_type]
    wrong = next(t for t in DATA_TYPE_FIELDS if t != expected)
    event = make_event(
        type=event_type,
        custom_event_name="n" if event_type == "custom" else None,
        data=EventData(type=wrong),
    )
    assert f"data.type must be {expected!r} for {event_type}, got {wrong!r}" in validate_event(event, now_ms)


def test_lead_created_with_contents_message(make_event, now_ms):
    event = make_event(data=EventData(type="contents"))
    assert validate_event(event, now_ms) == [
        "data.type must be 'customer_action' for lead_created, got 'contents'"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            EventData(type="customer_action", plan_id="p"),
            "data.plan_id is not allowed for data.type 'customer_action'",
        ),
        (
            EventData(type="customer_action", contents=(ContentItem(id="a"),)),
            "data.contents is not allowed for data.type 'customer_action'",
        ),
        (
            EventData(type="customer_action", amount=100),
            "data.currency is required when data.amount is present",
        ),
        (
            EventData(type="customer_action", amount=1.5, currency="USD"),
            "data.amount must be an integer in the currency's minor unit, got 1.5",
        ),
        (
            EventData(type="customer_action", amount=-1, currency="USD"),
            "data.amount must not be negative, got -1",
        ),
        (
            EventData(type="customer_action", amount=1, currency="usd"),
            "data.currency must be three capital letters, got 'usd'",
        ),
        (
            EventData(type="customer_action", amount=1, currency="ABC"),
            "data.currency 'ABC' is not an active ISO 4217 currency",
        ),
        (
            EventData(type="bogus"),
            "data.type 'bogus' is not one of contents, customer_action, plan_enrollment, custom",
        ),
    ],
)
def test_data_rules(make_event, now_ms, data, message):
    assert message in validate_event(make_event(data=data), now_ms)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (ContentItem(id=""), "data.contents[0].id must be a non-empty string, got ''"),
        (ContentItem(id="a", quantity=0), "data.contents[0].quantity must be a positive integer, got 0"),
        (
            ContentItem(id="a", quantity=True),
            "data.contents[0].quantity must be a positive integer, got True",
        ),
        (
            ContentItem(id="a", amount=100),
            "data.contents[0].currency is required when data.contents[0].amount is present",
        ),
        (
            ContentItem(id="a", amount="1.00", currency="USD"),
            "data.contents[0].amount must be an integer in the currency's minor unit, got '1.00'",
        ),
        (ContentItem(id="a", name=""), "data.contents[0].name must be a non-empty string, got ''"),
    ],
)
def test_content_item_rules(make_event, now_ms, item, message):
    event = make_event(type="order_created", data=EventData(type="contents", contents=(item,)))
    assert message in validate_event(event, now_ms)


def test_time_window_edges(make_event, now_ms):
    assert validate_event(make_event(timestamp_ms=now_ms - MAX_AGE_MS), now_ms) == []
    assert validate_event(make_event(timestamp_ms=now_ms + MAX_FUTURE_MS), now_ms) == []
    old = validate_event(make_event(timestamp_ms=now_ms - MAX_AGE_MS - 1), now_ms)
    assert old == ["timestamp_ms is 168.0 hours old, older than the 7-day window"]
    ahead = validate_event(make_event(timestamp_ms=now_ms + MAX_FUTURE_MS + 1000), now_ms)
    assert ahead == ["timestamp_ms is 601 seconds in the future, more than the 10-minute limit"]
    assert validate_event(make_event(timestamp_ms=str(now_ms)), now_ms) == [
        f"timestamp_ms must be an integer of milliseconds, got '{now_ms}'"
    ]


@pytest.mark.parametrize("name", ["a", "demo_request", "Demo-Request-2", "x" * 64, "9a"])
def test_custom_event_name_accepted(make_event, now_ms, name):
    event = make_event(type="custom", custom_event_name=name, data=EventData(type="custom"))
    assert validate_event(event, now_ms) == []


@pytest.mark.parametrize("name", ["_a", "a-", "has space", "x" * 65, "é", "a.b"])
def test_custom_event_name_rejected(make_event, now_ms, name):
    event = make_event(type="custom", custom_event_name=name, data=EventData(type="custom"))
    [error] = validate_event(event, now_ms)
    assert error.startswith("custom_event_name must be 1-64 letters")


def test_custom_event_name_required_for_custom_and_forbidden_otherwise(make_event, now_ms):
    custom = make_event(type="custom", data=EventData(type="custom"))
    assert validate_event(custom, now_ms) == ["custom_event_name is required when type is 'custom'"]
    lead = make_event(custom_event_name="demo")
    assert validate_event(lead, now_ms) == [
        "custom_event_name is only allowed when type is 'custom', got type 'lead_created'"
    ]


def test_source_url_rules(make_event, now_ms):
    assert validate_event(make_event(source_url=None), now_ms) == [
        "source_url is required when action_source is 'web'"
    ]
    assert validate_event(make_event(source_url=None, action_source="offline"), now_ms) == []
    assert validate_event(make_event(source_url="/contact"), now_ms) == [
        "source_url must be an absolute http(s) URL, got '/contact'"
    ]
    assert "action_source must be one of" in validate_event(make_event(action_source="store"), now_ms)[0]


def test_ids_and_type(make_event, now_ms):
    assert validate_event(make_event(id=""), now_ms) == ["id must be a non-empty string, got ''"]
    assert validate_event(make_event(id="  "), now_ms) == ["id must be a non-empty string, got '  '"]
    assert validate_event(make_event(id="x" * 256), now_ms) == [
        "id is 256 characters long, at most 255 allowed"
    ]
    errors = validate_event(make_event(type="lead"), now_ms)
    assert errors == ["type 'lead' is not a supported event type"]


def test_all_reasons_are_reported_together(make_event, now_ms):
    event = make_event(id="", source_url=None, timestamp_ms=0, data=EventData(type="contents", amount=5))
    assert len(validate_event(event, now_ms)) == 5


def test_user_hashed_fields_must_be_lowercase_hex(make_event, now_ms):
    user = UserData(
        emails_sha256=("test@example.com",),
        phone_numbers_sha256=(HEX.upper(),),
        first_names_sha256=(HEX,),
        ip_address="300.1.1.1",
    )
    errors = validate_event(make_event(user=user), now_ms)
    assert errors == [
        "user.emails_sha256[0] must be 64 lowercase hex characters (SHA-256)",
        "user.phone_numbers_sha256[0] must be 64 lowercase hex characters (SHA-256)",
        "user.ip_address must be an IPv4 or IPv6 address, got '300.1.1.1'",
    ]
    too_many = UserData(emails_sha256=(HEX,) * 4)
    assert validate_event(make_event(user=too_many), now_ms) == [
        "user.emails_sha256 has 4 values, at most 3 are used"
    ]


def test_to_json_is_exactly_the_wire_dict_and_omits_empty_optionals(make_event, now_ms):
    event = make_event(
        oppref="Ab%2F+/==",
        user=UserData(emails_sha256=(HEX,), countries=("us",), ip_address="::1"),
        opt_out=True,
        data=EventData(type="customer_action", amount=5000, currency="USD"),
    )
    assert event.to_json() == {
        "id": "evt-00000",
        "type": "lead_created",
        "timestamp_ms": now_ms - 60_000,
        "action_source": "web",
        "source_url": "https://example.com/contact?x=1",
        "oppref": "Ab%2F+/==",
        "user": {"emails_sha256": [HEX], "countries": ["us"], "ip_address": "::1"},
        "opt_out": True,
        "data": {"type": "customer_action", "amount": 5000, "currency": "USD"},
    }
    minimal = make_event(action_source="offline", source_url=None).to_json()
    assert minimal == {
        "id": "evt-00000",
        "type": "lead_created",
        "timestamp_ms": now_ms - 60_000,
        "action_source": "offline",
        "data": {"type": "customer_action"},
    }


def test_scalar_user_format(make_event):
    user = UserData(
        emails_sha256=(HEX, HEX2),
        phone_numbers_sha256=(HEX,),
        external_ids_sha256=(HEX2,),
        countries=("fr",),
        cities=("paris",),
        postal_codes=("75001",),
        first_names_sha256=(HEX,),
        ip_address="10.0.0.1",
        user_agent="UA/1",
        format="scalar",
    )
    assert make_event(user=user).to_json()["user"] == {
        "email_sha256": HEX,
        "external_id_sha256": HEX2,
        "country": "fr",
        "city": "paris",
        "zip_code": "75001",
        "ip_address": "10.0.0.1",
        "user_agent": "UA/1",
    }


@pytest.mark.parametrize("fmt", ["list", "scalar"])
def test_wire_round_trip(make_event, fmt):
    user = UserData(emails_sha256=(HEX,), external_ids_sha256=(HEX2,), ip_address="1.2.3.4", format=fmt)
    event = make_event(
        type="custom", custom_event_name="demo", oppref="x y", user=user, data=SHAPES["custom"]
    )
    assert ConversionEvent.from_json(event.to_json()) == event


def test_dedup_key(make_event):
    assert make_event().dedup_key == ("lead_created", "", "evt-00000")
    custom = replace(make_event(), type="custom", custom_event_name="demo")
    assert custom.dedup_key == ("custom", "demo", "evt-00000")
