"""A deadline on reading from a client's socket (a module of its own: gunicorn's arbiter imports it too)."""

from __future__ import annotations

import contextlib
import socket
import threading


class ReadDeadline:
    """Shuts a socket's reading side `seconds` from now unless cancelled first: that ends a read a slow client
    trickles one byte at a time, which no per-read timeout would; what the server writes still goes out."""

    def __init__(self, connection: socket.socket, seconds: float):
        self.passed = False
        self._timer = threading.Timer(seconds, self._shut, (connection,))
        self._timer.daemon = True
        self._timer.start()

    def _shut(self, connection: socket.socket) -> None:
        self.passed = True
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RD)

    def cancel(self) -> None:
        self._timer.cancel()
