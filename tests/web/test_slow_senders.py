"""Slow and endless senders against a real `connector serve` (gunicorn): a body that trickles in, or a chunked
body that never ends, gets 408 after the body timeout and frees its thread; headers trickled in (slowloris)
are cut off after the header timeout, even from more clients than the server has threads; a webhook sent
meanwhile is answered, and nothing of the cut-off requests is stored."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from connector.store.models import Receipt
from tests.conftest import TOKEN, wait_for
from tests.test_processes import free_port, up

TIMEOUT = 1.5  # intake.body_timeout_seconds for these tests
REQUEST = (
    "POST /webhooks/forms/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    f"X-Connector-Token: {TOKEN}\r\n"
)


THREADS = 4  # web.threads: fewer than the slow clients below


@pytest.fixture
def server(env, processes):  # type: ignore[no-untyped-def]
    env["CONNECTOR_INTAKE__BODY_TIMEOUT_SECONDS"] = str(TIMEOUT)
    env["CONNECTOR_WEB__HEADER_TIMEOUT_SECONDS"] = str(TIMEOUT)
    env["CONNECTOR_WEB__THREADS"] = str(THREADS)
    port = free_port()
    processes.start("serve", "--port", str(port), "--processes", "1", name="serve")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: up(f"{base}/healthz"), message="web up")
    return port, base


def answer_of(connection: socket.socket) -> tuple[bytes, float]:
    """The status line the server sent, and when (monotonic)."""
    connection.settimeout(15)
    data = b""
    while b"\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0], time.monotonic()


def trickle(connection: socket.socket, pieces: list[bytes], every: float, stop: threading.Event) -> None:
    for piece in pieces:
        if stop.is_set():
            return
        try:
            connection.sendall(piece)
        except OSError:
            return
        time.sleep(every)


def stored(ctx) -> int:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(Receipt)) or 0


@pytest.mark.parametrize("kind", ["trickled body", "endless chunked body"])
def test_a_slow_or_endless_body_gets_408_and_a_neighbour_is_served_meanwhile(server, ctx, kind):
    port, base = server
    connection = socket.create_connection(("127.0.0.1", port))
    started = time.monotonic()  # before the headers go out: the server's deadline cannot start earlier
    if kind == "trickled body":
        body = b'{"email": "slow@example.com", "event_id": "evt-slow"}'
        connection.sendall(f"{REQUEST}Content-Length: {len(body)}\r\n\r\n".encode())
        pieces = [body[i : i + 1] for i in range(len(body))]  # one byte every 0.2 s: 10 s in all
    else:
        connection.sendall(f"{REQUEST}Transfer-Encoding: chunked\r\n\r\n".encode())
        pieces = [b"1\r\n \r\n"] * 1000  # a space every 0.2 s, never the last chunk
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(connection, pieces, 0.2, stop), daemon=True)
    sender.start()
    time.sleep(0.3)
    # a neighbour while the slow one holds its thread
    neighbour = httpx.post(
        f"{base}/webhooks/forms/generic",
        json={"email": "quick@example.com", "event_id": "evt-quick"},
        headers={"X-Connector-Token": TOKEN},
        timeout=5,
    )
    assert neighbour.status_code == 200 and neighbour.json()["status"] == "accepted"
    status, at = answer_of(connection)
    stop.set()
    connection.close()
    assert status.upper() == b"HTTP/1.1 408 REQUEST TIMEOUT", status
    assert TIMEOUT <= at - started < TIMEOUT + 3
    assert stored(ctx) == 1, "only the neighbour's receipt"


def test_headers_trickled_in_by_more_clients_than_threads_are_cut_off(server, ctx):
    port, base = server
    stop = threading.Event()
    slow = []
    headers = (REQUEST + "X-Padding: " + "x" * 200 + "\r\n").encode()  # one byte every 0.1 s: 30 s
    for _ in range(THREADS + 2):
        connection = socket.create_connection(("127.0.0.1", port))
        slow.append(connection)
        pieces = [headers[i : i + 1] for i in range(len(headers))]
        threading.Thread(target=trickle, args=(connection, pieces, 0.1, stop), daemon=True).start()
    started = time.monotonic()
    time.sleep(0.5)  # every thread now reads a slow client's headers
    neighbour = httpx.post(
        f"{base}/webhooks/forms/generic",
        json={"email": "quick@example.com", "event_id": "evt-quick"},
        headers={"X-Connector-Token": TOKEN},
        timeout=10,
    )
    answered = time.monotonic() - started
    assert neighbour.status_code == 200 and answered < TIMEOUT + 4, answered
    for connection in slow:
        connection.settimeout(10)
        try:
            closed = connection.recv(4096) == b""
        except ConnectionResetError:
            closed = True
        assert closed, "the slow client's connection is closed"
        connection.close()
    stop.set()
    assert time.monotonic() - started < TIMEOUT + 6
    assert stored(ctx) == 1, "only the neighbour's receipt"
