"""A stage rule saved into the config file applies to the next batch of stage changes, without a restart,
and rules set by environment variables stay in force as they were at start."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from connector.config import load_settings, stage_rules_in_force
from connector.context import Context
from connector.events.stage_rules_edit import apply_rule_edit
from connector.tomledit import save_text, text_hash
from tests.stages.conftest import HUBSPOT_WON
from tests.stages.test_resolution import NOW, change, deal, env, handle  # noqa: F401  (env: fixture)

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "connector.toml"
    shutil.copy(EXAMPLE, path)
    return path


def test_a_rule_saved_in_the_config_file_resolves_the_next_change(ctx, hubspot_double, tmp_path):
    config = _config(tmp_path)
    live = Context(
        replace(ctx.settings, source_path=str(config), stages=replace(ctx.settings.stages, rules={}))
    )
    try:
        first = deal(hubspot_double, live, 1)
        rows = handle(live, change("hubspot", "deals", first, "closedwon", NOW - timedelta(hours=1), "k1"))
        assert rows[-1].status == "no_rule"
        old = config.read_text()
        save_text(config, apply_rule_edit(old, "add", "won", HUBSPOT_WON), text_hash(old), tmp_path / "v")
        second = deal(hubspot_double, live, 2)
        rows = handle(live, change("hubspot", "deals", second, "closedwon", NOW - timedelta(hours=1), "k2"))
        assert (rows[-1].status, rows[-1].rule) == ("converted", "won")
    finally:
        live.close()


def test_rules_from_the_environment_stay_beside_the_file_s(tmp_path, monkeypatch):
    config = _config(tmp_path)
    for key, value in {
        "crm": "hubspot",
        "object": "contact",
        "stage": "customer",
        "event": "lead_created",
    }.items():
        monkeypatch.setenv(f"CONNECTOR_STAGES__RULES__FROM_ENV__{key.upper()}", value)
    settings = load_settings(config)
    assert [r.name for r in stage_rules_in_force(settings).rules] == ["from_env"]
    old = config.read_text()
    save_text(config, apply_rule_edit(old, "add", "won", HUBSPOT_WON), text_hash(old), tmp_path / "v")
    assert sorted(r.name for r in stage_rules_in_force(settings).rules) == ["from_env", "won"]
