"""Server-side channel / AI-source classification for submissions that arrive without it.

A booking made directly on Calendly, or a form the script never saw, carries at most UTMs and click ids.
The same rules as the browser script (connector/classify.py, one data file) fill `first_`/`latest_channel`
and `ai_source`; values the browser already set are never replaced.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

from connector.attribution import CLICK_IDS, UTM_PARAMS, Attribution
from connector.classify import classify_touch
from connector.intake.submission import Submission

log = logging.getLogger(__name__)


def with_channels(submission: Submission) -> Submission:
    """The submission with missing channel / ai_source filled for each touch that has any signal."""
    values = classify_missing(submission.attribution.to_dict())
    if values == submission.attribution.to_dict():
        return submission
    return replace(submission, attribution=Attribution(values))


def classify_missing(values: dict[str, str]) -> dict[str, str]:
    """Attribution values with `<touch>_channel` / `<touch>_ai_source` added where absent and inferable."""
    result = dict(values)
    for touch in ("first", "latest"):
        if result.get(f"{touch}_channel"):
            continue
        params = _params(result, touch)
        referrer = result.get(f"{touch}_referrer")
        if not params and not referrer and not result.get(f"{touch}_landing_page"):
            continue
        page = result.get(f"{touch}_landing_page") or result.get("conversion_page") or ""
        channel, ai_source = classify_touch(params, referrer, _host(page))
        result[f"{touch}_channel"] = channel
        result.setdefault(f"{touch}_ai_source", ai_source)
    return result


def _params(values: dict[str, str], touch: str) -> dict[str, str]:
    params: dict[str, str] = {}
    landing = values.get(f"{touch}_landing_page")
    if landing:
        try:
            for key, value in parse_qsl(urlsplit(landing).query, keep_blank_values=False):
                params.setdefault(key, value)
        except ValueError:
            pass
    for name in UTM_PARAMS:
        if values.get(f"{touch}_{name}"):
            params[name] = values[f"{touch}_{name}"]
    if touch == "latest":  # click ids are kept once, from the latest click
        params.update({name: values[name] for name in CLICK_IDS if values.get(name)})
    return params


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""
