"""gitreg: a model registry whose database is a git repository.

    from gitreg import Model, ModelStages, log_model_metadata, Client

Names are imported lazily so that ``import gitreg`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__ as __version__

_EXPORTS = {
    "Client": ("gitreg.client", "Client"),
    "Model": ("gitreg.model", "Model"),
    "log_model_metadata": ("gitreg.pipelines.context", "log_model_metadata"),
    "ModelStages": ("gitreg.stages", "ModelStages"),
    "MetadataValue": ("gitreg.manifests", "MetadataValue"),
    "GitregError": ("gitreg.errors", "GitregError"),
    "pipeline": ("gitreg.pipelines.decorators", "pipeline"),
    "step": ("gitreg.pipelines.decorators", "step"),
    "get_step_context": ("gitreg.pipelines.context", "get_step_context"),
    "get_pipeline_context": ("gitreg.pipelines.context", "get_pipeline_context"),
    "ArtifactConfig": ("gitreg.pipelines.steps", "ArtifactConfig"),
    "ArtifactType": ("gitreg.pipelines.steps", "ArtifactType"),
    "save_artifact": ("gitreg.artifact_api", "save_artifact"),
    "load_artifact": ("gitreg.artifact_api", "load_artifact"),
    "get_artifact_version": ("gitreg.artifact_api", "get_artifact_version"),
    "link_artifact_to_model": ("gitreg.artifact_api", "link_artifact_to_model"),
    "log_artifact_metadata": ("gitreg.artifact_api", "log_artifact_metadata"),
}

__all__ = [  # the names of _EXPORTS, spelled out for type checkers (tests/test_types.py keeps them equal)
    "ArtifactConfig", "ArtifactType", "Client", "GitregError", "MetadataValue", "Model", "ModelStages",
    "get_artifact_version", "get_pipeline_context", "get_step_context", "link_artifact_to_model", "load_artifact",
    "log_artifact_metadata", "log_model_metadata", "pipeline", "save_artifact", "step",
]

if TYPE_CHECKING:  # pragma: no cover
    from .artifact_api import (
        get_artifact_version,
        link_artifact_to_model,
        load_artifact,
        log_artifact_metadata,
        save_artifact,
    )
    from .client import Client
    from .errors import GitregError
    from .manifests import MetadataValue
    from .model import Model
    from .pipelines.context import get_pipeline_context, get_step_context, log_model_metadata
    from .pipelines.decorators import pipeline, step
    from .pipelines.steps import ArtifactConfig, ArtifactType
    from .stages import ModelStages


def __dir__() -> list[str]:
    """The public API (lazily imported, so tab completion would not otherwise see it)."""
    return sorted(set(globals()) | set(_EXPORTS))


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'gitreg' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
