"""Field recognition: find our canonical fields among whatever keys a form plugin sends.

Three ways in, later ones winning: the canonical names themselves (what the browser script fills), common
contact field names (`your-email`, `First Name`, `phone_number`...), and the admin's field map from
configuration (per source, then per form), which is how Gravity Forms' numeric ids get resolved.
"""

from __future__ import annotations

import re
from typing import Any

from connector.attribution import ATTRIBUTION_FIELDS, CONTACT_FIELDS
from connector.config import SourceSettings

CANONICAL = frozenset((*ATTRIBUTION_FIELDS, *CONTACT_FIELDS))
"""Every name the browser script and the generic source use."""

MAX_DEPTH = 6
"""Deepest nesting flattened; deeper values are ignored (bodies are attacker-controlled)."""

MAX_KEYS = 2000
"""Most flattened keys kept from one body."""

CONTACT_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "email",
            "e_mail",
            "email_address",
            "emailaddress",
            "mail",
            "user_email",
            "work_email",
            "business_email",
            "your_email",
        ),
        "email",
    ),
    **dict.fromkeys(
        ("first_name", "firstname", "fname", "given_name", "first", "name_first", "forename"), "first_name"
    ),
    **dict.fromkeys(
        ("last_name", "lastname", "lname", "surname", "family_name", "last", "name_last"), "last_name"
    ),
    **dict.fromkeys(("name", "full_name", "fullname", "contact_name", "your_name"), "name"),
    **dict.fromkeys(
        (
            "phone",
            "tel",
            "telephone",
            "phone_number",
            "phonenumber",
            "mobile",
            "mobile_phone",
            "cell",
            "your_phone",
            "your_tel",
        ),
        "phone",
    ),
    **dict.fromkeys(
        (
            "company",
            "company_name",
            "organization",
            "organisation",
            "org",
            "business",
            "business_name",
            "your_company",
        ),
        "company",
    ),
}
"""Normalized key -> contact field, for forms that use their own (common) names."""

_NON_WORD = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,255}\.[a-z]{2,63}$", re.IGNORECASE)


def flatten(data: dict[str, Any]) -> dict[str, str]:
    """Nested bodies as flat `key -> text`: `a[b]` and, when free, the leaf `b` too; lists joined."""
    flat: dict[str, str] = {}
    leaves: dict[str, str] = {}
    stack: list[tuple[str, Any, int]] = [(str(k), v, 0) for k, v in reversed(list(data.items()))]
    while stack and len(flat) < MAX_KEYS:
        key, value, depth = stack.pop()
        if isinstance(value, dict):
            if depth < MAX_DEPTH:
                stack.extend((f"{key}[{k}]", v, depth + 1) for k, v in reversed(list(value.items())))
            continue
        text = as_text(value)
        if text is None:
            continue
        flat.setdefault(key, text)
        leaf = key.rsplit("[", 1)[-1].rstrip("]") if key.endswith("]") else None
        if leaf:
            leaves.setdefault(leaf, text)
    for leaf, text in leaves.items():
        flat.setdefault(leaf, text)
    return flat


def as_text(value: Any) -> str | None:
    """A scalar (or a list of scalars, joined) as text; None for empty or structured values."""
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, list):
        parts = [as_text(v) for v in value if not isinstance(v, (dict, list))]
        text = ", ".join(p for p in parts if p)
        return text or None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def normalize_key(key: str) -> str:
    return _NON_WORD.sub("_", key.lower()).strip("_")


def recognise(flat: dict[str, str], conf: SourceSettings | None, form_id: str | None) -> dict[str, str]:
    """Canonical name -> value, from canonical keys, contact aliases, then the configured field maps."""
    found: dict[str, str] = {}
    for key, value in flat.items():
        if key in CANONICAL:
            found[key] = value
    for key, value in flat.items():
        alias = CONTACT_ALIASES.get(normalize_key(key))
        if alias and alias not in found:
            found[alias] = value
    if "email" not in found:
        found.update(_sniff_email(flat))
    if conf is not None:
        for mapping in _field_maps(conf, form_id):
            for canonical, key in mapping.items():
                if flat.get(key):
                    found[canonical] = flat[key]
    return found


def _field_maps(conf: SourceSettings, form_id: str | None) -> list[dict[str, str]]:
    maps = [conf.fields]
    if form_id is not None and form_id in conf.forms:
        maps.append(conf.forms[form_id].fields)
    return maps


def _sniff_email(flat: dict[str, str]) -> dict[str, str]:
    """Gravity Forms and labelled forms hide the email under an id: take the one value shaped like one."""
    candidates = {v for v in flat.values() if len(v) <= 320 and _EMAIL.match(v)}
    return {"email": candidates.pop()} if len(candidates) == 1 else {}
