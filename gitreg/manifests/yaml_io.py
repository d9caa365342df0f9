"""Manifest YAML: parsed in bounded time and memory, dumped deterministically.

The ``yaml-reader`` fast path (see :mod:`gitreg.fastpaths`) builds values straight from the parser's events
(:func:`_read`); its reference, :func:`_read_reference`, lets PyYAML's composer and safe constructor do it.
Both ways refuse the same nodes with the same errors, and the bounds (size, nodes, nesting, long base-60
scalars) hold both ways.  Manifests are written by ``yaml.dump`` with the safe dumper."""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from ..errors import InvalidValueError, ManifestError
from ..fastpaths import fast

# Bounds on what a manifest may be, so that a hostile file committed to the
# registry (or proposed in a pull request) is refused in bounded time and
# memory instead of hanging every read and `gitreg check`.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # one manifest file
MAX_METADATA_DEPTH = 32  # dicts and lists nested in metadata (or a run parameter), the mapping itself included
MAX_NESTING = MAX_METADATA_DEPTH + 4  # a whole manifest: room for the metadata limit inside a manifest's own levels
# Keys, values, lists and mappings in one manifest: what bounds the time and memory of reading one (about a
# microsecond and 60 bytes a node) where bytes do not ("[]," is three bytes).  Manifests take 12 bytes a node
# or more (a link: 27 nodes in 330 bytes; a logged float: "  - 0.123456"), 4 MiB of them 350,000 nodes at most;
# only lists of tiny values ("- 1") reach this limit before the size limit.  Writes refuse more, as reads do.
MAX_MANIFEST_NODES = 500_000


def _yaml() -> tuple[Any, Any, Any]:
    """The yaml module (imported on first use: start-up time), its fastest safe loader and our dumper."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = _dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper))
    return yaml, loader, dumper


@cache
def _dumper(base: type) -> type:
    """``base`` (the safe dumper) never writing anchors and aliases: a value that occurs twice is written twice
    (reads refuse them)."""

    class Dumper(base):  # type: ignore[misc]  # the base is a parameter: the C dumper where there is one
        """Never writes anchors and aliases: a value that occurs twice is written twice (reads refuse them)."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return Dumper


_TAG = "tag:yaml.org,2002:"
_YAML_STR, _YAML_MAP, _YAML_SEQ = _TAG + "str", _TAG + "map", _TAG + "seq"
_YAML_INT, _YAML_FLOAT, _YAML_BOOL, _YAML_NULL = _TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null"
_JSON_SCALARS = frozenset({_YAML_INT, _YAML_FLOAT, _YAML_BOOL, _YAML_NULL})  # besides strings
_PLAIN_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")
_INT_DIGITS = 4300  # an integer of more digits than Python writes out (sys.get_int_max_str_digits) is no JSON
_INT_LIMIT = 10 ** _INT_DIGITS
# The resolver's patterns for base-60 numbers (1:30:00) repeat a group, (?::[0-5]?[0-9])+, and keep state for
# every repetition: hundreds of MiB for a 4 MiB "1:1:1:...".  A plain scalar with more parts than this is
# resolved by splitting it instead, as those patterns would read it.
_MANY_PARTS = 100
_BASE60_HEAD = re.compile(r"[-+]?[0-9][0-9_]*")
_BASE60_BAD = re.compile(r"[^:0-9]|::|:$|[0-9]{3}|:[6-9][0-9]")  # in ":<part>:<part>...", a part not [0-5]?[0-9]
_BASE60_FRACTION = re.compile(r"[0-9_]*")
_EXPECT_KEY = object()  # in a mapping's frame: the next node is a key

# What a plain scalar of these tags reads as, said to someone who wrote it meaning a string.
_READS_AS = {_YAML_INT: "a YAML integer", _YAML_FLOAT: "a YAML number", _YAML_BOOL: "a YAML boolean",
             _YAML_NULL: "YAML null", _TAG + "timestamp": "a YAML date", _TAG + "merge": "a YAML merge key",
             _TAG + "value": "YAML's value key"}
# YAML types JSON has no word for, given as explicit tags: what each is, and what to write instead.
_INSTEAD = {
    "binary": ("YAML binary data", "keep bytes in an artifact, or drop the tag to keep the base64 text as a string"),
    "set": ("a YAML set", "write a list instead"),
    "omap": ("a YAML ordered mapping", "write a mapping (or a list of mappings) instead"),
    "pairs": ("a YAML list of pairs", "write a mapping (or a list of mappings) instead"),
    "timestamp": ("a YAML date", "drop the tag and quote the date"),
}
_JSON_ONLY = "manifests hold JSON values only (strings, numbers, true/false, null, lists, mappings with string keys)"


class _Refused(Exception):
    """A node a manifest may not hold: what it is, what to write instead, and the finding code."""

    def __init__(self, what: str, instead: str, code: str = "yaml-type", at_parent: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.instead = instead
        self.code = code
        self.at_parent = at_parent  # True: the field is the mapping holding the node (a bad key)


def _printable(text: str) -> str:
    """``text`` on one line: characters that are not printable escaped as in a Python string."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _quoted(text: str) -> str:
    """``text`` as a single-quoted YAML scalar (shortened when long), for a message saying how to write it."""
    text = text if len(text) <= 60 else text[:60] + "..."
    return "'" + _printable(text).replace("'", "''") + "'"


def _short_tag(tag: str) -> str:
    shown = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
    return shown if len(shown) <= 60 else shown[:60] + "..."


def _tag_refused(tag: str, what: str) -> _Refused:
    """Why an explicit tag on a scalar, list or mapping (``what``) is refused."""
    name = tag[len(_TAG):] if tag.startswith(_TAG) else ""
    if name in _INSTEAD:
        return _Refused(f"{_INSTEAD[name][0]} ({_short_tag(tag)})", _INSTEAD[name][1])
    if name.startswith("python/"):
        return _Refused(f"a Python object tag ({_short_tag(tag)})", _JSON_ONLY)
    if name in ("str", "int", "float", "bool", "null", "map", "seq"):
        return _Refused(f"the YAML tag {_short_tag(tag)} on {what}", "drop the tag")
    return _Refused(f"the YAML tag {_short_tag(tag)}", _JSON_ONLY + ": drop the tag")


def _scalar(reader: Any, node_type: type, tag: str, text: str) -> Any:
    """The JSON value of a scalar of ``tag`` (resolved), as the safe constructor makes it; _Refused if none."""
    if tag == _YAML_STR:
        return text
    if tag == _YAML_INT:
        if text.isascii() and text.isdigit() and (text[0] != "0" or text == "0") and len(text) <= _INT_DIGITS:
            return int(text)  # what the constructor makes of it too (a leading 0 means octal there)
        if len(text.replace("_", "")) > _INT_DIGITS:  # base 60 (1:2:3:...) would take quadratic time
            raise _Refused(f"an integer of more than {_INT_DIGITS} digits", "JSON values are not this large: quote it",
                           code="schema")
        value = _construct(reader, "construct_yaml_int", node_type, tag, text)
        if not -_INT_LIMIT < value < _INT_LIMIT:
            raise _Refused(f"an integer of more than {_INT_DIGITS} digits", "JSON values are not this large: quote it",
                           code="schema")
        return value
    if tag == _YAML_FLOAT:
        value = float(text) if _PLAIN_FLOAT.fullmatch(text) else _construct(reader, "construct_yaml_float",
                                                                             node_type, tag, text)
        if not math.isfinite(value):
            raise _Refused(f"{_quoted(text)} is not a JSON number (infinite or not a number)",
                           f"write null, or quote it: {_quoted(text)}")
        return value
    if tag == _YAML_BOOL:
        return _construct(reader, "construct_yaml_bool", node_type, tag, text)
    if tag == _YAML_NULL:
        return None
    raise _tag_refused(tag, "a scalar")


def _construct(reader: Any, method: str, node_type: type, tag: str, text: str) -> Any:
    """The safe constructor's value of an int, float or bool scalar (what yaml.safe_load makes of it)."""
    try:
        return getattr(reader, method)(node_type(tag, text))
    except OverflowError:  # a base-60 float beyond the largest float
        if method == "construct_yaml_float":
            return math.inf
        raise _Refused(f"{_quoted(text)} is not a valid {_short_tag(tag)}", "correct it, or quote it",
                       code="schema") from None
    except (ValueError, KeyError, IndexError, TypeError):  # e.g. !!int 'x', !!bool 'maybe'
        raise _Refused(f"{_quoted(text)} is not a valid {_short_tag(tag)}", "correct it, or quote it",
                       code="schema") from None


def _key_refused(tag: str, text: str) -> _Refused:
    if tag in _READS_AS:
        return _Refused(f"the key {_quoted(text)} reads as {_READS_AS[tag]}", f"keys are strings: quote it:"
                        f" {_quoted(text)}", at_parent=True)
    return _Refused(f"the key {_quoted(text)} has the YAML tag {_short_tag(tag)}", "keys are strings: drop the tag",
                    at_parent=True)


def _duplicate_key(text: str) -> _Refused:
    # YAML requires a mapping's keys to be unique; readers that take one differ on which value wins, so a
    # reviewer could read one value and a deploy another
    return _Refused(f"the key {_quoted(text)} appears twice in this mapping", "keep one of them", code="schema",
                    at_parent=True)


def _value(reader: Any, node_type: type, tag: str, text: str, explicit: bool) -> Any:
    """A scalar's value, other than a string: as the tag written says, or as the plain text reads."""
    if explicit or tag in _JSON_SCALARS:
        return _scalar(reader, node_type, tag, text)
    if tag == _TAG + "timestamp":
        raise _Refused("a YAML date" if len(text) == 10 else "a YAML timestamp", f"quote it: {_quoted(text)}")
    if tag in _READS_AS:
        raise _Refused(f"{_quoted(text)} reads as {_READS_AS[tag]}", f"quote it: {_quoted(text)}")
    raise _tag_refused(tag, "a scalar")


def _many_parts_tag(text: str) -> str | None:
    """The tag the resolver gives a plain scalar starting with a digit or sign and holding more than _MANY_PARTS
    colons, found without its patterns (see _MANY_PARTS); None if the patterns are quick on it."""
    text = text[:-1] if text[-1:] == "\n" else text  # the patterns end in $: before a last newline too
    head = _BASE60_HEAD.match(text)
    if head is None or text[head.end():head.end() + 1] != ":":
        return None  # the patterns fail before the repeated group
    parts, dot, fraction = text[head.end():].partition(".")
    if _BASE60_BAD.search(parts):  # not ":<part>" again and again: no number, nor a date (two colons at most)
        return _YAML_STR
    if dot:
        return _YAML_FLOAT if _BASE60_FRACTION.fullmatch(fraction) else _YAML_STR
    return _YAML_INT if head.group().lstrip("+-")[:1] != "0" else _YAML_STR


# PyYAML's implicit resolvers (yaml/resolver.py, as PyYAML 6 registers them), by a digest of (first character, tag,
# pattern, flags).  A loader with exactly these is answered without its patterns where their answer is known:
# a scalar starting with a letter, ~, <, =, !, & or * is one of the words below or a string; and the answer
# for one starting with a digit, sign or dot does not change when a digit is replaced by another of its class
# (0, 1, 2-5, 6-7, 8-9: what the patterns tell apart), so it is remembered by that shape.  Any other
# resolvers are asked every time.
_STANDARD_RESOLVERS = "df7eca5ca60c4fa88a6dfaf33071762db31da0c5ab09b6808dffd880a051c5a5"
_WORDS = {
    **dict.fromkeys("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF".split(), _YAML_BOOL),
    **dict.fromkeys(["~", "null", "Null", "NULL", ""], _YAML_NULL), "<<": _TAG + "merge", "=": _TAG + "value",
    **dict.fromkeys("!&*", _TAG + "yaml"),
}
_WORD_FIRSTS = frozenset("yYnNtTfFoO~<=!&*") | {""}
_DIGIT_CLASSES = str.maketrans("0123456789", "0122226688")


def _resolvers_digest(table: dict[Any, list[tuple[str, Any]]]) -> str:
    import hashlib

    entries = sorted((first or "", tuple((tag, rx.pattern, rx.flags) for tag, rx in resolvers))
                     for first, resolvers in table.items())
    return hashlib.sha256(repr(entries).encode()).hexdigest()


# id(table): (table, its number of resolvers, whether PyYAML's own, first characters of numbers and dates only)
_TABLES: dict[int, tuple[Any, int, bool, frozenset[str]]] = {}


def _plain_tags(reader: Any, node: type) -> Any:
    """A function giving the tag ``reader``'s resolver gives a plain scalar (a text starting with a character
    some implicit resolver is registered for), as ``reader.resolve`` would, but quicker."""
    table = reader.yaml_implicit_resolvers
    every = None in table or bool(reader.yaml_path_resolvers)
    size = sum(map(len, table.values()))
    known = _TABLES.get(id(table))
    if known is None or known[0] is not table or known[1] != size:
        numbers = {_YAML_INT, _YAML_FLOAT, _TAG + "timestamp"}
        known = _TABLES[id(table)] = (table, size, _resolvers_digest(table) == _STANDARD_RESOLVERS, frozenset(
            first for first, resolvers in table.items() if first and {tag for tag, _ in resolvers} <= numbers))
    standard = known[2] and not every
    numeric = known[3]  # first characters of numbers and dates only
    resolve: Callable[[Any, str, tuple[bool, bool]], str] = reader.resolve
    shapes: dict[str, str] = {}

    def tag_of(text: str) -> str:
        if standard:
            core = text[:-1] if text[-1:] == "\n" else text  # the patterns end in $: before a last newline too
            if text[:1] in _WORD_FIRSTS:
                return _WORDS.get(core, _YAML_STR)
            if len(text) <= 32:
                shape = text.translate(_DIGIT_CLASSES)
                tag = shapes.get(shape)
                if tag is None:
                    tag = resolve(node, text, (True, False))
                    if len(shapes) < 4096:
                        shapes[shape] = tag
                return tag
        if not every and text[:1] in numeric and text.count(":") > _MANY_PARTS:
            tag = _many_parts_tag(text)
            if tag is not None:
                return tag
        return resolve(node, text, (True, False))

    return tag_of


def _where(frames: list[tuple[Any, Any]], pending: bool) -> str:
    """The field path of the node being read (``pending``: not yet in the innermost list or mapping), else of
    the innermost list or mapping itself; ``frames``: (list or mapping, key its next value goes under),
    outermost first."""
    parts: list[str] = []
    last = len(frames) - 1
    for i, (container, key) in enumerate(frames):
        if i == last and not pending:
            break
        if type(container) is list:
            parts.append(str(len(container) - (0 if i == last else 1)))
        else:
            parts.append(str(key))
    return ".".join(parts)


def _read(yaml: Any, loader: type, data: bytes | str, path: str) -> Any:
    """The JSON value of the one YAML document in ``data``, built from the parser's events as they come.

    No node tree is composed and no alias is ever expanded: the cost is one pass over the events, and the
    reading stops at the first node a manifest may not hold (ManifestError naming its field): an anchor
    or alias, more than MAX_MANIFEST_NODES nodes, lists and mappings nested more than MAX_NESTING deep,
    and any value JSON has no word for (dates, binary, sets, other tags, keys that are not strings,
    .nan and .inf).  Scalars are resolved by the loader's own resolver and built as the safe
    constructor builds them, so what is read is what ``yaml.safe_load`` reads, where that is JSON.
    """
    if not fast("yaml-reader"):
        return _read_reference(loader, data, path)
    reader = loader(data)
    # The values built are trees (no cycles) and the parser's events die young, but the cyclic garbage
    # collector would go over every list and mapping built so far, again and again: half the time of a large
    # manifest.  It is held off while one is read.
    paused = len(data) > _GC_PAUSE_FROM and gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _walk(yaml, reader, path)
    finally:
        if paused:
            gc.enable()
        reader.dispose()


_UNSET = object()
_GC_PAUSE_FROM = 256 * 1024  # bytes of a manifest
_SECOND_DOCUMENT = "a second document (---); a manifest is one document"


def _walk(yaml: Any, reader: Any, path: str) -> Any:
    get = reader.get_event
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    scalar_node = yaml.ScalarNode
    table = reader.yaml_implicit_resolvers  # by first character: the only scalars that may not be strings
    every = None in table or bool(reader.yaml_path_resolvers)
    tag_of = _plain_tags(reader, yaml.ScalarNode)
    plain: dict[str, Any] = {}  # short plain scalars of this document: None (a string), or [tag, value or _UNSET]
    outer: list[tuple[Any, Any]] = []  # the lists and mappings holding the one being filled, with their keys
    container: Any = None  # the list or mapping being filled (None: the document's root comes next)
    key: Any = None  # where a mapping's next value goes (_EXPECT_KEY: a key comes next); None in a list
    root: Any = None
    nodes = 0
    event = get()  # the stream's start
    event = get()
    if type(event) is yaml.StreamEndEvent:
        return None
    try:
        while True:
            event = get()
            kind = type(event)
            if kind is scalar_event:
                nodes += 1
                if nodes > MAX_MANIFEST_NODES or event.anchor is not None:
                    break
                tag, text = event.tag, event.value
                if tag is None or tag == "!":
                    if not event.implicit[0] or (not every and text[:1] not in table):
                        entry = None  # a string
                    else:
                        entry = plain.get(text, _UNSET)
                        if entry is _UNSET:
                            tag = tag_of(text)
                            entry = None if tag == _YAML_STR else [tag, _UNSET]
                            if len(text) <= 32 and len(plain) < 4096:  # names, keys, words: they repeat
                                plain[text] = entry
                    if key is _EXPECT_KEY:
                        if entry is not None:
                            raise _key_refused(entry[0], text)
                        if text in container:
                            raise _duplicate_key(text)
                        key = text
                        continue
                    if entry is None:
                        value = text
                    else:
                        value = entry[1]
                        if value is _UNSET:
                            if entry[0] == _YAML_INT and text.isdigit() and text.isascii() and text[0] != "0" \
                                    and len(text) <= _INT_DIGITS:
                                value = int(text)  # the common case of _scalar, without two calls
                            else:
                                value = _value(reader, scalar_node, entry[0], text, False)
                            entry[1] = value
                elif key is _EXPECT_KEY:
                    if tag != _YAML_STR:
                        raise _key_refused(tag, text)
                    if text in container:
                        raise _duplicate_key(text)
                    key = text
                    continue
                else:
                    value = text if tag == _YAML_STR else _value(reader, scalar_node, tag, text, True)
                if key is None:
                    if container is None:
                        root = value
                    else:
                        container.append(value)
                else:
                    container[key] = value
                    key = _EXPECT_KEY
            elif kind is map_start or kind is seq_start:
                nodes += 1
                if nodes > MAX_MANIFEST_NODES or event.anchor is not None:
                    break
                mapping = kind is map_start
                tag = event.tag
                if not (tag is None or tag == "!" or tag == (_YAML_MAP if mapping else _YAML_SEQ)):
                    raise _tag_refused(tag, "a mapping" if mapping else "a list")
                if len(outer) >= MAX_NESTING - 1 and container is not None:
                    raise _too_deep(path, _where([*outer, (container, key)], True))
                value = {} if mapping else []
                if key is None:
                    if container is None:
                        root = value
                    else:
                        container.append(value)
                elif key is _EXPECT_KEY:
                    raise _Refused(f"a {'mapping' if mapping else 'list'} used as a key", "keys are strings",
                                   at_parent=True)
                else:
                    container[key] = value
                if container is not None:
                    outer.append((container, key))
                container, key = value, (_EXPECT_KEY if mapping else None)
            elif kind is map_end or kind is seq_end:
                if outer:
                    container, key = outer.pop()
                    if key is not None:
                        key = _EXPECT_KEY
                else:
                    container, key = None, None
            elif kind is alias_event:
                break
            else:  # the document's end: one document only
                event = get()
                if type(event) is not yaml.StreamEndEvent:
                    raise yaml.composer.ComposerError(None, None, _SECOND_DOCUMENT, event.start_mark)
                return root
    except _Refused as refused:
        frames = [*outer, (container, key)] if container is not None else []
        raise _refusal(path, _where(frames, not refused.at_parent), refused, event.start_mark.line + 1) from None
    raise _stopped(path, nodes > MAX_MANIFEST_NODES, event.start_mark.line + 1)


def _refusal(path: str, at: str, refused: _Refused, line: int) -> ManifestError:
    """The ManifestError of a node refused at the field ``at``, on ``line``."""
    at = _printable(at)
    at = at if len(at) <= 200 else at[:200] + "..."
    what = refused.what[:-1] + f", line {line})" if refused.what.endswith(")") else f"{refused.what} (line {line})"
    return ManifestError(path, at, f"{what}; {refused.instead}", code=refused.code)


def _stopped(path: str, too_many: bool, line: int) -> ManifestError:
    """The ManifestError of a read stopped on ``line`` by more than MAX_MANIFEST_NODES nodes (``too_many``), else
    by an anchor or alias."""
    if too_many:
        return ManifestError(path, "", f"more than {MAX_MANIFEST_NODES:,} values (every key, value, list and mapping"
                                       f" counts; line {line}); keep large values in artifacts")
    return ManifestError(path, "", f"YAML anchors and aliases (&name, *name; line {line}) are not allowed in"
                                   " a manifest; write each value out in full")


def _too_deep(path: str, at: str) -> ManifestError:
    at = at if len(at) <= 60 else at[:60] + "..."
    return ManifestError(path, "", f"lists and mappings nested more than {MAX_NESTING} levels deep (at {at})")


def _read_reference(loader: type, data: bytes | str, path: str) -> Any:
    """The reference of the ``yaml-reader`` fast path (:func:`_read`): PyYAML's composer builds the document's
    nodes from the events of the same parser, refusing node by node, in the order they come, what a manifest may
    not hold (with the errors :func:`_walk` raises), its resolver gives each plain scalar its tag, and its safe
    constructor makes the values."""
    reader = _reference_loader(loader)(data, path)
    try:
        node = reader.get_single_node()
        return None if node is None else reader.construct_document(node)
    finally:
        reader.dispose()


@cache
def _reference_loader(base: Any) -> type:
    """``base`` (a safe loader: CSafeLoader or SafeLoader) with PyYAML's composer refusing what manifests may not
    hold as it composes (see :func:`_read_reference`)."""
    from yaml import AliasEvent, MappingNode, MappingStartEvent, ScalarEvent, ScalarNode, SequenceNode, StreamEndEvent
    from yaml.composer import Composer, ComposerError

    class Reference(base):  # type: ignore[misc]  # the base is a parameter: the C loader where there is one
        # PyYAML's composer, over the events of ``base``'s parser (libyaml's has a composer of its own, in C)
        compose_document = Composer.compose_document
        compose_scalar_node = Composer.compose_scalar_node
        compose_sequence_node = Composer.compose_sequence_node
        compose_mapping_node = Composer.compose_mapping_node

        def __init__(self, stream: bytes | str, path: str) -> None:
            base.__init__(self, stream)
            Composer.__init__(self)
            self.path = path
            self.nodes = 0
            self.fields: list[str] = []  # the field of each list and mapping being composed (the root's aside)
            self.keys: list[set[str]] = []  # the keys of each mapping being composed so far, innermost last
            self.open = 0  # lists and mappings being composed

        def get_single_node(self) -> Any:
            self.get_event()  # the stream's start
            node = None
            if not self.check_event(StreamEndEvent):
                node = self.compose_document()
                if not self.check_event(StreamEndEvent):
                    raise ComposerError(None, None, _SECOND_DOCUMENT, self.get_event().start_mark)
            self.get_event()
            return node

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode and implicit[0] and value.count(":") > _MANY_PARTS:
                tag = _many_parts_tag(value)  # the bound every read keeps (see _MANY_PARTS)
                if tag is not None:
                    return tag
            return super().resolve(kind, value, implicit)

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            line = event.start_mark.line + 1
            if type(event) is AliasEvent:
                raise _stopped(self.path, False, line)
            self.nodes += 1
            if self.nodes > MAX_MANIFEST_NODES or event.anchor is not None:
                raise _stopped(self.path, self.nodes > MAX_MANIFEST_NODES, line)
            is_key = type(parent) is MappingNode and index is None
            # the node's own field under its parent: an item's index, a value's key (a key has none of its own)
            field = None if parent is None or is_key else str(index) if type(parent) is SequenceNode \
                else index.value
            at = [*self.fields, field] if field is not None else self.fields
            try:
                node: Any
                if type(event) is ScalarEvent:
                    # no anchor (refused above); PyYAML's stubs type the anchor as a dict
                    node = self.compose_scalar_node(None)  # type: ignore[arg-type]
                    if is_key:
                        if node.tag != _YAML_STR:
                            raise _key_refused(node.tag, node.value)
                        if node.value in self.keys[-1]:
                            raise _duplicate_key(node.value)
                        self.keys[-1].add(node.value)
                    elif node.tag != _YAML_STR:
                        _value(self, ScalarNode, node.tag, node.value, event.tag not in (None, "!"))
                    return node
                mapping = type(event) is MappingStartEvent
                if event.tag not in (None, "!", _YAML_MAP if mapping else _YAML_SEQ):
                    raise _tag_refused(event.tag, "a mapping" if mapping else "a list")
                if self.open >= MAX_NESTING:
                    raise _too_deep(self.path, ".".join(at))
                if is_key:
                    raise _Refused(f"a {'mapping' if mapping else 'list'} used as a key", "keys are strings",
                                   at_parent=True)
            except _Refused as refused:
                raise _refusal(self.path, ".".join(self.fields if refused.at_parent else at), refused, line) \
                    from None
            if field is not None:
                self.fields.append(field)
            self.open += 1
            if mapping:
                self.keys.append(set())
                node = self.compose_mapping_node(None)  # type: ignore[arg-type]
                self.keys.pop()
            else:
                node = self.compose_sequence_node(None)  # type: ignore[arg-type]
            self.open -= 1
            if field is not None:
                self.fields.pop()
            return node

    return Reference


def parse_yaml(data: bytes | str, path: str) -> dict[str, Any]:
    """Parse one manifest into JSON values, refusing what could not be read in bounded time and memory.

    Refused, with a ManifestError naming ``path`` (and the field, where there is one): more than
    MAX_MANIFEST_BYTES, more than MAX_MANIFEST_NODES nodes, lists and mappings nested more than
    MAX_NESTING deep, YAML anchors and aliases (a few lines of nested aliases expand to billions of
    values), and every value JSON has no word for (code ``yaml-type``: dates and timestamps, binary,
    sets, ordered maps, any other tag, keys that are not strings, merge keys, .nan and .inf).
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(path, "", f"{len(data)} bytes, more than the {MAX_MANIFEST_BYTES // 2**20} MiB a"
                                      " manifest may have; keep large values in artifacts")
    yaml, loader, _ = _yaml()
    try:
        doc = _read(yaml, loader, data, path)
    except yaml.YAMLError as exc:
        raise ManifestError(path, "", f"not valid YAML{_yaml_error_text(yaml, exc)}") from None
    if not isinstance(doc, dict):
        raise ManifestError(path, "", "must be a YAML mapping")
    return doc


def _yaml_error_text(yaml: Any, exc: Exception) -> str:
    """What PyYAML says is wrong, on one line: " (line N): problem"."""
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None)
    if problem is None and isinstance(exc, yaml.reader.ReaderError):  # bytes that are no text, control characters
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        problem = f"{exc.reason} ({f'#x{code:02x} ' if code >= 0 else ''}at character {exc.position})"
    return f"{where}: {' '.join(str(problem or exc).split())}"


def count_nodes(data: bytes | str) -> int:
    """The nodes (keys, values, lists and mappings) of the YAML in ``data``, counted up to one more than
    MAX_MANIFEST_NODES (the count stops there); YAMLError if it is not YAML."""
    yaml, loader, _ = _yaml()
    reader = loader(data)
    starts = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)
    nodes = 0
    try:
        while nodes <= MAX_MANIFEST_NODES:
            event = reader.get_event()
            if event is None or type(event) is yaml.StreamEndEvent:
                break
            if type(event) in starts:
                nodes += 1
    finally:
        reader.dispose()
    return nodes


def dump_yaml(doc: Mapping[str, Any] | list[Any]) -> bytes:
    """``doc`` as deterministic YAML: keys in the order given, block style, no aliases (``yaml.dump`` with the
    safe dumper)."""
    yaml, _, dumper = _yaml()
    text: str = yaml.dump(doc, Dumper=dumper, **_DUMP_OPTIONS)
    return text.encode("utf-8")


_DUMP_OPTIONS: dict[str, Any] = dict(default_flow_style=False, allow_unicode=True, width=1000, indent=2,
                                     sort_keys=False)


def within_limit(data: bytes, path: str) -> bytes:
    """``data`` (YAML as dump_yaml writes it) if a manifest of that size and that many nodes can be read back;
    reads refuse larger ones."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidValueError(f"{path} would be {len(data)} bytes, more than the {MAX_MANIFEST_BYTES // 2**20} MiB"
                                " a manifest may have; keep large values in artifacts")
    # Every node dump_yaml writes takes a byte of its own at least (a key, a value, "- ", "[]"), the root
    # mapping aside: only a text of as many bytes as the limit can hold more nodes, and only one is counted.
    if len(data) >= MAX_MANIFEST_NODES and count_nodes(data) > MAX_MANIFEST_NODES:
        raise InvalidValueError(f"{path} would hold more than {MAX_MANIFEST_NODES:,} values (keys, values, lists and"
                                " mappings), more than a manifest may have; keep large values in artifacts")
    return data
