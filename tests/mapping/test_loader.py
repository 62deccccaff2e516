"""Validation at load: every problem is collected and names file, line, key and what was expected."""

from __future__ import annotations

import pytest

from connector.mapping import MappingError, load_mapping, load_mappings

from .conftest import EXAMPLES

BAD = """crm = "salesforce"
object = "Lead"

[match]
field = "Email"

[[fields]]
from = "frist_utm_source"
to = "First_UTM_Source__c"
policy = "once"

[[fields]]
from = "latest_utm_source"
to = "First_UTM_Source__c"
policy = "always"

[[fields]]
from = "oppref"
to = "Oppref__c"
policy = "sometimes"
transforms = ["upper"]

[[fields]]
from = "crm_object_id"
to = "X__c"
policy = "always"
"""


def _problems(write_mapping, text):
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(text, "bad.toml"))
    return caught.value.problems


def test_all_problems_collected_with_file_line_key(write_mapping):
    problems = _problems(write_mapping, BAD)
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {
        "fields[0].from",
        "fields[1].to",
        "fields[2].policy",
        "fields[2].transforms[0]",
        "fields[3].from",
    }
    assert all(p.file.endswith("bad.toml") for p in problems)
    unknown = by_key["fields[0].from"]
    assert unknown.line == 8
    assert "frist_utm_source" in unknown.message and "did you mean 'first_utm_source'" in unknown.message
    assert by_key["fields[1].to"].line == 14 and "fields[0]" in by_key["fields[1].to"].message
    assert by_key["fields[2].policy"].line == 20
    assert "once, always, if_empty" in by_key["fields[2].policy"].message
    assert "unknown transform 'upper'" in by_key["fields[2].transforms[0]"].message
    assert by_key["fields[2].transforms[0]"].line == 21
    assert "ledger" in by_key["fields[3].from"].message
    assert str(unknown).startswith(f"{unknown.file}:8: fields[0].from: unknown attribution value")


def test_duplicate_targets_are_case_insensitive_for_salesforce(write_mapping):
    text = (
        BAD.split("[[fields]]")[0]
        + """[[fields]]
from = "email"
to = "Email"
policy = "always"

[[fields]]
from = "email"
to = "EMAIL"
policy = "always"
"""
    )
    (problem,) = _problems(write_mapping, text)
    assert problem.key == "fields[1].to" and "also the target of fields[0]" in problem.message


def test_structural_problems(write_mapping):
    text = """crm = "pipedrive"
objekt = "Lead"

[[fields]]
to = "A"
policy = "always"

[[fields]]
from = ["utm_a", "first_utm_source"]
value = "x"
to = "B"
policy = "always"

[[fields]]
from = ["first_utm_source", "latest_utm_source"]
to = "C"
policy = "if_empty"
group = "g"

[[overrides]]
skip = ["Nope"]
"""
    messages = {p.key: p.message for p in _problems(write_mapping, text)}
    assert "salesforce, hubspot" in messages["crm"]
    assert "unknown key 'objekt'" in messages["objekt"] and "did you mean 'object'" in messages["objekt"]
    assert "CRM object name" in messages["object"]
    assert "exactly one of `from`" in messages["fields[0]"]
    assert "exactly one of `from`" in messages["fields[1]"]
    assert "join transform" in messages["fields[2].from"]
    assert "only with policy" in messages["fields[2].group"]
    assert "source` and/or `form_id`" in messages["overrides[0]"]
    assert "'Nope' is not one of them" in messages["overrides[0].skip"]
    assert "how people are matched" in messages["match"]


def test_toml_syntax_error_names_line(write_mapping):
    (problem,) = _problems(write_mapping, 'crm = "salesforce"\nobject = \n')
    assert "valid TOML" in problem.message and problem.line == 2


def test_read_table_names_are_checked(write_mapping):
    text = 'crm = "hubspot"\nobject = "deals"\n[read]\nstage = "dealstage"\namout = "amount"\n'
    (problem,) = _problems(write_mapping, text)
    assert problem.key == "read.amout" and problem.line == 5 and "did you mean 'amount'" in problem.message


def test_directory_errors_from_all_files_and_one_default_per_crm(tmp_path):
    (tmp_path / "a.toml").write_text(
        'crm = "hubspot"\nobject = "contacts"\n[match]\nfield = "email"\n'
        '[[fields]]\nfrom = "email"\nto = "email"\npolicy = "always"\n'
    )
    (tmp_path / "b.toml").write_text(
        'crm = "hubspot"\nobject = "contacts"\n[match]\nfield = "email"\n'
        '[[fields]]\nfrom = "email"\nto = "email"\npolicy = "always"\n'
    )
    (tmp_path / "c.toml").write_text('crm = "hubspot"\n')
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path)
    files = {p.file.rsplit("/", 1)[-1] for p in caught.value.problems}
    assert files == {"b.toml", "c.toml"}
    assert "one default write mapping" in str(caught.value)


def test_examples_load_and_cover_the_recommended_field_set():
    mappings = load_mappings(EXAMPLES)
    lead = mappings.get("salesforce", "Lead")
    contact = mappings.get("hubspot", "contacts")
    needed = {
        "first_utm_source",
        "first_utm_medium",
        "first_utm_campaign",
        "first_utm_content",
        "first_utm_term",
        "latest_utm_source",
        "latest_utm_medium",
        "latest_utm_campaign",
        "oppref",
        "event_id",
        "first_landing_page",
        "conversion_page",
        "first_referrer",
        "latest_referrer",
        "latest_ai_source",
        "latest_channel",
        "gclid",
        "gbraid",
        "wbraid",
        "fbclid",
        "msclkid",
        "ttclid",
        "li_fat_id",
    }
    for mapping in (lead, contact, mappings.get("salesforce", "Contact")):
        used = {s for rule in mapping.fields for s in rule.sources}
        assert needed <= used, needed - used
    assert mappings.get("salesforce", "Opportunity").read["amount"] == "Amount"
    assert mappings.get("hubspot", "deals").read["stage"] == "dealstage"


def test_for_submission_picks_most_specific():
    mappings = load_mappings(EXAMPLES)
    assert mappings.for_submission("salesforce", "gravity", "contact").object == "Lead"
    assert mappings.for_submission("salesforce", "gravity", "customer-portal").object == "Contact"
    assert mappings.for_submission("hubspot", None, None).object == "contacts"
