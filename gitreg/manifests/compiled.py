"""Compiled schema checks: plain predicates that prove a document valid without jsonschema's cost."""

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
        if key in _ANNOTATIONS:
            continue
        if key == "$ref":
            if not isinstance(arg, str) or not arg.startswith("#/$defs/") or "/" in arg[8:]:
                return None
            target = _compile((root.get("$defs") or {}).get(arg[8:]), root, depth + 1)
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
            checks.append(lambda v, allowed=allowed: type(v) in (str, int, bool, type(None)) and (type(v), v) in allowed)
        elif key == "pattern":
            pattern = re.compile(arg)
            checks.append(lambda v, p=pattern: type(v) is not str or p.search(v) is not None)
        elif key in ("minLength", "maxLength", "minimum"):
            if type(arg) is not int:
                return None
            if key == "minLength":
                checks.append(lambda v, n=arg: type(v) is not str or len(v) >= n)
            elif key == "maxLength":
                checks.append(lambda v, n=arg: type(v) is not str or len(v) <= n)
            else:
                checks.append(lambda v, n=arg: type(v) not in (int, float) or v >= n)
        elif key == "format":
            if arg != "date-time":
                return None
            checks.append(lambda v: type(v) is not str or _is_utc_date_time(v))
        elif key == "required":
            if not isinstance(arg, list):
                return None
            needed = tuple(arg)
            checks.append(lambda v, needed=needed: type(v) is not dict or all(k in v for k in needed))
        elif key == "properties" and schema.get("type") == "object":
            props = {name: _compile(sub, root, depth + 1) for name, sub in arg.items()}
            if any(p is None for p in props.values()):
                return None
            checks.append(_object_check(props, schema.get("additionalProperties", True) is False))
        elif key == "properties":
            if not isinstance(arg, dict):
                return None
            props = {name: _compile(sub, root, depth + 1) for name, sub in arg.items()}
            if any(p is None for p in props.values()):
                return None
            checks.append(lambda v, props=props: type(v) is not dict or all(
                props[k](x) for k, x in v.items() if k in props))
        elif key == "additionalProperties":
            if arg is not False:
                return None
            if schema.get("type") == "object" and isinstance(schema.get("properties"), dict):
                continue  # checked with the properties
            known = frozenset(schema.get("properties") or ())
            checks.append(lambda v, known=known: type(v) is not dict or all(k in known for k in v))
        elif key == "items":
            item = _compile(arg, root, depth + 1)
            if item is None:
                return None
            checks.append(lambda v, item=item: type(v) is not list or all(item(x) for x in v))
        elif key == "uniqueItems":
            if arg is not True:
                return None
            checks.append(lambda v: type(v) is not list or (all(type(x) is str for x in v) and len(set(v)) == len(v)))
        else:
            return None  # a keyword not compiled here: jsonschema judges every document of this schema
    return _all_of(checks)


def _all_of(checks: list[Any]) -> Any:
    """One predicate true when all of ``checks`` are (nested pairs: no generator per value)."""
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    first, rest = checks[0], _all_of(checks[1:])
    return lambda v: first(v) and rest(v)


def _object_check(props: dict[str, Any], closed: bool) -> Any:
    """``properties`` (and ``additionalProperties: false`` if ``closed``) in one pass over a mapping's items."""
    def check(value: Any) -> bool:
        if type(value) is not dict:
            return True  # not a mapping: the type check says so
        for key, item in value.items():
            prop = props.get(key) if type(key) is str else None
            if prop is None:
                if closed:
                    return False
            elif not prop(item):
                return False
        return True

    return check
