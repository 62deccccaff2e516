"""Structured logs: one JSON object per line with event_id and the RQ job id, never a secret."""

from __future__ import annotations

import json
import logging

from connector.logs import JsonFormatter


def test_json_lines_carry_event_and_receipt_ids():
    record = logging.LogRecord(
        "connector.jobs.receipts", logging.INFO, __file__, 1, "receipt_id=%s processed", (7,), None
    )
    record.event_id = "evt-9"
    record.receipt_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "receipt_id=7 processed"
    assert line["event_id"] == "evt-9" and line["receipt_id"] == 7
    assert line["level"] == "INFO" and line["logger"] == "connector.jobs.receipts"


def test_worker_log_lines_name_the_job(client, ctx, processes):
    from tests.conftest import TOKEN, wait_for

    processes.env["CONNECTOR_LOG_FORMAT"] = "json"
    client.post(
        "/webhooks/forms/generic",
        json={"email": "l@x.y", "event_id": "evt-log"},
        headers={"X-Connector-Token": TOKEN},
    )
    processes.start("worker", name="worker")

    def processed_line():
        for raw in processes.logs().splitlines():
            if raw.startswith("{") and "processed event_id=evt-log" in raw:
                return json.loads(raw)
        return None

    line = wait_for(processed_line, message="processed log line")
    assert line["event_id"] == "evt-log"
    assert line["job_id"].startswith("intake-")
