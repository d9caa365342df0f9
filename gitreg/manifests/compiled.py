"""Compiled schema checks: plain predicates that prove a document valid without jsonschema's cost.

The ``schema-proof`` fast path (see :mod:`gitreg.fastpaths`): with its reference selected, jsonschema judges
every document (:func:`gitreg.manifests.schemas.schema_problems`)."""

from __future__ import annotations

import re
from typing import Any

# A document that passes the checks compiled below is valid by jsonschema too: they cover only the keywords
# the schemas use, each as strict as jsonschema or stricter (an integer must be an int, not 1.0; a date-time
# must be UTC with a real calendar date; unique items must be strings).  A document they do not prove valid
# goes to jsonschema, which finds and words its problems.  A schema with any other keyword is not compiled.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "default", "examples", "$comment"})
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "null": (type(None),),
    "object": (dict,), "array": (list,),
}
_UTC_DATE_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?Z")


def _is_utc_date_time(value: str) -> bool:
    import calendar

    m = _UTC_DATE_TIME.fullmatch(value)
    if m is None:
        return False
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if year < 1 or not 1 <= month <= 12:
        return False
    return 1 <= day <= calendar.monthrange(year, month)[1]


def _compile(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """A predicate proving an instance valid against ``schema``, or None if this schema is not compiled."""
    if not isinstance(schema, dict) or depth > 20:
        return None
    checks: list[Any] = []
    for key, arg in schema.items():
        if key == "$id" and depth > 0:
            return None  # a resource of its own: its "#/$defs/..." are not the root's
        if key in _ANNOTATIONS:
            continue
        if key == "$ref":
            target = _compile(_ref_target(arg, root), root, depth + 1)
            if target is None:
                return None
            checks.append(target)
        elif key == "type":
            names = [arg] if isinstance(arg, str) else arg
            if not isinstance(names, list) or not all(n in _JSON_TYPES for n in names):
                return None
            types = tuple(t for n in names for t in _JSON_TYPES[n])
            checks.append(lambda v, types=types: type(v) in types)
        elif key in ("const", "enum"):
            values = [arg] if key == "const" else arg
            if not isinstance(values, list) or not all(type(v) in (str, int, bool, type(None)) for v in values):
                return None
            allowed = frozenset((type(v), v) for v in values)
            checks.append(lambda v, allowed=allowed: type(v) in (str, int, bool, type(None))
                          and (type(v), v) in allowed)
        elif key == "pattern":
            pattern = re.compile(arg)
            checks.append(lambda v, p=pattern: type(v) is not str or p.search(v) is not None)
        elif key in ("minLength", "maxLength", "minimum", "maximum"):
            if type(arg) is not int:
                return None
            if key == "minLength":
                checks.append(lambda v, n=arg: type(v) is not str or len(v) >= n)
            elif key == "maxLength":
                checks.append(lambda v, n=arg: type(v) is not str or len(v) <= n)
            elif key == "minimum":
                checks.append(lambda v, n=arg: type(v) not in (int, float) or v >= n)
            else:
                checks.append(lambda v, n=arg: type(v) not in (int, float) or v <= n)
        elif key == "format":
            if arg != "date-time":
                return None
            checks.append(lambda v: type(v) is not str or _is_utc_date_time(v))
        elif key == "required":
            if not isinstance(arg, list):
                return None
            needed = tuple(arg)
            checks.append(lambda v, needed=needed: type(v) is not dict or all(k in v for k in needed))
        elif key == "properties" or (key == "additionalProperties" and "properties" not in schema):
            mapping = _compile_mapping(schema, root, depth)  # both keywords in one pass over the items
            if mapping is None:
                return None
            checks.append(mapping)
        elif key == "additionalProperties":
            continue  # compiled with the properties
        elif key == "items":
            item = _compile(arg, root, depth + 1)
            if item is None:
                return None
            checks.append(lambda v, item=item: type(v) is not list or all(item(x) for x in v))
        elif key == "propertyNames":
            names = _compile(arg, root, depth + 1)
            if names is None:
                return None
            checks.append(lambda v, names=names: type(v) is not dict or all(names(k) for k in v))
        elif key == "uniqueItems":
            if arg is not True:
                return None
            checks.append(lambda v: type(v) is not list or (all(type(x) is str for x in v) and len(set(v)) == len(v)))
        elif key in ("anyOf", "oneOf"):
            if not isinstance(arg, list) or not arg:
                return None
            branches = [_compile(branch, root, depth + 1) for branch in arg]
            if any(b is None for b in branches):
                return None
            if key == "oneOf" and not _exclusive_by_type(arg, root):
                return None  # two branches might both accept: "exactly one" is not proven by one accepting
            checks.append(_any_of(branches))
        else:
            return None  # a keyword not compiled here: jsonschema judges every document of this schema
    return _all_of(checks)


def _ref_target(ref: Any, root: dict[str, Any]) -> Any:
    """What a ``$ref`` to ``#/$defs/<name>`` points at, or None for any other reference."""
    if not isinstance(ref, str) or not ref.startswith("#/$defs/") or any(c in ref[8:] for c in "/~%"):
        return None
    defs = root.get("$defs")
    return defs.get(ref[8:]) if isinstance(defs, dict) else None


# jsonschema's types, grouped so that no value is of two groups: 1 and 1.0 are both integer and number;
# True is a boolean only (neither an integer nor a number).
_TYPE_GROUPS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean",
                "null": "null", "object": "object", "array": "array"}


def _type_groups(schema: Any, root: dict[str, Any], depth: int = 0) -> frozenset[str] | None:
    """The type groups every instance valid against ``schema`` falls in (from its ``type``, or the ``type`` of
    what its ``$ref`` points at), or None if the schema does not say."""
    if not isinstance(schema, dict) or depth > 20:
        return None
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        if isinstance(names, list) and names and all(n in _TYPE_GROUPS for n in names):
            return frozenset(_TYPE_GROUPS[n] for n in names)
        return None
    if "$ref" in schema:
        return _type_groups(_ref_target(schema["$ref"], root), root, depth + 1)
    return None


def _exclusive_by_type(branches: list[Any], root: dict[str, Any]) -> bool:
    """True when no value can be of the types of two of ``branches``: then at most one branch accepts any
    instance, by jsonschema as by the compiled checks, and one accepting proves ``oneOf``."""
    seen: set[str] = set()
    for branch in branches:
        groups = _type_groups(branch, root)
        if groups is None or groups & seen:
            return False
        seen |= groups
    return True


def _all_of(checks: list[Any]) -> Any:
    """One predicate true when all of ``checks`` are (nested pairs: no generator per value)."""
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    first, rest = checks[0], _all_of(checks[1:])
    return lambda v: first(v) and rest(v)


def _any_of(checks: list[Any]) -> Any:
    """One predicate true when any of ``checks`` is."""
    if len(checks) == 1:
        return checks[0]
    first, rest = checks[0], _any_of(checks[1:])
    return lambda v: first(v) or rest(v)


def _compile_mapping(schema: dict[str, Any], root: dict[str, Any], depth: int) -> Any:
    """``properties`` and ``additionalProperties`` (false, or a schema every other key's value must satisfy)
    as one predicate, or None if either is not compiled."""
    given = schema.get("properties", {})
    if not isinstance(given, dict):
        return None
    props = {name: _compile(sub, root, depth + 1) for name, sub in given.items()}
    if any(p is None for p in props.values()):
        return None
    extra = schema.get("additionalProperties", True)
    if isinstance(extra, dict):
        extra = _compile(extra, root, depth + 1)
        if extra is None:
            return None
    elif type(extra) is not bool:
        return None
    return _mapping_check(props, extra)


def _mapping_check(props: dict[str, Any], extra: Any) -> Any:
    """One pass over a mapping's items: each key in ``props`` satisfies its check; any other key's value
    satisfies ``extra`` (True: anything; False: no other key)."""
    def check(value: Any) -> bool:
        if type(value) is not dict:
            return True  # not a mapping: the type check says so
        for key, item in value.items():
            prop = props.get(key)
            if prop is None:
                if extra is True:
                    continue
                if extra is False or not extra(item):
                    return False
            elif not prop(item):
                return False
        return True

    return check
