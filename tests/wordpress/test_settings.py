"""Settings > Connector Attribution: what saving the form keeps, and the page that shows it."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import OPTION, Elements, config, scripts

DEFAULTS = {"pixel_id": "", "endpoint": "", "consent": "auto", "root_domain": ""}


@pytest.fixture
def save(wordpress):
    """The value WordPress stores when the settings form posts input (through the registered callback)."""
    return lambda data: json.loads(wordpress("sanitize", input=data))


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("auto", "auto"),
        ("optional", "auto"),  # the old name of "auto"
        ("required", "required"),
        ("", "auto"),  # anything else: the default
        ("REQUIRED", "auto"),
        ("none", "auto"),
        (["required"], "auto"),
        (None, "auto"),
    ],
)
def test_consent_is_auto_or_required_only(save, given, kept):
    assert save({"consent": given})["consent"] == kept


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("example.com", "example.com"),
        ("  Example.COM ", "example.com"),
        ("https://www.example.com/pricing?utm_source=x", "example.com"),
        ("shop.example.co.uk:8443", "shop.example.co.uk"),
        (".example.com.", "example.com"),
        ('example.com"; domain=evil.test', "example.com"),
        ("exa mple.com", "exa"),
        ("<script>alert(1)</script>", ""),
        ("", ""),
    ],
)
def test_the_root_domain_is_cleaned_to_a_host_name(save, given, kept):
    assert save({"root_domain": given})["root_domain"] == kept


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://connector.example.com", "https://connector.example.com"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/"),
        ("  https://connector.example.com/base  ", "https://connector.example.com/base"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)//https://x", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("ftp://connector.example.com", ""),
        ("//connector.example.com", ""),
        ("/collect", ""),
        ("https://", ""),
        ("", ""),
    ],
)
def test_the_endpoint_is_an_http_or_https_url_or_nothing(save, given, kept):
    assert save({"endpoint": given})["endpoint"] == kept


def test_the_endpoint_loses_characters_a_url_cannot_hold(save):
    kept = save({"endpoint": 'https://connector.example.com/"><script>'})["endpoint"]
    assert kept.startswith("https://connector.example.com/") and not set('"<> ') & set(kept)


def test_the_pixel_id_is_plain_text(save):
    assert save({"pixel_id": " px_123-A\n"})["pixel_id"] == "px_123-A"
    assert save({"pixel_id": ["px_123"]})["pixel_id"] == ""


@pytest.mark.parametrize("given", ["<b>px_123</b>", "px 123", "px_1;alert(1)", "px_1\u00e9"])
def test_a_pixel_id_with_other_characters_is_refused_with_an_error_and_the_saved_one_stays(wordpress, given):
    done = json.loads(
        wordpress("sanitize", options={"pixel_id": "px_old"}, input={"pixel_id": given}, errors=True)
    )
    assert done["saved"]["pixel_id"] == "px_old"
    assert [(e["code"], e["type"]) for e in done["errors"]] == [("pixel_id", "error")]
    assert "not saved" in done["errors"][0]["message"]


@pytest.mark.parametrize(
    "given",
    ["javascript:alert(1)", "https://c.example.com/?token=x", "https://c.example.com/#x", "not a url"],
)
def test_a_refused_connector_url_says_so_and_the_saved_one_stays(wordpress, given):
    old = {"endpoint": "https://old.example.com"}
    done = json.loads(wordpress("sanitize", options=old, input={"endpoint": given}, errors=True))
    assert done["saved"]["endpoint"] == "https://old.example.com"
    assert [e["code"] for e in done["errors"]] == ["endpoint"]


def test_a_root_domain_with_nothing_of_a_host_name_is_refused_with_an_error(wordpress):
    done = json.loads(
        wordpress(
            "sanitize", options={"root_domain": "example.com"}, input={"root_domain": "<script>"}, errors=True
        )
    )
    assert done["saved"]["root_domain"] == "example.com"
    assert [e["code"] for e in done["errors"]] == ["root_domain"]


@pytest.mark.parametrize(
    "given", ["https://c.example.com/webhooks/forms/wordpress", "https://c.example.com/collect/"]
)
def test_a_pasted_webhook_or_beacon_url_means_its_base(save, given):
    assert save({"endpoint": given})["endpoint"] == "https://c.example.com"


@pytest.mark.parametrize("given", [None, "a string", [], {"unknown": "x"}])
def test_nothing_usable_saves_the_defaults(save, given):
    assert save(given) == DEFAULTS


def test_saved_settings_reach_every_page(wordpress, node, save):
    saved = save(
        {
            "pixel_id": "px_9",
            "endpoint": "https://c.example.com",
            "consent": "required",
            "root_domain": "https://www.example.com/",
        }
    )
    inline = scripts(wordpress("head", saved))[0][1]
    cfg = config(node, inline)
    assert {k: cfg[k] for k in ("pixelId", "endpoint", "consent", "rootDomain")} == {
        "pixelId": "px_9",
        "endpoint": "https://c.example.com",
        "consent": "required",
        "rootDomain": "example.com",
    }


def test_the_settings_page_shows_hostile_values_as_text(wordpress):
    hostile = '"><script>alert(1)</script><input value="'
    options = {"pixel_id": hostile, "endpoint": hostile, "consent": "required", "root_domain": hostile}
    page = Elements(wordpress("admin", options))
    assert page.all("script") == []
    values = {attrs["name"]: attrs.get("value") for attrs, _ in page.all("input") if attrs.get("name")}
    assert (
        values[f"{OPTION}[pixel_id]"]
        == values[f"{OPTION}[endpoint]"]
        == values[f"{OPTION}[root_domain]"]
        == hostile
    )
    selected = [attrs["value"] for attrs, _ in page.all("option") if "selected" in attrs]
    assert selected == ["required"]
    assert values["option_page"] == OPTION  # the group register_setting was given


def test_the_settings_page_shows_nothing_to_a_user_who_cannot_manage_options(wordpress):
    assert wordpress("admin", DEFAULTS, can=False).strip() == ""


def test_the_secret_is_a_password_field_never_shown_back(wordpress):
    html = wordpress("admin", {"endpoint": "https://c.example.com"}, secret="whsec_c2VjcmV0LXZhbHVl")
    assert "whsec_c2VjcmV0LXZhbHVl" not in html
    (field,) = [
        attrs
        for attrs, _ in Elements(html).all("input")
        if attrs.get("name") == "connector_attribution_secret"
    ]
    assert field["type"] == "password" and field["value"] == ""
    assert "A secret is saved." in html


def test_every_settings_field_says_its_type_and_has_help(wordpress):
    page = Elements(wordpress("admin"))
    fields = [
        attrs
        for attrs, _ in page.all("input")
        if attrs.get("id", "").startswith("ca-") and attrs["id"] != "ca-test"
    ]
    assert {f["id"] for f in fields} == {"ca-endpoint", "ca-secret", "ca-pixel", "ca-root"}
    ids = {attrs.get("id") for _, attrs, _ in page.found}
    for f in fields + [attrs for attrs, _ in page.all("select")]:
        assert f.get("type") or f["id"] == "ca-consent", f
        assert f["aria-describedby"] in ids, f


def test_the_settings_page_names_each_consent_mode_and_what_it_does(wordpress):
    page = Elements(wordpress("admin", {"consent": "optional"}))  # a setting saved under the old name
    assert [(attrs["value"], "selected" in attrs) for attrs, _ in page.all("option")] == [
        ("auto", True),
        ("required", False),
    ]
    text = re.sub(r"\s+", " ", wordpress("admin"))
    assert "Without a banner, attribution is captured from the first page" in text
    assert "nothing is stored and the pixel does not load until a banner says yes" in text
    assert "no referrer, no UTM, no click id" in text


def test_deleting_the_plugin_deletes_its_settings(wordpress):
    options = {"pixel_id": "px_1", "endpoint": "https://connector.example.com", "consent": "optional"}
    assert json.loads(wordpress("uninstall", options=options, secret="s3cret")) == {}


def test_uninstall_php_does_nothing_unless_wordpress_is_uninstalling(wordpress):
    """Opened directly (by URL, or by mistake), uninstall.php leaves the settings alone."""
    left = json.loads(wordpress("uninstall", options={"consent": "optional"}, uninstalling=False))
    assert left == {"connector_attribution": {"consent": "optional"}}
