"""Model version stages (ZenML's ModelStages)."""

from __future__ import annotations

import re
from enum import Enum

from .errors import InvalidNameError, InvalidValueError
from .names import edit_distance


class ModelStages(str, Enum):
    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"
    LATEST = "latest"

    def __str__(self) -> str:
        return self.value


#: At most one version of a model holds each of these.
EXCLUSIVE_STAGES = frozenset({ModelStages.STAGING.value, ModelStages.PRODUCTION.value})
#: Stages that are stored in a version manifest ("latest" is computed).
STORED_STAGES = ("none", "staging", "production", "archived")
#: Words that can never be a version name.
RESERVED_VERSION_NAMES = frozenset(s.value for s in ModelStages)


def resembled_stage_word(name: str) -> str | None:
    """The stage word (or ``latest``) ``name`` is surely a typo of, if any: a prefix of it (``prod``,
    ``late``) or a name within a small edit distance (``stagin``, ``produciton``, ``lates``)."""
    text = name.strip().lower()
    for word in ("production", "staging", "archived", "latest", "none"):
        if text == word:
            return None  # the word itself is handled as a stage, not as a typo
        if len(text) >= 3 and word.startswith(text):
            return word
        allowed = 2 if len(word) >= 7 else 1 if len(word) >= 6 else 0
        if allowed and abs(len(text) - len(word)) <= allowed and edit_distance(text, word) <= allowed:
            return word
    return None


def parse_stage(value: object, *, allow_latest: bool = False) -> str:
    """Normalise a stage given as ModelStages or string; raise on anything else."""
    text = value.value if isinstance(value, ModelStages) else value
    if isinstance(text, str):
        text = text.strip().lower()
        if text in STORED_STAGES or (allow_latest and text == "latest"):
            return text
    allowed = ", ".join(STORED_STAGES + (("latest",) if allow_latest else ()))
    if text == "latest":
        raise InvalidValueError("'latest' is computed, not stored: it cannot be set as a stage")
    raise InvalidValueError(f"unknown stage {value!r}; expected one of: {allowed}")


_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def validate_alias(value: object) -> str:
    """Return ``value`` if it can name an alias (a named exclusive pointer: ``champion``), else raise
    InvalidNameError.  Lower-case letters, digits, ``_`` and ``-``, starting with a letter, at most 63
    characters (schemas/stages.schema.json); ``production`` and ``staging`` are the exclusive stages seen as
    aliases and pass; the other stage words, ``latest`` and ``v<number>`` (read as a version) never do."""
    if not isinstance(value, str):
        raise InvalidNameError("alias", value, "must be a string")
    if not _ALIAS.fullmatch(value):
        raise InvalidNameError("alias", value, "use lower-case letters, digits, '_' and '-', starting with a letter,"
                                               " at most 63 characters")
    if value in EXCLUSIVE_STAGES:
        return value
    if value in RESERVED_VERSION_NAMES:
        raise InvalidNameError("alias", value, f"{value!r} is a stage word or 'latest', never an alias")
    if value[0] == "v" and value[1:].isdigit():
        raise InvalidNameError("alias", value, f"{value!r} reads as version {int(value[1:])}")
    return value
