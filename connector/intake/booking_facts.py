"""What the booking sources share: the booking facts a Submission carries for the job's join."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from connector.attribution import UTM_PARAMS
from connector.intake.base import Source

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.intake.submission import Submission
    from connector.store.models import Receipt
    from connector.store.models import Submission as SubmissionRow

CREATED, CANCELED = "created", "canceled"
"""The two things a booking webhook can say (a reschedule is a cancellation plus a creation)."""


class BookingSource(Source):
    """A booking tool: its webhooks create, reschedule or cancel one booking, joined with its beacon."""

    kind: ClassVar[str] = "booking"

    def process(
        self, session: Session, receipt: Receipt, submission: Submission
    ) -> tuple[SubmissionRow, Submission] | None:
        from connector.intake.bookings import save_booking

        return save_booking(session, receipt, submission)


def booking_meta(
    provider: str,
    key: str,
    action: str,
    *,
    rescheduled_from: str | None = None,
    rescheduled_to: str | None = None,
    rescheduled: bool = False,
    **facts: Any,
) -> dict[str, Any]:
    """Submission.meta for a booking: `booking` holds what the join needs, the rest is for people."""
    booking = {
        "provider": provider,
        "key": key,
        "action": action,
        "rescheduled": rescheduled,
        "rescheduled_from": rescheduled_from,
        "rescheduled_to": rescheduled_to,
    }
    return {
        "booking": {k: v for k, v in booking.items() if v not in (None, "")},
        **{k: v for k, v in facts.items() if v not in (None, "", [], {})},
    }


def utm_fields(*sources: Any) -> dict[str, str]:
    """`latest_utm_*` from the first table holding each UTM (the script passes the latest touch's UTMs)."""
    found: dict[str, str] = {}
    for source in sources:
        if not isinstance(source, dict):
            continue
        for name in UTM_PARAMS:
            value = source.get(name)
            if isinstance(value, dict):  # Cal.com responses: {"label", "value"}
                value = value.get("value")
            if isinstance(value, (str, int)) and str(value).strip():
                found.setdefault(f"latest_{name}", str(value).strip())
    return found
