"""What a HubSpot poll reads: deals whose stage moved and contacts that entered a rule's lifecycle stage.

Both are dated by HubSpot's stage calculated properties (when the stage was entered), so a change read
here has the same key as the webhook of the same change.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from connector.config import Settings, stage_rules_in_force
from connector.crm.hubspot_labels import stage_id, stage_labels
from connector.crm.hubspot_stages import contacts_entered_since, deals_entered_since, entered_property
from connector.stages.changes import StageChange
from connector.timeutil import parse_iso

log = logging.getLogger(__name__)

DEAL_PROPERTIES = ("dealstage", "pipeline", "hs_v2_date_entered_current_stage", "hs_lastmodifieddate")
"""The deal properties a poll selects."""


def deal_changes(settings: Settings, adapter: Any, since: datetime) -> list[StageChange]:
    """Deals modified since `since` whose current stage was entered since then."""
    changes = []
    for deal in deals_entered_since(adapter, since, DEAL_PROPERTIES):
        entered = parse_iso(deal.get("hs_v2_date_entered_current_stage"))
        if entered is None or entered < since or not deal.get("dealstage"):
            continue  # modified, but its stage did not move in this window
        changes.append(
            StageChange(
                "hubspot",
                "deals",
                deal["id"],
                deal["dealstage"],
                entered,
                f"poll:{deal['id']}:{deal['dealstage']}:{int(entered.timestamp())}",
                "poll",
                deal.get("pipeline"),
            )
        )
    return changes


def contact_changes(settings: Settings, adapter: Any, since: datetime) -> list[StageChange]:
    """Contacts that entered a lifecycle stage some rule names, since `since`: one change per such entry,
    also when the contact has moved on since (passed through the stage between two polls)."""
    stages = rule_lifecycle_stages(settings, adapter)
    if not stages:
        return []
    changes = []
    for contact in contacts_entered_since(adapter, since, stages):
        for stage in stages:
            entered = parse_iso(contact.get(entered_property(stage)))
            if entered is None or entered < since:
                continue
            # delivery keys are unique per CRM, and a contact may share its id with a deal
            key = f"poll:contacts:{contact['id']}:{stage}:{int(entered.timestamp())}"
            changes.append(StageChange("hubspot", "contacts", contact["id"], stage, entered, key, "poll"))
    return changes


def rule_lifecycle_stages(settings: Settings, adapter: Any) -> list[str]:
    """The lifecycle stage ids the contact rules name (by id or label); a name HubSpot does not know is
    logged and left out (`connector check` lists the known ones)."""
    rules = stage_rules_in_force(settings).for_object("hubspot", "contacts")
    labels = stage_labels(adapter, "contacts", settings.stages.labels_ttl_seconds, [r.stage for r in rules])
    ids = []
    for rule in rules:
        found = stage_id(labels, rule.stage)
        if found is None:
            log.warning("stage rule %s: HubSpot has no lifecycle stage %r; not polled", rule.name, rule.stage)
        else:
            ids.append(found)
    return list(dict.fromkeys(ids))
