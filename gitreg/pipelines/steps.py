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
import string
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from ..errors import InvalidValueError, PipelineError
from ..manifests import ARTIFACT_TYPES
from ..names import validate_name


class ArtifactType(str, Enum):
    """ZenML's artifact types, accepted by ``ArtifactConfig(artifact_type=...)``.

    gitreg keeps four kinds: a model artifact is ``model``, a service artifact is a
    ``deployment`` artifact (what ``get_deployment_artifact`` finds), every other type ``data``.
    """

    DATA = "DataArtifact"
    MODEL = "ModelArtifact"
    SERVICE = "ServiceArtifact"
    DATA_ANALYSIS = "DataAnalysisArtifact"
    SCHEMA = "SchemaArtifact"
    STATISTICS = "StatisticsArtifact"
    BASE = "BaseArtifact"


_KIND_OF = {ArtifactType.DATA.value: "data", ArtifactType.MODEL.value: "model",
            ArtifactType.SERVICE.value: "deployment", ArtifactType.DATA_ANALYSIS.value: "data",
            ArtifactType.SCHEMA.value: "data", ArtifactType.STATISTICS.value: "data",
            ArtifactType.BASE.value: "data", "service": "deployment"}


def artifact_kind(artifact_type: str | ArtifactType) -> str:
    """gitreg's kind for a ZenML artifact type or a gitreg kind (``service`` is a deployment artifact)."""
    value = artifact_type.value if isinstance(artifact_type, ArtifactType) else artifact_type
    if isinstance(value, str):
        if value in _KIND_OF:
            return _KIND_OF[value]
        if value in ARTIFACT_TYPES:
            return value
    known = ", ".join([*(t for t in ARTIFACT_TYPES if t != "service"),
                       *(f"ArtifactType.{t.name}" for t in ArtifactType)])
    raise InvalidValueError(f"unknown artifact_type {artifact_type!r}; expected one of: {known}")


@dataclass(frozen=True)
class ArtifactConfig:
    """How a step output is stored: ``Annotated[T, ArtifactConfig(name=..., artifact_type=...)]``.

    ``version``: the artifact's version number on its model version (default: the next one);
    ``tags``: recorded with the output in the run record; ``model_name``/``model_version``: link
    this output to that model version instead of the step's (``model_version`` as in ``Model``:
    None is the version this run creates of that model).
    """

    name: str | None = None
    version: int | str | None = None
    tags: tuple[str, ...] | list[str] | None = None
    artifact_type: str | ArtifactType | None = None
    is_model_artifact: bool = False
    is_deployment_artifact: bool = False
    model_name: str | None = None
    model_version: object = None

    def __post_init__(self) -> None:
        if self.name is not None:
            validate_name("artifact", self.name)
        if self.artifact_type is not None:
            artifact_kind(self.artifact_type)
        if self.is_model_artifact and self.is_deployment_artifact:
            raise InvalidValueError("an artifact is a model or a deployment artifact, not both")
        if self.version is not None:
            text = str(self.version).strip()
            if isinstance(self.version, bool) or not text.isdigit() or int(text) < 1:
                raise InvalidValueError(f"ArtifactConfig version {self.version!r}: an artifact version is a number"
                                        " from 1 (leave it out to take the next one)")
        if self.tags is not None:
            if isinstance(self.tags, str):
                raise InvalidValueError("ArtifactConfig tags is a list of tags, not one string")
            for tag in self.tags:
                validate_name("tag", tag)
        if self.model_name is not None:
            validate_name("model", self.model_name)
        elif self.model_version is not None:
            raise InvalidValueError("ArtifactConfig model_version needs model_name")

    @property
    def type(self) -> str | None:
        if self.is_model_artifact:
            return "model"
        if self.is_deployment_artifact:
            return "deployment"
        return artifact_kind(self.artifact_type) if self.artifact_type is not None else None


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type: str | None  # None: decided by the object's materializer
    version: int | None = None
    tags: tuple[str, ...] = ()
    model_name: str | None = None
    model_version: object = None


def _annotation(func: Callable[..., Any], localns: dict[str, Any] | None) -> Any:
    try:
        hints = typing.get_type_hints(func, localns=localns, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to the raw annotation
        hints = dict(getattr(func, "__annotations__", {}))
    return hints.get("return", inspect.Signature.empty)


def _one(hint: Any, default: str) -> OutputSpec:
    if typing.get_origin(hint) is typing.Annotated:
        name: str | None = None
        config = ArtifactConfig()
        for extra in hint.__metadata__:
            if isinstance(extra, str):
                name = extra
            elif isinstance(extra, ArtifactConfig):
                name = extra.name or name
                config = extra
        if name is not None:
            validate_name("artifact", name)
        return OutputSpec(name or default, config.type, int(str(config.version)) if config.version is not None
                          else None, tuple(dict.fromkeys(config.tags or ())), config.model_name, config.model_version)
    return OutputSpec(default, None)


def output_specs(func: Callable[..., Any], step: str,
                 localns: dict[str, Any] | None = None) -> tuple[list[OutputSpec], bool]:
    """The outputs a step declares, and whether it returns them as a tuple.

    Default names start with the step's name without its leading underscores (an artifact
    name starts with a letter or a digit): ``_prepare`` outputs ``prepare_output``.

    ``localns``: the names where the step was defined, for string annotations
    (``from __future__ import annotations``) that refer to local names.
    """
    hint = _annotation(func, localns)
    prefix = step.lstrip("_") or "step"
    if hint is inspect.Signature.empty:
        return [OutputSpec(f"{prefix}_output", None)], False
    if hint is None or hint is type(None):
        return [], False
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    if typing.get_origin(base) is tuple and typing.get_origin(hint) is not typing.Annotated:
        args = typing.get_args(base)
        if args and args[-1] is not Ellipsis:
            specs = [_one(a, f"{prefix}_output_{i}") for i, a in enumerate(args)]
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise PipelineError(f"step {step!r} declares the output name {names} more than once")
            return specs, True
    return [_one(hint, f"{prefix}_output")], False


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


# ---------------------------------------------------------------- name placeholders (ZenML's)

def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{" in value or "}" in value)


def fill_placeholders(template: str, substitutions: Mapping[str, Any] | None = None,
                      when: datetime | None = None) -> str:
    """Fill ZenML's placeholders in a version name: ``{date}`` (``2026_11_29``) and ``{time}``
    (``17_01_55_848123``) of ``when`` (UTC; default: now), and the keys of ``substitutions``
    (which may also override ``date`` and ``time``).  ``{{`` and ``}}`` are literal braces;
    only plain ``{key}`` fields are allowed."""
    if not is_template(template):
        return template
    moment = when or datetime.now(UTC)
    values = {"date": moment.strftime("%Y_%m_%d"), "time": moment.strftime("%H_%M_%S_%f")}
    values.update({str(k): str(v) for k, v in (substitutions or {}).items()})
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidValueError(f"version name template {template!r}: {exc}; write a literal brace as"
                                " '{{' or '}}'") from None
    out: list[str] = []
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if spec or conversion or field not in values:
            known = ", ".join(f"{{{k}}}" for k in values)
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise InvalidValueError(f"version name template {template!r}: no value for {{{shown}}};"
                                    f" known: {known}; give others with substitutions={{...}} on the pipeline"
                                    " or the step")
        out.append(values[field])
    return "".join(out)


def check_template(template: str) -> None:
    """Reject now a version name template that could never make a valid name (any key may come later)."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise InvalidValueError(f"version name template {template!r}: {exc}; write a literal brace as"
                                " '{{' or '}}'") from None
    sample = fill_placeholders(template, {f: "x" for f in fields if f and f.isidentifier()})
    validate_name("version", sample)
