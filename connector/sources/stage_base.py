"""What the CRM notifiers share: a delivery of stage changes, stored once for the resolver job."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.orm import Session

from connector.config import Settings
from connector.intake.base import Processed, Source
from connector.stages.changes import StageDelivery, require_stages, store_stage_changes
from connector.store.models import Receipt


class StageSource(Source[StageDelivery]):
    """A CRM that tells us a record entered a stage (HubSpot webhooks, Salesforce outbound messages)."""

    kind: ClassVar[str] = "crm"

    def verify_parsed(self, parsed: StageDelivery, settings: Settings) -> None:
        """Stage changes are refused (404) until `stages.enabled` is on."""
        require_stages(settings)

    def process(self, session: Session, receipt: Receipt, parsed: StageDelivery) -> Processed:
        return Processed(stage_changes=len(store_stage_changes(session, parsed.changes, receipt)))
