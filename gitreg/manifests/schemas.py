"""The manifests' JSON Schemas: loading, jsonschema validation, and the compiled proof taken first."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ManifestError
from ..tagnames import tag_prefix_problem
from .compiled import _compile
from .yaml_io import _yaml


def schema_dir() -> Path:
    here = Path(__file__).resolve().parent.parent  # the gitreg package
    shipped = here / "schemas"  # inside an installed wheel
    return shipped if shipped.is_dir() else here.parent / "schemas"


@lru_cache(maxsize=None)
def load_schema(kind: str) -> dict[str, Any]:
    path = schema_dir() / f"{kind}.schema.json"
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=None)
def _validator(kind: str):
    import jsonschema

    schema = load_schema(kind)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def prepare() -> None:
    """Import and build what reading manifests needs (YAML, the schemas' compiled checks), so that it
    can be done while something else waits (a clone), not on the first read."""
    _yaml()
    for kind in ("registry", "model", "version"):
        if _proven_valid(kind) is None:
            _validator(kind)


def _field_of(error: Any) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts)


def _message_of(kind: str, error: Any) -> str:
    if kind == "registry" and list(error.absolute_path) == ["tag_prefix"] and error.validator in ("pattern", "maxLength"):
        problem = tag_prefix_problem(error.instance)  # the schema's pattern, said in words
        if problem is not None:
            return f"{error.instance!r} {problem}: git could not create any tag with that prefix"
    return error.message


@lru_cache(maxsize=None)
def _proven_valid(kind: str) -> Any:
    """The compiled proof of validity for the ``kind`` schema, or None (then jsonschema judges every document)."""
    schema = load_schema(kind)
    return _compile(schema, schema)


def schema_problems(kind: str, doc: Any) -> list[tuple[str, str]]:
    """All (field, problem) pairs of ``doc`` against the ``kind`` schema."""
    proven = _proven_valid(kind)
    if proven is not None and proven(doc):
        return []  # the common case, without jsonschema's cost; anything else is judged (and worded) by jsonschema
    errors = sorted(_validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [(_field_of(e), _message_of(kind, e)) for e in errors]


def validate(kind: str, doc: Any, path: str) -> None:
    problems = schema_problems(kind, doc)
    if problems:
        field_name, problem = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ManifestError(path, field_name, problem + more)
