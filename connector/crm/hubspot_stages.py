"""HubSpot reads that stage changes need: associations, deals modified since (labels: hubspot_labels)."""

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
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import Filter, FilterGroup, PublicObjectSearchRequest

from connector.crm.base import chunks
from connector.crm.hubspot import HubSpotAdapter, translate

log = logging.getLogger(__name__)

SEARCH_PAGE = 100
"""Deals per search page (HubSpot's maximum)."""

ERRORS = (AssociationsApiException, DealsApiException, urllib3.exceptions.HTTPError)


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


def deals_entered_since(
    adapter: HubSpotAdapter, since: datetime, properties: Sequence[str]
) -> list[dict[str, Any]]:
    """Deals modified at or after `since` (oldest first): id + the properties asked for."""
    rows: list[dict[str, Any]] = []
    after: str | None = None
    since_ms = str(int(since.timestamp() * 1000))
    while True:
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[Filter(property_name="hs_lastmodifieddate", operator="GTE", value=since_ms)]
                )
            ],
            properties=list(properties),
            sorts=["hs_lastmodifieddate"],
            limit=SEARCH_PAGE,
            after=after,
        )
        try:
            page = adapter.client.crm.deals.search_api.do_search(request, _request_timeout=adapter.timeout)
        except ERRORS as exc:
            raise translate(exc) from exc
        rows += [{"id": str(r.id), **(r.properties or {})} for r in page.results or []]
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return rows
