"""A deadline on reading from a client's socket (a module of its own: gunicorn's arbiter imports it too)."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time


class ReadDeadline:
    """Shuts a socket's reading side `seconds` from now unless cancelled first: that ends a read a slow client
    trickles one byte at a time, which no per-read timeout would; what the server writes still goes out.

    Every deadline of the process is kept by one watcher thread (a thread per deadline, two per request,
    cost more than the rest of a request's handling)."""

    def __init__(self, connection: socket.socket, seconds: float):
        self.passed = False
        self.cancelled = False
        self._connection = connection
        _watcher().add(self, time.monotonic() + seconds)

    def shut(self) -> None:
        """Called by the watcher at the deadline, unless cancelled."""
        self.passed = True
        with contextlib.suppress(OSError):
            self._connection.shutdown(socket.SHUT_RD)

    def cancel(self) -> None:
        _watcher().cancel(self)


class _Watcher(threading.Thread):
    """Sleeps until the earliest deadline, shuts what is due, and drops what was cancelled."""

    def __init__(self) -> None:
        super().__init__(name="connector-read-deadlines", daemon=True)
        self._due: list[tuple[float, int, ReadDeadline]] = []
        self._order = itertools.count()
        self._cancelled = 0
        self._lock = threading.Condition()

    def add(self, deadline: ReadDeadline, at: float) -> None:
        with self._lock:
            heapq.heappush(self._due, (at, next(self._order), deadline))
            if self._due[0][2] is deadline:
                self._lock.notify()

    def cancel(self, deadline: ReadDeadline) -> None:
        with self._lock:  # never both cancelled and shut
            if deadline.cancelled or deadline.passed:
                return
            deadline.cancelled = True
            self._cancelled += 1
            if self._cancelled > 1024 and self._cancelled * 2 > len(self._due):
                self._due = [entry for entry in self._due if not entry[2].cancelled]
                heapq.heapify(self._due)
                self._cancelled = 0

    def run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                while self._due and (self._due[0][2].cancelled or self._due[0][0] <= now):
                    _at, _n, deadline = heapq.heappop(self._due)
                    if deadline.cancelled:
                        self._cancelled = max(0, self._cancelled - 1)
                    else:
                        deadline.shut()
                self._lock.wait(self._due[0][0] - now if self._due else None)


_watchers: dict[int, _Watcher] = {}
_watchers_lock = threading.Lock()


def _after_fork() -> None:
    global _watchers_lock  # another thread may have held it at the fork
    _watchers_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def _watcher() -> _Watcher:
    """This process's watcher (a forked gunicorn worker starts its own)."""
    watcher = _watchers.get(os.getpid())
    if watcher is None:
        with _watchers_lock:
            watcher = _watchers.get(os.getpid())
            if watcher is None:
                watcher = _watchers[os.getpid()] = _Watcher()
                watcher.start()
    return watcher
