"""Manifests: frozen dataclasses, JSON Schema validation, deterministic YAML.

Every manifest read from git or written to git passes :func:`validate` against
its schema in ``schemas/``.  YAML is dumped with a fixed key order and one
style per value so that diffs stay minimal.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from .errors import InvalidValueError, ManifestError
from .tagnames import tag_prefix_problem, validate_tag_prefix

FORMAT_VERSION = 1
SCHEMA_KINDS = ("registry", "model", "version")
ARTIFACT_TYPES = ("data", "model", "deployment", "service")
CARD_FIELDS = ("license", "description", "audience", "use_cases", "limitations", "trade_offs", "ethics")


def now() -> str:
    """UTC timestamp as stored in manifests (second precision, Z suffix)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_precise() -> str:
    """UTC timestamp with milliseconds, for run and step times (runs often start within a second)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- YAML

# Bounds on what a manifest may be, so that a hostile file committed to the
# registry (or proposed in a pull request) is refused in bounded time and
# memory instead of hanging every read and `gitreg check`.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # one manifest file
MAX_METADATA_DEPTH = 32  # dicts and lists nested in metadata (or a run parameter), the mapping itself included
MAX_NESTING = MAX_METADATA_DEPTH + 4  # a whole manifest: room for the metadata limit inside a manifest's own levels


def _yaml():
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = _dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper))
    return yaml, loader, dumper


@lru_cache(maxsize=None)
def _dumper(base: type) -> type:
    class Dumper(base):  # type: ignore[misc, valid-type]
        """Never writes anchors and aliases: a value that occurs twice is written twice (reads refuse them)."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return Dumper


_ANCHOR_TEXT = re.compile(r"(?:^|[^A-Za-z0-9])[&*]")
_ANCHOR_BYTES = re.compile(rb"(?:^|[^A-Za-z0-9])[&*]")


def _may_anchor(data: bytes | str) -> bool:
    """False when ``data`` surely holds no anchor or alias, so parsing can skip the event scan.

    An anchor (``&a``) or alias (``*a``) starts a node: it follows the start of the
    text, white space or a flow indicator, never a letter or digit (``R&D``, ``x*y``).
    """
    if isinstance(data, str):
        return ("&" in data or "*" in data) and _ANCHOR_TEXT.search(data) is not None
    return (b"&" in data or b"*" in data) and _ANCHOR_BYTES.search(data) is not None


def _first_anchor(yaml: Any, loader: type, data: bytes | str) -> Any:
    """The first event of ``data`` that defines an anchor or is an alias, or None (may raise YAMLError)."""
    events = loader(data)
    try:
        while events.check_event():
            event = events.get_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                return event
    finally:
        events.dispose()
    return None


_YAML_STR, _YAML_MAP, _YAML_SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


_YAML_INT, _YAML_FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_PLAIN_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")


def _load(yaml: Any, loader: type, data: bytes | str) -> tuple[Any, bool]:
    """``yaml.load(data, Loader=loader)`` for a document without anchors, and whether every list and mapping
    in it is at most MAX_NESTING deep.  Strings, plain decimal numbers, mappings with string keys and lists
    are built from the composed nodes directly; any other node (and anything nested deeper than a manifest
    may be) is built by the loader's own constructor."""
    reader = loader(data)
    try:
        node = reader.get_single_node()
        if node is None:
            return None, True
        handed: list[Any] = []
        return _construct(yaml, reader, node, 0, handed), not handed
    finally:
        reader.dispose()


def _construct(yaml: Any, reader: Any, node: Any, depth: int, handed: list[Any]) -> Any:
    kind = type(node)
    if kind is yaml.ScalarNode:
        tag, value = node.tag, node.value
        if tag == _YAML_STR:
            return value
        if tag == _YAML_INT and value.isascii() and value.isdigit() and (value[0] != "0" or value == "0"):
            return int(value)  # what the constructor makes of it too (a leading 0 means octal there)
        if tag == _YAML_FLOAT and _PLAIN_FLOAT.fullmatch(value):
            return float(value)
        return reader.construct_document(node)
    if depth < MAX_NESTING:  # a list or mapping at depth + 1
        if kind is yaml.MappingNode and node.tag == _YAML_MAP:
            out = {}
            for key, value in node.value:
                if type(key) is not yaml.ScalarNode or key.tag != _YAML_STR:  # merge keys (<<) and other keys
                    handed.append(node)
                    return reader.construct_document(node)
                out[key.value] = _construct(yaml, reader, value, depth + 1, handed)
            return out
        if kind is yaml.SequenceNode and node.tag == _YAML_SEQ:
            return [_construct(yaml, reader, item, depth + 1, handed) for item in node.value]
    handed.append(node)  # built by the loader, its depth is not known here
    return reader.construct_document(node)


def _too_deep(doc: Any, limit: int) -> str | None:
    """The field path of the first list or mapping nested more than ``limit`` deep in ``doc``, else None.

    Iterative, so that no depth of input can exhaust the stack.
    """
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(doc, 1, ())]
    while stack:
        value, depth, where = stack.pop()
        if depth > limit:
            return ".".join(map(str, where))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1, (*where, key)))
    return None


def parse_yaml(data: bytes | str, path: str) -> dict[str, Any]:
    """Parse one manifest, refusing what could not be read in bounded time and memory.

    Refused, with a ManifestError naming ``path``: more than MAX_MANIFEST_BYTES,
    YAML anchors and aliases (a few lines of nested aliases expand to billions of
    values), and lists or mappings nested more than MAX_NESTING deep.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(path, "", f"{len(data)} bytes, more than the {MAX_MANIFEST_BYTES // 2**20} MiB a"
                                      " manifest may have; keep large values in artifacts")
    yaml, loader, _ = _yaml()
    try:
        anchored = _first_anchor(yaml, loader, data) if _may_anchor(data) else None
        if anchored is None:
            doc, shallow = _load(yaml, loader, data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(path, "", f"not valid YAML{where}: {problem}") from None
    except RecursionError:  # the pure-Python parser, without libyaml's own nesting limit
        raise ManifestError(path, "", f"nested more than {MAX_NESTING} levels deep") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ManifestError(path, "", f"not a valid value: {exc}") from None
    if anchored is not None:
        line = anchored.start_mark.line + 1
        raise ManifestError(path, "", f"YAML anchors and aliases (&name, *name; line {line}) are not allowed in"
                                      " a manifest; write each value out in full")
    if not isinstance(doc, dict):
        raise ManifestError(path, "", "must be a YAML mapping")
    deep = None if shallow else _too_deep(doc, MAX_NESTING)
    if deep is not None:
        at = deep if len(deep) <= 60 else deep[:60] + "..."
        raise ManifestError(path, "", f"lists and mappings nested more than {MAX_NESTING} levels deep (at {at})")
    return doc


def dump_yaml(doc: Mapping[str, Any] | list[Any]) -> bytes:
    yaml, _, dumper = _yaml()
    text = yaml.dump(
        doc, Dumper=dumper, sort_keys=False, default_flow_style=False,
        allow_unicode=True, width=1000, indent=2,
    )
    return text.encode("utf-8")


# ---------------------------------------------------------------- schemas

def schema_dir() -> Path:
    here = Path(__file__).resolve().parent
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


# ---------------------------------------------------------------- metadata

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


# ---------------------------------------------------------------- dataclasses

@dataclass(frozen=True)
class RegistryConfig:
    store: str
    tag_prefix: str = "models"
    options: Mapping[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION
    remote: str | None = None  # git remote that writes push to (e.g. "origin")
    registration_tags: bool = True  # False: only stage changes are tagged (lighter remotes at scale)

    def __post_init__(self) -> None:
        validate_tag_prefix(self.tag_prefix)  # else every tag, so every write, would fail

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "RegistryConfig":
        return cls(store=doc["store"], tag_prefix=doc["tag_prefix"],
                   options=MappingProxyType(dict(doc.get("options") or {})), format=doc["format"],
                   remote=doc.get("remote"), registration_tags=doc.get("registration_tags", True))

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "store": self.store, "tag_prefix": self.tag_prefix}
        if self.remote:
            doc["remote"] = self.remote
        if not self.registration_tags:
            doc["registration_tags"] = False
        if self.options:
            doc["options"] = _sorted_deep(dict(self.options))
        return doc


@dataclass(frozen=True)
class Counters:
    versions: int = 0
    staging: int = 0
    production: int = 0
    archived: int = 0
    none: int = 0

    def stage_count(self, stage: str) -> int:
        return int(getattr(self, stage))

    def to_dict(self) -> dict[str, int]:
        doc = {"versions": self.versions, "staging": self.staging,
               "production": self.production, "archived": self.archived}
        if self.none:
            doc["none"] = self.none
        return doc


@dataclass(frozen=True)
class ModelManifest:
    name: str
    created: str
    license: str | None = None
    description: str | None = None
    audience: str | None = None
    use_cases: str | None = None
    limitations: str | None = None
    trade_offs: str | None = None
    ethics: str | None = None
    tags: tuple[str, ...] = ()
    counters: Counters = field(default_factory=Counters)
    format: int = FORMAT_VERSION

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "ModelManifest":
        return cls(
            name=doc["name"], created=doc["created"],
            **{k: doc.get(k) for k in CARD_FIELDS},
            tags=tuple(doc.get("tags") or ()),
            counters=Counters(**doc["counters"]), format=doc["format"],
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "name": self.name}
        for key in CARD_FIELDS:
            value = getattr(self, key)
            if value is not None:
                doc[key] = value
        doc["tags"] = list(self.tags)
        doc["created"] = self.created
        doc["counters"] = self.counters.to_dict()
        return doc

    def card(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in CARD_FIELDS} | {"tags": list(self.tags)}


@dataclass(frozen=True)
class ArtifactLink:
    name: str
    version: int
    type: str
    uri: str
    sha256: str
    size: int
    format: str
    kind: str = "file"
    external: bool = False
    run: str | None = None
    step: str | None = None
    created: str | None = None
    executes_code: bool = False  # the format runs code when loaded (pickle and kin)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "ArtifactLink":
        return cls(name=doc["name"], version=doc["version"], type=doc["type"], uri=doc["uri"],
                   sha256=doc["sha256"], size=doc["size"], format=doc["format"], kind=doc["kind"],
                   external=doc["external"], run=doc.get("run"), step=doc.get("step"),
                   created=doc.get("created"), executes_code=bool(doc.get("executes_code", False)))

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for key in _LINK_KEYS:
            value = getattr(self, key)
            if key == "executes_code":
                if value:
                    doc[key] = True
            elif value is not None or key not in ("run", "step", "created"):
                doc[key] = value
        return doc


_LINK_KEYS = ("name", "version", "type", "uri", "sha256", "size", "format", "kind", "external",
              "executes_code", "run", "step", "created")


@dataclass(frozen=True)
class VersionManifest:
    model: str
    number: int
    name: str
    created: str
    stage: str = "none"
    description: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    artifacts: tuple[ArtifactLink, ...] = ()
    runs: tuple[str, ...] = ()
    format: int = FORMAT_VERSION
    created_by_run: str | None = None  # the pipeline run that registered this version, if one did
    run_status: str | None = None      # that run's status: running, completed or failed

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "VersionManifest":
        return cls(
            model=doc["model"], number=doc["number"], name=doc["name"], created=doc["created"],
            stage=doc["stage"], description=doc.get("description"),
            tags=tuple(doc.get("tags") or ()),
            metadata=MappingProxyType(_copy_json(doc.get("metadata") or {})),  # never shares the documents' dicts
            artifacts=tuple(ArtifactLink.from_dict(a) for a in doc.get("artifacts") or ()),
            runs=tuple(doc.get("runs") or ()), format=doc["format"],
            created_by_run=(doc.get("created_by_run") or {}).get("id"),
            run_status=(doc.get("created_by_run") or {}).get("status"),
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "model": self.model, "number": self.number,
                               "name": self.name, "stage": self.stage}
        if self.description is not None:
            doc["description"] = self.description
        doc["tags"] = list(self.tags)
        doc["created"] = self.created
        doc["metadata"] = _sorted_deep(dict(self.metadata))
        doc["artifacts"] = [a.to_dict() for a in self.artifacts]
        doc["runs"] = list(self.runs)
        if self.created_by_run is not None:
            doc["created_by_run"] = {"id": self.created_by_run, "status": self.run_status}
        return doc

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        return {k: MetadataValue(k, v) for k, v in self.metadata.items()}

    def links(self, name: str | None = None, type: str | None = None) -> Iterator[ArtifactLink]:
        for link in self.artifacts:
            if (name is None or link.name == name) and (type is None or link.type == type):
                yield link

    def with_(self, **changes: Any) -> "VersionManifest":
        return replace(self, **changes)

    def _repr_html_(self) -> str:
        from .site.render import version_html

        return version_html(self)


class VersionList(list):  # type: ignore[type-arg]
    """A list of versions that displays as one table in Jupyter."""

    def _repr_html_(self) -> str:
        from .site.render import versions_html

        return versions_html(self)


# ---------------------------------------------------------------- load / dump

def load_registry(data: bytes, path: str) -> RegistryConfig:
    doc = parse_yaml(data, path)
    validate("registry", doc, path)
    return RegistryConfig.from_dict(doc)


def load_model_doc(data: bytes, path: str) -> dict[str, Any]:
    doc = parse_yaml(data, path)
    validate("model", doc, path)
    return doc


def load_version_doc(data: bytes, path: str) -> dict[str, Any]:
    doc = parse_yaml(data, path)
    validate("version", doc, path)
    return doc


def dump(kind: str, manifest: RegistryConfig | ModelManifest | VersionManifest, path: str) -> bytes:
    """Validate and serialise a manifest; refuse to write anything invalid."""
    doc = manifest.to_dict()
    validate(kind, json.loads(json.dumps(doc)), path)
    data = dump_yaml(doc)
    return within_limit(data, path)


def within_limit(data: bytes, path: str) -> bytes:
    """``data`` if a manifest of that size can be read back; reads refuse larger ones."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidValueError(f"{path} would be {len(data)} bytes, more than the {MAX_MANIFEST_BYTES // 2**20} MiB"
                                " a manifest may have; keep large values in artifacts")
    return data
