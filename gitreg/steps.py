"""Step outputs: how a step's return annotation names and types its artifacts.

    def train(...) -> Annotated[ClassifierMixin, "trained_model"]: ...
    def split(...) -> Tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]: ...
    def export(...) -> Annotated[bytes, ArtifactConfig(name="onnx", artifact_type="deployment")]: ...

Unnamed outputs are called ``<step>_output`` (one) or ``<step>_output_<i>`` (several).
The artifact type comes from ``ArtifactConfig`` when given, else from what the
materializer knows of the object (trained models are ``model``), else ``data``.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable

from .errors import InvalidValueError, PipelineError
from .manifests import ARTIFACT_TYPES
from .names import validate_name


@dataclass(frozen=True)
class ArtifactConfig:
    """Name and kind of a step output: ``Annotated[T, ArtifactConfig(name=..., artifact_type=...)]``."""

    name: str | None = None
    artifact_type: str | None = None
    is_model_artifact: bool = False
    is_deployment_artifact: bool = False

    def __post_init__(self) -> None:
        if self.name is not None:
            validate_name("artifact", self.name)
        if self.artifact_type is not None and self.artifact_type not in ARTIFACT_TYPES:
            raise InvalidValueError(f"unknown artifact_type {self.artifact_type!r}; expected one of:"
                                    f" {', '.join(ARTIFACT_TYPES)}")
        if self.is_model_artifact and self.is_deployment_artifact:
            raise InvalidValueError("an artifact is a model or a deployment artifact, not both")

    @property
    def type(self) -> str | None:
        if self.is_model_artifact:
            return "model"
        if self.is_deployment_artifact:
            return "deployment"
        return self.artifact_type


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type: str | None  # None: decided by the object's materializer


def _annotation(func: Callable[..., Any], localns: dict[str, Any] | None) -> Any:
    try:
        hints = typing.get_type_hints(func, localns=localns, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable forward references: fall back to the raw annotation
        hints = dict(getattr(func, "__annotations__", {}))
    return hints.get("return", inspect.Signature.empty)


def _one(hint: Any, default: str, step: str) -> OutputSpec:
    if typing.get_origin(hint) is typing.Annotated:
        name: str | None = None
        kind: str | None = None
        for extra in hint.__metadata__:
            if isinstance(extra, str):
                name = extra
            elif isinstance(extra, ArtifactConfig):
                name = extra.name or name
                kind = extra.type
        if name is not None:
            validate_name("artifact", name)
        return OutputSpec(name or default, kind)
    return OutputSpec(default, None)


def output_specs(func: Callable[..., Any], step: str,
                 localns: dict[str, Any] | None = None) -> tuple[list[OutputSpec], bool]:
    """The outputs a step declares, and whether it returns them as a tuple.

    ``localns``: the names where the step was defined, for string annotations
    (``from __future__ import annotations``) that refer to local names.
    """
    hint = _annotation(func, localns)
    if hint is inspect.Signature.empty:
        return [OutputSpec(f"{step}_output", None)], False
    if hint is None or hint is type(None):
        return [], False
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    if typing.get_origin(base) is tuple and typing.get_origin(hint) is not typing.Annotated:
        args = typing.get_args(base)
        if args and args[-1] is not Ellipsis:
            specs = [_one(a, f"{step}_output_{i}", step) for i, a in enumerate(args)]
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise PipelineError(f"step {step!r} declares the output name {names} more than once")
            return specs, True
    return [_one(hint, f"{step}_output", step)], False


def split_outputs(value: Any, specs: list[OutputSpec], as_tuple: bool, step: str) -> list[tuple[OutputSpec, Any]]:
    """Pair the values a step returned with its declared outputs."""
    if not specs:
        return []
    if not as_tuple:
        return [(specs[0], value)]
    if not isinstance(value, tuple) or len(value) != len(specs):
        got = f"{len(value)} values" if isinstance(value, tuple) else type(value).__name__
        raise PipelineError(f"step {step!r} declares {len(specs)} outputs but returned {got}")
    return list(zip(specs, value))
