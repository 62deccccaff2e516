"""The stage rules in force: `[stages.rules]` of the config file, read again when the file changes.

The admin console saves rules into the config file; workers see them at their next batch of stage changes
without a restart (a `stat` per batch). Only the rules are re-read: every other setting still needs one.
"""

from __future__ import annotations

import logging
import os
import threading
import tomllib
from collections.abc import Mapping
from typing import Any

from connector.events.stage_rules import StageRuleError, StageRules

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int, int], StageRules]] = {}


def rules_table(text: str) -> dict[str, Any]:
    """The `[stages.rules]` table of a config text ({} when it has none)."""
    stages = tomllib.loads(text).get("stages", {})
    rules = stages.get("rules", {}) if isinstance(stages, dict) else {}
    return rules if isinstance(rules, dict) else {}


def current_stage_rules(config_path: str, configured: Mapping[str, Any]) -> StageRules:
    """The rules of `config_path` as it is now; `configured` (read at start) when there is no file or it
    no longer reads (logged: a bad hand edit keeps the last good rules)."""
    if not config_path:
        return StageRules.from_mapping(configured)
    try:
        st = os.stat(config_path)
    except OSError:
        return StageRules.from_mapping(configured)
    seen = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _lock:
        cached = _cache.get(config_path)
    if cached is not None and cached[0] == seen:
        return cached[1]
    try:
        with open(config_path, encoding="utf-8") as fh:
            rules = StageRules.from_mapping(rules_table(fh.read()))
    except (OSError, tomllib.TOMLDecodeError, StageRuleError) as exc:
        log.error("stage rules in %s do not load; keeping the previous ones: %s", config_path, exc)
        return cached[1] if cached is not None else StageRules.from_mapping(configured)
    if cached is not None:
        log.info("stage rules reloaded from %s: %d rule(s)", config_path, len(rules.rules))
    with _lock:
        _cache[config_path] = (seen, rules)
    return rules
