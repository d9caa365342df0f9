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
    fast = _fast_yaml(data)
    if fast is not None:
        return fast
    yaml, loader, _ = _yaml()
    try:
        anchored = _first_anchor(yaml, loader, data) if _may_anchor(data) else None
        if anchored is None:
            doc = yaml.load(data, Loader=loader)
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
    deep = _too_deep(doc, MAX_NESTING)
    if deep is not None:
        at = deep if len(deep) <= 60 else deep[:60] + "..."
        raise ManifestError(path, "", f"lists and mappings nested more than {MAX_NESTING} levels deep (at {at})")
    return doc


def dump_yaml(doc: Mapping[str, Any]) -> bytes:
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


def _field_of(error: Any) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts)


def _message_of(kind: str, error: Any) -> str:
    if kind == "registry" and list(error.absolute_path) == ["tag_prefix"] and error.validator in ("pattern", "maxLength"):
        problem = tag_prefix_problem(error.instance)  # the schema's pattern, said in words
        if problem is not None:
            return f"{error.instance!r} {problem}: git could not create any tag with that prefix"
    return error.message


def schema_problems(kind: str, doc: Any) -> list[tuple[str, str]]:
    """All (field, problem) pairs of ``doc`` against the ``kind`` schema."""
    fast = _fast_validator(kind)
    if fast is not None and fast(doc):
        return []
    errors = sorted(_validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [(_field_of(e), _message_of(kind, e)) for e in errors]


def validate(kind: str, doc: Any, path: str) -> None:
    problems = schema_problems(kind, doc)
    if problems:
        field_name, problem = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ManifestError(path, field_name, problem + more)


# ---------------------------------------------------------------- fast paths
#
# Reading 200,000 manifests through PyYAML and jsonschema costs about 330 us each. Two
# fast paths give the same answers for less:
#
# - :func:`_fast_yaml` reads the YAML that :func:`dump_yaml` writes (block mappings and
#   sequences, one scalar per line, plain and simply quoted scalars); on anything else
#   (flow collections, multi-line scalars, escapes, comments, tags, anchors, blank lines,
#   tabs, unusual characters, ...) it gives up and PyYAML reads the text.  Plain scalars
#   are resolved with PyYAML's own resolver table; only str, null, bool and simple
#   decimal int and float values are constructed here, the rest is left to PyYAML.
# - :func:`_fast_validator` compiles a schema into one function per (sub)schema that
#   answers exactly what jsonschema's ``is_valid`` answers, for the keywords our
#   schemas use (a schema with any other keyword is not compiled).  Only when it says
#   "invalid" does jsonschema run, for its messages.

_GIVE_UP = object()  # the fast reader's answer for "not mine: let PyYAML read it"
_OUTSIDE_FAST = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_FAST_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,30})")
_FAST_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,30})\.[0-9]{1,30}(?:[eE][-+][0-9]{1,3})?")
_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*)"')
_PLAIN_START = frozenset("_./(~+$^")
_STR_TAG, _NULL_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:null"
_BOOL_TAG, _INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


@lru_cache(maxsize=None)
def _plain_resolvers() -> tuple[dict[str, list[tuple[str, Any]]], dict[str, bool]]:
    yaml, loader, _ = _yaml()
    return loader.yaml_implicit_resolvers, yaml.constructor.SafeConstructor.bool_values


def _fast_scalar(text: str) -> Any:
    """The value of one scalar written on one line, as PyYAML's safe loader reads it, or _GIVE_UP."""
    if not text:
        return _GIVE_UP
    first = text[0]
    if first == "'":
        quoted = _SINGLE_QUOTED.fullmatch(text)
        return quoted.group(1).replace("''", "'") if quoted else _GIVE_UP
    if first == '"':
        quoted = _DOUBLE_QUOTED.fullmatch(text)
        return quoted.group(1) if quoted else _GIVE_UP
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if not (first.isalnum() or first in _PLAIN_START or first == "-" and len(text) > 1 and text[1].isalnum()):
        return _GIVE_UP
    if "#" in text or ": " in text or text[-1] in ": " or "\t" in text:
        return _GIVE_UP
    resolvers, bools = _plain_resolvers()
    tag = _STR_TAG
    for candidate, regexp in resolvers.get(first, ()):
        if regexp.match(text):
            tag = candidate
            break
    if tag == _STR_TAG:
        return text
    if tag == _NULL_TAG:
        return None
    if tag == _BOOL_TAG:
        return bools[text.lower()]
    if tag == _INT_TAG and _FAST_INT.fullmatch(text):
        return int(text)
    if tag == _FLOAT_TAG and _FAST_FLOAT.fullmatch(text):
        return float(text)
    return _GIVE_UP  # timestamps, octal, hex, sexagesimal, .inf, merge keys, ...


class _FastYaml:
    """Reads the block YAML :func:`dump_yaml` writes; raises LookupError on anything else."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.n = len(lines)

    def indent(self, i: int) -> int:
        line = self.lines[i]
        return len(line) - len(line.lstrip(" "))

    def key_value(self, text: str) -> tuple[Any, str | None]:
        """(key, the rest after ': ', or None for 'key:' at the end of the line)."""
        if text[0] in "'\"":
            end = text.find(":", 1)
            while end != -1 and not (text[end - 1] == text[0] and (end + 1 == len(text) or text[end + 1] == " ")):
                end = text.find(":", end + 1)
        else:
            end = text.find(": ")
            if end == -1 and text.endswith(":"):
                end = len(text) - 1
        if end <= 0:
            raise LookupError
        key = _fast_scalar(text[:end])
        if key is _GIVE_UP or isinstance(key, (list, dict)):
            raise LookupError
        return key, (text[end + 2:] if end + 1 < len(text) else None)

    def value(self, rest: str | None, i: int, indent: int, depth: int) -> tuple[Any, int]:
        """The value after a key at ``indent`` on line ``i``: a scalar, or a nested block below."""
        if rest is not None:
            value = _fast_scalar(rest)
            if value is _GIVE_UP:
                raise LookupError
            return value, i + 1
        if i + 1 >= self.n:
            raise LookupError  # an empty value
        below = self.indent(i + 1)
        if below == indent and self.lines[i + 1].startswith("- ", below):
            return self.sequence(i + 1, indent, depth + 1)
        if below > indent:
            if self.lines[i + 1].startswith("- ", below):
                return self.sequence(i + 1, below, depth + 1)
            return self.mapping(i + 1, below, None, depth + 1)
        raise LookupError  # an empty value

    def mapping(self, i: int, indent: int, first: str | None, depth: int) -> tuple[dict[Any, Any], int]:
        """The block mapping whose entries start at column ``indent`` from line ``i`` (``first``: the text
        of line ``i`` after a sequence's dash)."""
        if depth > MAX_NESTING:
            raise LookupError
        out: dict[Any, Any] = {}
        while i < self.n:
            if first is not None:
                text, first = first, None
            else:
                at = self.indent(i)
                if at < indent:
                    break
                if at > indent:
                    raise LookupError  # a continued scalar, or anything else not written by dump_yaml
                text = self.lines[i][indent:]
                if text.startswith("- "):
                    break  # an indentless sequence of an enclosing key ends here
            key, rest = self.key_value(text)
            out[key], i = self.value(rest, i, indent, depth)
        return out, i

    def sequence(self, i: int, indent: int, depth: int) -> tuple[list[Any], int]:
        if depth > MAX_NESTING:
            raise LookupError
        out: list[Any] = []
        while i < self.n:
            at = self.indent(i)
            if at < indent:
                break
            if at > indent:
                raise LookupError
            line = self.lines[i]
            if not line.startswith("- ", indent):
                break
            text = line[indent + 2:]
            if not text or text[0] in " -":
                raise LookupError  # a sequence in a sequence, an empty item, ...
            item = _fast_scalar(text)
            if item is not _GIVE_UP:
                out.append(item)
                i += 1
                continue
            mapping, i = self.mapping(i, indent + 2, text, depth + 1)
            out.append(mapping)
        return out, i


def _fast_yaml(data: bytes | str) -> dict[str, Any] | None:
    """``data`` read as PyYAML's safe loader reads it, if it is YAML as :func:`dump_yaml` writes it; else None."""
    if isinstance(data, bytes):
        if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:3] == b"\xef\xbb\xbf":
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = data
    if not text or _OUTSIDE_FAST.search(text):
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines or any(not line or line.startswith(("---", "...", "%")) or line[-1] == " " for line in lines):
        return None
    reader = _FastYaml(lines)
    try:
        doc, end = reader.mapping(0, 0, None, 1)
    except LookupError:
        return None
    return doc if end == len(lines) and doc else None


_FAST_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "object": (dict,), "array": (list,), "boolean": (bool,), "null": (type(None),),
    "integer": (int,), "number": (int, float),
}


def _compile(schema: Any, root: dict[str, Any], validator: Any, compiled: dict[str, Any]) -> Any:
    """A function answering what ``validator.is_valid`` answers for ``schema`` (LookupError: it cannot).

    Each keyword is tested as jsonschema tests it (its own type checker, ``equal``, ``uniq``
    and format checker), with shortcuts only for the plain types YAML gives.
    """
    from jsonschema._utils import equal, uniq

    is_type, formats = validator.is_type, validator.format_checker
    if schema is True:
        return lambda value: True
    if not isinstance(schema, dict):
        raise LookupError

    def of(value: Any, kind: str, exact: tuple[type, ...]) -> bool:
        return type(value) in exact or (type(value) not in _PLAIN and is_type(value, kind))

    tests: list[Any] = []
    for keyword, arg in schema.items():
        if keyword in ("$schema", "$id", "$defs", "title", "description"):
            continue
        if keyword == "$ref":
            if not isinstance(arg, str) or not arg.startswith("#/$defs/") or "~" in arg or "%" in arg:
                raise LookupError
            name = arg[len("#/$defs/"):]
            if name not in compiled:
                compiled[name] = None  # a recursive definition is not compiled
                compiled[name] = _compile(root["$defs"][name], root, validator, compiled)
            if compiled[name] is None:
                raise LookupError
            tests.append(compiled[name])
        elif keyword == "type":
            names = [arg] if isinstance(arg, str) else list(arg)
            fast = tuple(t for n in names for t in _FAST_TYPES.get(n, ()))

            def typed(value: Any, names: list[str] = names, fast: tuple[type, ...] = fast) -> bool:
                return type(value) in fast or any(is_type(value, n) for n in names)
            tests.append(typed)
        elif keyword == "properties":
            subs = [(key, _compile(sub, root, validator, compiled)) for key, sub in arg.items()]

            def properties(value: Any, subs: list[tuple[str, Any]] = subs) -> bool:
                if not of(value, "object", (dict,)):
                    return True
                return all(test(value[key]) for key, test in subs if key in value)
            tests.append(properties)
        elif keyword == "additionalProperties":
            if "patternProperties" in schema or not isinstance(arg, (bool, dict)):
                raise LookupError
            if arg is True:
                continue
            known = frozenset(schema.get("properties", {}))
            extra = (lambda value: False) if arg is False else _compile(arg, root, validator, compiled)

            def additional(value: Any, known: frozenset[str] = known, extra: Any = extra) -> bool:
                return not of(value, "object", (dict,)) or all(extra(v) for k, v in value.items() if k not in known)
            tests.append(additional)
        elif keyword == "required":
            def required(value: Any, names: tuple[str, ...] = tuple(arg)) -> bool:
                return not of(value, "object", (dict,)) or all(name in value for name in names)
            tests.append(required)
        elif keyword == "items":
            if "prefixItems" in schema or not isinstance(arg, dict):
                raise LookupError
            each = _compile(arg, root, validator, compiled)

            def items(value: Any, each: Any = each) -> bool:
                return not of(value, "array", (list,)) or all(each(item) for item in value)
            tests.append(items)
        elif keyword == "uniqueItems":
            if arg is True:
                def unique(value: Any) -> bool:
                    if not of(value, "array", (list,)):
                        return True
                    if all(type(item) is str for item in value):
                        return len(set(value)) == len(value)
                    return bool(uniq(value))
                tests.append(unique)
            elif arg is not False:
                raise LookupError
        elif keyword == "pattern":
            def pattern(value: Any, search: Any = re.compile(arg).search) -> bool:
                return not of(value, "string", (str,)) or search(value) is not None
            tests.append(pattern)
        elif keyword == "minLength":
            def min_length(value: Any, low: int = arg) -> bool:
                return not of(value, "string", (str,)) or len(value) >= low
            tests.append(min_length)
        elif keyword == "maxLength":
            def max_length(value: Any, high: int = arg) -> bool:
                return not of(value, "string", (str,)) or len(value) <= high
            tests.append(max_length)
        elif keyword == "minimum":
            def minimum(value: Any, low: Any = arg) -> bool:
                return not is_type(value, "number") or not value < low
            tests.append(minimum)
        elif keyword == "const":
            tests.append(lambda value, const=arg: bool(equal(value, const)))
        elif keyword == "enum":
            strings = frozenset(e for e in arg if type(e) is str)

            def enum(value: Any, strings: frozenset[str] = strings, options: tuple[Any, ...] = tuple(arg)) -> bool:
                if type(value) is str:
                    return value in strings
                return any(equal(option, value) for option in options)
            tests.append(enum)
        elif keyword == "format":
            if formats is not None:
                tests.append(lambda value, fmt=arg: bool(formats.conforms(value, fmt)))
        elif keyword == "oneOf":
            options = [_compile(sub, root, validator, compiled) for sub in arg]
            tests.append(lambda value, options=options: sum(1 for test in options if test(value)) == 1)
        else:
            raise LookupError  # a keyword not compiled here: jsonschema alone decides
    if len(tests) == 1:
        return tests[0]
    return lambda value, tests=tuple(tests): all(test(value) for test in tests)


_PLAIN = frozenset({str, dict, list, bool, int, float, type(None)})


@lru_cache(maxsize=None)
def _fast_validator(kind: str) -> Any:
    """The compiled form of the ``kind`` schema, or None when it uses a keyword :func:`_compile` does not know."""
    try:
        return _compile(load_schema(kind), load_schema(kind), _validator(kind), {})
    except LookupError:
        return None


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

    def __post_init__(self) -> None:
        validate_tag_prefix(self.tag_prefix)  # else every tag, so every write, would fail

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "RegistryConfig":
        return cls(store=doc["store"], tag_prefix=doc["tag_prefix"],
                   options=MappingProxyType(dict(doc.get("options") or {})), format=doc["format"],
                   remote=doc.get("remote"))

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "store": self.store, "tag_prefix": self.tag_prefix}
        if self.remote:
            doc["remote"] = self.remote
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
            metadata=MappingProxyType(dict(doc.get("metadata") or {})),
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
