"""The manifests' JSON Schemas: loading, jsonschema validation, and the compiled proof taken first."""

from __future__ import annotations

import json
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

from ..errors import ManifestError
from ..fastpaths import fast
from ..tagnames import tag_prefix_problem
from .compiled import _compile
from .yaml_io import _yaml


def schema_dir() -> Path:
    here = Path(__file__).resolve().parent.parent  # the gitreg package
    shipped = here / "schemas"  # inside an installed wheel
    return shipped if shipped.is_dir() else here.parent / "schemas"


@cache
def load_schema(kind: str) -> dict[str, Any]:
    path = schema_dir() / f"{kind}.schema.json"
    with open(path, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
        return schema


#: Problems listed per manifest: a file with more says so in one more line (fix these first, then check again).
MAX_SCHEMA_PROBLEMS = 100
_MAX_MESSAGE = 300  # characters of one problem (jsonschema's messages quote the value, however large)


@cache
def _validator(kind: str) -> Any:
    """jsonschema's validator of the ``kind`` schema, in linear time: ``uniqueItems`` compares items by a hash
    of their JSON value (jsonschema's own compares every pair when the items do not sort), and ``items``,
    ``properties`` and ``additionalProperties`` leave out the values the compiled checks prove valid."""
    import jsonschema

    schema = load_schema(kind)
    cls = jsonschema.validators.validator_for(schema)
    cls = jsonschema.validators.extend(cls, _linear_keywords(schema, cls.VALIDATORS))
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@cache
def _reference_validator(kind: str) -> Any:
    """The reference of the ``schema-proof`` fast path: jsonschema's validator of the ``kind`` schema as it is, but
    for ``uniqueItems`` in linear time (a bound on hostile documents, kept both ways: jsonschema's own compares
    every pair of items that do not sort)."""
    import jsonschema

    schema = load_schema(kind)
    cls = jsonschema.validators.validator_for(schema)
    linear = _linear_keywords(schema, cls.VALIDATORS)
    cls = jsonschema.validators.extend(cls, {"uniqueItems": linear["uniqueItems"]})
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _linear_keywords(root: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    proofs: dict[int, tuple[Any, Any]] = {}

    def proof(sub: Any) -> Any:
        """The compiled proof of validity against the subschema ``sub``, or None."""
        known = proofs.get(id(sub))
        if known is None or known[0] is not sub:
            if len(proofs) > 1024:
                proofs.clear()
            known = proofs[id(sub)] = (sub, _compile(sub, root, 1) if isinstance(sub, dict) else None)
        return known[1]

    def items(validator: Any, items: Any, instance: Any, schema: dict[str, Any]) -> Any:
        prove = proof(items)
        if prove is None or "prefixItems" in schema or not validator.is_type(instance, "array"):
            yield from original["items"](validator, items, instance, schema)
            return
        for index, item in enumerate(instance):
            if not prove(item):
                yield from validator.descend(item, items, path=index)

    def properties(validator: Any, props: Any, instance: Any, schema: dict[str, Any]) -> Any:
        if not validator.is_type(instance, "object"):
            return
        for name, sub in props.items():
            if name in instance:
                prove = proof(sub)
                if prove is None or not prove(instance[name]):
                    yield from validator.descend(instance[name], sub, path=name, schema_path=name)

    def additional_properties(validator: Any, extra: Any, instance: Any, schema: dict[str, Any]) -> Any:
        prove = proof(extra)
        if prove is None or "patternProperties" in schema or not validator.is_type(instance, "object"):
            yield from original["additionalProperties"](validator, extra, instance, schema)
            return
        known = schema.get("properties", {})
        for key, value in instance.items():
            if key not in known and not prove(value):
                yield from validator.descend(value, extra, path=key)

    def unique_items(validator: Any, unique: Any, instance: Any, schema: dict[str, Any]) -> Any:
        from jsonschema.exceptions import ValidationError

        if not unique or not validator.is_type(instance, "array"):
            return
        seen: set[Any] = set()
        for item in instance:
            key = _json_key(item)
            if key in seen:
                yield ValidationError(f"{instance!r} has non-unique elements")
                return
            seen.add(key)

    return {"items": items, "properties": properties, "additionalProperties": additional_properties,
            "uniqueItems": unique_items}


def _json_key(value: Any) -> Any:
    """A hashable key equal for two values exactly when JSON Schema calls them equal (1 and 1.0 are; True and
    1 are not; mappings whatever their order)."""
    kind = type(value)
    if kind is bool:
        return ("bool", value)
    if kind is int or kind is float:
        return ("number", value)
    if kind is str:
        return ("string", value)
    if value is None:
        return ("null",)
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_json_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, _json_key(item)) for key, item in value.items()))
    return ("other", id(value))  # no JSON value: equal to itself only


def prepare() -> None:
    """Import and build what reading manifests needs (YAML, the schemas' compiled checks), so that it
    can be done while something else waits (a clone), not on the first read."""
    _yaml()
    for kind in ("registry", "model", "version"):
        if not fast("schema-proof"):
            _reference_validator(kind)
        elif _proven_valid(kind) is None:
            _validator(kind)


def _field_of(error: Any) -> str:
    parts = [str(p) for p in error.absolute_path]
    return _shortened(".".join(parts))


def _message_of(kind: str, error: Any) -> str:
    if kind == "registry" and list(error.absolute_path) == ["tag_prefix"] \
            and error.validator in ("pattern", "maxLength"):
        problem = tag_prefix_problem(error.instance)  # the schema's pattern, said in words
        if problem is not None:
            return f"{error.instance!r} {problem}: git could not create any tag with that prefix"
    message: str = error.message
    return message


@cache
def _proven_valid(kind: str) -> Any:
    """The compiled proof of validity for the ``kind`` schema, or None (then jsonschema judges every document)."""
    schema = load_schema(kind)
    return _compile(schema, schema)


def schema_problems(kind: str, doc: Any) -> list[tuple[str, str]]:
    """All (field, problem) pairs of ``doc`` against the ``kind`` schema."""
    if fast("schema-proof"):
        proven = _proven_valid(kind)
        if proven is not None and proven(doc):
            return []  # the common case, without jsonschema's cost; anything else is judged (and worded) by jsonschema
        validator = _validator(kind)
    else:
        validator = _reference_validator(kind)
    found = list(islice(validator.iter_errors(doc), MAX_SCHEMA_PROBLEMS + 1))
    errors = sorted(found[:MAX_SCHEMA_PROBLEMS], key=lambda e: list(map(str, e.absolute_path)))
    problems = [(_field_of(e), _shortened(_message_of(kind, e))) for e in errors]
    if len(found) > MAX_SCHEMA_PROBLEMS:
        problems.append(("", f"more problems than the {MAX_SCHEMA_PROBLEMS} listed; fix these, then check again"))
    return problems


def _shortened(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "..."


def validate(kind: str, doc: Any, path: str) -> None:
    problems = schema_problems(kind, doc)
    if problems:
        field_name, problem = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ManifestError(path, field_name, problem + more)
