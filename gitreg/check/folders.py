"""What the tag checks need of each model folder (shared by :mod:`.tags` and :mod:`.reverts`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelFolder:
    """What the tag checks need of a model folder."""

    counter: int | None                  # model.yaml's counters.versions, None when the folder has errors
    numbers: frozenset[int]              # the version manifests that validated
    stages: dict[int, str]               # those of them in an exclusive stage
