"""Names that are safe both as a path segment and inside a git ref name, and names too close to others."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidNameError, NearModelNameError

MAX_LENGTH = 100
_ALLOWED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Device names Windows reserves in every folder, with or without an extension (``aux.txt``): Git for
# Windows refuses to check such a path out, so a registry holding one would not clone there.
_WINDOWS_DEVICE = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?", re.IGNORECASE)


def validate_name(kind: str, value: object) -> str:
    """Return ``value`` if it is a valid ``kind`` name, else raise InvalidNameError.

    Allowed: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or
    digit, at most 100 characters, no ``..``, not ending in ``.`` or ``.lock``,
    not a Windows device name (``con``, ``nul``, ``com1``, ``aux.txt``, ...).
    That keeps a name one path segment on every file system git checks out
    on and legal in a git ref name (see git-check-ref-format).
    """
    if not isinstance(value, str):
        raise InvalidNameError(kind, value, "must be a string")
    if not value:
        raise InvalidNameError(kind, value, "must not be empty")
    if len(value) > MAX_LENGTH:
        raise InvalidNameError(kind, value, f"longer than {MAX_LENGTH} characters")
    if not _ALLOWED.fullmatch(value):
        bad = sorted({c for c in value if not (c.isascii() and (c.isalnum() or c in "._-"))})
        if bad:
            shown = ", ".join(repr(c) for c in bad)
            reason = f"contains {shown}; use letters, digits, '.', '_' and '-'"
        else:
            reason = "must start with a letter or a digit"
        raise InvalidNameError(kind, value, reason)
    if ".." in value:
        raise InvalidNameError(kind, value, "must not contain '..'")
    if value.endswith(".") or value.lower().endswith(".lock"):
        raise InvalidNameError(kind, value, "must not end in '.' or '.lock'")
    if _WINDOWS_DEVICE.fullmatch(value):
        raise InvalidNameError(kind, value, f"{value.split('.')[0]!r} is a device name on Windows, where git"
                                            " cannot check such a path out")
    return value


def is_valid_name(value: object) -> bool:
    """Whether ``value`` is a valid name (see :func:`validate_name`)."""
    try:
        validate_name("model", value)
    except InvalidNameError:
        return False
    return True


def edit_distance(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions, adjacent swaps)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def near_names(name: str, existing: Iterable[str]) -> list[str]:
    """The names in ``existing`` one edit from ``name`` (an insertion, a deletion, a substitution or a swap
    of two neighbours), compared case-insensitively; sorted.

    A name equal to ``name`` but for case is not "near": it is the same folder on a case-insensitive
    file system, refused on its own terms (``check_case_clash``).
    """
    key = name.casefold()
    found = set()
    for other in existing:
        folded = other.casefold()
        if folded != key and abs(len(folded) - len(key)) <= 1 and edit_distance(key, folded) == 1:
            found.add(other)
    return sorted(found)


def refuse_near_model_name(name: str, existing: Iterable[str]) -> None:
    """Raise NearModelNameError if ``name`` is not among ``existing`` but one edit from some of them
    (a new model made by a typo of an existing one's name, most likely)."""
    names = list(existing)
    if any(other.casefold() == name.casefold() for other in names):
        return  # the model itself, or one differing only in case (refused as such when it would be created)
    close = near_names(name, names)
    if close:
        raise NearModelNameError(name, close)
