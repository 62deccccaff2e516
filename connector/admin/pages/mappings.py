"""Mappings /admin/mappings: each mapping beside the live CRM schema; edit a rule, review the diff, save.

A save is checked as start-up and the live CRM would check it, keeps the previous version under
`<data_dir>/versions/mappings/`, and replaces the file atomically; web and workers load it at their next
use (Context.mappings notices the file changed). "Create missing fields" runs `connector crm setup`;
"Preview" runs `connector check --sample` on a stored submission.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from connector.admin import audit, live_crm
from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.mapping_view import (
    find_file,
    form_from_rule,
    mapping_files,
    parsed,
    rule_from_form,
    set_problems,
    view,
)
from connector.context import Context
from connector.crm_admin import setup_crm
from connector.errors import ConnectorError
from connector.mapping import POLICIES, TRANSFORMS, MappingError, explain, load_mappings, parse_mapping
from connector.mapping.draft import Draft, draft_edit
from connector.mapping.edit import RuleEdit
from connector.mapping.model import VALUE_NAMES
from connector.mapping.schema import ObjectSchema
from connector.store.models import Submission
from connector.tomledit import ConflictError, EditError, save_text

bp.add_app_template_filter(live_crm.crm_name, "crm_name")

RECENT_SUBMISSIONS = 20
"""Submissions offered for a preview (the newest, by primary key)."""


def _ctx() -> Context:
    ctx: Context = current_app.extensions["connector"]
    return ctx


def _directory(ctx: Context) -> Path:
    return Path(ctx.settings.crm.mappings_path).expanduser().resolve()


def _versions(ctx: Context) -> Path:
    return ctx.settings.data_path / "versions" / "mappings"


def _file(ctx: Context, name: str) -> Path:
    path = find_file(_directory(ctx), name)
    if path is None:
        abort(404, description=f"There is no mapping file called {name!r}.")
    return path


def _live(
    ctx: Context, object_name: str, crm: str, fresh: bool = False
) -> tuple[ObjectSchema | None, str | None]:
    if crm != ctx.settings.crm.provider:
        return None, None
    try:
        return live_crm.describe(ctx, object_name, fresh), None
    except live_crm.CrmUnavailable as exc:
        return None, str(exc)


def _crm_of(path: Path) -> tuple[str, str]:
    data = parsed(path).data or {}
    return str(data.get("crm", "")), str(data.get("object", ""))


@bp.get("/mappings")
@requires("viewer")
def mappings() -> Any:
    ctx = _ctx()
    directory = _directory(ctx)
    shown = request.args.get("show", "")
    views = []
    for path in mapping_files(directory):
        found = parsed(path)
        crm = str(found.data.get("crm", "")) if found.data else ""
        object_name = str(found.data.get("object", "")) if found.data else ""
        schema, error = _live(ctx, object_name, crm) if object_name else (None, None)
        view_ = view(path, schema, error)
        view_.folded = bool(crm) and crm != ctx.settings.crm.provider and path.name != shown
        views.append(view_)
    problems = set_problems(directory)
    with ctx.sessions() as session:
        recent = session.execute(
            select(
                Submission.id,
                Submission.source,
                Submission.form_id,
                Submission.email,
                Submission.submitted_at,
            )
            .order_by(Submission.id.desc())
            .limit(RECENT_SUBMISSIONS)
        ).all()
    return render_template(
        "admin/mappings.html",
        views=views,
        directory=directory,
        provider=ctx.settings.crm.provider,
        set_problems=problems,
        recent=recent,
    )


def _edit_from(form: Any) -> RuleEdit:
    action = form.get("action", "")
    index_text = form.get("index", "")
    index = int(index_text) if index_text.isdigit() else None
    rule = rule_from_form(form) if action in ("add", "change") else {}
    return RuleEdit(action, index, rule)


def _rule_at(path: Path, index: int | None) -> dict[str, Any] | None:
    if index is None:
        return None
    rules = tomllib.loads(path.read_text(encoding="utf-8")).get("fields", [])
    return rules[index] if isinstance(rules, list) and 0 <= index < len(rules) else None


def _form_page(
    ctx: Context, path: Path, form: dict[str, str], action: str, index: int | None, errors: list[str]
) -> str:
    crm, object_name = _crm_of(path)
    schema, live_error = _live(ctx, object_name, crm)
    return render_template(
        "admin/mapping_edit.html",
        name=path.name,
        crm=crm,
        object_name=object_name,
        form=form,
        action=action,
        index=index,
        form_errors=errors,
        policies=POLICIES,
        value_names=VALUE_NAMES,
        transforms=sorted(TRANSFORMS),
        fields=sorted(schema.fields.values(), key=lambda f: f.name.lower()) if schema else [],
        live_error=live_error,
    )


@bp.get("/mappings/<name>/edit")
@requires("editor")
def mapping_edit(name: str) -> Any:
    ctx = _ctx()
    path = _file(ctx, name)
    index_text = request.args.get("rule", "")
    if index_text.isdigit():
        raw = _rule_at(path, int(index_text))
        if raw is None:
            abort(404, description=f"{name} has no rule {index_text}.")
        return _form_page(ctx, path, form_from_rule(raw), "change", int(index_text), [])
    blank = {
        "kind": "from",
        "from": "",
        "value": "",
        "to": "",
        "policy": "always",
        "transforms": "",
        "default": "",
        "group": "",
    }
    return _form_page(ctx, path, blank, "add", None, [])


def _draft(ctx: Context, path: Path, edit: RuleEdit) -> Draft:
    crm, _ = _crm_of(path)

    def describe(object_name: str) -> ObjectSchema | None:
        schema, _error = _live(ctx, object_name, crm, fresh=True)
        return schema

    return draft_edit(path, edit, describe)


def _review_page(
    ctx: Context, path: Path, edit: RuleEdit, draft: Draft, status: int = 200
) -> tuple[str, int]:
    crm, object_name = _crm_of(path)
    form = request.form
    return (
        render_template(
            "admin/mapping_review.html",
            name=path.name,
            crm=crm,
            object_name=object_name,
            edit=edit,
            draft=draft,
            fields={k: v for k, v in form.items() if k not in ("csrf_token", "base", "create")},
            live_configured=crm == ctx.settings.crm.provider,
        ),
        status,
    )


@bp.post("/mappings/<name>/review")
@requires("editor")
def mapping_review(name: str) -> Any:
    ctx = _ctx()
    path = _file(ctx, name)
    edit = _edit_from(request.form)
    try:
        draft = _draft(ctx, path, edit)
    except EditError as exc:
        if edit.action == "remove":
            flash(str(exc), "error")
            return redirect(url_for("admin.mappings")), 303
        form = {k: v for k, v in request.form.items() if k != "csrf_token"}
        return _form_page(ctx, path, form, edit.action, edit.index, [str(exc)]), 400
    return _review_page(ctx, path, edit, draft, 200 if draft.ok else 422)


@bp.post("/mappings/<name>/save")
@requires("editor")
def mapping_save(name: str) -> Any:
    ctx = _ctx()
    path = _file(ctx, name)
    edit = _edit_from(request.form)
    before = _rule_at(path, edit.index)
    try:
        draft = _draft(ctx, path, edit)
        if draft.base_hash != request.form.get("base", ""):
            raise ConflictError(f"{name} changed since this edit was reviewed; review it again")
        created: list[str] = []
        if not draft.ok and draft.only_missing and request.form.get("create") == "1":
            created = _create_fields(ctx, path, draft)
            draft = _draft(ctx, path, edit)
        if not draft.ok:
            return _review_page(ctx, path, edit, draft, 422)
        backup = save_text(path, draft.new_text, draft.base_hash, _versions(ctx))
    except EditError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.mappings")), 303
    after = (
        None
        if edit.action == "remove"
        else tomllib.loads(draft.new_text)["fields"][edit.index if edit.index is not None else -1]
    )
    rule = after or before or {}
    target = f"{name}: {edit.action} {rule.get('to', '')}".strip()
    audit.record(f"mapping.{edit.action}", target, before=before, after=after)
    made = (
        f" Created in {live_crm.crm_name(ctx.settings.crm.provider)}: {', '.join(created)}."
        if created
        else ""
    )
    flash(
        f"Saved {name}: {edit.action} {rule.get('to', '')}.{made} New submissions use it now; "
        f"the previous version is kept as {backup.name}.",
        "ok",
    )
    return redirect(url_for("admin.mappings", _anchor=name)), 303


def _create_fields(ctx: Context, path: Path, draft: Draft) -> list[str]:
    """Create the fields the edit writes that the CRM lacks (what `crm setup` would, for these only);
    EditError with the CRM's answer or the manual steps when it cannot."""
    mapping, _ = parse_mapping(draft.new_text, path)
    if mapping is None:
        raise EditError("the edited mapping does not load")
    needed = tuple(r for r in mapping.all_rules() if r.target in draft.missing)
    try:
        report = live_crm.adapter(ctx, fresh=True).ensure_fields(
            replace(mapping, fields=needed, overrides=())
        )
    except (live_crm.CrmUnavailable, ConnectorError) as exc:
        raise EditError(f"Not saved: the field could not be created: {exc}") from None
    if report.errors or report.manual_steps:
        raise EditError(
            "Not saved: the field could not be created: " + "; ".join(report.errors + report.manual_steps)
        )
    audit.record(
        "mapping.create_fields", f"{path.name}: {', '.join(draft.missing)}", after={"created": report.created}
    )
    return [c for c in report.created if not c.startswith("group ")]


@bp.post("/mappings/setup")
@requires("editor")
def mapping_setup() -> Any:
    ctx = _ctx()
    lines: list[str] = []
    problems = setup_crm(ctx.settings, lines.append)
    audit.record(
        "mapping.crm_setup", ctx.settings.crm.provider, after={"problems": problems, "output": lines}
    )
    return render_template("admin/mapping_setup.html", lines=lines, problems=problems)


@bp.get("/mappings/preview")
@requires("viewer")
def mapping_preview() -> Any:
    ctx = _ctx()
    raw_id = request.args.get("submission", "")
    if not raw_id.isdigit():
        abort(400, description="Pick a submission to preview.")
    with ctx.sessions() as session:
        row = session.get(Submission, int(raw_id))
        if row is None:
            abort(404, description=f"There is no submission {raw_id}.")
        sample: dict[str, Any] = {
            "source": row.source,
            "form_id": row.form_id,
            "attribution": dict(row.attribution or {}),
            "contact": dict(row.contact or {}),
        }
        row_source, row_form = row.source, row.form_id
        submission = {
            "id": row.id,
            "source": row.source,
            "form_id": row.form_id,
            "email": row.email,
            "submitted_at": row.submitted_at,
            "event_id": row.event_id,
        }
    try:
        mapping_set = load_mappings(_directory(ctx))
    except MappingError as exc:
        return render_template(
            "admin/mapping_preview.html",
            submission=submission,
            results=[],
            problems=[str(p) for p in exc.problems],
        ), 422
    crms = [ctx.settings.crm.provider] if ctx.crm_enabled else sorted({m.crm for m in mapping_set.mappings})
    results: list[dict[str, Any]] = []
    for crm in crms:
        mapping = mapping_set.for_submission(crm, row_source, row_form)
        if mapping is None:
            results.append({"crm": crm, "mapping": None, "explanation": None, "live_error": None})
            continue
        schema, live_error = _live(ctx, mapping.object, crm)
        results.append(
            {
                "crm": crm,
                "mapping": mapping,
                "explanation": explain(mapping, sample, schema),
                "live_error": live_error,
            }
        )
    return render_template("admin/mapping_preview.html", submission=submission, results=results, problems=[])
