"""The contract every webhook source implements, with shared-secret authentication as the default.

A source authenticates a request, parses it into what it delivers (a `Submission` for forms, bookings
and beacons; the CRM sources' stage changes), may check that against the configuration, may answer in
its own format, and, inside the receipt job's transaction, processes what it parsed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from connector.intake.classification import with_channels
from connector.intake.errors import Unauthorized
from connector.intake.records import claim_form_event, record_duplicate_event, save_submission, take_prepared
from connector.intake.request import IncomingRequest
from connector.intake.submission import Submission

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.config import Settings, SourceSettings
    from connector.store.models import Receipt
    from connector.store.models import Submission as SubmissionRow

TOKEN_HEADER = "X-Connector-Token"
"""Header carrying a source's shared secret."""

TOKEN_QUERY = "token"
"""Query parameter carrying the shared secret for senders that cannot set headers."""


class Delivery(Protocol):
    """What every parsed request names: its delivery key (deduplication) and its event_id, if any."""

    @property
    def delivery_key(self) -> str: ...

    @property
    def event_id(self) -> str | None: ...


ParsedT = TypeVar("ParsedT", bound=Delivery)


@dataclass(frozen=True)
class Reply:
    """An answer in the sender's own format (Salesforce counts only its Ack as delivered)."""

    body: str
    content_type: str


@dataclass(frozen=True)
class Processed:
    """What processing kept: a new lead (its row and the submission as saved) and stage changes stored."""

    lead: SubmissionRow | None = None
    submission: Submission | None = None
    stage_changes: int = 0


class Source(Generic[ParsedT]):
    """One webhook sender: how to authenticate its requests, parse them and process what they deliver."""

    name: ClassVar[str]
    """URL segment and ledger name, e.g. `generic` in /webhooks/forms/generic."""
    kind: ClassVar[str] = "forms"
    """`forms`, `booking`, `crm` or `beacon`: the URL family the source lives under."""
    kept_headers: ClassVar[tuple[str, ...]] = ("content-type", "user-agent", "x-forwarded-for")
    """Headers stored with the receipt (never the secret); what a later re-parse needs."""
    gone_when_disabled: ClassVar[bool] = False
    """Answer 410 when disabled, for senders that document 410 as 'stop sending'."""
    signs_public_url: ClassVar[bool] = False
    """Its signature covers the URL it called, so it needs `web.public_url` (Host is never trusted)."""

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

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> ParsedT:
        """Turn the request into what it delivers (using `conf`'s field maps); raise BadPayload saying
        what is wrong."""
        raise NotImplementedError

    def verify_parsed(self, parsed: ParsedT, settings: Settings) -> None:
        """Check the parsed delivery against the configuration (e.g. the Salesforce org); raise an
        IntakeError. The default accepts it."""

    def acknowledge(self, parsed: ParsedT) -> Reply | None:
        """The answer this sender expects instead of our JSON, or None for our JSON."""
        return None

    def process(self, session: Session, receipt: Receipt, parsed: ParsedT) -> Processed:
        """In the job, inside the transaction that marks the receipt processed: keep what was parsed."""
        raise NotImplementedError


class SubmissionSource(Source[Submission]):
    """A sender of leads: each delivery is kept as a submission (then CRM write and conversion), unless a
    form submission with the same event_id is already a lead (from this or another form source)."""

    def process(self, session: Session, receipt: Receipt, parsed: Submission) -> Processed:
        prepared = take_prepared(session, receipt.id)  # the batch job's claim and row (intake.prepared)
        if prepared is None:
            submission = with_channels(parsed)
            holder = claim_form_event(session, receipt, submission)
        else:
            submission, holder = prepared.submission, prepared.holder
        if holder is not None:
            record_duplicate_event(session, receipt, submission, holder)
            return Processed()
        lead = save_submission(session, receipt, submission, prepared.row if prepared else None)
        return Processed(lead=lead, submission=submission)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def body_digest(body: bytes) -> str:
    """Delivery key of last resort: the same bytes delivered twice are the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()
