"""A tiny threaded loopback HTTP(S) server for the CRM doubles: routing, JSON replies, call counters."""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Request:
    """What a route handler sees: method, path, query, headers and the parsed body."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes):
        self.method, self.path, self.query, self.headers, self.raw = method, path, query, headers, body

    def json(self) -> Any:
        return json.loads(self.raw or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.raw.decode()).items()}


Reply = tuple[int, Any, dict[str, str]]
Handler = Callable[..., Reply]


class LoopbackServer:
    """Serve registered routes on 127.0.0.1 in a thread; count calls per route name."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self.calls: Counter[str] = Counter()
        self.lock = threading.RLock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                status, payload, headers = server.dispatch(
                    Request(self.command, parts.path, parse_qs(parts.query), self.headers, body)
                )
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if ssl_context else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def route(self, method: str, pattern: str, name: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), name, handler))

    def dispatch(self, request: Request) -> Reply:
        for method, pattern, name, handler in self.routes:
            found = pattern.match(request.path)
            if found and method == request.method:
                with self.lock:
                    self.calls[name] += 1
                    self.calls["total"] += 1
                    return handler(request, *found.groups())
        return 404, [{"errorCode": "NOT_FOUND", "message": f"no route {request.method} {request.path}"}], {}

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
