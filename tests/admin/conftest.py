"""Fixtures for the admin console's tests (every console page's tests use these).

- `admin_users(email=..., role=...)`: create a console user in this test's ledger (password PASSWORD).
- `admin_client(role)`: a Flask test client signed in through the real sign-in form as a new user of
  that role; its `post` adds the session's CSRF token (pass `csrf=False` or `csrf="wrong"` to test refusals).
- `console`: a real `connector serve` + `connector worker` on this test's database and queue, with the
  HubSpot and OpenAI doubles, and `console.page(role)`: a signed-in Chromium page at 1366x768.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connector.admin.users import add_user
from connector.context import Context
from tests.conftest import Processes, wait_for
from tests.conversions.conftest import API_KEY, double_env
from tests.crm.conftest import hs_mapping, hubspot_double, mappings
from tests.crm_writes.conftest import hubspot_env
from tests.doubles.hubspot_double import HubSpotDouble
from tests.doubles.openai_double import OpenAIDouble, serve

__all__ = ["hs_mapping", "hubspot_double", "mappings"]

PASSWORD = "correct horse battery staple"
"""Every test user's password."""
SECRET_KEY = "test-admin-session-key-0123456789abcdef"
VIEWPORT = {"width": 1366, "height": 768}
_numbers = itertools.count(1)


def create_user(ctx: Context, email: str, role: str, password: str = PASSWORD) -> str:
    with ctx.sessions() as session, session.begin():
        add_user(session, email, role, password)
    return email


@pytest.fixture
def admin_users(ctx: Context) -> Callable[..., str]:
    """admin_users(email=None, role="viewer") -> the new user's email."""

    def make(email: str | None = None, role: str = "viewer", password: str = PASSWORD) -> str:
        return create_user(ctx, email or f"{role}{next(_numbers)}@example.com", role, password)

    return make


class AdminClient:
    """A signed-in Flask test client; `post` carries the CSRF token unless told otherwise."""

    def __init__(self, client: Any, email: str):
        self.client = client
        self.email = email

    @property
    def csrf_token(self) -> str:
        with self.client.session_transaction("/admin/") as session:  # the cookie is scoped to /admin
            return str(session.get("admin_csrf", ""))

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def post(
        self, url: str, data: dict[str, Any] | None = None, csrf: bool | str = True, **kwargs: Any
    ) -> Any:
        data = dict(data or {})
        if csrf is True:
            data["csrf_token"] = self.csrf_token
        elif isinstance(csrf, str):
            data["csrf_token"] = csrf
        return self.client.post(url, data=data, **kwargs)


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    """Sign in through the form (GET for the CSRF token, then POST); returns the POST's answer."""
    page = client.get("/admin/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token, page.get_data(as_text=True)[:500]
    return client.post(
        "/admin/sign-in", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )


@pytest.fixture
def admin_client(app: Any, admin_users: Callable[..., str]) -> Callable[..., AdminClient]:
    """admin_client(role="admin") -> an AdminClient signed in as a new user with that role."""

    def make(role: str = "admin", email: str | None = None) -> AdminClient:
        email = admin_users(email=email, role=role)
        client = app.test_client()
        answer = sign_in(client, email)
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
        return AdminClient(client, email)

    return make


@dataclass
class Console:
    """A running console: its URL, this test's ledger, the doubles, and signed-in browser pages."""

    url: str
    ctx: Context
    processes: Processes
    hubspot: HubSpotDouble
    openai: OpenAIDouble
    browser: Any
    contexts: list[Any] = field(default_factory=list)

    def user(self, role: str = "admin", email: str | None = None) -> str:
        return create_user(self.ctx, email or f"{role}{next(_numbers)}@example.com", role)

    def new_page(self) -> Any:
        """A fresh browser (own cookies) at 1366x768, not signed in."""
        context = self.browser.new_context(viewport=VIEWPORT)
        self.contexts.append(context)
        return context.new_page()

    def page(self, role: str = "admin", email: str | None = None) -> Any:
        """A page signed in through the sign-in form as a new user with `role` (or as `email`)."""
        email = email or self.user(role)
        page = self.new_page()
        page.goto(f"{self.url}/admin/sign-in")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.url}/admin/")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="session")
def admin_browser(launch_chromium: Callable[..., Any]) -> Iterator[Any]:
    browser = launch_chromium()
    yield browser
    browser.close()


@pytest.fixture
def openai_double() -> Iterator[OpenAIDouble]:
    with serve(api_key=API_KEY) as double:
        yield double


@pytest.fixture
def console_env() -> dict[str, str]:
    """Extra environment for the console's processes, applied last; a test module overrides this
    fixture (e.g. a mapping directory or config file of its own, which its tests edit)."""
    return {}


@pytest.fixture
def console(
    env: dict[str, str],
    ctx: Context,
    processes: Processes,
    hubspot_double: HubSpotDouble,
    openai_double: OpenAIDouble,
    admin_browser: Any,
    console_env: dict[str, str],
    request: pytest.FixtureRequest,
) -> Iterator[Console]:
    """`connector serve` (one process) and a worker on this test's database, CRM (HubSpot double) and
    OpenAI double; the processes' logs are printed when the test fails."""
    from tests.test_processes import free_port, up

    env.update(hubspot_env(hubspot_double))
    env.update(double_env(openai_double.url))
    env.update(console_env)
    env["CONNECTOR_ADMIN_SECRET_KEY"] = SECRET_KEY
    port = free_port()
    processes.start("serve", "--port", str(port), "--processes", "1", name="serve")
    processes.start("worker", name="worker")
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: up(f"{url}/healthz"), timeout=90, message="connector serve up")
    running = Console(url, ctx, processes, hubspot_double, openai_double, admin_browser)
    yield running
    running.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(processes.logs()[-8000:])


def get(console: Console, path: str) -> httpx.Response:
    """A plain HTTP GET against the running console (no cookies)."""
    return httpx.get(f"{console.url}{path}", follow_redirects=False, timeout=10)
