"""Field recognition: canonical names, contact aliases, the configured maps, and bounded flattening."""

from __future__ import annotations

import pytest

from connector.config import ConfigError, FormFieldSettings, SourceSettings, load_settings
from connector.intake.fields import MAX_DEPTH, flatten, recognise


def test_flatten_keeps_nested_paths_and_free_leaves():
    flat = flatten({"names": {"first_name": "Ada"}, "tags": ["a", "b"], "n": 3, "ok": True, "none": None})
    assert flat == {"names[first_name]": "Ada", "first_name": "Ada", "tags": "a, b", "n": "3", "ok": "true"}


def test_flatten_never_lets_a_leaf_shadow_a_top_level_key():
    assert (
        flatten({"email": "top@example.com", "x": {"email": "nested@example.com"}})["email"]
        == "top@example.com"
    )


def test_flatten_is_bounded_in_depth():
    deep: dict = {"v": "bottom"}
    for _ in range(MAX_DEPTH + 5):
        deep = {"a": deep}
    assert flatten(deep) == {}


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        ("your-email", "email"),
        ("E-mail", "email"),
        ("First Name", "first_name"),
        ("your-name", "name"),
        ("Phone Number", "phone"),
        ("Organisation", "company"),
        ("surname", "last_name"),
    ],
)
def test_common_contact_names(key, canonical):
    assert recognise({key: "v@example.com"}, None, None)[canonical] == "v@example.com"


def test_email_is_sniffed_only_when_unambiguous():
    assert recognise({"2": "a@example.com", "3": "hello"}, None, None) == {"email": "a@example.com"}
    assert "email" not in recognise({"2": "a@example.com", "3": "b@example.com"}, None, None)


def test_configured_maps_win_and_per_form_maps_override():
    conf = SourceSettings(
        fields={"first_utm_source": "7", "email": "2"},
        forms={"3": FormFieldSettings(fields={"first_utm_source": "9"})},
    )
    flat = {"2": "x@example.com", "7": "from-7", "9": "from-9", "first_utm_source": "canonical"}
    assert recognise(flat, conf, "1")["first_utm_source"] == "from-7"
    assert recognise(flat, conf, "3")["first_utm_source"] == "from-9"
    assert recognise(flat, conf, None)["email"] == "x@example.com"


def test_field_maps_load_from_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[sources.gravity_forms.fields]\nemail = "2"\n[sources.gravity_forms.forms.3.fields]\nevent_id = "10"\n'
    )
    conf = load_settings(path, environ={}).source("gravity_forms")
    assert conf.fields == {"email": "2"} and conf.forms["3"].fields == {"event_id": "10"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sources.wpforms.fields]\nutm = "7"\n', "sources.wpforms.fields.utm: not a canonical field name"),
        (
            "[sources.wpforms.fields]\nemail = 7\n",
            "sources.wpforms.fields.email: expected a non-empty string",
        ),
        ('[sources.wpforms.forms.3]\nfield = "x"\n', "unknown key 'sources.wpforms.forms.3.field'"),
        ("[sources.calendly]\nsignature_tolerance_seconds = 0\n", "expected an integer >= 1"),
        (
            '[collect]\nallowed_origins = "https://a"\nrate_limit_per_minute = 0\n',
            "collect.rate_limit_per_minute",
        ),
    ],
)
def test_bad_field_maps_name_the_key(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", ".")):
        load_settings(path, environ={})
