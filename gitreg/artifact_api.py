"""ZenML's top-level artifact functions, on gitreg's model-version-scoped artifacts.

In ZenML an artifact lives on its own and may be linked to model versions; in gitreg every
artifact is a link on one model version.  So each function here works on a model version:
inside a pipeline step, the step's model (else the pipeline's), as in ZenML; elsewhere the
``model=`` given (a :class:`~gitreg.Model`, or a model name meaning its latest version).
Without either they raise an :class:`~gitreg.errors.InvalidValueError` saying so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Union

from .errors import InvalidValueError
from .names import validate_name

if TYPE_CHECKING:
    from .artifacts import ArtifactVersion
    from .manifests import ArtifactLink
    from .model import Model

ModelLike = Union["Model", str, None]


def _bound(model: ModelLike, what: str) -> Model | None:
    """The model version ``model`` means, else the running step's (or pipeline's) model; None: neither."""
    from .model import Model

    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return Model(model, version="latest")
    if model is not None:
        raise InvalidValueError(f"{what}: model= takes a Model or a model name, not {type(model).__name__}")
    from .pipelines.context import active_slot_model

    return active_slot_model(None)


def _model(model: ModelLike, what: str) -> Model:
    bound = _bound(model, what)
    if bound is None:
        raise InvalidValueError(f"{what} needs model= outside a pipeline step whose step or pipeline has a"
                                " model: gitreg's artifacts belong to a model version"
                                " (e.g. model=Model('iris', version='production') or model='iris' for its latest)")
    return bound


def _type(artifact_type: Any, is_model_artifact: bool, is_deployment_artifact: bool) -> str | None:
    if is_model_artifact and is_deployment_artifact:
        raise InvalidValueError("an artifact is a model artifact or a deployment artifact, not both")
    if is_model_artifact:
        return "model"
    if is_deployment_artifact:
        return "deployment"
    if artifact_type is None:
        return None
    value = str(getattr(artifact_type, "value", artifact_type))
    zenml_names = {"DataArtifact": "data", "ModelArtifact": "model", "ServiceArtifact": "service"}
    return zenml_names.get(value, value)


def save_artifact(data: Any, name: str, version: int | str | None = None, artifact_type: Any = None,
                  tags: Iterable[str] | None = None, *, is_model_artifact: bool = False,
                  is_deployment_artifact: bool = False, model: ModelLike = None) -> ArtifactLink:
    """Store ``data`` (by its materializer) and link it as artifact ``name`` to the model version.

    ``version``: gitreg numbers artifact versions itself (per model and name), so giving one is an
    error; ``tags``: gitreg's artifacts carry no tags (tag the model version instead), so giving any
    is an error.  Returns the link (its ``version`` is the number it got; inside a run, once recorded).

    With no model (none given, outside a step with one), as ZenML saves a standalone artifact: the bytes go
    into the store of the registry here (``Client()``) and the link is returned unlinked, to be linked by
    :func:`link_artifact_to_model`.  Until then it is in no manifest: nothing lists or loads it by name, and
    garbage collection removes its bytes once they are older than its grace period (an hour by default).
    """
    validate_name("artifact", name)
    if version is not None:
        raise InvalidValueError(f"artifact {name!r}: gitreg numbers artifact versions itself (1, 2, 3, ... per"
                                " model and name); leave version= out")
    if tags:
        raise InvalidValueError(f"artifact {name!r}: gitreg's artifacts carry no tags; tag the model version"
                                " (Model(..., tags=[...]) or `gitreg model version update --tag`)")
    kind = _type(artifact_type, is_model_artifact, is_deployment_artifact)
    target = _bound(model, "save_artifact")
    if target is None:
        from .artifacts import save_object
        from .client import Client

        return save_object(Client().registry, data, name, kind)
    return target.save_artifact(data, name, kind)


def load_artifact(name_or_id: str, version: int | str | None = None, *, model: ModelLike = None) -> Any:
    """Load artifact ``name_or_id`` (a name, or its sha256 id or a prefix of it) of the model version,
    hash-verified; ``version`` is the artifact version (None: the highest)."""
    target = _model(model, "load_artifact")
    if version is None and getattr(target, "_slot", None) is not None:
        return target.load_artifact(name_or_id)  # may be an output saved earlier in this run
    found = get_artifact_version(name_or_id, version, model=target)
    return found.load()


def get_artifact_version(name_or_id: str, version: int | str | None = None, *,
                         model: ModelLike = None) -> ArtifactVersion:
    """The artifact version (link, hash, size, format, ...) on the model version; see :func:`load_artifact`."""
    target = _model(model, "get_artifact_version")
    return target.client.get_artifact_version(name_or_id, version, model_name=target.name,
                                              model_version=target._committed("read its artifacts"))


def link_artifact_to_model(artifact_version: ArtifactVersion | ArtifactLink, model: ModelLike = None,
                           is_model_artifact: bool = False, is_deployment_artifact: bool = False) -> ArtifactLink:
    """Link an existing artifact version (what :func:`save_artifact`, :func:`get_artifact_version` or
    ``Model.get_artifact`` return) to another model version: the same bytes, no copy, under the same
    artifact name, with the next artifact version number there.  Inside a step, ``model`` defaults to the
    step's model, and the link is recorded with the run."""
    from .artifacts import ArtifactVersion
    from .manifests import ArtifactLink

    link = artifact_version.link if isinstance(artifact_version, ArtifactVersion) else artifact_version
    if not isinstance(link, ArtifactLink):
        raise InvalidValueError("link_artifact_to_model takes an artifact version (from save_artifact,"
                                f" get_artifact_version or Model.get_artifact), not {type(artifact_version).__name__}")
    kind = _type(None, is_model_artifact, is_deployment_artifact) or link.type
    new = replace(link, type=kind, created=None)
    target = _model(model, "link_artifact_to_model")
    slot = getattr(target, "_slot", None)
    if slot is not None:  # bound to a running pipeline: recorded with the run
        from .pipelines.context import get_step_context
        from .pipelines.runs import Output

        try:
            step_name: str | None = get_step_context().step_name
        except Exception:  # linked outside a step but during the run
            step_name = None
        slot.links.append(Output(new, slot, step_name))
        return new
    client = target.client
    return client._link(target.name, target._committed("link artifacts to it"), new)


def log_artifact_metadata(metadata: Mapping[str, Any], artifact_name: str | None = None,
                          artifact_version: int | str | None = None, *, model: ModelLike = None) -> None:
    """Log metadata about artifact ``artifact_name``.

    gitreg keeps metadata on model versions, not on artifacts: it is merged into the metadata of the
    model version that links the artifact, grouped as ``artifacts: {<name>: {...}}`` (read back as
    ``run_metadata["artifacts"].value[<name>]``).  ``artifact_name`` is needed (gitreg does not guess
    a step's single output); ``artifact_version``, if given, must be linked there.
    """
    if artifact_name is None:
        raise InvalidValueError("log_artifact_metadata needs artifact_name= (gitreg logs it on the model version"
                                " that links the artifact, under artifacts.<name>)")
    validate_name("artifact", artifact_name)
    if not isinstance(metadata, Mapping) or not metadata:
        raise InvalidValueError("metadata must be a non-empty dict of JSON-serialisable values")
    target = _model(model, "log_artifact_metadata")
    if getattr(target, "_slot", None) is None or artifact_version is not None:
        get_artifact_version(artifact_name, artifact_version, model=target)  # it must be linked there
    target.log_metadata({"artifacts": {artifact_name: dict(metadata)}})


__all__ = ["save_artifact", "load_artifact", "get_artifact_version", "link_artifact_to_model",
           "log_artifact_metadata"]
