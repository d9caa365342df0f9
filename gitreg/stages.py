"""Model version stages (ZenML's ModelStages)."""

from __future__ import annotations

from enum import Enum

from .errors import InvalidValueError


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
