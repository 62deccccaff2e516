"""The Users page (admin only) and the audit log: every change is recorded, a weaker role changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from connector.store.models import AdminAudit, AdminUser
from tests.admin.conftest import PASSWORD, sign_in


def users(ctx) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return {u.email: u.role for u in session.scalars(select(AdminUser))}


def audit_rows(ctx) -> list[AdminAudit]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(AdminAudit).order_by(AdminAudit.id)))


def test_an_admin_adds_changes_and_removes_a_user_and_each_change_is_audited(admin_client, ctx, app):
    admin = admin_client("admin")
    added = admin.post("/admin/users", {"email": "New@Example.com", "role": "viewer", "password": PASSWORD})
    assert added.status_code == 302
    assert users(ctx)["new@example.com"] == "viewer"
    assert sign_in(app.test_client(), "new@example.com").status_code == 302  # the password works
    assert admin.post("/admin/users/role", {"email": "new@example.com", "role": "editor"}).status_code == 302
    assert users(ctx)["new@example.com"] == "editor"
    assert admin.post("/admin/users/remove", {"email": "new@example.com"}).status_code == 302
    assert "new@example.com" not in users(ctx)
    rows = audit_rows(ctx)
    assert [(r.actor, r.action, r.target) for r in rows] == [
        (admin.email, "user.add", "new@example.com"),
        (admin.email, "user.set_role", "new@example.com"),
        (admin.email, "user.remove", "new@example.com"),
    ]
    assert rows[0].before is None and rows[0].after == {"email": "new@example.com", "role": "viewer"}
    assert rows[1].before["role"] == "viewer" and rows[1].after["role"] == "editor"
    assert rows[2].after is None
    assert all("password" not in str(r.after) for r in rows)


def test_bad_input_on_the_users_page_is_a_clear_error_and_changes_nothing(admin_client, ctx):
    admin = admin_client("admin")
    before = users(ctx)
    for data, message in (
        ({"email": "not-an-email", "role": "viewer", "password": PASSWORD}, "expected an address"),
        ({"email": "x@example.com", "role": "owner", "password": PASSWORD}, "role: expected one of"),
        ({"email": "x@example.com", "role": "viewer", "password": "short"}, "at least 10 characters"),
        ({"email": admin.email, "role": "viewer", "password": PASSWORD}, "already a console user"),
    ):
        answer = admin.post("/admin/users", data)
        assert answer.status_code == 400
        assert message in answer.get_data(as_text=True)
    answer = admin.post("/admin/users/role", {"email": admin.email, "role": "viewer"})
    assert answer.status_code == 400 and "last admin" in answer.get_data(as_text=True)
    answer = admin.post("/admin/users/remove", {"email": admin.email})
    assert answer.status_code == 400 and "cannot remove yourself" in answer.get_data(as_text=True)
    assert users(ctx) == before and audit_rows(ctx) == []


CHANGES = [
    ("/admin/users", {"email": "intruder@example.com", "role": "admin", "password": PASSWORD}),
    ("/admin/users/role", {"email": "target@example.com", "role": "admin"}),
    ("/admin/users/remove", {"email": "target@example.com"}),
]


@pytest.mark.parametrize("role", ["viewer", "editor"])
@pytest.mark.parametrize(("url", "data"), CHANGES, ids=["add", "set-role", "remove"])
def test_a_viewer_or_editor_is_refused_every_user_change(admin_client, admin_users, ctx, role, url, data):
    admin_users(email="target@example.com", role="viewer")
    weaker = admin_client(role)
    before = users(ctx)
    answer = weaker.post(url, data)
    assert answer.status_code == 403
    assert f"signed in as {role}" in answer.get_data(as_text=True)
    assert users(ctx) == before and audit_rows(ctx) == []
    assert weaker.get("/admin/users").status_code == 403


@pytest.mark.parametrize(("url", "data"), CHANGES, ids=["add", "set-role", "remove"])
def test_a_user_change_without_or_with_a_wrong_csrf_token_is_refused(
    admin_client, admin_users, ctx, url, data
):
    admin_users(email="target@example.com", role="viewer")
    admin = admin_client("admin")
    before = users(ctx)
    for csrf in (False, "forged-token"):
        answer = admin.post(url, data, csrf=csrf)
        assert answer.status_code == 400
    assert users(ctx) == before and audit_rows(ctx) == []


def test_anonymous_changes_go_to_the_sign_in_page_and_change_nothing(client, admin_users, ctx):
    admin_users(role="admin")
    page = client.get("/admin/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    before = users(ctx)
    answer = client.post("/admin/users", data={**CHANGES[0][1], "csrf_token": token})
    assert answer.status_code == 302 and "/admin/sign-in" in answer.headers["Location"]
    assert users(ctx) == before


def test_the_audit_page_lists_changes_newest_first_with_pages(admin_client, ctx):
    from connector.admin import audit

    admin = admin_client("admin")
    with ctx.sessions() as session, session.begin():
        for n in range(60):
            audit.write(
                session, "someone@example.com", "mapping.edit", f"mapping-{n:02d}", {"n": n}, {"n": n + 1}
            )
    admin.post("/admin/users", {"email": "late@example.com", "role": "viewer", "password": PASSWORD})
    first = admin.get("/admin/audit").get_data(as_text=True)
    targets = re.findall(r"<td>(late@example\.com|mapping-\d\d)</td>", first)
    assert targets[0] == "late@example.com" and targets[1] == "mapping-59"
    assert len(targets) == 50
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    second = admin.get(older).get_data(as_text=True)
    rest = re.findall(r"<td>(mapping-\d\d)</td>", second)
    assert rest == [f"mapping-{n:02d}" for n in range(10, -1, -1)]
    newer = re.search(r'href="([^"]*after=\d+[^"]*)"', second).group(1).replace("&amp;", "&")
    again = re.findall(r"<td>(late@example\.com|mapping-\d\d)</td>", admin.get(newer).get_data(as_text=True))
    assert again == targets


def test_the_audit_page_is_empty_before_any_change(admin_client):
    page = admin_client("viewer").get("/admin/audit")
    assert page.status_code == 200 and "Nothing changed yet" in page.get_data(as_text=True)


def test_command_line_user_changes_are_audited_too(env, ctx):
    import subprocess
    import sys

    from tests.conftest import ROOT

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "connector", "admin", *args],
            env=env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert (
        run(
            "add-user", "ops@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    assert (
        run(
            "add-user", "ro@example.com", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    listed = run("list-users").stdout
    assert "ops@example.com" in listed and "ro@example.com" in listed and PASSWORD not in listed
    assert run("set-role", "ro@example.com", "editor").returncode == 0
    refused = run("remove-user", "ops@example.com")
    assert refused.returncode == 1 and "last admin" in refused.stderr
    assert run("remove-user", "ro@example.com").returncode == 0
    actions = [(r.action, r.target) for r in audit_rows(ctx)]
    assert actions == [
        ("user.add", "ops@example.com"),
        ("user.add", "ro@example.com"),
        ("user.set_role", "ro@example.com"),
        ("user.remove", "ro@example.com"),
    ]
    assert all(r.actor.startswith("command line") for r in audit_rows(ctx))
