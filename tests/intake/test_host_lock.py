"""The SQLite commit lock the web processes' receipt writers queue on (a kernel flock, no polling sleeps)."""

from __future__ import annotations

import threading
import time

from connector.intake.host_lock import HostLock


def test_a_second_writer_waits_for_the_first_and_gets_in_as_soon_as_it_is_done(ctx):
    first, second = HostLock(ctx.engine), HostLock(ctx.engine)  # two open files: as two processes hold it
    if first.path is None:
        assert ctx.engine.dialect.name != "sqlite"  # PostgreSQL: nothing to queue on
        with first.held():
            return
    order: list[str] = []

    def later() -> None:
        with second.held():
            order.append("second in")

    with first.held():
        waiter = threading.Thread(target=later)
        waiter.start()
        time.sleep(0.2)
        assert order == []  # still waiting
        order.append("first out")
    waiter.join(timeout=5)
    assert order == ["first out", "second in"]
