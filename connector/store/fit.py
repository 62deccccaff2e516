"""Every stored value fits its column, on SQLite as on PostgreSQL: the one place that knows the limits.

A text value longer than its column is cut to fit. A column that is part of a unique key (a delivery
key, a booking key, a ledger id) keeps telling values apart: its long values become a prefix and a
digest of the whole value, so two values that share a long prefix never collide. A NUL or an unpaired
surrogate, which no database stores in text, becomes U+FFFD.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from typing import Any

from sqlalchemy import String, Table, UniqueConstraint
from sqlalchemy.orm import Mapper

log = logging.getLogger(__name__)

DIGEST_CHARS = 32
"""Hex characters of the SHA-256 digest that ends a shortened key."""

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""Characters no text column takes: NUL (PostgreSQL refuses it) and unpaired surrogates (not UTF-8, which a
JSON body's `\\ud800` escape still decodes to)."""


def limits(model: Any) -> dict[str, tuple[int, bool]]:
    """Column name -> (its length, whether it is part of a unique key or the primary key), for a model
    or its table."""
    return _limits(getattr(model, "__table__", model))


@functools.cache
def _limits(table: Table) -> dict[str, tuple[int, bool]]:
    keyed = {c.name for c in table.primary_key.columns}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keyed |= {c.name for c in constraint.columns}
    keyed |= {c.name for index in table.indexes if index.unique for c in index.columns}
    return {
        column.name: (column.type.length, column.name in keyed)
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    }


def storable(value: str) -> str:
    """`value` with each NUL and unpaired surrogate replaced by U+FFFD, which every database stores."""
    return UNSTORABLE.sub("\ufffd", value)


def shorten(value: str, length: int, keyed: bool) -> str:
    """`value` cut to `length` characters; a key keeps a digest of the whole value at its end."""
    if len(value) <= length:
        return value
    if not keyed or length <= DIGEST_CHARS + 1:
        return value[:length]
    digest = hashlib.sha256(value.encode()).hexdigest()[:DIGEST_CHARS]
    return f"{value[: length - DIGEST_CHARS - 1]}~{digest}"


def fit_value(table: Any, column: str, value: str) -> str:
    """One value as `fit_values` would store it in `column` (to look up a row by a key it was stored under)."""
    length, keyed = limits(table).get(column, (0, False))
    return shorten(storable(value), length, keyed) if length else value


def fit_values(table: Any, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`values` for a row of `table`, each text value fitted to its column; and the columns that were cut."""
    fitted, cut = dict(values), []
    for name, (length, keyed) in limits(table).items():
        value = fitted.get(name)
        if not isinstance(value, str):
            continue
        fitted[name] = value = storable(value)
        if len(value) > length:
            fitted[name] = shorten(value, length, keyed)
            cut.append(name)
    return fitted, cut


def fit_instance(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    """ORM hook (before insert and update, set up by the models): fit every text attribute of `target`."""
    table = target.__table__
    for name, (length, keyed) in limits(target).items():
        value = getattr(target, name, None)
        if isinstance(value, str) and UNSTORABLE.search(value):
            setattr(target, name, value := storable(value))
        if isinstance(value, str) and len(value) > length:
            setattr(target, name, shorten(value, length, keyed))
            log.warning("%s.%s: a %d-character value cut to %d", table.name, name, len(value), length)
