"""The base registries, built once per session (one per kind of store) and copied for each case."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import STORES, Workspace, build_base, hermetic_env


@pytest.fixture(scope="session")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adversarial-bases")
    built: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in hermetic_env(root / "home").items():
            mp.setenv(key, value)
        for var in ("GITREG_REPO", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            mp.delenv(var, raising=False)
        here = os.getcwd()
        try:
            for kind, store in STORES.items():
                built[kind] = build_base(root / kind, store)
        finally:
            os.chdir(here)
    return built


@pytest.fixture
def workspace(bases: dict[str, Path], hermetic: Path) -> Callable[[str], Workspace]:
    """A fresh copy of the base with the given kind of store, on a new branch ``pr`` from main."""

    def make(kind: str = "shared") -> Workspace:
        root = hermetic.parent / f"case-{kind}"
        shutil.copytree(bases[kind], root, symlinks=True)
        ws = Workspace(root)
        ws.git("checkout", "-q", "-b", "pr", "main")
        return ws

    return make
