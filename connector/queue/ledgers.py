"""The leased tables, each described once; the jobs and the sweeper work through these."""

from __future__ import annotations

from connector.queue.leased import LeasedLedger
from connector.store.models import (
    Conversion,
    ConversionStatus,
    CrmWrite,
    DealAttribution,
    DealAttributionStatus,
    Receipt,
    ReceiptStatus,
    StageChange,
    StageChangeStatus,
    WriteStatus,
)

RECEIPTS = LeasedLedger(
    "receipts",
    Receipt,
    waiting=(ReceiptStatus.RETRYING, ReceiptStatus.RECEIVED),
    working=ReceiptStatus.PROCESSING,
    created="received_at",
)
"""Stored webhooks: each is processed by one job at a time, claimed by id."""

CRM_WRITES = LeasedLedger(
    "crm writes",
    CrmWrite,
    waiting=(WriteStatus.PENDING,),
    working=WriteStatus.SENDING,
    counts_attempts=False,
)
"""One CRM write per submission, sent in batches; attempts count the records the CRM judged."""

CONVERSIONS = LeasedLedger(
    "conversions",
    Conversion,
    waiting=(ConversionStatus.PENDING,),
    working=ConversionStatus.SENDING,
    touched="updated_at",
)
"""Server events for OpenAI, sent per pixel in batches."""

STAGE_CHANGES = LeasedLedger(
    "stage changes",
    StageChange,
    waiting=(StageChangeStatus.PENDING,),
    working=StageChangeStatus.RESOLVING,
)
"""CRM records entering a stage, resolved in batches into conversions."""

DEAL_ATTRIBUTIONS = LeasedLedger(
    "deal attributions",
    DealAttribution,
    waiting=(DealAttributionStatus.PENDING,),
    working=DealAttributionStatus.SENDING,
    counts_attempts=False,
)
"""The attribution written once onto each opportunity or deal, in batches."""
