"""Stage rules /admin/stages: the rules beside the live CRM's pipelines and stages; add, change or remove
one (reviewed as a diff of the config file, checked by the start-up loader and the live CRM, saved with the
previous version kept); and the stage changes received, with what each became and why.

Rules live in `[stages.rules]` of the config file; workers read them again when the file changes
(connector.events.stage_rules_file), so a saved rule applies to the next batch without a restart.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from connector.admin import audit, live_crm
from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.paging import newest_first
from connector.admin.stage_choices import StageChoice, describe_choice, live_choices, objects, unknown
from connector.config import ConfigError, load_settings, stage_rules_in_force
from connector.context import Context
from connector.errors import ConnectorError
from connector.events.model import EVENT_DATA_TYPES
from connector.events.stage_rules import FIRE_POLICIES, StageRuleError, StageRules
from connector.events.stage_rules_edit import KEY_ORDER, apply_rule_edit
from connector.events.stage_rules_file import rules_table
from connector.store.models import Conversion, StageChange
from connector.tomledit import ConflictError, EditError, save_text, text_hash, unified_diff

bp.add_app_template_filter(live_crm.crm_name, "crm_name")

OUTCOMES = {
    "converted": "became a conversion",
    "already_converted": "already converted (fire once)",
    "no_rule": "no rule for this stage",
    "expired": "too old for OpenAI (7-day window)",
    "unattributable": "no oppref, event id or consented email",
    "record_deleted": "record deleted in the CRM",
    "skipped": "skipped",
    "failed": "failed",
    "pending": "waiting",
    "resolving": "being resolved",
}
"""What each stage change status means, in the words the page uses."""


def _ctx() -> Context:
    ctx: Context = current_app.extensions["connector"]
    return ctx


def _config(ctx: Context) -> Path | None:
    return Path(ctx.settings.source_path) if ctx.settings.source_path else None


def _read_only_reason(ctx: Context) -> str | None:
    path = _config(ctx)
    if path is None:
        return (
            "The connector was started without a config file (only environment variables), so there is "
            "no file to keep rules in. Start it with --config connector.toml (or CONNECTOR_CONFIG)."
        )
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return f"{path} is not writable by the connector: rules can be read here but not changed."
    return None


def _choices(ctx: Context, fresh: bool = False) -> tuple[list[StageChoice], str | None]:
    """The live stages, read at most once a minute for the pages (every time for a review or a save)."""
    state = current_app.extensions.setdefault("connector_admin", {})
    held = state.get("stage_choices")
    if not fresh and held is not None and time.monotonic() - held[0] < live_crm.MAX_AGE_SECONDS:
        return held[1], None
    try:
        choices = live_choices(live_crm.adapter(ctx, fresh), ctx.settings.crm.provider)
    except live_crm.CrmUnavailable as exc:
        return [], str(exc)
    except ConnectorError as exc:
        return [], f"{ctx.settings.crm.provider}: {exc}"
    state["stage_choices"] = (time.monotonic(), choices)
    return choices, None


def _rules(ctx: Context) -> tuple[StageRules, str | None]:
    try:
        return stage_rules_in_force(ctx.settings), None
    except StageRuleError as exc:
        return StageRules(), str(exc)


@bp.get("/stages")
@requires("viewer")
def stages() -> Any:
    ctx = _ctx()
    rules, rules_error = _rules(ctx)
    choices, live_error = _choices(ctx) if rules.rules or ctx.crm_enabled else ([], None)
    rows = []
    for rule in rules.rules:
        problem = None
        if rule.crm != ctx.settings.crm.provider:
            problem = f"for {rule.crm}, but crm.provider is {ctx.settings.crm.provider!r}: never matches"
        elif choices:
            problem = unknown(rule, choices)
        rows.append({"rule": rule, "shown": describe_choice(rule, choices), "problem": problem})
    status = request.args.get("status", "")
    if status and status not in OUTCOMES:
        abort(400, description=f"status: expected one of {', '.join(OUTCOMES)}, got {status[:60]!r}")
    changes = select(StageChange).where(StageChange.status == status) if status else select(StageChange)
    with ctx.sessions() as session:
        page = newest_first(session, changes, StageChange.id)
        ids = [c.conversion_id for c in page.items if c.conversion_id]
        query = select(Conversion.id, Conversion.status).where(Conversion.id.in_(ids))
        sent = {row.id: row.status for row in session.execute(query)} if ids else {}
    return render_template(
        "admin/stages.html",
        rows=rows,
        rules_error=rules_error,
        live_error=live_error,
        read_only=_read_only_reason(ctx),
        config=_config(ctx),
        enabled=ctx.settings.stages.enabled,
        provider=ctx.settings.crm.provider,
        page=page,
        conversions=sent,
        labels={(c.object, c.stage): c.label for c in choices},
        outcomes=OUTCOMES,
        status=status,
    )


def _editable(ctx: Context) -> Path:
    reason = _read_only_reason(ctx)
    path = _config(ctx)
    if reason or path is None:
        abort(409, description=reason)
    return path


def _form_page(ctx: Context, form: dict[str, str], action: str, errors: list[str], status: int = 200) -> Any:
    choices, live_error = _choices(ctx)
    groups: dict[str, list[StageChoice]] = {}
    for choice in choices:
        groups.setdefault(choice.group, []).append(choice)
    return (
        render_template(
            "admin/stage_rule_edit.html",
            form=form,
            action=action,
            form_errors=errors,
            groups=groups,
            live_error=live_error,
            provider=ctx.settings.crm.provider,
            objects=objects(ctx.settings.crm.provider),
            events=list(EVENT_DATA_TYPES),
            fires=FIRE_POLICIES,
        ),
        status,
    )


@bp.get("/stages/edit")
@requires("editor")
def stage_rule_edit() -> Any:
    ctx = _ctx()
    path = _editable(ctx)
    name = request.args.get("rule", "")
    if name:
        raw = rules_table(path.read_text(encoding="utf-8")).get(name)
        if not isinstance(raw, dict):
            abort(404, description=f"There is no stage rule called {name!r}.")
        form = {"name": name, **{k: str(v) for k, v in raw.items()}}
        form["target"] = f"{form.get('object', '')}|{form.get('pipeline', '')}|{form.get('stage', '')}"
        return _form_page(ctx, form, "change", [])
    return _form_page(ctx, {"crm": ctx.settings.crm.provider, "fire": "once"}, "add", [])


def _rule_from(form: Any, provider: str) -> dict[str, str]:
    """The rule a form describes; the stage picker sets object, pipeline and stage in one value."""
    rule = {k: form.get(k, "").strip() for k in KEY_ORDER}
    rule["crm"] = rule["crm"] or provider
    target = form.get("target", "")
    if target.count("|") == 2:
        rule["object"], rule["pipeline"], rule["stage"] = (p.strip() for p in target.split("|"))
    return rule


def _check(ctx: Context, path: Path, old: str, new: str, name: str) -> tuple[list[str], list[str]]:
    """Problems the start-up loader finds in the new config, then what the live CRM does not know."""
    fd, tmp = tempfile.mkstemp(suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        load_settings(tmp, environ=dict(os.environ))
    except ConfigError as exc:
        return [str(exc).replace(tmp, str(path))], []
    finally:
        os.unlink(tmp)
    try:
        rules = StageRules.from_mapping(rules_table(new))
    except StageRuleError as exc:
        return [str(exc)], []
    rule = next((r for r in rules.rules if r.name == name), None)
    if rule is None:
        return [], []
    if rule.crm != ctx.settings.crm.provider:
        return [
            f"stages.rules.{name}.crm: {rule.crm}, but the connector writes to {ctx.settings.crm.provider!r}"
        ], []
    choices, live_error = _choices(ctx, fresh=True)
    if live_error:
        return [], [f"The live CRM could not be reached, the stage is not checked: {live_error}"]
    problem = unknown(rule, choices)
    return ([f"stages.rules.{name}: {problem}"] if problem else []), []


def _edit(ctx: Context, path: Path) -> tuple[str, str, str, dict[str, str] | None]:
    """(action, name, new text, rule) from the form; EditError when it cannot be applied."""
    action = request.form.get("action", "")
    name = request.form.get("name", "").strip()
    rule = None if action == "remove" else _rule_from(request.form, ctx.settings.crm.provider)
    new = apply_rule_edit(path.read_text(encoding="utf-8"), action, name, rule)
    return action, name, new, rule


@bp.post("/stages/review")
@requires("editor")
def stage_rule_review() -> Any:
    ctx = _ctx()
    path = _editable(ctx)
    old = path.read_text(encoding="utf-8")
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        action, name, new, _rule = _edit(ctx, path)
    except EditError as exc:
        if form.get("action") == "remove":
            flash(str(exc), "error")
            return redirect(url_for("admin.stages")), 303
        return _form_page(ctx, form, form.get("action", "add"), [str(exc)], 400)
    problems, warnings = _check(ctx, path, old, new, name)
    return (
        render_template(
            "admin/stage_rule_review.html",
            name=name,
            action=action,
            config=path,
            diff=unified_diff(old, new, path.name),
            problems=problems,
            warnings=warnings,
            fields={k: v for k, v in form.items() if k != "base"},
            base=text_hash(old),
        ),
        422 if problems else 200,
    )


@bp.post("/stages/save")
@requires("editor")
def stage_rule_save() -> Any:
    ctx = _ctx()
    path = _editable(ctx)
    old = path.read_text(encoding="utf-8")
    before = rules_table(old).get(request.form.get("name", "").strip())
    try:
        if text_hash(old) != request.form.get("base", ""):
            raise ConflictError(f"{path.name} changed since this edit was reviewed; review it again")
        action, name, new, _rule = _edit(ctx, path)
        problems, _warnings = _check(ctx, path, old, new, name)
        if problems:
            raise EditError("Not saved: " + "; ".join(problems))
        backup = save_text(path, new, text_hash(old), ctx.settings.data_path / "versions" / "config")
    except EditError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.stages")), 303
    after = rules_table(new).get(name)
    audit.record(f"stage_rule.{action}", f"stages.rules.{name}", before=before, after=after)
    flash(
        f"Saved stage rule {name} ({action}). Workers use it from their next batch of stage changes; "
        f"the previous config is kept as {backup.name}.",
        "ok",
    )
    return redirect(url_for("admin.stages")), 303
