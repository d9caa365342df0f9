"""Materializers: turn Python objects into files and back, chosen by type.

Each materializer names a ``format`` recorded in the artifact link, so loading
picks the same one.  Safe formats come first: NumPy arrays without pickle,
pandas objects as Parquet (with pyarrow), scikit-learn estimators with skops.
A format that runs code when loaded (:data:`CODE_FORMATS`: pickle and kin) is
used only for an object no safe format can hold, and its links carry
``executes_code: true``.  Which formats run code is decided here, by format,
never by what a manifest says.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Union

from .errors import MaterializerError

#: Formats whose loading can run code: every link in one of these carries ``executes_code: true``.
CODE_FORMATS = frozenset({"pickle", "cloudpickle", "joblib", "sklearn", "pandas", "torch"})
#: Code formats that gitreg wrote before links carried the ``executes_code`` marker.
LEGACY_UNMARKED_FORMATS = frozenset({"pickle", "sklearn", "pandas", "torch"})
#: Formats of artifacts added as plain files or directories: loading returns a local path.
PATH_FORMATS = ("file", "directory")
#: The mark listings show next to a format that runs code when loaded.
CODE_MARK = "runs code on load"

Trusted = Iterable[Union[str, type]]


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


@dataclass(frozen=True)
class Materializer:
    format: str
    matches: Callable[[Any], bool]
    save: Callable[[Any, Path], None]
    load: Callable[[Path, tuple[str, ...]], Any]  # (path, types the caller trusts)
    model_kind: bool = False     # objects of this kind are trained models
    # writes the same bytes as ``save`` in order to a file object that cannot seek (hashed on the way)
    stream: Callable[[Any, BinaryIO], None] | None = None

    @property
    def runs_code(self) -> bool:
        """Loading may execute code (unpickling)."""
        return executes_code(self.format)


@dataclass(frozen=True)
class Saved:
    """What :func:`save` wrote: the format used, and whether the object is a trained model."""

    format: str
    model_kind: bool

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
        return pickle.load(fh)  # noqa: S301 - only verified bytes from the store, see load() and artifacts.load()


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
    except (TypeError, ValueError, AttributeError, NotImplementedError) as exc:  # UnsupportedTypeException is a TypeError
        raise NoSafeFormat(f"skops cannot hold it: {exc}") from None


def _load_skops(path: Path, trusted: tuple[str, ...]) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if t not in trusted]
    if refused:
        raise _UntrustedTypes(refused)
    return sio.load(path, trusted=[t for t in untrusted if t in trusted] or None)


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
    Materializer("skops", _is_sklearn, _save_skops, _load_skops, model_kind=True),
    Materializer("torch", _is_torch_module, _save_pickle, _load_pickle, model_kind=True),
    Materializer("json", _is_json_value, _save_json, lambda p, _t: json.loads(p.read_text(encoding="utf-8")),
                 stream=_stream_json),
    Materializer("pickle", lambda o: True, _save_pickle, _load_pickle),
    # Formats earlier gitreg versions wrote (pickles): loaded, never written any more.
    Materializer("pandas", _never, _save_pickle, _load_pickle),
    Materializer("sklearn", _never, _save_pickle, _load_pickle, model_kind=True),
)
_BY_FORMAT = {m.format: m for m in MATERIALIZERS}


def for_object(obj: Any) -> list[Materializer]:
    """The materializers that may hold ``obj``, best first (the last one is always pickle)."""
    return [m for m in MATERIALIZERS if m.matches(obj)]


def by_format(fmt: str) -> Materializer:
    try:
        return _BY_FORMAT[fmt]
    except KeyError:
        raise MaterializerError(
            f"unknown artifact format {fmt!r}; known: {', '.join(sorted(_BY_FORMAT) + list(PATH_FORMATS))}"
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
        except NoSafeFormat:
            continue
        except Exception as exc:  # noqa: BLE001 - any library's failure to serialise is the user's to see
            raise MaterializerError(
                f"cannot save {type(obj).__name__} as {materializer.format}: {_one_line(exc)}"
            ) from None
        return Saved(materializer.format, model_kind)
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
    except Exception as exc:  # noqa: BLE001 - any library's failure to serialise is the user's to see
        raise MaterializerError(f"cannot save {type(obj).__name__} as {materializer.format}: {_one_line(exc)}") from None
    return Saved(materializer.format, materializer.model_kind)


def trusted_names(trusted: Trusted | None) -> tuple[str, ...]:
    """Type names (``module.QualName``) from names or types."""
    names = []
    for item in trusted or ():
        names.append(item if isinstance(item, str) else f"{item.__module__}.{item.__qualname__}")
    return tuple(names)


def load(fmt: str, path: Path, *, verified: bool, trusted: Trusted | None = None, what: str = "") -> Any:
    """Read an object saved in ``fmt`` from ``path``.

    ``verified`` must say that the bytes at ``path`` matched the registry's hash
    (and came from the store); formats that run code on load are refused
    otherwise.  ``trusted`` names types a skops file may hold beyond those skops
    trusts itself: an explicit opt-in, for bytes from a source the caller trusts.
    ``what`` names the artifact in messages.
    """
    materializer = by_format(fmt)
    what = what or str(path)
    if materializer.runs_code and not verified:
        raise MaterializerError(
            f"refusing to unpickle {what}: its bytes were not verified against the registry's hash"
        )
    try:
        return materializer.load(path, trusted_names(trusted))
    except _UntrustedTypes as exc:
        raise MaterializerError(
            f"refusing to load {what}: it holds types skops does not trust: {', '.join(exc.types)}; loading"
            " them could run code or crash on use. Only if you trust whoever wrote these bytes, opt in with"
            f" get_artifact(...).load(trusted={exc.types!r})"
        ) from None
    except ImportError as exc:
        raise MaterializerError(
            f"loading {what} ({fmt}) needs the module {exc.name}: pip install {_extra_for(fmt, exc.name)}"
        ) from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - bytes that are not what the link says they are
        raise MaterializerError(
            f"cannot load {what}: its bytes are not a valid {fmt} artifact ({_one_line(exc)});"
            " the link's format does not match what was stored"
        ) from None


def _extra_for(fmt: str, module: str | None) -> str:
    extras = {"skops": "skops", "sklearn": "scikit-learn", "parquet": "pyarrow", "pandas": "pandas",
              "numpy": "numpy"}  # the packages themselves: `gitreg` on the package index is another project
    return extras.get(fmt, module or fmt)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}"
