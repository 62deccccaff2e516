"""The stage rules in force: `[stages.rules]` of the config file, read again when the file changes.

The admin console saves rules into the config file; workers see them at their next batch of stage changes
without a restart (a `stat` per batch). The file is read again by the start-up loader (`reread`, so
environment overrides apply as they did at start); only the rules are taken: other settings need a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

from connector.events.stage_rules import StageRules

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int, int], StageRules]] = {}


def rules_table(text: str) -> dict[str, Any]:
    """The `[stages.rules]` table of a config text ({} when it has none)."""
    stages = tomllib.loads(text).get("stages", {})
    rules = stages.get("rules", {}) if isinstance(stages, dict) else {}
    return rules if isinstance(rules, dict) else {}


def current_stage_rules(
    config_path: str, configured: Mapping[str, Any], reread: Callable[[str], Mapping[str, Any]] | None = None
) -> StageRules:
    """The rules of `config_path` as it is now; `configured` (read at start) when there is no file or it
    no longer loads (logged: a bad hand edit keeps the last good rules). `reread(path)` returns the file's
    `[stages.rules]` as the start-up loader sees it; without it the file's table is read as it stands."""
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
        if reread is not None:
            raw = reread(config_path)
        else:
            with open(config_path, encoding="utf-8") as fh:
                raw = rules_table(fh.read())
        rules = StageRules.from_mapping(raw)
    except Exception as exc:  # a file that no longer loads must not stop the workers: keep the last rules
        log.error("stage rules in %s do not load; keeping the previous ones: %s", config_path, exc)
        return cached[1] if cached is not None else StageRules.from_mapping(configured)
    if cached is not None:
        log.info("stage rules reloaded from %s: %d rule(s)", config_path, len(rules.rules))
    with _lock:
        _cache[config_path] = (seen, rules)
    return rules
