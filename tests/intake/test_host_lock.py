"""The commit lock the web processes' receipt writers queue on (a kernel flock, no polling sleeps)."""

from __future__ import annotations

import threading
import time

from connector.intake.host_lock import HostLock, lock_path


def test_a_second_writer_waits_for_the_first_and_gets_in_as_soon_as_it_is_done(ctx):
    path = lock_path(ctx.engine, ctx.settings.data_path)
    first, second = HostLock(path), HostLock(path)  # two open files: as two processes hold it
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


def test_each_database_has_its_own_lock_and_a_server_database_is_named_without_its_password(ctx, tmp_path):
    from sqlalchemy import create_engine

    one = create_engine("postgresql+psycopg://intake:s3cret-pass@db.example:5432/connector")
    other = create_engine("postgresql+psycopg://intake:s3cret-pass@db.example:5432/staging")
    same_but_password = create_engine("postgresql+psycopg://intake:rotated@db.example:5432/connector")
    paths = [lock_path(engine, tmp_path) for engine in (one, other, same_but_password)]
    assert paths[0] != paths[1]
    assert paths[0] == paths[2], "rotating the password must not split the lock between processes"
    assert all("s3cret" not in (path or "") for path in paths)
    assert lock_path(create_engine("sqlite:///" + str(tmp_path / "c.db")), tmp_path) == str(
        tmp_path / "c.db.intake-lock"
    )
    assert lock_path(create_engine("sqlite://"), tmp_path) is None


def test_a_lock_that_cannot_be_made_leaves_commits_working(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the lock's folder would be")
    lock = HostLock(str(blocked / "intake.lock"))
    with lock.held():
        pass
    assert lock.path is None
