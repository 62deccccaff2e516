"""Body decoding: JSON and form bodies, nested keys, and precise errors."""

from __future__ import annotations

import pytest

from connector.intake.body import decode_body
from connector.intake.errors import BadPayload, UnsupportedMediaType


def test_json_object():
    assert decode_body(b'{"email": "a@b.c"}', "application/json; charset=utf-8") == {"email": "a@b.c"}


def test_form_with_nested_keys_and_lists():
    body = b"fields%5Bemail%5D%5Bvalue%5D=a%40b.c&form%5Bid%5D=7&tags%5B%5D=x&tags%5B%5D=y&plain=1"
    assert decode_body(body, "application/x-www-form-urlencoded") == {
        "fields": {"email": {"value": "a@b.c"}},
        "form": {"id": "7"},
        "tags": ["x", "y"],
        "plain": "1",
    }


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{bad", "application/json", "malformed JSON at line 1 column 2"),
        (b"[1, 2]", "application/json", "expected a JSON object, got list"),
        (b"", "application/json", "empty body"),
        (b"\xff\xfe", "application/json", "not valid UTF-8"),
        (b"a=1&&=", "application/x-www-form-urlencoded", "malformed form-encoded body"),
        (b"", "application/x-www-form-urlencoded", "empty body"),
    ],
)
def test_bad_bodies_say_what_is_wrong(body: bytes, content_type: str, message: str):
    with pytest.raises(BadPayload, match=message):
        decode_body(body, content_type)


def test_unsupported_content_type():
    with pytest.raises(UnsupportedMediaType, match="unsupported Content-Type 'application/xml'"):
        decode_body(b"<a/>", "application/xml")
