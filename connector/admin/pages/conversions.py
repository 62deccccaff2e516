"""Conversions /admin/conversions: per pixel, counts by status, identifier coverage, OpenAI's latest errors,
and "send a test event" (validate_only, sent by a worker; editor role)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from connector.admin import audit
from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.queries import conversions as queries
from connector.context import Context
from connector.jobs.probes import enqueue_test_event


@bp.get("/conversions")
@requires("viewer")
def conversions() -> Any:
    ctx: Context = current_app.extensions["connector"]
    with ctx.sessions() as session:
        pixels = queries.pixels(session, ctx.settings)
    return render_template(
        "admin/conversions.html",
        conf=ctx.settings.conversions,
        pixels=pixels,
        statuses=queries.STATUSES,
        windows=[label for label, _span in queries.WINDOWS],
        sample=queries.COVERAGE_SAMPLE,
        test=_test_result(ctx, request.args.get("test", ""), request.args.get("pixel", "")),
    )


@bp.post("/conversions/test")
@requires("editor")
def send_test() -> Any:
    ctx: Context = current_app.extensions["connector"]
    name = request.form.get("pixel", "")
    if name not in ctx.settings.conversions.pixels:
        abort(400, description=f"No pixel named {name[:80]!r} in conversions.pixels.")
    try:
        job_id = enqueue_test_event(ctx, name)
    except RedisError:
        flash("The queue (Redis) is unreachable: the test event was not queued.", "error")
        return redirect(url_for("admin.conversions")), 303
    pixel_id = ctx.settings.conversions.pixels[name].pixel_id
    audit.record("conversions.test_event", f"pixel {name} ({pixel_id})", after={"job_id": job_id})
    # No #fragment: the waiting page refreshes itself, and a refresh to a fragment URL would not reload.
    return redirect(url_for("admin.conversions", test=job_id, pixel=name)), 303


def _test_result(ctx: Context, job_id: str, pixel: str) -> dict[str, Any] | None:
    """Where the test event named in the URL is: queued, done (with OpenAI's answer), or failed."""
    if not job_id.startswith("conversions-test-") or len(job_id) > 64:
        return None
    try:
        job = Job.fetch(job_id, connection=ctx.redis)
        status = job.get_status()
    except NoSuchJobError:
        return {"pixel": pixel, "state": "gone"}
    except RedisError:
        return {"pixel": pixel, "state": "unknown"}
    if status == JobStatus.FINISHED:
        return {"pixel": pixel, "state": "done", **(job.return_value() or {})}
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return {"pixel": pixel, "state": "failed"}
    return {"pixel": pixel, "state": "waiting"}
