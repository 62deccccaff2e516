"""[conversions] settings: pixels, routing, keys from the environment, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import ConfigError, load_settings
from connector.conversions.setup import api_key, pixel_for_source, sender_settings

PIXELS = """
[conversions]
enabled = true
[conversions.pixels.main]
pixel_id = "px_main"
[conversions.pixels.shop]
pixel_id = "px_shop"
sources = ["booking/calendly"]
api_key_env = "SHOP_KEY"
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_settings(path, environ=environ or {})


def test_sources_route_to_their_pixel_and_the_rest_to_the_default(tmp_path):
    conf = load(tmp_path, PIXELS).conversions
    assert pixel_for_source(conf, "booking/calendly").pixel_id == "px_shop"
    assert pixel_for_source(conf, "forms/generic").pixel_id == "px_main"
    assert api_key(conf, conf.pixels["shop"], {"SHOP_KEY": "k1", "OPENAI_CONVERSIONS_API_KEY": "k2"}) == "k1"
    assert api_key(conf, conf.pixels["main"], {"OPENAI_CONVERSIONS_API_KEY": " k2 "}) == "k2"
    assert api_key(conf, conf.pixels["main"], {}) is None


def test_sender_settings_never_show_the_key(tmp_path):
    conf = load(tmp_path, PIXELS).conversions
    assert "s3cret" not in repr(sender_settings(conf, "s3cret"))


def test_environment_overrides_reach_pixels(tmp_path):
    settings = load(
        tmp_path,
        PIXELS,
        {
            "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": "px_other",
            "CONNECTOR_CONVERSIONS__BATCH_MAX_EVENTS": "50",
        },
    )
    assert settings.conversions.pixels["main"].pixel_id == "px_other"
    assert settings.conversions.batch_max_events == 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[conversions]\nbatch_max_events = 1001\n",
            "conversions.batch_max_events: expected 1 to 1000, got 1001",
        ),
        ("[conversions]\nenabled = true\n", "conversions.pixels: enabled = true needs at least one"),
        (
            '[conversions]\nuser_field_format = "both"\n',
            "conversions.user_field_format: expected one of list, scalar",
        ),
        (
            '[conversions]\nunknown_consent = "maybe"\n',
            "conversions.unknown_consent: expected one of denied, granted",
        ),
        (
            "[conversions]\nlease_seconds = 10\n",
            "conversions.lease_seconds: must exceed timeout_seconds (15)",
        ),
        ('[conversions]\nendpoint = "ftp://x"\n', "conversions.endpoint: expected an http(s) URL"),
        ('[conversions.pixels.a]\npixel_id = ""\n', "conversions.pixels.a.pixel_id: expected a pixel id"),
        (
            '[conversions.pixels.a]\npixel_id = "p1"\n[conversions.pixels.b]\npixel_id = "p2"\n',
            "only one pixel may leave `sources` empty",
        ),
        (
            '[conversions.pixels.a]\npixel_id = "p1"\nsources = ["forms/x"]\n'
            '[conversions.pixels.b]\npixel_id = "p2"\nsources = ["forms/x"]\n',
            "conversions.pixels.b.sources: 'forms/x' is already routed to pixel 'a'",
        ),
        (
            '[conversions.pixels.a]\npixel_id = "p1"\n[conversions.pixels.b]\npixel_id = "p1"\nsources = ["x"]\n',
            "conversions.pixels.b.pixel_id: also used by pixel 'a'",
        ),
        ('[conversions.pixels.a]\npixel = "p1"\n', "unknown key 'conversions.pixels.a.pixel'"),
        ('[conversions.rules]\ndefault = "purchase"\n', "conversions.rules.default.event: expected one of"),
        (
            '[conversions.rules.sources."forms/x".forms]\n"7" = { event = "custom" }\n',
            "conversions.rules.sources.forms/x.forms.7.custom_event_name: required",
        ),
    ],
)
def test_invalid_conversions_settings_name_the_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    assert expected in str(error.value)
