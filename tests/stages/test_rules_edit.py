"""Stage rules edited in the config file: comments kept, and in force at the next batch without a restart."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from connector.config import load_settings
from connector.events import stage_rules
from connector.events.stage_rules_edit import KEY_ORDER, apply_rule_edit
from connector.events.stage_rules_file import current_stage_rules, rules_table
from connector.tomledit import EditError, save_text, text_hash

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
WON = {"crm": "salesforce", "object": "Opportunity", "stage": "Closed Won", "event": "order_created"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "connector.toml"
    shutil.copy(EXAMPLE, path)
    return path


def _comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def test_every_rule_key_can_be_written() -> None:
    assert set(KEY_ORDER) == stage_rules._KEYS


def test_a_rule_added_changed_and_removed_keeps_every_comment_and_loads(config: Path) -> None:
    old = config.read_text()
    added = apply_rule_edit(old, "add", "won", WON)
    assert rules_table(added) == {"won": WON}
    assert _comments(added) == _comments(old)
    # the rule sits under [stages.rules], before the comment that introduces [report]
    assert added.index("[stages.rules.won]") < added.index("# `connector report`") < added.index("[report]")
    config.write_text(added)
    assert load_settings(config, environ={}).stages.rules == {"won": WON}
    changed = apply_rule_edit(added, "change", "won", {**WON, "event": "lead_created", "fire": "each_entry"})
    assert rules_table(changed)["won"] == {**WON, "event": "lead_created", "fire": "each_entry"}
    removed = apply_rule_edit(changed, "remove", "won")
    assert rules_table(removed) == {} and _comments(removed) == _comments(old)


def test_names_and_keys_are_checked(config: Path) -> None:
    old = config.read_text()
    with pytest.raises(EditError, match="1-64 letters"):
        apply_rule_edit(old, "add", "won ]\n[x", WON)
    with pytest.raises(EditError, match="no such rule"):
        apply_rule_edit(old, "remove", "won")
    with pytest.raises(EditError, match="a rule of that name exists"):
        apply_rule_edit(apply_rule_edit(old, "add", "won", WON), "add", "won", WON)
    with pytest.raises(EditError, match="unknown stage rule key 'script'"):
        apply_rule_edit(old, "add", "won", {**WON, "script": "x"})


def test_workers_see_saved_rules_at_their_next_batch(config: Path, tmp_path: Path) -> None:
    settings = load_settings(config, environ={})
    assert current_stage_rules(settings.source_path, settings.stages.rules).rules == ()
    old = config.read_text()
    save_text(config, apply_rule_edit(old, "add", "won", WON), text_hash(old), tmp_path / "versions")
    rules = current_stage_rules(settings.source_path, settings.stages.rules)
    assert [(r.name, r.stage, r.event) for r in rules.rules] == [("won", "Closed Won", "order_created")]
    # a hand edit that no longer loads keeps the rules in force
    config.write_text(config.read_text().replace('event = "order_created"', 'event = "nonsense"'))
    os.utime(config, ns=(1, 1))
    assert [r.name for r in current_stage_rules(settings.source_path, settings.stages.rules).rules] == ["won"]
