"""A running worker sees a field created after it started: its length is read again when the mappings change."""

from __future__ import annotations

import shutil

from tests.conftest import ROOT, wait_for
from tests.crm_writes.conftest import salesforce_env
from tests.crm_writes.test_submission_to_crm import AUTH, URL, settled, submission

NEW_RULE = """
[[fields]]
from = "company"
to = "Landing_Note__c"
policy = "always"
"""


def test_a_field_created_while_the_worker_runs_gets_its_length_without_a_restart(
    salesforce_double, env, client, ctx, processes, tmp_path
):
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    env.update(salesforce_env(salesforce_double))
    env["CONNECTOR_CRM__MAPPINGS_PATH"] = str(mappings)
    processes.start("worker", name="worker")
    client.post(URL, json=submission(1), headers=AUTH)
    (first,) = wait_for(lambda: settled(ctx, 1), timeout=30, message="first write (the Lead describe cached)")
    assert first.status == "written", first.last_error

    # What the console's "create missing fields" and a mapping save do, with the worker still running.
    salesforce_double.add_field("Lead", "Landing_Note__c", length=12)
    lead = mappings / "salesforce_lead.toml"
    lead.write_text(lead.read_text() + NEW_RULE)

    client.post(URL, json=submission(2, company="Acme Corporation International Holdings"), headers=AUTH)
    _, second = wait_for(lambda: settled(ctx, 2), timeout=30, message="second write")
    assert second.status == "written", second.last_error
    (record,) = salesforce_double.find("Lead", "Email", "ana2@example.com")
    assert record["Landing_Note__c"] == "Acme Corpora"  # cut to the new field's 12, not refused
