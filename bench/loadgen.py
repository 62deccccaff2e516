"""A small asyncio HTTP/1.1 keep-alive load generator for loopback benchmarks (no dependencies)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    def summary(self) -> str:
        return (
            f"{self.ok / self.elapsed:8.0f} ok/s  p50 {self.percentile(50):6.2f} ms  p99 {self.percentile(99):6.2f} ms"
            f"  mean {statistics.fmean(self.latencies) * 1000:6.2f} ms  statuses {dict(sorted(self.statuses.items()))}"
        )


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        "Connection: keep-alive",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _connection(host, port, make_request, result, stop_at, rate_gate):  # type: ignore[no-untyped-def]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            if rate_gate is not None:
                scheduled = await rate_gate.get()
                if scheduled is None:
                    return
            else:
                scheduled = time.perf_counter()
            writer.write(make_request())
            status = await _read_response(reader)
            # Open-loop latency: measured from when the request was due, so queueing counts.
            result.latencies.append(time.perf_counter() - scheduled)
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(host, port, make_request, connections, seconds, rate):  # type: ignore[no-untyped-def]
    result = Result()
    started = time.perf_counter()
    stop_at = started + seconds
    gate: asyncio.Queue | None = None
    feeder = None
    if rate:
        gate = asyncio.Queue()

        async def feed() -> None:
            interval = 1 / rate
            due = time.perf_counter()
            while due < stop_at:
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                gate.put_nowait(due)
                due += interval
            for _ in range(connections):
                gate.put_nowait(None)

        feeder = asyncio.create_task(feed())
    await asyncio.gather(
        *(
            _connection(host, port, make_request, result, stop_at + 5 if rate else stop_at, gate)
            for _ in range(connections)
        )
    )
    if feeder:
        await feeder
    result.elapsed = min(time.perf_counter() - started, seconds) if not rate else seconds
    return result


def run_load(
    host: str,
    port: int,
    make_request: Callable[[], bytes],
    connections: int,
    seconds: float,
    rate: float | None = None,
) -> Result:
    """Closed loop (as fast as `connections` allow) when `rate` is None, else open loop at `rate` req/s."""
    return asyncio.run(_run(host, port, make_request, connections, seconds, rate))
