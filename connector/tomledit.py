"""Edit TOML files people also edit by hand: comments kept, a diff to review, an atomic save with a backup.

tomlkit keeps a file's comments and layout; the comments and blank lines that end a table belong, for a
reader, to whatever follows it, so a table added or removed carries them along (`move_tail`).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from tomlkit.items import Table, Whitespace

log = logging.getLogger(__name__)


class EditError(ValueError):
    """The edit cannot be applied (unknown entry, unreadable file); the message says why."""


class ConflictError(EditError):
    """The file changed since the edit was previewed; preview again."""


def take_tail(table: Table) -> list[tuple[Any, Any]]:
    """Remove and return what ends a table from the blank line before its last comments on (the next
    part's introduction); a table ending in blank lines only gives those."""
    body = table.value.body
    end = len(body)
    start = end
    while start > 0 and body[start - 1][0] is None:
        start -= 1
    cut = start
    commented = False
    for index in range(end - 1, start - 1, -1):
        if isinstance(body[index][1], Whitespace) and commented:
            cut = index
            break
        commented = commented or not isinstance(body[index][1], Whitespace)
    else:
        cut = start
    tail = body[cut:]
    del body[cut:]
    return tail


def append_after(last: Table | None, new: Table) -> None:
    """Prepare `new` to follow `last`: it takes over `last`'s closing comments, a blank line between."""
    if last is None:
        return
    tail = take_tail(last)
    if tail and not isinstance(tail[0][1], Whitespace):
        tail.insert(0, (None, Whitespace("\n")))
    elif not tail:
        tail = [(None, Whitespace("\n"))]
    new.value.body.extend(tail)
    last.value.body.append((None, Whitespace("\n")))


def remove_table(parent: Table, key: str) -> None:
    """Remove the sub-table `key`, leaving its closing comments where it was (they introduce what follows)."""
    table = parent[key]
    tail = take_tail(table) if isinstance(table, Table) else []
    body = parent.value.body
    slot = next(i for i, (_, item) in enumerate(body) if item is table)
    del parent[key]  # tomlkit leaves a placeholder in the slot, so later keys keep their positions
    if tail:
        body[slot] = (None, Whitespace("".join(item.as_string() for _, item in tail)))


def text_hash(text: str) -> str:
    """The version of a file's text an edit was made against."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


Opcode = tuple[Literal["replace", "delete", "insert", "equal"], int, int, int, int]


class _ReadableMatcher(difflib.SequenceMatcher[str]):
    """Opcodes whose added or removed blocks start after a blank line where they can (git's "indent
    heuristic", simplified): a new `[[fields]]` table reads as one block, not as lines shifted by one."""

    def __init__(self, a: list[str], b: list[str]):
        super().__init__(None, a, b, autojunk=False)
        self.old_lines, self.new_lines = a, b

    def get_opcodes(self) -> list[Opcode]:
        codes: list[list[Any]] = [list(c) for c in super().get_opcodes()]
        for k in range(1, len(codes) - 1):
            before, block, after = codes[k - 1], codes[k], codes[k + 1]
            if block[0] not in ("insert", "delete") or before[0] != "equal" or after[0] != "equal":
                continue
            lines, lo, hi = (self.new_lines, 3, 4) if block[0] == "insert" else (self.old_lines, 1, 2)

            while after[2] > after[1] and lines[block[lo]] == lines[block[hi]]:
                _shift(before, block, after, 1)
            while (
                before[2] > before[1]
                and lines[block[lo] - 1].strip()
                and lines[block[lo] - 1] == lines[block[hi] - 1]
            ):
                _shift(before, block, after, -1)
        return [cast(Opcode, tuple(c)) for c in codes]


def _shift(before: list[Any], block: list[Any], after: list[Any], step: int) -> None:
    """Move an added or removed block by `step` lines; the equal runs around it grow and shrink."""
    before[2] += step
    before[4] += step
    for index in (1, 2, 3, 4):
        block[index] += step
    after[1] += step
    after[3] += step


def unified_diff(old: str, new: str, name: str, context: int = 3) -> str:
    """The change as a reviewer reads it (`a/<name>` -> `b/<name>`, `context` lines around each hunk)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out: list[str] = []
    for group in _ReadableMatcher(a, b).get_grouped_opcodes(context):
        if not out:
            out += [f"--- a/{name}\n", f"+++ b/{name}\n"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in a[i1:i2]]
                continue
            out += ["-" + line for line in a[i1:i2]]
            out += ["+" + line for line in b[j1:j2]]
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def backup_path(versions_dir: Path, path: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return versions_dir / f"{path.name}.{stamp}.bak"


def save_text(path: Path, new_text: str, expected_hash: str, versions_dir: Path) -> Path:
    """Replace the file atomically after keeping its current text in `versions_dir`; return the backup.

    ConflictError when the file no longer has the text the edit was made against.
    """
    current = path.read_text(encoding="utf-8")
    if text_hash(current) != expected_hash:
        raise ConflictError(f"{path.name} changed since this edit was previewed; review the new version")
    versions_dir.mkdir(parents=True, exist_ok=True)
    backup = backup_path(versions_dir, path)
    backup.write_text(current, encoding="utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new_text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("saved %s (previous version kept as %s)", path, backup)
    return backup
