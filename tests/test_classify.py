"""The server-side classifier against the shared case table (the browser replays the same table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.classify import (
    AI_SOURCES,
    CHANNELS,
    Rules,
    classify_touch,
    classify_url,
    host_pattern,
    load_rules,
)

CASES = json.loads((Path(__file__).parent / "fixtures" / "classification_cases.json").read_text())["cases"]
DATA = json.loads((Path(__file__).parents[1] / "connector" / "data" / "classification.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_case(case: dict) -> None:
    url = f"http://{case['page_host']}/landing?{case['query']}"
    assert classify_url(url, case["referrer"]) == (case["channel"], case["ai_source"])


def test_cases_cover_every_channel_and_ai_source() -> None:
    assert {c["channel"] for c in CASES} == set(CHANNELS)
    assert {c["ai_source"] for c in CASES} == set(AI_SOURCES)


def test_data_file_only_names_known_channels_and_ai_sources() -> None:
    channels = [rule[0] for rule in [*DATA["click_ids"].values(), *DATA["weak_click_ids"].values()]]
    channels += [s["channel"] for s in DATA["sources"]] + [ch for _, ch in DATA["medium_channels"]]
    assert set(channels) <= set(CHANNELS)
    ai = {s.get("ai_source") for s in DATA["sources"]} - {None}
    ai |= {rule[1] for rule in DATA["click_ids"].values() if len(rule) > 1}
    assert ai <= set(AI_SOURCES) - {"none"}


def test_every_click_id_is_a_canonical_field() -> None:
    from connector.attribution import CLICK_IDS

    assert set(DATA["click_ids"]) | set(DATA["weak_click_ids"]) == set(CLICK_IDS)


def test_classify_touch_takes_decoded_params() -> None:
    assert classify_touch({"utm_source": "ChatGPT.com"}, None, "www.example.com") == (
        "ai_assistant",
        "chatgpt",
    )
    assert classify_touch({"oppref": ""}, "https://claude.ai/", "example.com") == ("ai_assistant", "claude")
    assert classify_touch({}, "not a url", "example.com") == ("direct", "none")


def test_host_pattern_matches_subdomains_and_public_suffixes_only() -> None:
    rx = host_pattern(["google.*", "t.co"])
    assert rx.search("www.google.com") and rx.search("google.co.uk") and rx.search("t.co")
    assert not rx.search("google.evil.test") and not rx.search("notgoogle.com") and not rx.search("t.com")


def test_rules_are_data_a_new_host_needs_no_code() -> None:
    data = json.loads(json.dumps(DATA))
    data["sources"][0]["hosts"].append("chat.example-ai.test")
    rules = Rules.from_data(data)
    assert classify_touch({}, "https://chat.example-ai.test/", "site.test", rules) == (
        "ai_assistant",
        "chatgpt",
    )
    assert classify_touch({}, "https://chat.example-ai.test/", "site.test") == ("referral", "none")
    assert load_rules() is load_rules()
