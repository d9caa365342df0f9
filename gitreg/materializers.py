"""Materializers: turn Python objects into files and back, chosen by type.

Each materializer names a ``format`` recorded in the artifact link, so loading
picks the same one.  Formats that unpickle (``pickle``, ``sklearn``,
``pandas``) run code when loaded: :func:`load` refuses them unless the bytes
were verified against the hash recorded in the registry.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import MaterializerError


@dataclass(frozen=True)
class Materializer:
    format: str
    matches: Callable[[Any], bool]
    save: Callable[[Any, Path], None]
    load: Callable[[Path], Any]
    runs_code: bool = False      # loading may execute code (unpickling)
    model_kind: bool = False     # objects of this kind are trained models


def _module_of(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def _is_json_value(obj: Any) -> bool:
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return True
    if isinstance(obj, (list, tuple)):
        return all(_is_json_value(v) for v in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in obj.items())
    return False


def _save_bytes(obj: Any, path: Path) -> None:
    path.write_bytes(bytes(obj))


def _save_text(obj: Any, path: Path) -> None:
    path.write_text(obj, encoding="utf-8")


def _save_json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, sort_keys=True, indent=1, allow_nan=False), encoding="utf-8")


def _save_pickle(obj: Any, path: Path) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _load_pickle(path: Path) -> Any:
    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - only after hash verification, see load()


def _is_numpy(obj: Any) -> bool:
    return _module_of(obj) == "numpy" and type(obj).__name__ == "ndarray"


def _save_numpy(obj: Any, path: Path) -> None:
    import numpy as np

    with open(path, "wb") as fh:
        np.save(fh, obj, allow_pickle=False)


def _load_numpy(path: Path) -> Any:
    import numpy as np

    return np.load(path, allow_pickle=False)


def _is_pandas(obj: Any) -> bool:
    return _module_of(obj) == "pandas" and type(obj).__name__ in ("DataFrame", "Series")


def _is_sklearn(obj: Any) -> bool:
    if _module_of(obj) != "sklearn":
        return False
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(obj, BaseEstimator)


def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


MATERIALIZERS: tuple[Materializer, ...] = (
    Materializer("bytes", lambda o: isinstance(o, (bytes, bytearray)), _save_bytes, lambda p: p.read_bytes()),
    Materializer("text", lambda o: isinstance(o, str), _save_text, lambda p: p.read_text(encoding="utf-8")),
    Materializer("numpy", _is_numpy, _save_numpy, _load_numpy),
    Materializer("pandas", _is_pandas, _save_pickle, _load_pickle, runs_code=True),
    Materializer("sklearn", _is_sklearn, _save_pickle, _load_pickle, runs_code=True, model_kind=True),
    Materializer("torch", _is_torch_module, _save_pickle, _load_pickle, runs_code=True, model_kind=True),
    Materializer("json", _is_json_value, _save_json, lambda p: json.loads(p.read_text(encoding="utf-8"))),
    Materializer("pickle", lambda o: True, _save_pickle, _load_pickle, runs_code=True),
)
_BY_FORMAT = {m.format: m for m in MATERIALIZERS}
#: Formats whose loading can run code: every link in one of these carries ``executes_code: true``.
CODE_FORMATS = frozenset({"pickle", "cloudpickle", "joblib", "sklearn", "pandas", "torch"})


def executes_code(fmt: str) -> bool:
    """Whether loading an artifact of format ``fmt`` can run code (decided by gitreg, never by a manifest)."""
    return fmt in CODE_FORMATS
#: Formats of artifacts added as plain files or directories: loading returns a local path.
PATH_FORMATS = ("file", "directory")


def for_object(obj: Any) -> Materializer:
    for materializer in MATERIALIZERS:
        if materializer.matches(obj):
            return materializer
    raise MaterializerError(f"no materializer for {type(obj).__name__}")  # pragma: no cover


def by_format(fmt: str) -> Materializer:
    try:
        return _BY_FORMAT[fmt]
    except KeyError:
        raise MaterializerError(
            f"unknown artifact format {fmt!r}; known: {', '.join(sorted(_BY_FORMAT) + list(PATH_FORMATS))}"
        ) from None


def save(obj: Any, path: Path) -> Materializer:
    """Write ``obj`` to ``path`` with the materializer its type selects."""
    materializer = for_object(obj)
    try:
        materializer.save(obj, path)
    except (TypeError, ValueError, pickle.PicklingError, AttributeError) as exc:
        raise MaterializerError(
            f"cannot save {type(obj).__name__} as {materializer.format}: {exc}"
        ) from None
    return materializer


def load(fmt: str, path: Path, *, verified: bool) -> Any:
    """Read an object saved in ``fmt`` from ``path``.

    ``verified`` must say that the bytes at ``path`` matched the registry's hash;
    formats that run code on load are refused otherwise.
    """
    materializer = by_format(fmt)
    if materializer.runs_code and not verified:
        raise MaterializerError(
            f"refusing to unpickle {path}: its bytes were not verified against the registry's hash"
        )
    try:
        return materializer.load(path)
    except ImportError as exc:
        raise MaterializerError(f"loading a {fmt} artifact needs {exc.name}: pip install {exc.name}") from None
