"""Metadata filters: ``KEY:OP:VALUE`` as in ``--metadata accuracy:gt:0.9``."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

from .errors import InvalidValueError

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gte": operator.ge, "ge": operator.ge,
    "lt": operator.lt, "lte": operator.le, "le": operator.le,
    "contains": lambda a, b: b in a if isinstance(a, (str, list, dict)) else False,
}


def parse_value(text: str) -> Any:
    """A JSON value when the text is one (numbers, true, null, lists, ...), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_condition(text: str) -> tuple[str, str, Any]:
    key, sep, rest = text.partition(":")
    op, sep2, value = rest.partition(":")
    if not (sep and sep2 and key and op):
        raise InvalidValueError(f"metadata filter {text!r}: expected KEY:OP:VALUE, e.g. accuracy:gt:0.9")
    if op not in OPS:
        raise InvalidValueError(f"metadata filter {text!r}: unknown operator {op!r}; use one of {', '.join(OPS)}")
    return key, op, parse_value(value)


def lookup(metadata: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """Find ``key`` directly, or as a dotted path into nested groups."""
    if key in metadata:
        return True, metadata[key]
    node: Any = metadata
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def matches_metadata(metadata: Mapping[str, Any], key: str, op: str, value: Any) -> bool:
    found, actual = lookup(metadata, key)
    if not found:
        return False
    if op not in OPS:
        raise InvalidValueError(f"unknown metadata operator {op!r}; use one of {', '.join(OPS)}")
    try:
        return bool(OPS[op](actual, value))
    except TypeError:
        return False
