"""bench/admin.py's rows and pages for the Mappings and Stage rules pages.

The ledger gets `--stage-changes` stage changes (default 1,000,000; HubSpot deals over 100 days, most
converted and linked to conversion N, the rest expired, unattributable, no rule or skipped). The pages read
the live CRM: a HubSpot double on loopback with the example mappings' properties (as `crm setup` leaves
it) and a config file with two stage rules, so the Mappings page describes contacts and deals and the
Stage rules page reads the pipelines, as in production. Describes are kept a minute (connector.admin.
live_crm), so the timed rounds measure the page; the first request of each page pays one CRM round trip
per object on top (the "first ms" column).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime.now(UTC)
HISTORY = timedelta(days=100)
ROOT = Path(__file__).resolve().parent.parent

STAGE_RULES = """
[stages.rules.won]
crm = "hubspot"
object = "deals"
pipeline = "default"
stage = "closedwon"
event = "order_created"

[stages.rules.customer]
crm = "hubspot"
object = "contacts"
stage = "customer"
event = "lead_created"
"""


def _stamp(moment: datetime, sqlite: bool) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment.isoformat()


def stage_change_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(20)
    statuses = ("converted", "expired", "unattributable", "no_rule", "skipped")
    for i in range(1, n + 1):
        at = NOW - HISTORY * (1 - i / max(n, 1))
        status = rng.choices(statuses, (80, 5, 8, 6, 1))[0]
        stamp = _stamp(at, sqlite)
        yield (
            i,
            "hubspot",
            "deals",
            f"deal-{i}",
            "closedwon" if status != "no_rule" else "qualifiedtobuy",
            "default",
            stamp,
            "webhook",
            f"sc-{i}",
            f"change-{i}",
            "{}",
            status,
            1,
            "won" if status != "no_rule" else None,
            f"evt-{i}" if status == "converted" else None,
            i if status == "converted" else None,
            "entered the stage 9 days ago" if status == "expired" else None,
            stamp,
            stamp,
        )


STAGE_CHANGE_COLUMNS = (
    "id, crm, object_type, record_id, stage, pipeline, entered_at, via, delivery_key, change_key, fields,"
    " status, attempts, rule, attributed_event_id, conversion_id, last_error, created_at, updated_at"
)

PREFILL: list[tuple[str, str, Callable[[int, bool], Iterator[tuple[Any, ...]]], str]] = [
    ("stage_changes", STAGE_CHANGE_COLUMNS, stage_change_rows, "stage_changes"),
]

PAGES: list[tuple[str, str]] = [
    ("mappings", "/admin/mappings"),
    ("mappings, edit form", "/admin/mappings/hubspot_contact.toml/edit?rule=0"),
    ("stage rules", "/admin/stages"),
    ("stage rules, older changes", "/admin/stages?before={stages_page_2}"),
    ("stage rules, edit form", "/admin/stages/edit?rule=won"),
]


WITH_SUBMISSIONS: list[tuple[str, str]] = [
    ("mappings, preview", "/admin/mappings/preview?submission={preview_submission}"),
]
"""Timed only when the ledger has submissions (bench/admin_data.py's rows)."""


def marks(engine: Any) -> dict[str, str]:
    """The newest submission (the preview's), and the cursor of the stage changes' second page."""
    from sqlalchemy import func, select

    from connector.store.db import make_session_factory
    from connector.store.models import StageChange, Submission

    with make_session_factory(engine)() as session:
        newest_submission = session.scalar(select(func.max(Submission.id))) or 0
        newest_change = session.scalar(select(func.max(StageChange.id))) or 0
    preview = str(newest_submission) if newest_submission else ""
    return {"preview_submission": preview, "stages_page_2": str(max(1, newest_change - 50))}


def live_crm(data_dir: Path) -> tuple[Any, dict[str, str]]:
    """A HubSpot double with the example mappings' properties, and the settings that point at it."""
    import sys

    sys.path.insert(0, str(ROOT))
    from connector.mapping import load_mappings
    from tests.doubles.hubspot_double import HubSpotDouble

    double = HubSpotDouble().start()
    mappings = load_mappings(ROOT / "mappings")
    for object_name in ("contacts", "deals"):
        mapping = mappings.get("hubspot", object_name)
        for target in mapping.targets() if mapping else ():
            if target not in double.properties[object_name]:
                double.add_property(object_name, target)
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "connector.toml"
    config.write_text(
        (ROOT / "config.example.toml").read_text().replace("[report]", STAGE_RULES + "\n[report]", 1)
    )
    os.environ["BENCH_HUBSPOT_TOKEN"] = double.token  # the adapter reads its secret from the environment
    return double, {
        "CONNECTOR_CONFIG": str(config),
        "CONNECTOR_CRM__PROVIDER": "hubspot",
        "CONNECTOR_CRM__MAPPINGS_PATH": str(ROOT / "mappings"),
        "CONNECTOR_CRM__HUBSPOT__HOST": double.url,
        "CONNECTOR_CRM__HUBSPOT__TOKEN_ENV": "BENCH_HUBSPOT_TOKEN",
        "BENCH_HUBSPOT_TOKEN": double.token,
    }
