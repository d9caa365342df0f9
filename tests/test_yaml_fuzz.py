"""Generated cases for the manifest YAML layer and the compiled schema checks.

(a) JSON values dumped by gitreg read back exactly, and parse_yaml reads every text (ours or PyYAML's in
    any style) as yaml.safe_load reads it wherever safe_load reads JSON values; libyaml and the pure-Python
    parser agree.
(b) A text holding anything JSON has no word for (a date, binary, set, tag, merge key, key that is not a
    string, .nan) is a ManifestError with code yaml-type; any text at all is a JSON mapping or a ManifestError.
(c) Whatever the compiled schema checks prove valid, jsonschema finds valid, on manifests near the real
    ones (wrong types, missing and extra keys, bad dates, 1.0 and true for integers); and the linear
    keywords gitreg gives jsonschema find exactly the problems jsonschema's own find.
"""

from __future__ import annotations

import copy
import math
from functools import cache

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gitreg.errors import ManifestError
from gitreg.manifests import dump_yaml, load_schema, parse_yaml
from gitreg.manifests.schemas import _linear_keywords, _proven_valid, _validator, schema_problems
from gitreg.manifests.yaml_io import _many_parts_tag, _plain_tags, _read, count_nodes

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- JSON values

TRICKY = [
    "yes", "no", "on", "off", "y", "n", "Y", "True", "FALSE", "null", "Null", "~", "", " ", "  x", "x  ", "1e3",
    "1.0e+3", "0x1F", "0o17", "0b11", "017", "08", "1_000", "+1", "-.5", ".5", "1:30", "1:30:00", "190:20:30.15",
    ".nan", ".inf", "-.Inf", "2026-01-01", "2026-01-01 10:00:00", "2026-01-01T00:00:00Z", "a: b", "a:b", ": ",
    "- ", "-", "- x", "#", "a #b", "a#b", "? x", "?", "<<", "=", "!", "!tag", "!!str", "&a", "*a", "%x", "@x",
    "`x", "|", ">", "'", '"', "'q'", "[a]", "{a: 1}", "a, b", "\n", "a\nb", "a\n", "\na", "\t", "x\ty", "\r\n",
    "é", "日本語", "\u2028", "\u2029", "\x85", "\ufeff", "\x00", "\x7f", "emoji 🎉", "a" * 150,
]
strings = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), strings)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(strings, inner, max_size=4)),
                      max_leaves=25)
documents = st.dictionaries(strings, values, max_size=6)


def typed(value):
    """``value`` with the type of every scalar kept (True == 1 == 1.0 in Python; not in a manifest)."""
    if isinstance(value, dict):
        return {(type(k).__name__, k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def json_only(value) -> bool:
    """Made of mappings with string keys, lists, strings, finite numbers, booleans and null only."""
    if isinstance(value, dict):
        return all(type(k) is str and json_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(json_only(v) for v in value)
    if type(value) is float:
        return math.isfinite(value)
    return value is None or type(value) in (str, int, bool)


def read_with(loader: type, text: str | bytes):
    """The outcome of reading ``text`` with ``loader``: the value, or the code of the ManifestError."""
    try:
        return "read", typed(_read(yaml, loader, text, "f.yaml"))
    except ManifestError as exc:
        return "refused", exc.code
    except yaml.YAMLError:
        return "refused", "schema"


@FUZZ
@given(documents)
def test_what_gitreg_dumps_reads_back_exactly(doc):
    data = dump_yaml(doc)
    assert typed(parse_yaml(data, "f.yaml")) == typed(doc)
    assert count_nodes(data) <= len(data)  # within_limit counts nodes only from MAX_MANIFEST_NODES bytes on


@FUZZ
@given(documents, st.sampled_from([False, True, None]), st.sampled_from([None, '"', "'"]), st.booleans(),
       st.integers(min_value=2, max_value=6), st.sampled_from([20, 80, 1000]), st.booleans())
def test_parse_yaml_reads_what_safe_load_reads_as_json(doc, flow, style, unicode, indent, width, start):
    text = yaml.safe_dump(doc, default_flow_style=flow, default_style=style, allow_unicode=unicode, indent=indent,
                          width=width, explicit_start=start, sort_keys=False)
    expected = yaml.safe_load(text)
    assume(json_only(expected))
    assert typed(parse_yaml(text.encode("utf-8"), "f.yaml")) == typed(expected)
    assert read_with(yaml.SafeLoader, text) == read_with(yaml.CSafeLoader, text)


# ---------------------------------------------------------------- YAML-only values, injected

VALUE_SNIPPETS = [
    "2026-01-01", "2026-01-01 10:00:00", "2026-01-01T10:00:00Z", "!!timestamp 2026-01-01", "!!binary aGk=",
    "!!set {a, b}", "!!omap [a: 1]", "!!pairs [a: 1, a: 2]", "!!python/object:os.system x",
    "!!python/name:os.system ''", "!foo x", "!foo [1]", "!!str [a]", "!!seq x", ".nan", ".inf", "-.inf", "=",
    "{1: x}", "{true: x}", "{null: x}", "{~: x}", "{1.5: x}", "{2026-01-01: x}", "{[a]: b}", "{{a: 1}: b}",
    "{<<: {a: 1}}", "[{!!binary aGk=: x}]", "!!map x",
]
KEY_SNIPPETS = ["1", "-2", "0x1F", "true", "no", "null", "~", "1.5", "2026-01-01", "<<", "=", "[a]", "{a: 1}",
                "!!binary aGk=", "!!int 3", "!foo k"]
MARK = "@@{}@@"  # a string the dumper writes quoted ('@' starts no plain scalar), unique in the text


def _marked(doc, data, seen: list[str]):
    """``doc`` with some scalars and keys replaced by marks, the snippet for each drawn from ``data``."""
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            if data.draw(st.integers(0, 5)) == 0:
                seen.append(data.draw(st.sampled_from(KEY_SNIPPETS)))
                key = MARK.format(len(seen) - 1)
            out[key] = _marked(value, data, seen)
        return out
    if isinstance(doc, list):
        return [_marked(v, data, seen) for v in doc]
    if data.draw(st.integers(0, 3)) == 0:
        seen.append(data.draw(st.sampled_from(VALUE_SNIPPETS)))
        return MARK.format(len(seen) - 1)
    return doc


@FUZZ
@given(documents, st.data())
def test_yaml_only_values_anywhere_are_refused_with_the_yaml_type_code(doc, data):
    snippets: list[str] = []
    marked = _marked(doc, data, snippets)
    assume(snippets)
    text = dump_yaml(marked).decode()
    for i, snippet in enumerate(snippets):
        text = text.replace(f"'{MARK.format(i)}'", snippet)
    for loader in (yaml.CSafeLoader, yaml.SafeLoader):
        outcome = read_with(loader, text)
        assert outcome[0] == "refused", (text, outcome)
        try:
            yaml.compose(text, Loader=loader)
        except yaml.YAMLError:
            continue  # a snippet that is no YAML where it landed: refused all the same
        assert outcome == ("refused", "yaml-type"), text


YAMLISH = st.text(alphabet="ab1:-[]{},?!&*#'\"\n .~<=|>%@`\t0x+\\", max_size=60)


@FUZZ
@given(st.one_of(YAMLISH, st.text(max_size=40), st.binary(max_size=40)))
def test_any_text_is_a_json_mapping_or_a_manifest_error(text):
    try:
        doc = parse_yaml(text, "f.yaml")
    except ManifestError as exc:
        assert exc.path == "f.yaml" and exc.code in ("schema", "yaml-type") and "\n" not in str(exc)
        return
    assert isinstance(doc, dict) and json_only(doc)
    try:
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return
    if json_only(expected):
        assert typed(doc) == typed(expected)


@FUZZ
@given(st.from_regex(r"[-+]?[0-9][0-9_]{0,3}(:[0-9]{1,3}){101,130}(\.[0-9_]{0,3})?[x:]?", fullmatch=True))
def test_long_base_60_scalars_resolve_as_the_resolver_resolves_them(text):
    resolved = yaml.SafeLoader("").resolve(yaml.ScalarNode, text, (True, False))
    assert _many_parts_tag(text) in (None, resolved)


PLAINISH = st.one_of(st.sampled_from(TRICKY), st.text(alphabet="0123456789-+._:eExXbo yYnNtTfFlLuU~<=!&*\n",
                                                     max_size=14),
                     # 07 and 08, 1:59 and 1:60
                     st.from_regex(r"[-+]?0?[0-9]{1,2}(:[0-9]{1,2})?(\.[0-9]?)?", fullmatch=True))


@FUZZ
@given(st.lists(PLAINISH, min_size=1, max_size=6))
def test_plain_scalars_get_the_tag_the_resolver_gives(texts):
    # the words and the digit shapes answer without the patterns: the same answer, whatever was asked before.
    # Each text is asked after every text one digit away from it, which may share its shape.
    for loader in (yaml.CSafeLoader, yaml.SafeLoader):
        reader = loader("")
        for text in texts:
            tag_of = _plain_tags(reader, yaml.ScalarNode)
            near = [text[:i] + d + text[i + 1:] for i, c in enumerate(text[:8]) if c.isdigit() for d in "0123456789"]
            for asked in [*near, text]:
                if asked[:1] in reader.yaml_implicit_resolvers:
                    assert tag_of(asked) == reader.resolve(yaml.ScalarNode, asked, (True, False)), asked


# ---------------------------------------------------------------- compiled checks against jsonschema

_SHA = "0123456789abcdef" * 4
_LINK = {"name": "clf", "version": 1, "type": "model", "uri": ".gitreg/store/objects/sha256/01/" + _SHA,
         "sha256": _SHA, "size": 10, "format": "skops", "kind": "file", "external": False, "run": "r-1",
         "step": "train", "created": "2026-01-01T00:00:00Z"}
_RUN_ARTIFACT = {"name": "features", "version": 2, "type": "data", "model": "bench", "model_version": 2,
                 "uri": "s3://b/k", "sha256": _SHA, "step": "load", "run": "r-1", "tags": ["raw"]}
VALID = {
    "version": {"format": 1, "model": "iris", "number": 2, "name": "v2", "stage": "production",
                "description": None, "tags": ["a", "b"], "created": "2026-01-01T00:00:00.5Z",
                "metadata": {"acc": 0.9, "nested": {"k": [1, None, "x"]}}, "artifacts": [_LINK, {**_LINK, "name": "d"}],
                "runs": ["r-1"], "created_by_run": {"id": "r-1", "status": "completed"}},
    "model": {"format": 1, "name": "iris", "license": "MIT", "description": None, "tags": ["t"],
              "created": "2026-01-01T00:00:00Z",
              "counters": {"versions": 2, "staging": 0, "production": 1, "archived": 0, "none": 1}},
    "run": {"format": 1, "id": "r-1", "pipeline": "_train", "status": "failed", "started": "2026-01-01T00:00:00Z",
            "ended": "2026-01-01T00:00:01Z", "parameters": {"lr": 0.1}, "code": {"commit": None, "dirty": True},
            "error": "boom", "models": [{"name": "iris", "version": 2, "created": True}],
            "steps": [{"name": "load", "status": "completed", "started": "2026-01-01T00:00:00Z",
                       "ended": "2026-01-01T00:00:00Z", "model": {"name": "iris", "version": 2},
                       "parameters": {}, "inputs": {"x": _RUN_ARTIFACT}, "outputs": [_RUN_ARTIFACT],
                       "error": None}]},
    "registry": {"format": 1, "store": ".gitreg/store", "tag_prefix": "team/models", "remote": "origin",
                 "registration_tags": False, "options": {"a": 1}},
}
ODD = [None, True, False, 0, 1, -1, 2, 0.0, 1.0, 2.5, -0.5, 2**70, "", "x", "1", "a" * 101, "-a", "a..b",
       "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+01:00",
       "2026-01-01", "2024-02-29T00:00:00Z", "none", "production", "running", "completed", "data", "file",
       "directory", "f" * 64, "F" * 64, _SHA[:-1], [], [1], ["a", "a"], ["a", "b"], [["a"]], [{"a": 1}, {"a": 1}],
       [1, True], [0, False], [1, 1.0], [[1], [True]], [[1], [1.0]], [{"a": 1}, {"a": True}], [{"a": 0}, {"a": 0.0}],
       [None, None], [{"a": 1, "b": 2}, {"b": 2, "a": 1}], {}, {"a": 1}, {"id": "x", "status": "running"},
       {"name": "iris", "version": 1}, dict(_LINK), [dict(_LINK)]]


def _paths(doc, here=()):
    yield here
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield from _paths(value, (*here, key))


def _mutated(doc, data):
    """``doc`` with one to four changes drawn from ``data``: a value replaced, a key removed or added, an item
    repeated or appended."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(list(_paths(doc))))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        target = parent[path[-1]] if path else doc
        how = data.draw(st.sampled_from(["replace", "drop", "add", "repeat", "append"]))
        odd = copy.deepcopy(data.draw(st.sampled_from(ODD)))
        if how == "replace" and path:
            parent[path[-1]] = odd
        elif how == "drop" and path and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "add" and isinstance(target, dict):
            target[data.draw(st.sampled_from(["extra", "name", "version", "model", "status", "x"]))] = odd
        elif how == "repeat" and isinstance(target, list) and target:
            target.append(copy.deepcopy(target[0]))
        elif how == "append" and isinstance(target, list):
            target.append(odd)
    return doc


@cache
def _plain_validator(kind: str):
    """jsonschema's own validator of the ``kind`` schema."""
    schema = load_schema(kind)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_valid_manifests_are_valid_and_proven(kind):
    assert list(_plain_validator(kind).iter_errors(VALID[kind])) == []
    assert _proven_valid(kind)(VALID[kind])


@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(data=st.data())
def test_what_the_compiled_check_proves_valid_jsonschema_finds_valid(kind, data):
    doc = _mutated(VALID[kind], data)
    plain = sorted((list(map(str, e.absolute_path)), e.message) for e in _plain_validator(kind).iter_errors(doc))
    if _proven_valid(kind)(doc):
        assert plain == [], doc
    # the validator gitreg uses (linear uniqueItems, proven values left out) finds what jsonschema's own finds
    linear = sorted((list(map(str, e.absolute_path)), e.message) for e in _validator(kind).iter_errors(doc))
    assert linear == plain
    assert len(schema_problems(kind, doc)) == min(len(plain), 101)


# values JSON Schema calls equal or not where Python does otherwise: True == 1, 1 == 1.0, {"a": 1} == {"a": True}
_CLOSE = [None, True, False, 0, 1, 0.0, 1.0, -0.0, 2, "", "a", "1", "true", [], [1], [True], [1.0], [[0]], [[False]],
          {}, {"a": 1}, {"a": True}, {"a": 1.0}, {"a": 1, "b": None}, {"b": None, "a": 1.0}, {"a": [1]}, {"a": [True]}]
_SMALL = st.one_of(st.sampled_from(_CLOSE), values)


@FUZZ
@given(st.lists(_SMALL, max_size=5))
def test_unique_items_by_hash_agree_with_jsonschema(items):
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "uniqueItems": True}
    plain = jsonschema.validators.validator_for(schema)
    linear = jsonschema.validators.extend(plain, _linear_keywords(schema, plain.VALIDATORS))
    assert linear(schema).is_valid(items) == plain(schema).is_valid(items)
