"""Queue what a committed transaction calls for: the CRM flush, the conversions senders."""

from __future__ import annotations

from connector.context import Context
from connector.jobs.conversions import enqueue_conversions_send
from connector.jobs.crm import enqueue_crm_flush
from connector.pipeline import FollowUps


def enqueue_outcomes(ctx: Context, follow: FollowUps) -> None:
    """A new lead's CRM write and conversion; each enqueue joins a run already scheduled."""
    if follow.crm_write is not None:
        enqueue_crm_flush(ctx, f"w{follow.crm_write}")
    for pixel_id in sorted(follow.pixel_ids):
        enqueue_conversions_send(ctx, pixel_id)
