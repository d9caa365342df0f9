"""Manifest YAML: parsed in bounded time and memory, dumped deterministically."""

from __future__ import annotations

import io
import math
import re
from functools import lru_cache
from typing import Any, Mapping

from ..errors import InvalidValueError, ManifestError

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
    from yaml import ScalarNode

    known: dict[tuple[str, bool], str] = {}

    class Dumper(base):  # type: ignore[misc, valid-type]
        """Never writes anchors and aliases: a value that occurs twice is written twice (reads refuse them)."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            # The tag a scalar would be read as: asked for every scalar dumped, each time trying regular
            # expressions.  With no path resolvers (and this class's implicit resolvers, which nothing
            # changes) the answer depends on the value and implicit[0] alone: remembered for short scalars
            # (keys, names, numbers), which repeat from manifest to manifest.
            if kind is ScalarNode and not self.yaml_path_resolvers:
                key = (value, implicit[0])
                tag = known.get(key)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)
                    if len(value) <= 100:  # names, keys, numbers: not long texts
                        if len(known) >= 4096:
                            known.clear()
                        known[key] = tag
                return tag
            return super().resolve(kind, value, implicit)

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
    """``doc`` as deterministic YAML: keys in the order given, block style, no aliases.

    Written as ``yaml.dump`` with the safe dumper writes it, byte for byte.  Plain values (str, int, float,
    bool, None, dict, list: exact types) are handed to the emitter as events directly, as the representer
    and serializer would make them; a document with any other type goes through ``yaml.dump`` itself.
    """
    yaml, _, dumper = _yaml()
    stream = io.StringIO()
    writer = dumper(stream, **_DUMP_OPTIONS)
    try:
        writer.open()
        writer.emit(yaml.DocumentStartEvent(explicit=False))
        _emit_value(yaml, writer, doc)
        writer.emit(yaml.DocumentEndEvent(explicit=False))
        writer.close()
        text = stream.getvalue()
    except _NotPlain:  # a type the representer knows better (dates, bytes, ...), or one it refuses
        text = None
    finally:
        writer.dispose()
    if text is None:
        text = yaml.dump(doc, Dumper=dumper, **_DUMP_OPTIONS)
    return text.encode("utf-8")


_DUMP_OPTIONS: dict[str, Any] = dict(default_flow_style=False, allow_unicode=True, width=1000, indent=2,
                                     sort_keys=False)
_YAML_BOOL, _YAML_NULL = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_AS_PLAIN = (True, False)  # asking what a scalar written without quotes would be read as


class _NotPlain(Exception):
    """A value of another type than str, int, float, bool, None, dict and list."""


def _emit_value(yaml: Any, writer: Any, value: Any) -> None:
    """The events the safe representer and serializer make of ``value`` (block style, no aliases), emitted.

    A scalar's event says whether it may be written plain (it reads back with its own tag) and whether it
    may be quoted without a tag (only strings), as the serializer says it; the emitter picks the style."""
    kind = type(value)
    if kind is str:
        plain = writer.resolve(yaml.ScalarNode, value, _AS_PLAIN) == _YAML_STR
        writer.emit(yaml.ScalarEvent(None, _YAML_STR, (plain, True), value))
    elif kind is dict:
        writer.emit(yaml.MappingStartEvent(None, _YAML_MAP, True, flow_style=False))
        for key, item in value.items():
            _emit_value(yaml, writer, key)
            _emit_value(yaml, writer, item)
        writer.emit(yaml.MappingEndEvent())
    elif kind is list:
        writer.emit(yaml.SequenceStartEvent(None, _YAML_SEQ, True, flow_style=False))
        for item in value:
            _emit_value(yaml, writer, item)
        writer.emit(yaml.SequenceEndEvent())
    else:
        if kind is int:
            tag, text = _YAML_INT, str(value)
        elif kind is bool:
            tag, text = _YAML_BOOL, "true" if value else "false"
        elif value is None:
            tag, text = _YAML_NULL, "null"
        elif kind is float:
            tag, text = _YAML_FLOAT, _float_text(value)
        else:
            raise _NotPlain
        plain = writer.resolve(yaml.ScalarNode, text, _AS_PLAIN) == tag
        writer.emit(yaml.ScalarEvent(None, tag, (plain, False), text))


def _float_text(value: float) -> str:
    """A float as the safe representer writes it: .nan, .inf, -.inf, or its repr with an exponent's mantissa
    given a decimal point (1e+20 -> 1.0e+20, which YAML 1.1 reads as a float)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "e" in text and "." not in text:
        text = text.replace("e", ".0e", 1)
    return text


def within_limit(data: bytes, path: str) -> bytes:
    """``data`` if a manifest of that size can be read back; reads refuse larger ones."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidValueError(f"{path} would be {len(data)} bytes, more than the {MAX_MANIFEST_BYTES // 2**20} MiB"
                                " a manifest may have; keep large values in artifacts")
    return data
