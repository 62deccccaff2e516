"""`connector admin ...`: the console's users from the command line (the first admin is made here).
Each change is written to the audit log as made by "command line (<os user>)"."""

from __future__ import annotations

import getpass
import logging
import sys

import click

from connector.admin import audit
from connector.admin.users import ROLES, UserError, add_user, list_users, remove_user, set_role
from connector.context import Context
from connector.store.migrate import upgrade


def _actor() -> str:
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):
        return "command line"


@click.group("admin")
def admin_group() -> None:
    """The admin console's users (the console is off until one exists)."""


def _context() -> Context:
    """The ledger, migrated (the users table exists before the first `connector run`)."""
    obj = click.get_current_context().find_root().obj
    ctx = Context(obj.settings)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the migration's chatter is not the answer
    upgrade(ctx.engine)
    return ctx


@admin_group.command("add-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="viewer, editor or admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def add_user_command(email: str, role: str, password_stdin: bool) -> None:
    """Create a console user (asks for the password)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    ctx = _context()
    try:
        with ctx.sessions() as session, session.begin():
            created = add_user(session, email, role, password)
            audit.write(session, _actor(), "user.add", created.email, None, created)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        ctx.close()
    click.echo(f"{created.email} can now sign in as {created.role} at /admin/")


@admin_group.command("list-users")
def list_users_command() -> None:
    """The console's users and their roles."""
    ctx = _context()
    try:
        with ctx.sessions() as session:
            users = list_users(session)
            rows = [(u.email, u.role, u.last_sign_in_at) for u in users]
    finally:
        ctx.close()
    if not rows:
        click.echo("no console users yet: connector admin add-user EMAIL --role admin")
        return
    width = max(len(email) for email, _, _ in rows)
    for email, role, last in rows:
        seen = last.strftime("%Y-%m-%d %H:%M UTC") if last else "never signed in"
        click.echo(f"{email:<{width}}  {role:<6}  {seen}")


@admin_group.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def set_role_command(email: str, role: str) -> None:
    """Change a console user's role."""
    ctx = _context()
    try:
        with ctx.sessions() as session, session.begin():
            before, after = set_role(session, email, role)
            audit.write(session, _actor(), "user.set_role", after.email, before, after)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        ctx.close()
    click.echo(f"{after.email}: {before.role} -> {after.role}")


@admin_group.command("remove-user")
@click.argument("email")
def remove_user_command(email: str) -> None:
    """Remove a console user (signed out at their next request)."""
    ctx = _context()
    try:
        with ctx.sessions() as session, session.begin():
            removed = remove_user(session, email)
            audit.write(session, _actor(), "user.remove", removed.email, removed, None)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        ctx.close()
    click.echo(f"{removed.email} removed")
