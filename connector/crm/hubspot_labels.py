"""HubSpot stage labels: deal pipelines and contact lifecycle stages, cached per process.

Rules may name a stage as sales ops sees it ("Closed Won") while changes carry its id (`closedwon`), so
every batch of changes needs the labels. They change rarely: one read per `ttl` seconds serves every
batch, and a stage nobody has seen yet (added in HubSpot since the last read) reads them again at once.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

import urllib3
from hubspot.crm.pipelines import ApiException as PipelinesApiException
from hubspot.crm.properties import ApiException as PropertiesApiException

from connector.crm.hubspot import HubSpotAdapter, translate

Labels = dict[str, dict[str, str]]
"""Stage id -> {label, pipeline, pipeline_label}; lifecycle stages have no pipeline ("")."""

DEFAULT_TTL_SECONDS = 600.0
LIFECYCLE_PROPERTY = "lifecyclestage"

ERRORS = (PipelinesApiException, PropertiesApiException, urllib3.exceptions.HTTPError)


def fetch_stage_labels(adapter: HubSpotAdapter, object_type: str) -> Labels:
    """Read the labels now: the pipelines of `deals`, or the options of the contacts' lifecycle stage
    property (HubSpot documents the properties API, not pipelines, as the source of lifecycle stages)."""
    try:
        if object_type == "contacts":
            prop = adapter.client.crm.properties.core_api.get_by_name(
                object_type, LIFECYCLE_PROPERTY, _request_timeout=adapter.timeout
            )
            return {
                o.value: {"label": o.label or o.value, "pipeline": "", "pipeline_label": ""}
                for o in prop.options or []
            }
        response = adapter.client.crm.pipelines.pipelines_api.get_all(
            object_type, _request_timeout=adapter.timeout
        )
    except ERRORS as exc:
        raise translate(exc) from exc
    return {
        stage.id: {"label": stage.label, "pipeline": pipeline.id, "pipeline_label": pipeline.label}
        for pipeline in response.results or []
        for stage in pipeline.stages or []
    }


def names(labels: Labels) -> set[str]:
    """Every id and label, casefolded: what a change or a rule may call a stage."""
    return {n.casefold() for sid, v in labels.items() for n in (sid, v["label"]) if n}


@dataclass
class _Entry:
    labels: Labels
    read_at: float
    absent: set[str] = field(default_factory=set)
    """Names asked for that HubSpot did not know either at the last read: no new read for them."""


_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[HubSpotAdapter, dict[str, _Entry]] = weakref.WeakKeyDictionary()


def stage_labels(
    adapter: HubSpotAdapter,
    object_type: str,
    ttl: float = DEFAULT_TTL_SECONDS,
    wanted: Iterable[str] = (),
) -> Labels:
    """The labels of `object_type`, read at most once per `ttl` seconds per adapter (one per process),
    and again when a `wanted` stage id or label is unknown (once per unknown name until the TTL ends)."""
    asked = {w.casefold() for w in wanted if w}
    with _lock:
        entry = _cache.setdefault(adapter, {}).get(object_type)
    fresh = entry is not None and time.monotonic() - entry.read_at < ttl
    if entry is not None and fresh and not asked - names(entry.labels) - entry.absent:
        return entry.labels
    labels = fetch_stage_labels(adapter, object_type)
    absent = asked - names(labels)
    if entry is not None and fresh:
        absent |= entry.absent
    with _lock:
        _cache.setdefault(adapter, {})[object_type] = _Entry(labels, time.monotonic(), absent)
    return labels


def stage_id(labels: Labels, name: str) -> str | None:
    """The id of the stage called `name` (its id or its label, any case), None when HubSpot has none."""
    wanted = name.casefold()
    by_id = next((sid for sid in labels if sid.casefold() == wanted), None)
    return by_id or next((sid for sid, v in labels.items() if (v["label"] or "").casefold() == wanted), None)
