"""`connector check` resolves stage labels against the live CRM and reports unknown stages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.checks import run_checks
from connector.stages.check import check_stages
from tests.stages.test_resolution import env  # noqa: F401  (CRM doubles + stage settings)


def lines(settings, **rules: dict[str, str]) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    said: list[str] = []
    settings = replace(settings, stages=replace(settings.stages, rules=rules))
    return check_stages(settings, said.append), said


def test_hubspot_stage_labels_ids_and_pipelines_resolved(settings, hubspot_double):
    base = {"crm": "hubspot", "object": "deal", "event": "order_created"}
    problems, said = lines(
        settings,
        by_label={**base, "stage": "closed won", "pipeline": "Sales Pipeline"},
        by_id={**base, "stage": "closedwon"},
        typo={**base, "stage": "Closed Wonn"},
        elsewhere={**base, "stage": "closedwon", "pipeline": "Renewals"},
    )
    assert problems == 2
    assert any(line.startswith("stage rule by_label:") and line.endswith("found") for line in said)
    assert any(line.startswith("stage rule by_id:") and line.endswith("found") for line in said)
    assert any("typo: UNKNOWN stage 'Closed Wonn'" in line and "Closed Won" in line for line in said)
    assert any("elsewhere: UNKNOWN pipeline 'Renewals'" in line for line in said)


def test_hubspot_lifecycle_stages_by_label_or_id(settings, hubspot_double):
    base = {"crm": "hubspot", "object": "contact", "event": "lead_created"}
    problems, said = lines(
        settings,
        by_label={**base, "stage": "sales qualified lead"},
        by_id={**base, "stage": "customer"},
        typo={**base, "stage": "Qualified"},
    )
    assert problems == 1
    assert any(line.startswith("stage rule by_label:") and line.endswith("found") for line in said)
    assert any(line.startswith("stage rule by_id:") and line.endswith("found") for line in said)
    assert any("typo: UNKNOWN stage 'Qualified'" in line and "Sales Qualified Lead" in line for line in said)


@pytest.mark.parametrize("env", ["salesforce"], indirect=True)
def test_salesforce_stage_names_from_the_picklist(settings, salesforce_double):
    base = {"crm": "salesforce", "object": "Opportunity", "event": "order_created"}
    problems, said = lines(settings, won={**base, "stage": "Closed Won"}, nope={**base, "stage": "Signed"})
    assert problems == 1
    assert any("nope: UNKNOWN stage 'Signed'" in line and "Negotiation" in line for line in said)
    problems, said = lines(
        settings, hs={"crm": "hubspot", "object": "deal", "stage": "x", "event": "order_created"}
    )
    assert problems == 1 and "crm.provider is 'salesforce'" in said[-1]


def test_run_checks_includes_stages(settings, hubspot_double):
    said: list[str] = []
    run_checks(settings, said.append)
    assert any(line.startswith("stages: on, 1 rule(s)") for line in said)
    assert any(line.startswith("stage rule won:") for line in said)


def test_check_reports_hubspot_without_a_public_url(settings, hubspot_double):
    said: list[str] = []
    unset = replace(settings, web=replace(settings.web, public_url=""))
    assert run_checks(unset, said.append) > run_checks(settings, [].append)
    assert any("source crm/hubspot: web.public_url is not set" in line for line in said)
