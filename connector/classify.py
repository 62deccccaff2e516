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
    "openai_ads",
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
"""Every AI source a touch can carry; `none` when the touch is not from an AI assistant. `openai_ads` is a
paid OpenAI click (`oppref`, or the OpenAI Ads UTM conventions), so that one field separates it from ChatGPT
organic."""


def host_pattern(hosts: list[str]) -> re.Pattern[str]:
    """One regex matching any of `hosts` or a subdomain of one; a trailing `.*` means any public suffix."""
    body = "|".join(hosts).replace(".", r"\.").replace(r"\.*", r"\.[a-z]{2,3}(\.[a-z]{2})?")
    return re.compile(r"(^|\.)(" + body + r")$")


@dataclass(frozen=True)
class Source:
    """One entry of the data file's `sources`: where a visit came from, recognised by host or utm_source."""

    channel: str
    ai_source: str | None
    hosts: re.Pattern[str]
    utm_sources: frozenset[str]


@dataclass(frozen=True)
class Rules:
    """The classification data file, compiled once."""

    click_ids: dict[str, list[str]]
    weak_click_ids: dict[str, list[str]]
    sources: tuple[Source, ...]
    openai_ads_utm_sources: frozenset[str]
    email_re: re.Pattern[str]
    paid_medium_re: re.Pattern[str]
    paid_social_medium_re: re.Pattern[str]
    medium_channels: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Rules:
        return cls(
            click_ids=dict(data["click_ids"]),
            weak_click_ids=dict(data["weak_click_ids"]),
            sources=tuple(
                Source(
                    s["channel"],
                    s.get("ai_source"),
                    host_pattern(s["hosts"]),
                    frozenset(s.get("utm_sources", ())),
                )
                for s in data["sources"]
            ),
            openai_ads_utm_sources=frozenset(data["openai_ads_utm_sources"]),
            email_re=re.compile(data["email_re"]),
            paid_medium_re=re.compile(data["paid_medium_re"]),
            paid_social_medium_re=re.compile(data["paid_social_medium_re"]),
            medium_channels=tuple((re.compile(rx), channel) for rx, channel in data["medium_channels"]),
        )

    def source_for_host(self, host: str) -> Source | None:
        """The first source whose hosts match `host` (or a domain it is a subdomain of)."""
        return next((s for s in self.sources if s.hosts.search(host)), None)

    def source_for_utm(self, utm_source: str) -> Source | None:
        """The first source listing `utm_source` by name, else the first whose hosts match it."""
        by_name = next((s for s in self.sources if utm_source in s.utm_sources), None)
        return by_name or self.source_for_host(utm_source)


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
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _classify_utm(rules: Rules, source: str, medium: str) -> tuple[str, str]:
    paid = bool(rules.paid_medium_re.search(medium))
    known = rules.source_for_utm(source)
    if known and known.ai_source:
        if source in rules.openai_ads_utm_sources or (paid and known.ai_source == "chatgpt"):
            return "openai_ads", "openai_ads"
        return ("other" if paid else known.channel), known.ai_source
    kind = known.channel if known else None
    if rules.email_re.search(source) or rules.email_re.search(medium) or kind == "email":
        return "email", "none"
    if rules.paid_social_medium_re.search(medium):
        return "paid_social", "none"
    if kind:
        if paid:
            return ("paid_social" if kind == "social" else "paid_search"), "none"
        return kind, "none"
    if paid:
        return "other", "none"
    channel = next((ch for rx, ch in rules.medium_channels if rx.search(medium)), "other")
    return channel, "none"


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
    known = rules.source_for_host(host)
    if known:
        return known.channel, known.ai_source or "none"
    return "referral", "none"


def classify_url(url: str, referrer: str | None, rules: Rules | None = None) -> tuple[str, str]:
    """Classify a touch from its full landing URL (query parsed, first value of each key wins)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if value and key not in params:
            params[key] = value
    return classify_touch(params, referrer, _host(url), rules)
