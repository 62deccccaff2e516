"""Run time on a page with five forms, measured in Chromium by bench/plugin_size.py (see the README)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "plugin_size.py"


def test_five_form_page_run_time_is_measured(browser):  # `browser` fixture: fails clearly without Chromium
    spec = importlib.util.spec_from_file_location("plugin_size", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    t = bench.run_times(runs=5, browser=browser)
    print(
        f"five-form ad landing: own start-up {t['own_ms']:.2f} ms (cold {t['start_ms']:.2f} ms, first"
        f" storage/cookie access {t['access_ms']:.2f} ms), classifier arrival {t['classify_ms']:.2f} ms, direct"
        f" visit {t['direct_ms']:.2f} ms, submit {t['submit_ms']:.2f} ms, refill {t['refill_ms']:.2f} ms"
    )
    # generous bounds (shared CI machines); the target is < 2 ms of the script's own work, see README
    assert 0 < t["own_ms"] < 50 and 0 < t["start_ms"] < 150 and 0 <= t["access_ms"] < 150
    assert 0 < t["classify_ms"] < 50 and 0 < t["direct_ms"] < 50
    assert 0 <= t["submit_ms"] < 30 and 0 <= t["refill_ms"] < 30
