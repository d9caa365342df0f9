"""The compiled schema checks: whatever they prove valid, jsonschema finds valid (they may only be stricter),
and the documents gitreg writes take the compiled path."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gitreg.manifests import schema_problems
from gitreg.manifests.compiled import _compile
from gitreg.manifests.schemas import _message_of, _proven_valid, _validator

TESTS = Path(__file__).resolve().parent

_SHA = "0123456789abcdef" * 4
_ARTIFACT = {"name": "features", "version": 2, "type": "data", "model": "bench", "model_version": 2,
             "uri": ".gitreg/store/objects/sha256/01/" + _SHA, "sha256": _SHA, "step": "load", "run": "r-1",
             "tags": ["raw", "v2"]}
_RUN = {
    "format": 1, "id": "bench-20260101T000000-0a1b2c3d", "pipeline": "_bench", "status": "completed",
    "started": "2026-01-01T00:00:00.123Z", "ended": "2026-01-01T00:00:01Z",
    "parameters": {"seed": 1, "lr": 0.5, "nested": {"a": [1, None]}},
    "code": {"commit": "a" * 40, "dirty": False},
    "error": None,
    "models": [{"name": "bench", "version": 2, "created": True}],
    "steps": [
        {"name": "load", "status": "completed", "started": "2026-01-01T00:00:00.200Z",
         "ended": "2026-01-01T00:00:00.300Z", "model": {"name": "bench", "version": 2},
         "parameters": {"seed": 1}, "inputs": {}, "outputs": [_ARTIFACT], "error": None},
        {"name": "train", "status": "failed", "started": "2026-01-01T00:00:00.300Z",
         "ended": "2026-01-01T00:00:00.900Z", "model": None, "parameters": {},
         "inputs": {"x": _ARTIFACT, "y": {**_ARTIFACT, "model": None, "step": None, "version": None}},
         "outputs": [], "error": "ValueError: boom"},
    ],
}

# near and across every line the run schema draws: JSON types, bool for int, 1.0 for 1, big numbers, names,
# hashes, dates, the enums, and mappings and lists of the right and wrong shapes
_ODD = [None, True, False, 0, 1, -1, 0.0, 1.0, 2.5, 2**64, -(2**64), math.nan, math.inf, -0.0,
        "", "x", "1", "null", "true", "~", "a\n", "_x", "-a", "a.b", "a" * 100, "a" * 101,
        "f" * 64, "F" * 64, "f" * 63, "completed", "failed", "running", "data", "model", "bench",
        "2026-02-29T00:00:00Z", "2024-02-29T23:59:59.5Z", "2026-01-01T00:00:00+01:00", "2026-01-01",
        [], ["a"], ["a", "a"], ["a", 1], [[1]], [None], {}, {"x": 1}, {1: "x"}, {"name": "bench"},
        {"name": "bench", "version": 1}, {"name": "bench", "version": True}, dict(_ARTIFACT),
        {k: v for k, v in _ARTIFACT.items() if k != "sha256"}, [dict(_ARTIFACT)]]


def _replace(doc, path, value):
    """A copy of ``doc`` with the value at ``path`` replaced (``_DELETE``: removed)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        out = dict(doc)
        new = _replace(doc[head], rest, value) if head in doc or rest else value
        if new is _DELETE:
            out.pop(head, None)
        else:
            out[head] = new
        return out
    out = list(doc)
    new = _replace(doc[head], rest, value)
    if new is _DELETE:
        del out[head]
    else:
        out[head] = new
    return out


_DELETE = object()


def _locations(doc, path=()):
    """Every path to a value inside ``doc``, and for each mapping, the path of a key it does not have."""
    if isinstance(doc, dict):
        yield (*path, "extra")
        yield (*path, 7)  # a key that is not a string
        for key, value in doc.items():
            yield (*path, key)
            yield from _locations(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield (*path, index)
            yield from _locations(value, (*path, index))


def _variants(doc):
    yield doc
    for path in _locations(doc):
        for value in _ODD:
            yield _replace(doc, path, value)
        yield _replace(doc, path, _DELETE)


_REGISTRY = {"format": 1, "store": ".gitreg/store", "tag_prefix": "models/team.a", "remote": "origin",
             "registration_tags": False, "options": {"retries": 3, "nested": {"a": [1]}}}


@pytest.mark.parametrize("kind,base,count", [("run", _RUN, 5000), ("registry", _REGISTRY, 500)])
def test_the_schemas_compiled_now_prove_only_what_jsonschema_accepts(kind, base, count):
    proven = _proven_valid(kind)
    assert proven is not None and proven(base)
    validator = _validator(kind)
    variants = list(_variants(base))
    accepted = 0
    for index, doc in enumerate(variants):
        if proven(doc):
            accepted += 1
            assert list(validator.iter_errors(doc)) == [], doc
            assert schema_problems(kind, doc) == []
        elif index % 20 == 0:  # the others are judged and worded by jsonschema
            expected = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
            assert schema_problems(kind, doc) == [(".".join(map(str, e.absolute_path)), _message_of(kind, e))
                                                 for e in expected]
    assert len(variants) > count
    assert accepted > count // 10  # variants inside the schema take the fast path too, not only the original


@pytest.mark.parametrize("kind", ["registry", "model", "version", "run"])
def test_every_schema_is_compiled(kind):
    assert _proven_valid(kind) is not None  # else jsonschema judges every document of that kind


_VALUES = [None, True, False, 0, 1, -3, 7, 1.0, 2.5, 2**70, math.nan, -math.inf, "", "a", "ab", "1", "b",
           [], ["a"], [1, 2], {}, {"a": 1}, {"a": "x"}, {"a": 1, "b": 2}, {"b": "x"}, {"b": True}, {"b": 1.0},
           {"a": None, "b": None}, {1: 2}, {"a": "x", "b": 5, "c": -1}]

# (schema, compiled?): what the compiler may take and what it must leave to jsonschema
_SCHEMAS = [
    ({"oneOf": [{"type": "string"}, {"type": "null"}]}, True),
    ({"oneOf": [{"type": "integer"}, {"type": "boolean"}]}, True),  # True is no integer for jsonschema
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, False),  # 1 is both: exactly one is not proven
    ({"oneOf": [{"type": "integer", "minimum": 5}, {"type": "number", "minimum": 10}]}, False),
    ({"oneOf": [{"type": "string"}, {"type": ["string", "null"]}]}, False),
    ({"oneOf": [{"type": "string", "minLength": 2}, {"type": "string", "maxLength": 1}]}, False),
    ({"oneOf": [{"minLength": 1}, {"type": "null"}]}, False),  # a branch of any type
    ({"oneOf": [{"type": "string"}, {"enum": [1, 2]}]}, False),
    ({"oneOf": []}, False),
    ({"oneOf": [{"type": "string"}, {"not": {"type": "null"}}]}, False),  # a keyword not compiled
    ({"oneOf": [{"$ref": "#/$defs/short"}, {"type": ["null", "array"]}, {"type": "object"}],
      "$defs": {"short": {"type": "string", "maxLength": 1}}}, True),
    ({"oneOf": [{"$ref": "#/$defs/short"}, {"$ref": "#/$defs/other"}],
      "$defs": {"short": {"type": "string", "maxLength": 1}, "other": {"type": "string", "minLength": 1}}}, False),
    ({"oneOf": [{"$ref": "#/$defs/any"}, {"type": "null"}], "$defs": {"any": {"minimum": 1}}}, False),
    ({"oneOf": [{"$ref": "#/$defs/missing"}, {"type": "null"}]}, False),
    ({"anyOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]}, True),  # overlap is fine for anyOf
    ({"anyOf": [{"type": "string", "minLength": 2}, {"const": 1}]}, True),
    ({"anyOf": [{"type": "string"}, {"not": {}}]}, False),
    ({"type": "object", "additionalProperties": {"type": "integer"}}, True),
    ({"additionalProperties": {"type": "integer"}}, True),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}, True),
    ({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}, True),
    ({"properties": {"a": {"type": "integer"}}, "additionalProperties": {"oneOf": [{"type": "string"},
                                                                                  {"type": "null"}]}}, True),
    ({"type": "object", "patternProperties": {"^b": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
     False),
    ({"type": "object", "additionalProperties": {"minimum": 0}}, True),
    ({"type": "object", "additionalProperties": {"format": "email"}}, False),
    ({"type": "object", "additionalProperties": 1}, False),
    # a nested $id changes what "#/$defs/..." means inside it: jsonschema reads the inner $defs
    ({"properties": {"a": {"$id": "https://example.com/inner", "$ref": "#/$defs/s",
                           "$defs": {"s": {"type": "integer"}}}},
      "$defs": {"s": {"type": "string"}}}, False),
]


@pytest.mark.parametrize("schema,compiled", _SCHEMAS, ids=[json.dumps(s)[:70] for s, _ in _SCHEMAS])
def test_one_of_any_of_and_additional_properties_compile_only_where_sound(schema, compiled):
    check = _compile(schema, schema)
    assert (check is not None) == compiled
    if check is None:
        return
    validator = jsonschema.Draft202012Validator(schema)
    accepted = 0
    for value in _VALUES:
        if check(value):
            accepted += 1
            assert validator.is_valid(value), value
    assert accepted > 0


def test_a_type_exclusive_one_of_accepts_each_branch_and_never_two():
    schema = {"type": "object", "additionalProperties": {"oneOf": [{"type": "integer", "minimum": 1},
                                                                   {"type": "boolean"}, {"type": "null"}]}}
    check = _compile(schema, schema)
    assert check({"a": 1, "b": True, "c": None, "d": 2**80})
    assert not check({"a": 0}) and not check({"a": "1"}) and not check({"a": 1.0})  # 1.0: left to jsonschema
    assert jsonschema.Draft202012Validator(schema).is_valid({"a": 1.0})  # which accepts it (the check is stricter)


_PROBE = '''
"""Loaded by pytest -p: every run manifest the pipeline tests validate must also be proven valid by the
compiled check; the ones that are not are written to GITREG_PROBE_OUT."""
import json, os

import gitreg.pipelines.runs as runs
from gitreg.manifests.schemas import _proven_valid

_real = runs.validate
_proven = _proven_valid("run")


def _probing(kind, doc, path):
    _real(kind, doc, path)
    if kind == "run":
        with open(os.environ["GITREG_PROBE_OUT"], "a", encoding="utf-8") as out:
            out.write(json.dumps({"proven": bool(_proven(doc)), "doc": doc}, default=repr) + "\\n")


runs.validate = _probing
'''


def test_the_run_manifests_the_pipeline_tests_write_are_proven_by_the_compiled_check(tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "run_manifest_probe.py").write_text(_PROBE)
    out = tmp_path / "runs.jsonl"
    env = {**os.environ, "GITREG_PROBE_OUT": str(out),
           "PYTHONPATH": os.pathsep.join([str(probe), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "run_manifest_probe", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "inner"), "-k", "not examples_run_in_a_fresh_registry",
         str(TESTS / "test_pipelines.py"), str(TESTS / "test_zenml_runs.py")],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) > 20
    unproven = [r["doc"] for r in records if not r["proven"]]
    assert not unproven, json.dumps(unproven[0], indent=1)[:3000]
    steps = [s for r in records for s in r["doc"]["steps"]]
    outputs = [a for s in steps for a in s.get("outputs", [])]
    # the documents cover the schema's choices: failed runs, steps with and without a model, lineage, tags
    assert {r["doc"]["status"] for r in records} == {"completed", "failed"}
    assert any(s.get("model") is None for s in steps) and any(s.get("model") for s in steps)
    assert any(s.get("inputs") for s in steps) and any(a.get("tags") for a in outputs)
