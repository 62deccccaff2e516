"""The command, the API and the page give the same numbers; the API wants a signed-in viewer."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import pytest

from connector.report import ReportQuery, build_report
from connector.report.output import report_dict
from tests.admin.conftest import admin_client, admin_users
from tests.report.conftest import NOW

__all__ = ["admin_client", "admin_users"]

QUERIES = [
    {"by": "ai_source", "touch": "first"},
    {"by": "ai_source", "touch": "any", "trend": "month"},
    {"by": "channel", "touch": "latest", "date": "won", "since": str(NOW.date().replace(day=1))},
]


def connector(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args], env=env, capture_output=True, text=True, timeout=60
    )


def cli_args(params: dict[str, str]) -> list[str]:
    return [part for key, value in params.items() for part in (f"--{key}", value)]


@pytest.mark.parametrize("params", QUERIES, ids=lambda p: "-".join(p.values()))
def test_cli_api_and_engine_agree(seeded, env, admin_client, params):  # type: ignore[no-untyped-def]
    ctx = seeded.ctx
    expected = report_dict(build_report(ctx.engine, ctx.settings, ReportQuery(**_typed(params))))
    assert expected["rows"]
    done = connector(env, "report", *cli_args(params), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected
    answer = admin_client("viewer").get("/admin/api/report", query_string=params)
    assert answer.status_code == 200 and answer.get_json() == expected


def _typed(params: dict[str, str]) -> dict:
    from datetime import date

    return {k: date.fromisoformat(v) if k in ("since", "until") else v for k, v in params.items()}


def test_cli_text_csv_and_list(seeded, env):  # type: ignore[no-untyped-def]
    text = connector(env, "report", "--by", "ai_source", "--touch", "first")
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if x.startswith("chatgpt "))
    assert re.search(r"chatgpt\s+2\s+2\s+0\s+2\s+2\s+99\.99 EUR; 1,200\.50 USD", line), line
    rows = list(csv.DictReader(io.StringIO(connector(env, "report", "--csv").stdout)))
    chatgpt = next(r for r in rows if r["ai_source"] == "chatgpt")
    assert (chatgpt["won"], chatgpt["won_USD_minor"], chatgpt["won_EUR_minor"]) == ("2", "120050", "9999")
    listed = connector(env, "report", "--list", "won=chatgpt")
    assert listed.returncode == 0, listed.stderr
    assert "email=ana@example.com" in listed.stdout and "event_id=evt-04-gus" in listed.stdout
    bad = connector(env, "report", "--by", "colour")
    assert bad.returncode == 2 and "by: expected one of channel, ai_source" in bad.stderr


def test_api_lists_a_cell_and_refuses_bad_input(seeded, admin_client):  # type: ignore[no-untyped-def]
    viewer = admin_client("viewer")
    answer = viewer.get("/admin/api/report", query_string={"touch": "latest", "list": "won=openai_ads"})
    assert answer.status_code == 200
    assert {e["event_id"] for e in answer.get_json()["entries"]} == {"evt-02-ben", "evt-04-gus"}
    bad = viewer.get("/admin/api/report", query_string={"since": "yesterday"})
    assert bad.status_code == 400
    assert bad.get_json() == {"error": "since: expected a day as YYYY-MM-DD, got 'yesterday'", "status": 400}


def test_api_and_page_need_a_signed_in_user(seeded, app, admin_users):  # type: ignore[no-untyped-def]
    admin_users(role="viewer")  # the console is on
    anonymous = app.test_client()
    for path in ("/admin/api/report", "/admin/report", "/admin/report.csv"):
        answer = anonymous.get(path)
        assert answer.status_code == 302 and "/admin/sign-in" in answer.headers["Location"], path


def test_page_shows_charts_table_and_links(seeded, admin_client):  # type: ignore[no-untyped-def]
    page = admin_client("viewer").get("/admin/report", query_string={"by": "ai_source", "touch": "first"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('<svg class="chart"') == 3  # leads and won over time, the funnel per channel
    row = re.search(r'<th scope="row" class="group">.*?chatgpt</th>(.*?)</tr>', html, re.S)
    assert row is not None
    numbers = re.findall(r">(\d+)</a>|>(\d+)</span>", row.group(1))
    assert [a or b for a, b in numbers][:5] == ["2", "2", "0", "2", "2"]
    assert "99.99 EUR; 1,200.50 USD" in row.group(1)
    link = re.search(r'href="(/admin/report/cell\?[^"]*won%3Dchatgpt[^"]*)"', row.group(1))
    assert link is not None
    cell = admin_client("viewer").get(link.group(1).replace("&amp;", "&"))
    assert cell.status_code == 200
    assert "ana@example.com" in cell.get_data(as_text=True) and "evt-04-gus" in cell.get_data(as_text=True)
    download = admin_client("viewer").get("/admin/report.csv", query_string={"by": "channel"})
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.get_data(as_text=True).startswith("channel,leads,submissions")


def test_page_escapes_webhook_values(seeded, client, admin_client):  # type: ignore[no-untyped-def]
    from tests.intake.helpers import SECRET, run_jobs

    body = {"email": "x@example.com", "first_utm_campaign": "<script>alert(1)</script>", "consent": "granted"}
    client.post("/webhooks/forms/generic", json=body, headers={"X-Connector-Token": SECRET})
    run_jobs(seeded.ctx)
    html = admin_client("viewer").get("/admin/report?by=utm_campaign").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
