"""Names that are safe both as a path segment and inside a git ref name."""

from __future__ import annotations

import re

from .errors import InvalidNameError

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
