"""MLflow's client and server over a gitreg registry in the tests.

MLflow finds the gitreg store through the entry points pyproject.toml declares.  An installed gitreg
(``pip install -e '.[test]'``) has them in its metadata; a checkout run from its folder (PYTHONPATH) may carry
older metadata, so the tests put a distribution made of exactly pyproject.toml's entry points on the path
(:func:`entry_point_path`), in this process and in the servers they start: what is tested is the declaration.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

GROUP = "mlflow.model_registry_store"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def declared_entry_points() -> dict[str, str]:
    """pyproject.toml's entry points in MLflow's registry-store group: name -> ``module:object``."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return dict(project["entry-points"][GROUP])


def entry_point_path(folder: Path) -> Path:
    """A folder holding a distribution whose only content is pyproject.toml's entry points for MLflow."""
    info = folder / "gitreg_registry_entry_points-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gitreg-registry-entry-points\nVersion: 0\n")
    lines = [f"[{GROUP}]", *(f"{name} = {target}" for name, target in declared_entry_points().items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return folder


def register_here(folder: Path) -> None:
    """Make this process's MLflow find the gitreg store through those entry points."""
    path = str(entry_point_path(folder))
    if path not in sys.path:
        sys.path.append(path)
    from mlflow.tracking._model_registry.utils import _get_store_registry

    _get_store_registry().register_entrypoints()


@pytest.fixture(scope="session")
def entry_points(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This process's MLflow finds the gitreg store (import this fixture into a test module to use it)."""
    folder = tmp_path_factory.mktemp("entry-points")
    register_here(folder)
    return folder
