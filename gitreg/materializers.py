"""Materializers: turn Python objects into files and back, chosen by type.

Each materializer names a ``format`` recorded in the artifact link, so loading
picks the same one.  Safe formats come first: NumPy arrays without pickle,
pandas objects as Parquet (with pyarrow), scikit-learn estimators with skops.
A format that runs code when loaded (:data:`CODE_FORMATS`: pickle and kin) is
used only for an object no safe format can hold, and its links carry
``executes_code: true``.  Which formats run code is decided here, by format,
never by what a manifest says.

skops loads only the types it trusts itself; a file that needs more (the
``Tree`` of a forest, a user's estimator class) names them.  :func:`save`
returns those names, the artifact link records them (``trusted_types``, shown
to the reviewer of a pull request), and a load trusts exactly the recorded
types of hash-verified bytes, plus what the caller opts into.  A name that can
reach code is never trusted, whatever a manifest or a caller says: see
:func:`refused_type`.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from .errors import MaterializerError

#: Formats whose loading can run code: every link in one of these carries ``executes_code: true``.
CODE_FORMATS = frozenset({"pickle", "cloudpickle", "joblib", "sklearn", "pandas", "torch"})
#: Code formats that gitreg wrote before links carried the ``executes_code`` marker.
LEGACY_UNMARKED_FORMATS = frozenset({"pickle", "sklearn", "pandas", "torch"})
#: Formats of artifacts added as plain files or directories: loading returns a local path.
PATH_FORMATS = ("file", "directory")
#: The mark listings show next to a format that runs code when loaded.
CODE_MARK = "runs code on load"

Trusted = Iterable[str | type]


def executes_code(fmt: str) -> bool:
    """Whether loading an artifact of format ``fmt`` can run code (decided by gitreg, never by a manifest)."""
    return fmt in CODE_FORMATS


class NoSafeFormat(Exception):
    """A safe format cannot hold this object (or its library is missing): try the next materializer."""


class _UntrustedTypes(Exception):
    """A skops file holds types neither skops nor the caller trusts."""

    def __init__(self, types: list[str]) -> None:
        super().__init__(", ".join(types))
        self.types = types


class _RefusedTypes(Exception):
    """A skops file needs types gitreg never trusts: (name, why) for each."""

    def __init__(self, refused: list[tuple[str, str]]) -> None:
        super().__init__(_said(refused))
        self.refused = refused


def _said(refused: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name} ({why})" for name, why in refused)


@dataclass(frozen=True)
class Materializer:
    format: str
    matches: Callable[[Any], bool]
    save: Callable[[Any, Path], None]
    load: Callable[[Path, tuple[str, ...]], Any]  # (path, types the caller trusts)
    model_kind: bool = False     # objects of this kind are trained models
    # writes the same bytes as ``save`` in order to a file object that cannot seek (hashed on the way)
    stream: Callable[[Any, BinaryIO], None] | None = None
    # the types a file ``save`` wrote needs trusted beyond the format's own (recorded in the link)
    needs: Callable[[Path], tuple[str, ...]] | None = None

    @property
    def runs_code(self) -> bool:
        """Loading may execute code (unpickling)."""
        return executes_code(self.format)


@dataclass(frozen=True)
class Saved:
    """What :func:`save` wrote: the format used, and whether the object is a trained model."""

    format: str
    model_kind: bool
    trusted_types: tuple[str, ...] = ()  # what a load must trust beyond the format's own types, sorted
    summary: dict[str, Any] | None = None  # what a person wants to see of the object (see :func:`describe`)

    @property
    def executes_code(self) -> bool:
        return executes_code(self.format)


def _module_of(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def _never(_: Any) -> bool:
    return False


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


def _stream_bytes(obj: Any, fh: BinaryIO) -> None:
    fh.write(obj)


def _save_text(obj: Any, path: Path) -> None:
    path.write_text(obj, encoding="utf-8")


def _stream_text(obj: Any, fh: BinaryIO) -> None:
    fh.write(obj.encode("utf-8"))


def _json_text(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=1, allow_nan=False)


def _save_json(obj: Any, path: Path) -> None:
    path.write_text(_json_text(obj), encoding="utf-8")


def _stream_json(obj: Any, fh: BinaryIO) -> None:
    fh.write(_json_text(obj).encode("utf-8"))


def _save_pickle(obj: Any, path: Path) -> None:
    import pickle

    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _load_pickle(path: Path, _trusted: tuple[str, ...]) -> Any:
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # only verified bytes from the store, see load() and artifacts.load()


# ------------------------------------------------------------------ NumPy


def _is_numpy(obj: Any) -> bool:
    # Object arrays need pickle: they fall through to the (marked) pickle materializer.
    return _module_of(obj) == "numpy" and type(obj).__name__ == "ndarray" and not obj.dtype.hasobject


def _save_numpy(obj: Any, path: Path) -> None:
    with open(path, "wb") as fh:
        _stream_numpy(obj, fh)


def _stream_numpy(obj: Any, fh: BinaryIO) -> None:
    import numpy as np

    if isinstance(fh, io.IOBase) or not obj.flags.c_contiguous:
        np.save(fh, obj, allow_pickle=False)  # a real file (numpy writes it in one call) or strided data
        return
    # What np.save writes, without its copies in 16 MiB pieces for a file object that is not a real file:
    # the header (version 1.0, or 2.0 when it does not fit), then the array's own memory as it lies.
    header = np.lib.format.header_data_from_array_1_0(obj)
    try:
        np.lib.format.write_array_header_1_0(fh, header)
    except ValueError:
        np.lib.format.write_array_header_2_0(fh, header)
    fh.write(obj.reshape(-1).view(np.uint8))


def _load_numpy(path: Path, _trusted: tuple[str, ...]) -> Any:
    import numpy as np

    return np.load(path, allow_pickle=False)


# ------------------------------------------------------------------ pandas as Parquet

_SERIES_COLUMN = "__gitreg_series__"
_SERIES_KEY = b"gitreg.series"


def _is_pandas(obj: Any) -> bool:
    return _module_of(obj) == "pandas" and type(obj).__name__ in ("DataFrame", "Series")


def _save_parquet(obj: Any, path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise NoSafeFormat("pyarrow is not installed (pip install pyarrow, or gitreg's [pandas] extra)") from None
    series = type(obj).__name__ == "Series"
    frame = obj.to_frame(name=_SERIES_COLUMN) if series else obj
    try:
        table = pa.Table.from_pandas(frame, preserve_index=True)
        if series:
            marker = json.dumps({"name": obj.name}).encode()
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), _SERIES_KEY: marker})
        pq.write_table(table, path)
    except (pa.ArrowException, TypeError, ValueError) as exc:  # mixed object columns, names JSON cannot hold
        raise NoSafeFormat(f"parquet cannot hold it: {exc}") from None
    if not _same_pandas(obj, _load_parquet(path, ())):
        raise NoSafeFormat("parquet does not give it back unchanged")


def _same_pandas(a: Any, b: Any) -> bool:
    from pandas.testing import assert_frame_equal, assert_series_equal

    check = assert_series_equal if type(a).__name__ == "Series" else assert_frame_equal
    try:
        check(a, b, check_exact=True, check_freq=False)
    except (AssertionError, TypeError, ValueError):
        return False
    return True


def _load_parquet(path: Path, _trusted: tuple[str, ...]) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    marker = (table.schema.metadata or {}).get(_SERIES_KEY)
    frame = table.to_pandas()
    if marker is None:
        return frame
    series = frame[_SERIES_COLUMN]
    series.name = json.loads(marker)["name"]
    return series


# ------------------------------------------------------------------ scikit-learn with skops


def _is_sklearn(obj: Any) -> bool:
    # Estimators of scikit-learn and user classes built on them (skops saves both).
    if not any(c.__module__.split(".")[0] == "sklearn" for c in type(obj).__mro__):
        return False
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(obj, BaseEstimator)


def _save_skops(obj: Any, path: Path) -> None:
    try:
        import skops.io as sio
    except ImportError:
        raise NoSafeFormat("skops is not installed (pip install skops, or gitreg's [sklearn] extra)") from None
    try:
        sio.dump(obj, path)
    except (TypeError, ValueError, AttributeError, NotImplementedError) as exc:  # skops' Unsupported...: a TypeError
        raise NoSafeFormat(f"skops cannot hold it: {exc}") from None


def _skops_needs(path: Path) -> tuple[str, ...]:
    """The types skops must be told to trust to load ``path``, sorted; refused (:class:`_RefusedTypes`) when
    any of them can reach code, by its name or by what the name stands for in this process."""
    import skops.io as sio

    needed = tuple(sorted(set(sio.get_untrusted_types(file=path))))
    refused = [(name, why) for name in needed for why in [refused_type(name) or _refused_target(name, False)] if why]
    if refused:
        raise _RefusedTypes(refused)
    return needed


def _load_skops(path: Path, trusted: tuple[str, ...]) -> Any:
    import skops.io as sio

    untrusted = sorted(set(sio.get_untrusted_types(file=path)))
    never = [(name, why) for name in untrusted for why in [refused_type(name)] if why]
    if never:
        raise _RefusedTypes(never)
    refused = [t for t in untrusted if t not in trusted]
    if refused:
        raise _UntrustedTypes(refused)
    # skops imports each module and takes the name from it: what it would get must not be code either
    never = [(name, why) for name in untrusted for why in [_refused_target(name, True)] if why]
    if never:
        raise _RefusedTypes(never)
    return sio.load(path, trusted=untrusted or None)


# ------------------------------------------------------------------ types gitreg never trusts
#
# The rule: a type (or function) a skops file names is trusted only if the name cannot reach code.  skops
# rebuilds an object by importing the module part of its name and taking the last part from it; a name is
# refused when
#   1. it is not a dotted Python name (identifiers joined by dots, at least a module and a name): nothing
#      importable, so nothing to review (``<lambda>``, ``<locals>``);
#   2. any part is a dunder name (``__import__``, ``__builtins__``, ``__globals__``, ``__code__``: the
#      interpreter's internals), except a leading ``__main__`` (a class of the script or notebook itself,
#      found there by rule 6 at load);
#   3. its top-level module (leading underscores ignored, so ``_pickle``, ``_io``, ``_posixsubprocess``)
#      is one whose purpose is to reach the operating system, files, the network, the interpreter or other
#      code (:data:`CODE_MODULES`), in the standard library or in a few common third-party packages;
#   4. it is in ``builtins`` and is not a plain data type (:data:`BUILTIN_DATA_TYPES`): ``eval``,
#      ``exec``, ``compile``, ``open``, ``getattr``, ``type``, ... are the interpreter's own tools;
#   5. it is a known loader or evaluator of code in an otherwise harmless library (:data:`CODE_NAMES`);
#   6. what the name stands for (the object skops would get) is itself defined under a name refused by
#      3-5 (a re-export such as ``somepackage.module.system`` of ``os.system``): checked where the object
#      can be found, at save and just before skops' own import at load.
# The list is a backstop, not a proof: every name a link records is also shown to the reviewer of a pull
# request (``trusted-types``), and any change to the names of a registered version is an error.

#: Top-level modules whose names are never trusted (rule 3).
CODE_MODULES = frozenset({
    # the operating system, processes, threads and signals
    "os", "posix", "nt", "subprocess", "posixsubprocess", "winapi", "pty", "tty", "termios", "fcntl", "resource",
    "signal", "msvcrt", "winreg", "multiprocessing", "concurrent", "threading", "thread", "asyncio", "sched",
    # files
    "io", "codecs", "pathlib", "shutil", "tempfile", "glob", "fileinput", "mmap", "zipfile", "tarfile", "gzip",
    "bz2", "lzma",
    # the network
    "socket", "ssl", "select", "selectors", "socketserver", "http", "urllib", "ftplib", "smtplib", "poplib",
    "imaplib", "telnetlib", "xmlrpc", "webbrowser",
    # the interpreter and code
    "sys", "importlib", "imp", "pkgutil", "zipimport", "runpy", "code", "codeop", "compileall", "py_compile",
    "types", "inspect", "gc", "ctypes", "cffi", "operator", "pdb", "bdb", "trace", "timeit", "doctest", "site",
    "sitebuiltins", "atexit", "pydoc", "platform", "sysconfig", "distutils", "setuptools", "pip", "ensurepip",
    "venv",
    "frozen_importlib", "frozen_importlib_external", "testcapi", "testinternalcapi", "xxsubinterpreters",
    "interpreters", "posixshmem",
    # serialisers whose loading runs code
    "pickle", "copyreg", "marshal", "shelve", "dill", "cloudpickle", "joblib",
    # third-party packages for processes, the network, remote files, interactive shells, this registry
    "sh", "plumbum", "pexpect", "psutil", "invoke", "fabric", "paramiko", "requests", "urllib3", "httpx",
    "aiohttp", "fsspec", "s3fs", "gcsfs", "adlfs", "boto3", "botocore", "docker", "IPython", "ipykernel",
    "gitreg",
})

#: The names in ``builtins`` that are trusted (rule 4): plain data types.
BUILTIN_DATA_TYPES = frozenset({
    "bool", "int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple", "dict", "set", "frozenset",
    "slice", "range", "NoneType",
})

#: Loaders and evaluators of code in libraries otherwise trusted (rule 5).
CODE_NAMES = frozenset({
    "numpy.load", "numpy.lib.npyio.load", "pandas.read_pickle", "pandas.io.pickle.read_pickle", "pandas.eval",
    "pandas.core.computation.eval.eval", "numexpr.evaluate", "torch.load", "yaml.load", "yaml.unsafe_load",
    "yaml.full_load",
})

#: A dotted Python name: what a link's ``trusted_types`` may hold (rule 1; the version schema says the same).
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def refused_type(name: str) -> str | None:
    """Why gitreg never trusts the type or function ``name`` (rules 1-5 above), or None if it may be trusted.

    Decided by the name alone: the same answer at save, at load and in ``gitreg check``, whatever is installed.
    """
    if not isinstance(name, str) or _DOTTED.fullmatch(name) is None:
        return "not a dotted Python name: nothing importable to trust"
    parts = name.split(".")
    if any(p.startswith("__") and p.endswith("__") for p in parts[1 if parts[0] == "__main__" else 0:]):
        return "a dunder name: the interpreter's internals"
    return _refused_name(parts)


def _refused_name(parts: list[str]) -> str | None:
    """Rules 3-5 for a name split at its dots."""
    if parts[0].lstrip("_") in CODE_MODULES:
        return f"in {parts[0]}, a module that reaches the operating system, files, the network or code"
    if parts[0] == "builtins" and (len(parts) != 2 or parts[1] not in BUILTIN_DATA_TYPES):
        return "a built-in function or class of the interpreter, not a plain data type"
    if ".".join(parts) in CODE_NAMES:
        return "loads or evaluates code"
    return None


def _refused_target(name: str, import_module: bool) -> str | None:
    """Rule 6: why what ``name`` stands for (``module.attribute``, as skops resolves it) is never trusted, or
    None (also when it cannot be found: skops then fails to load it on its own).  ``import_module``: import
    the module if it is not imported yet (at load, just before skops would import it itself)."""
    module_name, _, attr = name.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None and import_module and refused_type(name) is None:
        import importlib

        try:
            module = importlib.import_module(module_name)
        except Exception:  # not importable here: skops reports it when it tries
            return None
    target = getattr(module, attr, None) if module is not None else None
    if target is None:
        return None
    if isinstance(target, ModuleType):
        real = getattr(target, "__name__", None)
    else:
        owner, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
        real = f"{owner}.{qualname}" if isinstance(owner, str) and isinstance(qualname, str) else None
    if not isinstance(real, str) or real == name:
        return None
    why = _refused_name(real.split("."))
    return f"it is {real}: {why}" if why else None


def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


#: In order of preference: the first that matches and can hold the object is used.
MATERIALIZERS: tuple[Materializer, ...] = (
    Materializer("bytes", lambda o: isinstance(o, (bytes, bytearray)), _save_bytes, lambda p, _t: p.read_bytes(),
                 stream=_stream_bytes),
    Materializer("text", lambda o: isinstance(o, str), _save_text, lambda p, _t: p.read_text(encoding="utf-8"),
                 stream=_stream_text),
    Materializer("numpy", _is_numpy, _save_numpy, _load_numpy, stream=_stream_numpy),
    Materializer("parquet", _is_pandas, _save_parquet, _load_parquet),
    Materializer("skops", _is_sklearn, _save_skops, _load_skops, model_kind=True, needs=_skops_needs),
    Materializer("torch", _is_torch_module, _save_pickle, _load_pickle, model_kind=True),
    Materializer("json", _is_json_value, _save_json, lambda p, _t: json.loads(p.read_text(encoding="utf-8")),
                 stream=_stream_json),
    Materializer("pickle", lambda o: True, _save_pickle, _load_pickle),
    # Formats earlier gitreg versions wrote (pickles): loaded, never written any more.
    Materializer("pandas", _never, _save_pickle, _load_pickle),
    Materializer("sklearn", _never, _save_pickle, _load_pickle, model_kind=True),
)
_BY_FORMAT = {m.format: m for m in MATERIALIZERS}
_KNOWN_FORMATS = tuple(sorted([*_BY_FORMAT, *PATH_FORMATS]))


def for_object(obj: Any) -> list[Materializer]:
    """The materializers that may hold ``obj``, best first (the last one is always pickle)."""
    return [m for m in MATERIALIZERS if m.matches(obj)]


def by_format(fmt: str) -> Materializer:
    try:
        return _BY_FORMAT[fmt]
    except KeyError:
        raise MaterializerError(
            f"unknown artifact format {fmt!r}; known: {', '.join(known_formats())}"
        ) from None


def save(obj: Any, path: Path) -> Saved:
    """Write ``obj`` to ``path`` in the safest format that holds it.

    A format that runs code on load is used only when no safe one can hold the
    object (or the safe format's library is not installed).
    """
    candidates = for_object(obj)
    model_kind = candidates[0].model_kind
    for materializer in candidates:
        try:
            materializer.save(obj, path)
            needs = materializer.needs(path) if materializer.needs is not None else ()
        except NoSafeFormat:
            continue
        except _RefusedTypes as exc:  # never falls back to pickle: that would run the same code on load
            raise MaterializerError(
                f"cannot save {type(obj).__name__} in a safe format: loading it would need {materializer.format}"
                f" to trust {_said(exc.refused)}, which gitreg never trusts; replace that part of the object"
                " (e.g. a function given to FunctionTransformer) with one defined in a module of your own"
            ) from None
        except Exception as exc:  # any library's failure to serialise is the user's to see
            raise MaterializerError(
                f"cannot save {type(obj).__name__} as {materializer.format}: {_one_line(exc)}"
            ) from None
        return Saved(materializer.format, model_kind, needs, describe(obj))
    raise MaterializerError(f"no materializer for {type(obj).__name__}")  # pragma: no cover - pickle matches all


def streams(obj: Any) -> bool:
    """Whether ``obj``'s format is written in one pass to a file object (see :func:`save_stream`)."""
    return for_object(obj)[0].stream is not None


def save_stream(obj: Any, fh: BinaryIO) -> Saved:
    """Write ``obj`` to ``fh`` in its format, in order (for objects :func:`streams` says yes to):
    the same bytes :func:`save` would write to a file."""
    materializer = for_object(obj)[0]
    if materializer.stream is None:
        raise MaterializerError(f"{materializer.format} is not written in one pass; save it to a path")
    try:
        materializer.stream(obj, fh)
    except Exception as exc:  # any library's failure to serialise is the user's to see
        raise MaterializerError(f"cannot save {type(obj).__name__} as {materializer.format}:"
                                f" {_one_line(exc)}") from None
    return Saved(materializer.format, materializer.model_kind, summary=describe(obj))


SUMMARY_ITEMS = 50   # columns, parameters or dimensions a summary names, at most
SUMMARY_TEXT = 120   # characters of one value in a summary, at most


def _short_text(value: Any) -> Any:
    """A JSON scalar as it is; anything else as its (shortened) repr."""
    if value is None or isinstance(value, (bool, int)) or isinstance(value, float) and value == value \
            and value not in (float("inf"), float("-inf")):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= SUMMARY_TEXT else text[:SUMMARY_TEXT - 1] + "\u2026"


def _public_module(cls: type) -> str:
    """``sklearn.linear_model`` for a class defined in ``sklearn.linear_model._logistic``."""
    return ".".join(p for p in cls.__module__.split(".") if not p.startswith("_")) or cls.__module__


def _changed_params(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters whose values are not their constructor's defaults (as scikit-learn's repr shows them):
    what was chosen, in a few lines of the manifest."""
    import inspect

    try:
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    except (TypeError, ValueError):
        return params
    changed = {}
    for key, value in params.items():
        default = defaults.get(key, inspect.Parameter.empty)
        try:
            same = default is value or (type(default) is type(value) and bool(default == value))
        except Exception:  # an array's == is no bool: a value gitreg cannot compare was chosen
            same = False
        if not same:
            changed[key] = value
    return changed


def describe(obj: Any) -> dict[str, Any] | None:
    """What a person wants to see of ``obj`` without loading it, recorded with its artifact link at save time:
    rows, columns and their dtypes of a DataFrame; length, dtype and name of a Series; shape and dtype of an
    array; class and parameters of a scikit-learn estimator; the length of a sequence, mapping or text.

    JSON values only, bounded in size (:data:`SUMMARY_ITEMS` entries, :data:`SUMMARY_TEXT` characters a
    value); None for anything else. Describing never fails a save: an object that will not tell is not
    described.
    """
    try:
        return _describe(obj)
    except Exception:  # a library's oddity must not cost the user the artifact
        return None


def _describe(obj: Any) -> dict[str, Any] | None:
    module = _module_of(obj)
    kind = type(obj).__name__
    if module == "pandas" and kind == "DataFrame":
        dtypes = {str(c)[:SUMMARY_TEXT]: str(t) for c, t in list(obj.dtypes.items())[:SUMMARY_ITEMS]}
        return {"class": "pandas.DataFrame", "rows": int(obj.shape[0]), "columns": int(obj.shape[1]),
                "dtypes": dtypes}
    if module == "pandas" and kind == "Series":
        return {"class": "pandas.Series", "rows": int(obj.shape[0]), "dtype": str(obj.dtype),
                "name": _short_text(obj.name)}
    if module == "numpy" and kind == "ndarray":
        return {"class": "numpy.ndarray", "shape": [int(n) for n in obj.shape[:SUMMARY_ITEMS]],
                "dtype": str(obj.dtype)}
    if module == "sklearn" and hasattr(obj, "get_params"):
        params = _changed_params(type(obj), obj.get_params(deep=False))
        return {"class": f"{_public_module(type(obj))}.{type(obj).__qualname__}",
                "params": {str(k)[:SUMMARY_TEXT]: _short_text(v) for k, v in sorted(params.items())[:SUMMARY_ITEMS]}}
    if isinstance(obj, (str, bytes, list, tuple, dict)):
        return {"class": kind, "length": len(obj)}
    return None


def trusted_names(trusted: Trusted | None) -> tuple[str, ...]:
    """Type names (``module.QualName``) from names or types."""
    names = []
    for item in trusted or ():
        names.append(item if isinstance(item, str) else f"{item.__module__}.{item.__qualname__}")
    return tuple(names)


def load(fmt: str, path: Path, *, verified: bool, trusted: Trusted | None = None, what: str = "",
         recorded: Iterable[str] = ()) -> Any:
    """Read an object saved in ``fmt`` from ``path``.

    ``verified`` must say that the bytes at ``path`` matched the registry's hash
    (and came from the store); formats that run code on load are refused
    otherwise.  ``recorded``: the types the artifact's link records (its
    reviewed ``trusted_types``), trusted only for ``verified`` bytes.
    ``trusted`` names types a skops file may hold beyond those skops and the
    link trust: an explicit opt-in, for bytes from a source the caller trusts.
    A type :func:`refused_type` refuses is never trusted, whoever names it.
    ``what`` names the artifact in messages.
    """
    materializer = by_format(fmt)
    what = what or str(path)
    if materializer.runs_code and not verified:
        raise MaterializerError(
            f"refusing to unpickle {what}: its bytes were not verified against the registry's hash"
        )
    recorded = tuple(recorded)
    caller = trusted_names(trusted)
    for source, names in (("its link's trusted_types", recorded), ("trusted=", caller)):
        never = [(name, why) for name in names for why in [refused_type(name)] if why]
        if never:
            raise MaterializerError(
                f"refusing to load {what}: {source} names {_said(never)}; gitreg never trusts such types,"
                " whatever a manifest or a caller says"
            )
    try:
        return materializer.load(path, caller + (recorded if verified else ()))
    except _RefusedTypes as exc:
        raise MaterializerError(
            f"refusing to load {what}: it holds {_said(exc.refused)}; gitreg never trusts such types, whatever a"
            " manifest or a caller says"
        ) from None
    except _UntrustedTypes as exc:
        raise MaterializerError(
            f"refusing to load {what}: it holds types skops does not trust and its link does not record:"
            f" {', '.join(exc.types)}; loading them could run code or crash on use. Only if you trust whoever"
            f" wrote these bytes, opt in with get_artifact(...).load(trusted={exc.types!r})"
        ) from None
    except ImportError as exc:
        raise MaterializerError(
            f"loading {what} ({fmt}) needs the module {exc.name}: pip install {_extra_for(fmt, exc.name)}"
        ) from None
    except MemoryError:
        raise
    except Exception as exc:  # bytes that are not what the link says they are
        raise MaterializerError(
            f"cannot load {what}: its bytes are not a valid {fmt} artifact ({_one_line(exc)});"
            " the link's format does not match what was stored"
        ) from None


def known_formats() -> tuple[str, ...]:
    """Every format a link may name: the materializers' and the plain file and directory formats, sorted."""
    return _KNOWN_FORMATS


def _extra_for(fmt: str, module: str | None) -> str:
    extras = {"skops": "skops", "sklearn": "scikit-learn", "parquet": "pyarrow", "pandas": "pandas",
              "numpy": "numpy"}  # the packages themselves: `gitreg` on the package index is another project
    return extras.get(fmt, module or fmt)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}"
