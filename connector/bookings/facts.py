"""The booking facts a Submission carries for the job's join, as the booking sources write them."""

from __future__ import annotations

from typing import Any

from connector.attribution import UTM_PARAMS

CREATED, CANCELED = "created", "canceled"
"""The two things a booking webhook can say (a reschedule is a cancellation plus a creation)."""

BOOKING_KEYS = {"calendly": "invitee_uri", "cal_com": "uid"}
"""Provider -> the booking field that names the booking, as its webhook does."""


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
