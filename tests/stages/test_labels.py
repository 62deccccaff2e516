"""HubSpot stage labels are read once per process and TTL, and again when a stage id is new to us."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from connector.context import Context
from tests.stages.test_resolution import NOW, change, conversions, deal, env, handle, remember, with_rules  # noqa: F401

SQL = {"crm": "hubspot", "object": "contact", "stage": "Sales Qualified Lead", "event": "lead_created"}


def test_a_burst_of_batches_reads_the_pipelines_once(ctx, hubspot_double):
    deals = [deal(hubspot_double, ctx, n) for n in range(1, 6)]
    rows = handle(  # one change per delivery: five batches, each resolving "closedwon" as "Closed Won"
        ctx,
        *[
            change("hubspot", "deals", d, "closedwon", NOW - timedelta(minutes=n), f"e{n}")
            for n, d in enumerate(deals)
        ],
    )
    assert [r.status for r in rows] == ["converted"] * 5
    assert hubspot_double.calls["pipelines_get_all"] == 1


def test_a_stage_added_in_hubspot_is_picked_up_at_once(ctx, hubspot_double):
    signed = with_rules(ctx, stage="Contract Signed")
    first, second, third = (deal(hubspot_double, signed, n) for n in (1, 2, 3))
    [row] = handle(signed, change("hubspot", "deals", first, "closedwon", NOW, "e1"))
    assert row.status == "no_rule" and hubspot_double.calls["pipelines_get_all"] == 1
    hubspot_double.add_deal_stage("contractsigned", "Contract Signed")
    rows = handle(
        signed,
        change("hubspot", "deals", second, "contractsigned", NOW, "e2"),
        change("hubspot", "deals", third, "contractsigned", NOW, "e3"),
    )
    assert [r.status for r in rows] == ["no_rule", "converted", "converted"]
    assert hubspot_double.calls["pipelines_get_all"] == 2  # the unknown id read them again, once


def test_a_stage_id_hubspot_does_not_know_reads_the_labels_again_only_once(ctx, hubspot_double):
    deals = [deal(hubspot_double, ctx, n) for n in range(1, 5)]
    stages = ["closedwon", "91827364", "91827364", "closedwon"]
    rows = handle(
        ctx,
        *[
            change("hubspot", "deals", d, s, NOW, f"e{n}")
            for n, (d, s) in enumerate(zip(deals, stages, strict=True))
        ],
    )
    assert [r.status for r in rows] == ["converted", "no_rule", "no_rule", "converted"]
    assert hubspot_double.calls["pipelines_get_all"] == 2


def test_labels_are_read_again_after_the_ttl(ctx, hubspot_double):
    short = Context(replace(ctx.settings, stages=replace(ctx.settings.stages, labels_ttl_seconds=1)))
    first, second, third = (deal(hubspot_double, short, n) for n in (1, 2, 3))
    handle(short, change("hubspot", "deals", first, "closedwon", NOW, "e1"))
    handle(short, change("hubspot", "deals", second, "closedwon", NOW, "e2"))
    assert hubspot_double.calls["pipelines_get_all"] == 1
    hubspot_double.pipelines[0]["stages"][2] = ("closedwon", "Won")  # renamed in HubSpot
    time.sleep(1.1)
    [*_, row] = handle(short, change("hubspot", "deals", third, "closedwon", NOW, "e3"))
    assert row.status == "no_rule"  # the rule says "Closed Won"; HubSpot now calls the stage "Won"
    assert hubspot_double.calls["pipelines_get_all"] == 2


def test_lifecycle_stage_labels_come_from_the_lifecyclestage_property_once(ctx, hubspot_double):
    lifecycle = Context(replace(ctx.settings, stages=replace(ctx.settings.stages, rules={"sql": SQL})))
    contacts = []
    for n in range(1, 4):
        contact = hubspot_double.add_contact(email=f"sql{n}@example.com")
        remember(lifecycle, "hubspot", contact, f"sql{n}@example.com", f"evt-sql{n}", f"opp-sql{n}")
        contacts.append(contact)
    rows = handle(
        lifecycle,
        *[
            change("hubspot", "contacts", c, "salesqualifiedlead", NOW, f"e{n}")
            for n, c in enumerate(contacts)
        ],
    )
    assert [r.status for r in rows] == ["converted"] * 3
    assert [c.event_type for c in conversions(lifecycle)] == ["lead_created"] * 3
    reads = [body for kind, body in hubspot_double.requests if kind == "property_get"]
    assert reads == [{"object": "contacts", "name": "lifecyclestage"}]
    assert hubspot_double.calls["pipelines_get_all"] == 0
