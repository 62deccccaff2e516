"""Editing a mapping file: comments kept, the diff, validation as at start-up, the live schema, the backup."""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest

from connector.config import Settings
from connector.context import Context
from connector.mapping.draft import check_text, draft_edit
from connector.mapping.edit import RuleEdit, apply_edit
from connector.mapping.schema import FieldSchema, ObjectSchema
from connector.tomledit import ConflictError, EditError, save_text, text_hash

EXAMPLES = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture
def mappings_dir(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns("*.md"))
    return target


def _lead_schema(text: str, extra: tuple[FieldSchema, ...] = ()) -> ObjectSchema:
    """A Lead describe that has every field the file writes and reads, plus `extra`."""
    data = tomllib.loads(text)
    names = {r["to"] for r in data["fields"]} | {
        r["to"] for o in data["overrides"] for r in o.get("fields", [])
    }
    names |= set(data.get("read", {}).values()) | {"Email"}
    fields = {n: FieldSchema(n, "text", "string", 255) for n in names}
    fields.update({f.name: f for f in extra})
    return ObjectSchema("Lead", fields)


def test_adding_a_rule_keeps_every_comment_and_puts_it_after_the_last_rule(mappings_dir: Path) -> None:
    path = mappings_dir / "salesforce_lead.toml"
    old = path.read_text()
    new = apply_edit(
        old, RuleEdit("add", rule={"from": "gclid", "to": "Gclid2__c", "policy": "always", "transforms": []})
    )
    comments = [line for line in old.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in new.splitlines() if line.lstrip().startswith("#")] == comments
    rules = tomllib.loads(new)["fields"]
    assert rules[-1] == {"from": "gclid", "to": "Gclid2__c", "policy": "always"}
    assert len(rules) == len(tomllib.loads(old)["fields"]) + 1
    # the overrides section's heading comment still comes right before the overrides
    assert new.index('[[fields]]\nfrom = "gclid"') < new.index("# --- per-source and per-form overrides")


def test_removing_a_rule_keeps_the_comment_that_introduces_the_next_section(mappings_dir: Path) -> None:
    old = (mappings_dir / "salesforce_lead.toml").read_text()
    rules = tomllib.loads(old)["fields"]
    before_first_touch = next(i for i, r in enumerate(rules) if r["to"] == "First_UTM_Source__c") - 1
    new = apply_edit(old, RuleEdit("remove", index=before_first_touch))
    assert "# --- first touch: written once" in new
    assert rules[before_first_touch] not in tomllib.loads(new)["fields"]
    assert len(tomllib.loads(new)["fields"]) == len(rules) - 1


def test_changing_a_rule_sets_and_removes_keys_and_leaves_the_rest_alone(mappings_dir: Path) -> None:
    old = (mappings_dir / "salesforce_lead.toml").read_text()
    new = apply_edit(
        old, RuleEdit("change", index=2, rule={"from": "last_name", "to": "LastName", "policy": "always"})
    )
    assert tomllib.loads(new)["fields"][2] == {"from": "last_name", "to": "LastName", "policy": "always"}
    assert "# Lead requires LastName and Company" in new
    assert tomllib.loads(new)["fields"][3] == tomllib.loads(old)["fields"][3]


def test_an_edit_of_a_rule_that_does_not_exist_is_refused(mappings_dir: Path) -> None:
    old = (mappings_dir / "salesforce_lead.toml").read_text()
    with pytest.raises(EditError, match=r"fields\[99\]: no such rule"):
        apply_edit(old, RuleEdit("remove", index=99))
    with pytest.raises(EditError, match="unknown rule key 'script'"):
        apply_edit(old, RuleEdit("add", rule={"to": "X", "script": "1"}))


def test_the_loader_s_problems_are_returned_and_the_diff_shows_the_change(mappings_dir: Path) -> None:
    path = mappings_dir / "salesforce_lead.toml"
    draft = draft_edit(
        path,
        RuleEdit("add", rule={"from": "frist_utm_source", "to": "X__c", "policy": "once"}),
        lambda o: None,
    )
    assert not draft.ok
    assert "did you mean 'first_utm_source'" in str(draft.problems[0])
    assert '+from = "frist_utm_source"' in draft.diff
    assert draft.diff.startswith("--- a/salesforce_lead.toml\n+++ b/salesforce_lead.toml\n")


def test_a_second_default_mapping_is_refused_like_at_start_up(mappings_dir: Path) -> None:
    path = mappings_dir / "salesforce_contact.toml"
    old = path.read_text()
    new = old.replace('[when]\nform_ids = ["customer-portal"]\n', "")
    assert new != old
    draft = check_text(path, old, new, lambda o: None)
    assert not draft.ok
    assert "one default write mapping per CRM" in str(draft.problems[0])


def test_the_live_schema_refuses_missing_read_only_and_short_fields(mappings_dir: Path) -> None:
    path = mappings_dir / "salesforce_lead.toml"
    old = path.read_text()
    schema = _lead_schema(
        old,
        (
            FieldSchema("Locked__c", "text", "string", 255, createable=False, updateable=False),
            FieldSchema("Tiny__c", "text", "string", 10),
            FieldSchema("When__c", "datetime", "datetime"),
        ),
    )
    for rule, expected in (
        ({"from": "gclid", "to": "Nope__c", "policy": "always"}, "field does not exist on Lead"),
        ({"from": "gclid", "to": "Locked__c", "policy": "always"}, "read-only"),
        ({"from": "gclid", "to": "Tiny__c", "policy": "always"}, "a truncated click id no longer matches"),
        ({"from": "submitted_at", "to": "When__c", "policy": "always"}, "add the iso_datetime transform"),
    ):
        draft = draft_edit(path, RuleEdit("add", rule=rule), lambda o: schema)
        assert not draft.ok and draft.schema_checked
        assert expected in draft.refused[0].message
    good = draft_edit(
        path,
        RuleEdit(
            "add",
            rule={
                "from": "submitted_at",
                "to": "When__c",
                "policy": "always",
                "transforms": ["iso_datetime"],
            },
        ),
        lambda o: schema,
    )
    assert good.ok, good.refused


def test_a_field_already_missing_does_not_block_an_unrelated_edit(mappings_dir: Path) -> None:
    path = mappings_dir / "salesforce_lead.toml"
    old = path.read_text()
    schema = _lead_schema(old)
    schema.fields.pop("LI_FAT_ID__c")
    draft = draft_edit(
        path,
        RuleEdit("change", index=0, rule={"from": "email", "to": "Email", "policy": "if_empty"}),
        lambda o: schema,
    )
    assert draft.ok, draft.refused


def test_saving_keeps_the_previous_version_and_refuses_a_file_changed_since(
    tmp_path: Path, mappings_dir: Path
) -> None:
    path = mappings_dir / "salesforce_lead.toml"
    old = path.read_text()
    new = apply_edit(old, RuleEdit("remove", index=4))
    versions = tmp_path / "versions"
    backup = save_text(path, new, text_hash(old), versions)
    assert path.read_text() == new
    assert backup.read_text() == old and backup.parent == versions
    assert backup.name.startswith("salesforce_lead.toml.") and backup.name.endswith(".bak")
    assert not [p for p in mappings_dir.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ConflictError, match="changed since this edit was previewed"):
        save_text(path, old, text_hash(old), versions)
    assert path.read_text() == new


def test_a_context_sees_a_saved_mapping_without_a_restart(settings: Settings, mappings_dir: Path) -> None:
    from dataclasses import replace

    conf = replace(settings, crm=replace(settings.crm, mappings_path=str(mappings_dir)))
    ctx = Context(conf)
    lead = lambda: ctx.mappings.get("salesforce", "Lead")  # noqa: E731
    assert "Gclid2__c" not in lead().targets()
    path = mappings_dir / "salesforce_lead.toml"
    old = path.read_text()
    new = apply_edit(old, RuleEdit("add", rule={"from": "gclid", "to": "Gclid2__c", "policy": "always"}))
    save_text(path, new, text_hash(old), mappings_dir.parent / "versions")
    assert "Gclid2__c" in lead().targets()
    # a hand edit that no longer loads keeps the last good mappings
    path.write_text(new.replace('policy = "always"', 'policy = "sometimes"', 1))
    os.utime(path, ns=(1, 1))
    assert "Gclid2__c" in lead().targets()


def test_a_key_added_to_a_section_s_last_rule_goes_before_the_next_section_s_comment(
    mappings_dir: Path,
) -> None:
    old = (mappings_dir / "salesforce_lead.toml").read_text()
    index = [r["to"] for r in tomllib.loads(old)["fields"]].index("LeadSource")
    new = apply_edit(
        old,
        RuleEdit(
            "change",
            index=index,
            rule={"value": "Web", "to": "LeadSource", "policy": "if_empty", "default": "x"},
        ),
    )
    assert new.index('default = "x"') < new.index("# --- first touch")
    assert tomllib.loads(new)["fields"][index]["default"] == "x"


def test_the_diff_shows_an_added_rule_as_one_block(mappings_dir: Path) -> None:
    from connector.tomledit import unified_diff

    old = (mappings_dir / "salesforce_lead.toml").read_text()
    new = apply_edit(old, RuleEdit("add", rule={"from": "gclid", "to": "G__c", "policy": "always"}))
    added = [line for line in unified_diff(old, new, "lead.toml").splitlines() if line.startswith("+")][1:]
    assert added == ["+[[fields]]", '+from = "gclid"', '+to = "G__c"', '+policy = "always"', "+"]
