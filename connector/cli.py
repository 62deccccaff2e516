"""The `connector` command: run, serve, worker, check, crm setup, db upgrade, events show, replay, purge,
forget, report.

Each command imports what it runs inside its own function: `connector --help` and a quick command stay
fast, and a command never pays for the CRM client libraries, gunicorn or RQ it does not use.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING

import click

from connector.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from connector.context import Context

log = logging.getLogger("connector")


class Obj:
    """Lazily loaded settings, so `--help` works with a broken config."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                raise click.ClickException(f"invalid configuration: {exc}") from None
            from connector.logs import setup_logging

            setup_logging(self._settings.log_level, self._settings.log_format)
        return self._settings


@click.group()
@click.option(
    "--config",
    "config_path",
    envvar="CONNECTOR_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML configuration file (default: $CONNECTOR_CONFIG, else built-in defaults).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Attribution connector: webhooks in, CRM fields and OpenAI conversions out."""
    ctx.obj = Obj(config_path)


def _migrate(settings: Settings) -> None:
    from connector.store.db import make_engine
    from connector.store.migrate import upgrade_when_reachable

    engine = make_engine(settings)
    try:
        upgrade_when_reachable(engine)
    finally:
        engine.dispose()


def _prepare_secrets(settings: Settings) -> None:
    """Read every enabled source's secrets once before serving: a missing secret file fails here, and the
    development token of a source with none configured exists before the first request (the README's curl)."""
    import connector.sources  # noqa: F401  (registers every source)
    from connector.config import dev_token_path, resolve_secrets
    from connector.intake import registry

    for source in registry.all_sources():
        if settings.source(source.name).enabled:
            try:
                resolve_secrets(settings, source.name)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
    token = dev_token_path(settings, "generic")
    if token.exists():
        log.info("development token for /webhooks/forms/generic: %s (the file, never its value)", token)


def _console_hint(settings: Settings, host: str, port: int) -> None:
    """Say where the admin console is, or how to turn it on (it is off until a user exists)."""
    from connector.admin.users import any_user
    from connector.store.db import make_engine

    engine = make_engine(settings)
    try:
        on = any_user(engine)
    except Exception:  # the database is not reachable yet: serving waits for it, the hint can go
        return
    finally:
        engine.dispose()
    url = settings.web.public_url.rstrip("/") or f"http://{host}:{port}"
    if on:
        click.echo(f"admin console: {url}/admin/", err=True)
    else:
        click.echo(
            "admin console: off until it has a user; create the first one with\n"
            f"  connector admin add-user you@example.com --role admin\nthen open {url}/admin/",
            err=True,
        )


@cli.command()
@click.option("--workers", type=int, default=None, help="RQ worker processes (default: run.workers).")
@click.option("--host", default=None, help="Listen address (default: web.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: web.port).")
@click.pass_obj
def run(obj: Obj, workers: int | None, host: str | None, port: int | None) -> None:
    """Everything on one machine: web + workers (+ embedded Redis when REDIS_URL is unset)."""
    from connector.supervisor import run_all

    settings = obj.settings
    _migrate(settings)
    _prepare_secrets(settings)
    _console_hint(settings, host or settings.web.host, port or settings.web.port)
    sys.exit(run_all(settings, obj.config_path, workers or settings.run.workers, host, port))


@cli.command()
@click.option("--host", default=None, help="Listen address (default: web.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: web.port).")
@click.option(
    "--processes", type=int, default=None, help="gunicorn worker processes (default: web.processes)."
)
@click.pass_obj
def serve(obj: Obj, host: str | None, port: int | None, processes: int | None) -> None:
    """The web process (gunicorn): receive, verify, store, enqueue, answer."""
    from connector.server import serve_gunicorn

    settings = obj.settings
    _migrate(settings)
    _prepare_secrets(settings)
    _console_hint(settings, host or settings.web.host, port or settings.web.port)
    serve_gunicorn(
        settings, host or settings.web.host, port or settings.web.port, processes or settings.web.processes
    )


@cli.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (for scripts and tests).")
@click.pass_obj
def worker(obj: Obj, burst: bool) -> None:
    """An RQ worker with the scheduler (delayed retries) and the sweeper."""
    from connector.worker import run_worker

    settings = obj.settings
    _migrate(settings)
    run_worker(settings, burst=burst)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Obj) -> None:
    """Apply pending migrations."""
    _migrate(obj.settings)
    click.echo("database schema is up to date")


@cli.command()
@click.option(
    "--sample",
    "sample",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A sample submission (JSON): print exactly which CRM fields it would write; nothing is sent.",
)
@click.pass_obj
def check(obj: Obj, sample: str | None) -> None:
    """Validate the configuration and mappings, against the live CRM schema when reachable (no secrets)."""
    from connector.checks import run_checks

    problems = run_checks(obj.settings, click.echo)
    if sample:
        from connector.crm_admin import explain_sample

        problems += explain_sample(obj.settings, sample, click.echo)
    if problems:
        raise click.ClickException(f"{problems} problem(s) found")


@cli.group()
def crm() -> None:
    """The CRM the mappings write to."""


@crm.command("setup")
@click.pass_obj
def crm_setup(obj: Obj) -> None:
    """Create the custom fields/properties the mappings need (safe to run twice)."""
    from connector.crm_admin import setup_crm

    problems = setup_crm(obj.settings, click.echo)
    if problems:
        raise click.ClickException(f"{problems} problem(s) found")


@cli.group()
def events() -> None:
    """Inspect the ledger."""


@events.command("show")
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def events_show(obj: Obj, event_id: str, as_json: bool) -> None:
    """The story of EVENT_ID (or receipt:N): receipt, processing, outcomes."""
    from connector.context import Context
    from connector.story import event_story, render_text

    ctx = Context(obj.settings)
    with ctx.sessions() as session:
        story = event_story(session, event_id)
    if story is None:
        raise click.ClickException(f"nothing recorded for {event_id}")
    click.echo(json.dumps(story, indent=2, default=str) if as_json else render_text(story))


@cli.command()
@click.option("--receipt", "receipt_ids", type=int, multiple=True, help="Replay only these receipt ids.")
@click.option("--source", default=None, help="Replay only failed receipts from this source.")
@click.option(
    "--conversions",
    "replay_conversions",
    is_flag=True,
    help="Send failed conversions again instead (same ids, so OpenAI counts each once).",
)
@click.option(
    "--conversion-status",
    type=click.Choice(["failed", "would_send", "validated"]),
    default="failed",
    show_default=True,
    help="With --conversions: which conversions to send again.",
)
@click.option("--pixel", default=None, help="With --conversions: only this pixel id.")
@click.option(
    "--deals",
    "replay_deals",
    is_flag=True,
    help="Write failed deal attributions (opportunities, deals) again instead.",
)
@click.option("--deal", "deal_ids", type=int, multiple=True, help="With --deals: only these ids.")
@click.pass_obj
def replay(
    obj: Obj,
    receipt_ids: tuple[int, ...],
    source: str | None,
    replay_conversions: bool,
    conversion_status: str,
    pixel: str | None,
    replay_deals: bool,
    deal_ids: tuple[int, ...],
) -> None:
    """Re-run failed receipts (dead letters) with a fresh attempt budget, failed conversions or failed
    deal attributions."""
    from connector.context import Context

    if replay_deals or deal_ids:
        from connector.replay import replay_deal_attributions

        count = replay_deal_attributions(Context(obj.settings), list(deal_ids) or None)
        click.echo(f"{count} deal attribution(s) queued again")
        return
    if replay_conversions:
        _replay_conversions(Context(obj.settings), conversion_status, pixel)
        return
    from connector.replay import replay_failed

    count = replay_failed(Context(obj.settings), list(receipt_ids), source)
    click.echo(f"{count} receipt(s) queued again")


def _replay_conversions(ctx: Context, status: str, pixel: str | None) -> None:
    from connector.replay import replay_conversions

    count = replay_conversions(ctx, (status,), pixel)
    click.echo(f"{count} conversion(s) queued again")


@cli.group()
def conversions() -> None:
    """OpenAI Conversions API."""


@conversions.command("test")
@click.option("--pixel", "pixel_name", default=None, help="Pixel name from [conversions.pixels.<name>].")
@click.pass_obj
def conversions_test(obj: Obj, pixel_name: str | None) -> None:
    """Send one sample event with validate_only=true and print OpenAI's answer."""
    from connector.conversions.probe import probe

    try:
        record = probe(obj.settings, pixel_name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if record.status_code is None:
        click.echo(f"no answer after {record.elapsed_ms:.0f} ms: {record.error}")
        sys.exit(1)
    click.echo(f"HTTP {record.status_code} in {record.elapsed_ms:.0f} ms (validate_only; nothing stored)")
    click.echo(record.body)
    if not 200 <= record.status_code < 300:
        sys.exit(1)


@cli.command()
@click.option("--older-than-days", type=int, default=None, help="Default: retention.raw_body_days.")
@click.option("--dry-run", is_flag=True, help="Count what would be erased.")
@click.pass_obj
def purge(obj: Obj, older_than_days: int | None, dry_run: bool) -> None:
    """Erase raw request bodies (personal data) of processed receipts past retention."""
    from connector.context import Context
    from connector.replay import purge_bodies

    days = obj.settings.retention.raw_body_days if older_than_days is None else older_than_days
    count = purge_bodies(Context(obj.settings), days, dry_run)
    click.echo(
        f"{count} raw bod{'y' if count == 1 else 'ies'} {'would be' if dry_run else ''} erased".replace(
            "  ", " "
        )
    )


@cli.command()
@click.argument("who")
@click.option("--dry-run", is_flag=True, help="Say what would be erased, change nothing.")
@click.pass_obj
def forget(obj: Obj, who: str, dry_run: bool) -> None:
    """Erase one person's personal data (WHO: an email or an event id); counts for reports stay."""
    from connector.context import Context
    from connector.erasure import forget as erase

    ctx = Context(obj.settings)
    try:
        found = erase(ctx, who, dry_run)
    finally:
        ctx.close()
    if not found.submissions:
        raise click.ClickException("no submission has that email or event id: nothing erased")
    click.echo(
        ("would erase" if dry_run else "erased") + f", for event id(s) {', '.join(found.event_ids) or '-'}:"
    )
    for line in found.lines():
        click.echo("  " + line)
    if not dry_run:
        click.echo("not erased here: what reached the CRM or OpenAI (README.md, 'Erasing one person')")


@cli.command()
@click.option(
    "--by",
    default="ai_source",
    show_default=True,
    help="channel, ai_source, utm_source, utm_medium, utm_campaign, landing_page or form.",
)
@click.option("--touch", default="first", show_default=True, help="first, latest, or any (any AI touch).")
@click.option("--since", default=None, help="First day (YYYY-MM-DD, UTC), included.")
@click.option("--until", default=None, help="Last day (YYYY-MM-DD, UTC), included.")
@click.option(
    "--date", "date_kind", default="lead", show_default=True, help="The range applies to: lead, won."
)
@click.option("--trend", default=None, help="Rows per week or month.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV (amounts in minor units per currency).")
@click.option("--json", "as_json", is_flag=True, help="JSON, as GET /admin/api/report answers.")
@click.option(
    "--list",
    "cell",
    default=None,
    metavar="CELL",
    help="List the people and event ids behind a cell: [METRIC=]VALUE[@BUCKET], e.g. won=chatgpt.",
)
@click.pass_obj
def report(
    obj: Obj,
    by: str,
    touch: str,
    since: str | None,
    until: str | None,
    date_kind: str,
    trend: str | None,
    as_csv: bool,
    as_json: bool,
    cell: str | None,
) -> None:
    """Which AI traffic became pipeline: leads, meetings, opportunities, won revenue, conversions."""
    from connector.report import Cell, ReportError, build_report, from_params, list_cell
    from connector.report.output import list_text, report_dict, to_csv, to_text
    from connector.store.db import make_engine

    params = {"by": by, "touch": touch, "since": since, "until": until, "date": date_kind, "trend": trend}
    engine = make_engine(obj.settings)
    try:
        query = from_params(params)
        if cell is not None:
            entries = list_cell(engine, obj.settings, query, Cell.parse(cell))
            click.echo(json.dumps(entries, indent=2) if as_json else list_text(entries), nl=as_json)
            return
        found = build_report(engine, obj.settings, query)
    except ReportError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report_dict(found), indent=2))
    else:
        click.echo(to_csv(found) if as_csv else to_text(found), nl=False)


class _AdminCommands(click.Group):
    """`connector admin ...`, loaded from connector.admin.commands only when one of them runs."""

    def _group(self) -> click.Group:
        from connector.admin.commands import admin_group

        return admin_group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._group().get_command(ctx, cmd_name)


cli.add_command(
    _AdminCommands("admin", help="The admin console's users (the console is off until one exists).")
)


def main() -> None:
    cli(prog_name="connector")
