"""Metadata values: JSON checks, depth limits, merging."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidValueError
from .yaml_io import MAX_METADATA_DEPTH


@dataclass(frozen=True)
class MetadataValue:
    """One logged metadata value, read back as ``run_metadata["key"].value``."""

    key: str
    value: Any

    def __repr__(self) -> str:
        return f"MetadataValue({self.key!r}, {self.value!r})"


def _too_deep_message(where: str) -> str:
    where = where if len(where) <= 60 else where[:60] + "..."
    return (f"metadata {where!r}: nested more than {MAX_METADATA_DEPTH} levels deep (dicts and lists, the metadata"
            " itself included); flatten it, e.g. with dotted keys")


def check_json_value(value: Any, where: str, _depth: int = 1) -> Any:
    """Return a plain-JSON copy of ``value`` or raise InvalidValueError naming the key.

    Dicts and lists may nest at most MAX_METADATA_DEPTH levels, ``value`` itself
    being the first (this also stops a dict that contains itself).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValueError(f"metadata {where!r}: {value!r} is not JSON-serialisable (NaN/inf)")
        return float(value)
    if isinstance(value, (Mapping, list, tuple)) and _depth > MAX_METADATA_DEPTH:
        raise InvalidValueError(_too_deep_message(where))
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                raise InvalidValueError(f"metadata {where!r}: keys must be non-empty strings, got {k!r}")
            out[k] = check_json_value(v, f"{where}.{k}", _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [check_json_value(v, f"{where}[{i}]", _depth + 1) for i, v in enumerate(value)]
    # numpy scalars and similar expose .item()
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return check_json_value(item(), where, _depth)
        except (TypeError, ValueError):
            pass
    raise InvalidValueError(
        f"metadata {where!r}: value of type {type(value).__name__} is not JSON-serialisable;"
        " log numbers, strings, booleans, lists or dicts of them"
    )


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')  # an unclosed string runs to the end: linear time
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def check_json_text_depth(text: str, where: str, outer: int = 1) -> str:
    """Return ``text`` unless the JSON arrays and objects in it, inside ``outer`` enclosing levels, nest
    deeper than MAX_METADATA_DEPTH (InvalidValueError).

    For text about to be parsed as JSON: a deep enough text exhausts the parser's
    recursion, so it is measured first, without parsing (strings skipped).  Only a text
    that starts with ``[`` or ``{`` can nest; any other is left alone.
    """
    if text.lstrip()[:1] not in ("[", "{"):
        return text
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    if outer + deepest > MAX_METADATA_DEPTH:
        raise InvalidValueError(_too_deep_message(where))
    return text


def merge_metadata(base: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``new`` into ``base``: nested dicts merge key by key, others replace."""
    out = {k: v for k, v in base.items()}
    for key, value in new.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge_metadata(old, value)
        else:
            out[key] = value
    return out


def _copy_json(value: Any) -> Any:
    """A copy of a JSON value's dicts and lists (what a caller may change without touching the source)."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted_deep(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_deep(v) for v in value]
    return value
