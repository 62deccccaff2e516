"""The built script classifies every shared case as connector/classify.py does (tests/test_classify.py)."""

from __future__ import annotations

import json
from pathlib import Path

CASES = json.loads(
    (Path(__file__).parents[2] / "tests" / "fixtures" / "classification_cases.json").read_text()
)["cases"]
# each document reads the referrer to pretend from sessionStorage, set before navigating, and starts with
# nothing stored, so that its own touch is the latest touch
REFERRER = """(() => { const r = sessionStorage.getItem('test_referrer');
  if (r !== null) Object.defineProperty(Document.prototype, 'referrer', {get: () => r});
  localStorage.clear(); document.cookie = '_attr=; path=/; max-age=0'; })();"""


def test_browser_agrees_with_the_server_on_every_shared_case(harness, site):
    assert all(c["page_host"] == "www.example.test" for c in CASES)  # the host the pages are served as
    page = harness.open("classify.html", "", {}, init=REFERRER)
    mismatches = []
    for case in CASES:
        page.evaluate("r => sessionStorage.setItem('test_referrer', r)", case["referrer"] or "")
        page.goto(f"{site}/tests/pages/classify.html?{case['query']}")
        got = page.evaluate(
            "(() => { const v = attribution('get'); return [v.latest_channel, v.latest_ai_source]; })()"
        )
        if got != [case["channel"], case["ai_source"]]:
            mismatches.append((case["name"], got))
    assert len(CASES) > 50 and mismatches == []


def test_the_case_table_can_fail(harness, site):
    """Guard against a vacuous comparison: a wrong expectation is reported as a mismatch."""
    page = harness.open("classify.html", "utm_source=perplexity", {})
    assert page.evaluate("attribution('get').latest_ai_source") == "perplexity" != "chatgpt"
