"""The running pipeline and step, as the rest of gitreg sees them.

This module knows the run only through :class:`RunHandle`, without importing the pipeline machinery
(:mod:`gitreg.pipelines.decorators`), which builds on it and on ``Model``.  :mod:`gitreg.model` knows
nothing of this module: ``log_model_metadata`` (here) asks which model version a running step holds.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import PipelineError

if TYPE_CHECKING:
    from ..model import Model
    from .runs import Output, PendingStep, Slot


class RunHandle(Protocol):
    """What a model version bound to a running pipeline needs of the run."""

    client: Any
    current_step: PendingStep | None
    bound: dict[tuple[str, str], Model]
    context: PipelineContext

    def save_output(self, value: Any, name: str, artifact_type: str | None, slot: Slot | None,
                    step: PendingStep | None) -> Output: ...

    # ``step`` is a :class:`~.decorators.Step` (Any here: the decorators build on this module)
    def run_step(self, step: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 requested_id: str | None = None) -> Any: ...

    def consume(self, registry_root: str, model: str, number: int) -> None: ...


_RUN: contextvars.ContextVar[RunHandle | None] = contextvars.ContextVar("gitreg_run", default=None)
_STEP: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("gitreg_step", default=None)



# ---------------------------------------------------------------- contexts

@dataclass(frozen=True)
class StepContext:
    step_name: str
    pipeline_name: str
    run_id: str
    _model: Model | None

    @property
    def model(self) -> Model:
        """The model version of the running step (the step's own model, else the pipeline's)."""
        if self._model is None:
            raise PipelineError(f"step {self.step_name!r} has no model: give model= to the step or the pipeline")
        return self._model


@dataclass(frozen=True)
class PipelineContext:
    name: str
    run_id: str
    parameters: Mapping[str, Any]
    _model: Model | None

    @property
    def model(self) -> Model:
        """The pipeline's configured model (bound to this run's version)."""
        if self._model is None:
            raise PipelineError(f"pipeline {self.name!r} has no model configured")
        return self._model


def get_step_context() -> StepContext:
    context = _STEP.get()
    if context is None:
        raise PipelineError("get_step_context() works only inside a step of a running pipeline")
    return context


def get_pipeline_context() -> PipelineContext:
    run = _RUN.get()
    if run is None:
        raise PipelineError("get_pipeline_context() works only while a pipeline runs")
    return run.context


def active_slot_model(model_name: str | None) -> Model | None:
    """The running step's model (or the run's model called ``model_name``), for log_model_metadata."""
    step = _STEP.get()
    run = _RUN.get()
    if run is None:
        return None
    if model_name is None:
        return step._model if step is not None else run.context._model
    for model in run.bound.values():
        if model.name == model_name:
            return model
    return None


def log_model_metadata(metadata: Mapping[str, Any], model_name: str | None = None,
                       version: object = None, *, repo: str | os.PathLike[str] | None = None) -> None:
    """Log metadata on a model version (version None: the latest)."""
    from ..client import Client
    from ..errors import InvalidValueError

    if version is None:
        bound = active_slot_model(model_name)
        if bound is not None:  # inside a run: on the step's (or the run's) version, recorded with the run
            bound.log_metadata(metadata)
            return
    if model_name is None:
        raise InvalidValueError("log_model_metadata needs model_name outside a pipeline step"
                                " (inside one, the step or the pipeline needs a model=)")
    Client(repo).log_metadata(model_name, "latest" if version is None else version, metadata)
