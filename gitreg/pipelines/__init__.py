"""Pipelines and their runs: ``@pipeline``/``@step`` (:mod:`.decorators`), the run context
(:mod:`.context`), output specs (:mod:`.steps`), recording runs (:mod:`.runs`) and keeping
a running run's artifacts safe from garbage collection (:mod:`.liveness`).

The public names are imported lazily: importing a sub-module (as :mod:`gitreg.model` does with
:mod:`.context`) does not pull in the pipeline machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "pipeline": "decorators", "step": "decorators", "Pipeline": "decorators", "Step": "decorators",
    "RunResult": "decorators", "get_step_context": "context", "get_pipeline_context": "context",
    "StepContext": "context", "PipelineContext": "context", "ArtifactConfig": "steps", "ArtifactType": "steps",
}

__all__ = [  # the names of _EXPORTS, spelled out for type checkers (tests/test_types.py keeps them equal)
    "ArtifactConfig", "ArtifactType", "Pipeline", "PipelineContext", "RunResult", "Step", "StepContext",
    "get_pipeline_context", "get_step_context", "pipeline", "step",
]

if TYPE_CHECKING:  # pragma: no cover
    from .context import PipelineContext, StepContext, get_pipeline_context, get_step_context
    from .decorators import Pipeline, RunResult, Step, pipeline, step
    from .steps import ArtifactConfig, ArtifactType


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gitreg.pipelines' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
