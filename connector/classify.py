"""Server-side traffic classification: the same rules, from the same data file, as the browser script.

The rules live in `connector/data/classification.json`; plugin-js embeds that file at build time and
implements the same algorithm in JavaScript. `tests/fixtures/classification_cases.json` is replayed by both
`tests/test_classify.py` and the Chromium test in plugin-js/tests, so the two sides provably agree.

Use `classify_touch(params, referrer, page_host)` for one touch (query parameters of the landing URL, the
referrer and the site's own host) and `classify_url(url, referrer)` when you have the whole landing URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

CHANNELS = (
    "openai_ads",
    "ai_assistant",
    "paid_search",
    "organic_search",
    "paid_social",
    "social",
    "email",
    "referral",
    "direct",
    "other",
)
"""Every channel a touch can be classified as."""

AI_SOURCES = (
    "chatgpt",
    "claude",
    "perplexity",
    "gemini",
    "copilot",
    "meta_ai",
    "grok",
    "deepseek",
    "mistral",
    "other_ai",
    "none",
)
"""Every AI source a touch can carry; `none` when the touch is not from an AI assistant."""


def host_pattern(hosts: list[str]) -> re.Pattern[str]:
    """One regex matching any of `hosts` or a subdomain of one; a trailing `.*` means any public suffix."""
    parts = [
        re.escape(h).replace(r"\.\*", r"\.[a-z]{2,3}(\.[a-z]{2})?") if h.endswith(".*") else re.escape(h)
        for h in hosts
    ]
    return re.compile(r"(^|\.)(" + "|".join(parts) + r")$")


@dataclass(frozen=True)
class Rules:
    """The classification data file, compiled once."""

    click_ids: dict[str, list[str]]
    weak_click_ids: dict[str, list[str]]
    ai_hosts: list[tuple[str, re.Pattern[str]]]
    ai_utm_sources: dict[str, str]
    openai_ads_utm_sources: frozenset[str]
    email_hosts: re.Pattern[str]
    search_hosts: re.Pattern[str]
    social_hosts: re.Pattern[str]
    search_utm_sources: frozenset[str]
    social_utm_sources: frozenset[str]
    email_re: re.Pattern[str]
    paid_medium_re: re.Pattern[str]
    paid_social_medium_re: re.Pattern[str]
    social_medium_re: re.Pattern[str]
    organic_medium_re: re.Pattern[str]
    referral_medium_re: re.Pattern[str]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Rules:
        ai = data["ai_sources"]
        return cls(
            click_ids=dict(data["click_ids"]),
            weak_click_ids=dict(data["weak_click_ids"]),
            ai_hosts=[(name, host_pattern(spec["hosts"])) for name, spec in ai.items()],
            ai_utm_sources={u: name for name, spec in ai.items() for u in spec["utm_sources"]},
            openai_ads_utm_sources=frozenset(data["openai_ads_utm_sources"]),
            email_hosts=host_pattern(data["email_hosts"]),
            search_hosts=host_pattern(data["search_hosts"]),
            social_hosts=host_pattern(data["social_hosts"]),
            search_utm_sources=frozenset(data["search_utm_sources"]),
            social_utm_sources=frozenset(data["social_utm_sources"]),
            **{key: re.compile(data[key]) for key in (
                "email_re",
                "paid_medium_re",
                "paid_social_medium_re",
                "social_medium_re",
                "organic_medium_re",
                "referral_medium_re",
            )},
        )


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    """The packaged classification rules (connector/data/classification.json)."""
    text = resources.files("connector").joinpath("data/classification.json").read_text(encoding="utf-8")
    return Rules.from_data(json.loads(text))


def _lower(value: object) -> str:
    return str(value).strip().lower() if value is not None else ""


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def _is_internal(host: str, page_host: str) -> bool:
    a, b = re.sub(r"^www\.", "", host), re.sub(r"^www\.", "", page_host)
    return bool(b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def _ai_for_host(rules: Rules, host: str) -> str | None:
    for name, pattern in rules.ai_hosts:
        if pattern.search(host):
            return name
    return None


def _classify_utm(rules: Rules, source: str, medium: str) -> tuple[str, str]:
    paid = bool(rules.paid_medium_re.search(medium))
    ai = rules.ai_utm_sources.get(source) or _ai_for_host(rules, source)
    if ai:
        if source in rules.openai_ads_utm_sources or (paid and ai == "chatgpt"):
            return "openai_ads", ai
        return ("other" if paid else "ai_assistant"), ai
    if rules.email_re.search(source) or rules.email_re.search(medium) or rules.email_hosts.search(source):
        return "email", "none"
    if rules.paid_social_medium_re.search(medium):
        return "paid_social", "none"
    if source in rules.social_utm_sources or rules.social_hosts.search(source):
        return ("paid_social" if paid else "social"), "none"
    if source in rules.search_utm_sources or rules.search_hosts.search(source):
        return ("paid_search" if paid else "organic_search"), "none"
    if paid:
        return "other", "none"
    if rules.social_medium_re.search(medium):
        return "social", "none"
    if rules.organic_medium_re.search(medium):
        return "organic_search", "none"
    if rules.referral_medium_re.search(medium):
        return "referral", "none"
    return "other", "none"


def classify_touch(
    params: Mapping[str, object], referrer: str | None, page_host: str | None, rules: Rules | None = None
) -> tuple[str, str]:
    """Classify one touch: (channel, ai_source) from the landing URL's query parameters and the referrer.

    `params` holds decoded query values (empty values count as absent); `page_host` is the site's own host,
    so that a referrer from the same site counts as direct.
    """
    rules = rules or load_rules()
    for param, (channel, *ai) in rules.click_ids.items():
        if params.get(param):
            return channel, (ai[0] if ai else "none")
    source, medium = _lower(params.get("utm_source")), _lower(params.get("utm_medium"))
    if source or medium:
        return _classify_utm(rules, source, medium)
    for param, (channel, *ai) in rules.weak_click_ids.items():
        if params.get(param):
            return channel, (ai[0] if ai else "none")
    host = _host(referrer)
    if not host or _is_internal(host, _lower(page_host)):
        return "direct", "none"
    ai = _ai_for_host(rules, host)
    if ai:
        return "ai_assistant", ai
    if rules.email_hosts.search(host):
        return "email", "none"
    if rules.search_hosts.search(host):
        return "organic_search", "none"
    if rules.social_hosts.search(host):
        return "social", "none"
    return "referral", "none"


def classify_url(url: str, referrer: str | None, rules: Rules | None = None) -> tuple[str, str]:
    """Classify a touch from its full landing URL (query parsed, first value of each key wins)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if value and key not in params:
            params[key] = value
    return classify_touch(params, referrer, _host(url), rules)
