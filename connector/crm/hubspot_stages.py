"""HubSpot reads that stage changes need: associations, deals modified and contacts staged since a time.

Stage labels live in hubspot_labels (cached per process).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import urllib3
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects import ApiException as ObjectsApiException
from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

from connector.crm.base import chunks
from connector.crm.hubspot import HubSpotAdapter, translate

log = logging.getLogger(__name__)

SEARCH_PAGE = 100
"""Records per search page."""

MAX_FILTER_GROUPS = 5
"""HubSpot ORs at most five filter groups in one search."""

ERRORS = (AssociationsApiException, ObjectsApiException, urllib3.exceptions.HTTPError)


def associated_ids(
    adapter: HubSpotAdapter, from_type: str, to_type: str, ids: Sequence[str]
) -> dict[str, list[str]]:
    """Record id -> associated record ids (v4 batch read, 100 ids per call)."""
    found: dict[str, list[str]] = {}
    for batch in chunks(list(ids), 100):
        body = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=str(i)) for i in batch]
        )
        try:
            response = adapter.client.crm.associations.v4.batch_api.get_page(
                from_type, to_type, body, _request_timeout=adapter.timeout
            )
        except ERRORS as exc:
            raise translate(exc) from exc
        for row in response.results or []:
            found[str(row._from.id)] = [str(t.to_object_id) for t in row.to or []]
    return found


def entered_property(stage: str) -> str:
    """The stage calculated property dating a record's (latest) entry into `stage`, e.g.
    `hs_v2_date_entered_customer` for the lifecycle stage `customer`."""
    return f"hs_v2_date_entered_{stage}"


def deals_entered_since(
    adapter: HubSpotAdapter, since: datetime, properties: Sequence[str]
) -> list[dict[str, Any]]:
    """Deals modified at or after `since`: id + the properties asked for."""
    since_ms = str(int(since.timestamp() * 1000))
    modified = Filter(property_name="hs_lastmodifieddate", operator="GTE", value=since_ms)
    return _search(adapter, "deals", [[modified]], properties)


def contacts_entered_since(
    adapter: HubSpotAdapter, since: datetime, stages: Sequence[str]
) -> list[dict[str, Any]]:
    """Contacts that entered one of the lifecycle `stages` at or after `since`: id, `lifecyclestage` and
    the date-entered property of every stage asked for (one filter group per stage, ORed)."""
    since_ms = str(int(since.timestamp() * 1000))
    properties = ["lifecyclestage", *(entered_property(s) for s in stages)]
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(list(stages), MAX_FILTER_GROUPS):
        groups = [[Filter(property_name=entered_property(s), operator="GTE", value=since_ms)] for s in batch]
        for row in _search(adapter, "contacts", groups, properties):
            found.setdefault(row["id"], row)
    return list(found.values())


def _search(
    adapter: HubSpotAdapter, object_type: str, groups: list[list[Filter]], properties: Sequence[str]
) -> list[dict[str, Any]]:
    """Every record one CRM search finds (ORed groups of ANDed filters): id + the properties asked for.

    Pages by record id, each page asking for ids above the last one seen, not by `after` offsets: those
    end at 10,000 results, and shift when a record changes while we page (one would be skipped).
    """
    rows: list[dict[str, Any]] = []
    last = "0"
    while True:
        above = Filter(property_name="hs_object_id", operator="GT", value=last)
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[*filters, above]) for filters in groups],
            properties=list(properties),
            sorts=["hs_object_id"],
            limit=SEARCH_PAGE,
        )
        try:
            page = adapter.client.crm.objects.search_api.do_search(
                object_type, request, _request_timeout=adapter.timeout
            )
        except ERRORS as exc:
            raise translate(exc) from exc
        found = [{"id": str(r.id), **(r.properties or {})} for r in page.results or []]
        rows += found
        if not found or not (page.paging and page.paging.next):
            return rows
        last = found[-1]["id"]
