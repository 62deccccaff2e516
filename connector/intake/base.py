"""The contract every webhook source implements, with shared-secret authentication as the default."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, ClassVar

from connector.intake.errors import Unauthorized
from connector.intake.request import IncomingRequest
from connector.intake.submission import Submission

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.config import SourceSettings
    from connector.store.models import Receipt
    from connector.store.models import Submission as SubmissionRow

TOKEN_HEADER = "X-Connector-Token"
"""Header carrying a source's shared secret."""

TOKEN_QUERY = "token"
"""Query parameter carrying the shared secret for senders that cannot set headers."""


class Source:
    """One webhook sender: how to authenticate its requests and turn them into Submissions."""

    name: ClassVar[str]
    """URL segment and ledger name, e.g. `generic` in /webhooks/forms/generic."""
    kind: ClassVar[str] = "forms"
    """`forms`, `booking` or `crm`: the URL family the source lives under."""
    kept_headers: ClassVar[tuple[str, ...]] = ("content-type", "user-agent", "x-forwarded-for")
    """Headers stored with the receipt (never the secret); what a later re-parse needs."""
    gone_when_disabled: ClassVar[bool] = False
    """Answer 410 when disabled, for senders that document 410 as 'stop sending'."""

    def authenticate_headers(self, request: IncomingRequest, secrets: list[str]) -> None:
        """Check credentials that need no body (shared secret); raise Unauthorized."""
        presented = request.header(TOKEN_HEADER) or request.query.get(TOKEN_QUERY, "")
        if not secrets:
            raise Unauthorized(f"source {self.name!r} has no secret configured; requests are refused")
        if not presented:
            raise Unauthorized(f"missing credentials: send the {TOKEN_HEADER} header or ?{TOKEN_QUERY}=")
        if not any(constant_time_equal(presented, secret) for secret in secrets):
            raise Unauthorized("invalid token")

    def authenticate_body(
        self, request: IncomingRequest, secrets: list[str], conf: SourceSettings | None = None
    ) -> None:
        """Check credentials computed over the body (signatures); the default has none."""

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> Submission:
        """Turn the request into a Submission (using `conf`'s field maps); raise BadPayload saying what is wrong."""
        raise NotImplementedError

    def process(
        self, session: Session, receipt: Receipt, submission: Submission
    ) -> tuple[SubmissionRow, Submission] | None:
        """In the job, inside the transaction that marks the receipt processed: keep the submission.

        Returns the saved row and the submission as saved (for the conversion), or None when nothing new
        was saved (a beacon, a cancellation, a reschedule of a known lead)."""
        from connector.intake.classification import with_channels
        from connector.pipeline import save_submission

        submission = with_channels(submission)
        return save_submission(session, receipt, submission), submission


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def body_digest(body: bytes) -> str:
    """Delivery key of last resort: the same bytes delivered twice are the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()
