"""Metadata values as people read them: nested keys flattened with dots, numbers told apart, one line of text."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and not math.isfinite(value))


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def value_text(value: Any) -> str:
    """A metadata value as one line of text (strings as they are, the rest as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return canonical(value)


def delta_text(delta: float | int | None) -> str:
    if delta is None:
        return ""
    return f"{delta:+.6g}" if isinstance(delta, float) else f"{delta:+d}"


def flatten(metadata: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened to dotted keys; lists and scalars are leaves. Keys come out sorted."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(prefix, metadata)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, Mapping) and (value or not where):
            for key, child in value.items():
                stack.append((f"{where}.{key}" if where else str(key), child))
        else:
            out[where] = value
    return dict(sorted(out.items()))
