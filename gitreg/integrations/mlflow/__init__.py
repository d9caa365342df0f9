"""MLflow's model registry over a gitreg registry: a registry-store plugin (``gitreg:///PATH``).

MLflow finds the store through the entry point group ``mlflow.model_registry_store`` (see pyproject.toml);
``import gitreg`` never imports this package, and this package imports MLflow only in
:mod:`gitreg.integrations.mlflow.store`.  The mapping of MLflow's names, tags and stages onto gitreg's is
in docs/how-to/mlflow.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .store import GitregRegistryStore

__all__ = ["GitregRegistryStore"]


def __getattr__(name: str) -> Any:
    if name == "GitregRegistryStore":
        from .store import GitregRegistryStore

        return GitregRegistryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
