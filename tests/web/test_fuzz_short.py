"""bench/fuzz.py, short: mutated requests to every intake endpoint of a real `connector serve` never get a
5xx, and the valid webhooks sent among them are all accepted and stored once (FUZZ_SEED picks other cases)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from bench.fuzz import details, run_fuzz, stored_once, summary
from bench.fuzz_seeds import FAMILIES, server_env
from tests.conftest import wait_for
from tests.test_processes import free_port, up

CASES = 150
"""Cases per family (bench/fuzz.py sends 10,000)."""


def test_the_fuzz_covers_every_source_there_is():
    """A new source is fuzzed too, or this fails: the families list every registered one."""
    import connector.sources  # noqa: F401  (registers every source)
    from connector.intake.registry import all_sources

    assert sorted(name for names in FAMILIES.values() for name in names) == sorted(
        s.name for s in all_sources()
    )


def test_no_fuzzed_request_gets_a_5xx_or_costs_a_neighbour(env, processes):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env.update(server_env(base))
    processes.start("serve", "--port", str(port), "--processes", "2", name="serve")
    wait_for(lambda: up(f"{base}/readyz"), timeout=30, message="web up")

    # In a thread of its own: asyncio.run refuses a thread with a running loop, and Playwright's sync API
    # (session-wide, for the browser tests that may run before this one) keeps one in the main thread.
    with ThreadPoolExecutor(1) as pool:
        results = pool.submit(
            run_fuzz, base, base, CASES, seed=int(os.environ.get("FUZZ_SEED", "1"))
        ).result()

    report = summary(results) + "\n" + details(results)
    assert [r.family for r in results] == list(FAMILIES)
    assert sum(len(r.server_errors) for r in results) == 0, report
    assert sum(len(r.failed_neighbours) for r in results) == 0, report
    for result in results:
        assert result.cases == CASES and result.neighbours >= CASES // 20, report
        # valid credentials reach the parsers: some of those cases are stored, others refused with a 4xx
        assert result.signed_outcomes["2xx"] > 0 and result.signed_outcomes["400"] > 0, report
    accepted = {k: v for r in results for k, v in r.accepted.items()}
    assert len(accepted) == sum(r.neighbours for r in results)
    assert stored_once(env["DATABASE_URL"], env["CONNECTOR_DATA_DIR"], accepted) == []
