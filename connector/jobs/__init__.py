"""Every RQ job, by topic; importing this package registers each topic's sweep with the sweeper.

- `receipts`: process stored webhooks (intake's batch job, single retries), then queue what follows;
- `bookings`: release a booking lead held for its beacon;
- `crm`: send pending CRM writes in batches;
- `deals`: write the person's attribution onto opportunities and deals the connector learns of;
- `conversions`: send a pixel's conversions to OpenAI;
- `stages`: resolve CRM stage changes into conversions, and poll the CRM for them.

Jobs take ids, never objects, and find their clients on the process's Context.
"""

from connector.context import Context
from connector.jobs import bookings, conversions, crm, deals, receipts, stages

__all__ = ["bookings", "conversions", "crm", "deals", "on_worker_start", "receipts", "stages"]


def on_worker_start(ctx: Context) -> None:
    """What a starting worker schedules: the stage poll, when polling is on (each poll schedules the
    next; the sweeper only restores one that was lost)."""
    stages.schedule_poll(ctx, 0)
