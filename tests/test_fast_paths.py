"""The fast manifest reader and the compiled schemas give exactly PyYAML's and jsonschema's answers."""

from __future__ import annotations

import copy
import random

import pytest
import yaml

from gitreg.manifests import (
    _fast_validator, _fast_yaml, _validator, dump_yaml, load_schema, parse_yaml, schema_problems,
)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TRICKY_STRINGS = [
    "", " ", "a", " a", "a ", "yes", "No", "on", "OFF", "true", "False", "null", "~", "Null", "1", "-1", "+1", "012",
    "0x1F", "0o7", "1_000", "1:20", "1.5", "-0.0", ".5", "1e5", "1.0e+5", "1.0e5", ".inf", "-.Inf", ".nan", "2026-01-01",
    "2026-01-01T00:00:00Z", "a: b", "a:b", "#x", "a #b", "a#b", "'", "''", '"', "\\", "- a", "-a", "? x", "[1]", "{a}",
    "a, b", "&a", "*a", "!t", "|", ">", "%x", "@x", "`x", "=", "<<", "R&D", "x*y", "é", "日本", "a\nb", "a\tb", "\u2028",
    "\x85", "\ufeff", "a" * 1200, "word " * 300, "file:///tmp/x y", "s3://bucket/key", "(x)", "~x", "$HOME", "^x", "_x",
]


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(TRICKY_STRINGS)
    if kind == 1:
        return rng.randint(-10**12, 10**12)
    if kind == 2:
        return rng.choice([0.0, -0.0, 1.5, 1e-05, 1e20, 123456.789, -2.5e-300, float(rng.random())])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind in (4, 5):
        return "".join(rng.choice("abc xyz:#'\"-_./é") for _ in range(rng.randrange(12)))
    if kind in (6, 7):
        return {_random_key(rng): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _random_key(rng: random.Random):
    return rng.choice([rng.choice(TRICKY_STRINGS), "k" + str(rng.randrange(100)), rng.randrange(5), True, None])


def _agree(text: str | bytes) -> bool:
    """The fast reader gives PyYAML's document or none at all; True when it gave one."""
    fast = _fast_yaml(text)
    if fast is None:
        return False
    assert fast == yaml.load(text, Loader=_LOADER)
    assert [type(v) for v in _leaves(fast)] == [type(v) for v in _leaves(yaml.load(text, Loader=_LOADER))]
    return True


def _leaves(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_the_fast_reader_reads_what_dump_yaml_writes_as_pyyaml_does():
    rng = random.Random(7)
    taken = 0
    for _ in range(3000):
        doc = {"format": 1, "name": rng.choice(TRICKY_STRINGS), "metadata": _random_value(rng),
               "items": [_random_value(rng) for _ in range(rng.randrange(3))],
               _random_key(rng): _random_value(rng)}
        taken += _agree(dump_yaml(doc))
    assert taken > 1000  # many take the fast path, though these documents are made of tricky values


def test_the_fast_reader_reads_every_manifest_gitreg_writes(client):
    v = client.create_model_version("m", description="it's: a test # not a comment", tags=["a", "b"],
                                    metadata={"acc": 0.9, "nested": {"x": [1, 2.5, "yes", None, True]}, "1": "e"})
    client.update_model_version("m", v.number, stage="staging")
    repo = client.registry.repo
    texts = [data for _path, data in _manifests(repo)]
    assert texts and all(_agree(text) for text in texts)


def _manifests(repo):
    for path, oid in repo.blobs_under_path("HEAD", ".mcp"):
        data = repo.read_blobs([oid])[0]
        if path.endswith(".yaml"):
            yield path, data


HAND_EDITED = [
    "a: 1\nb: [1, 2]\n", "a: {x: 1}\n", "a: 1 # comment\n", "# top\na: 1\n", "a: &x 1\nb: *x\n", "a: !!str 1\n",
    "a: |\n  text\n", "a: >\n  text\n", "a: multi\n  line\n", "a:\n  - 1\n  - 2\n", "a:\n- 1\n-  2\n", "a:\nb: 1\n",
    "a: 1\n\nb: 2\n", "---\na: 1\n", "a: 1\n...\n", "a: 1\r\nb: 2\r\n", "\ufeffa: 1\n", "a:\t1\n", "a: 1\na: 2\n",
    "? a\n: 1\n", "a: 'x''y'\n", "a: 'x\n  y'\n", 'a: "x\\ny"\n', "a: \"x\"y\n", "'a': 1\n", "'a: b': 1\n", '"a": 1\n',
    "1: x\n", "true: x\n", "~: x\n", "a:\n  b:\n    c: 1\n", "- 1\n- 2\n", "just text\n", "", "a: 1\n  b: 2\n",
    "a:\n- b: 1\n  c: 2\n- d\n", "a:\n- - 1\n", "a:\n-\n", "a: -\n", "a: - x\n", "a: x: y\n", "a: 0777\n", "a: 1.\n",
    "a: 2026-01-01\n", "a: 1e3\n", "a: 1.0e+3\n", "<<: {b: 1}\n", "a: =\n", "a: 'unclosed\n", " a: 1\n", "a: 1 \n",
    "a:  1\n", "a: b\n c\n", "a:\n  - x\n b: 1\n", "a: " + "[" * 60 + "]" * 60 + "\n",
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40)) + "  " * 40 + "x: 1\n",
]


@pytest.mark.parametrize("text", HAND_EDITED)
def test_the_fast_reader_reads_hand_edits_as_pyyaml_does_or_leaves_them_to_it(text):
    try:
        expected = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        assert _fast_yaml(text) is None  # only PyYAML says what is wrong
        return
    _agree(text)
    if isinstance(expected, dict):
        try:
            assert parse_yaml(text, "x.yaml") == expected
        except Exception as exc:  # refused (anchors, depth): refused by the full reader too
            assert _fast_yaml(text) is None, exc


# ---------------------------------------------------------------- schemas

def _hostile_values():
    return [None, True, False, 0, 1, -1, 1.0, 1.5, float("nan"), "", "x", "1", "none", "2026-01-01T00:00:00Z",
            "not a date", [], ["a", "a"], ["a", "b"], [1, True], {}, {"a": 1}, "a" * 101, "-bad", "ok-name"]


def _mutations(doc, rng):
    """``doc`` with one field removed, replaced by a hostile value, or one key added, at every level."""
    yield doc
    paths = []

    def walk(value, path):
        paths.append(path)
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + [k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, path + [i])
    walk(doc, [])
    for path in paths:
        for hostile in _hostile_values():
            changed = copy.deepcopy(doc)
            if not path:
                yield hostile
                continue
            parent = changed
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]] = hostile
            yield changed
        if path and isinstance(path[-1], str):
            changed = copy.deepcopy(doc)
            parent = changed
            for part in path[:-1]:
                parent = parent[part]
            del parent[path[-1]]
            yield changed
            extra = copy.deepcopy(doc)
            parent = extra
            for part in path[:-1]:
                parent = parent[part]
            parent["unexpected" + str(rng.randrange(9))] = 1
            yield extra


def _documents(repo):
    kinds = {"registry.yaml": "registry", "model.yaml": "model"}
    for path, data in _manifests(repo):
        name = path.rsplit("/", 1)[1]
        kind = kinds.get(name, "run" if "/runs/" in path else "version")
        yield kind, yaml.load(data, Loader=_LOADER)


def test_compiled_schemas_give_jsonschemas_verdict_on_manifests_and_hostile_edits(client, tmp_path):
    from gitreg import Model, pipeline, step

    src = tmp_path / "w.txt"
    src.write_text("weights")
    client.create_model_version("m", metadata={"acc": 0.5})
    client.add_artifact("m", 1, str(src), "weights", type="model")
    client.update_model_version("m", 1, stage="production")

    @step
    def make() -> int:
        return 3

    @pipeline(model=Model("m"))
    def train():
        make()

    train()
    docs = list(_documents(client.registry.repo))
    assert {kind for kind, _doc in docs} == {"registry", "model", "version", "run"}
    rng = random.Random(3)
    checked = 0
    for kind, doc in docs:
        fast, full = _fast_validator(kind), _validator(kind)
        assert fast is not None
        for candidate in _mutations(doc, rng):
            assert fast(candidate) == full.is_valid(candidate), (kind, candidate)
            assert (schema_problems(kind, candidate) == []) == full.is_valid(candidate)
            checked += 1
    assert checked > 1000


def test_a_schema_with_a_keyword_the_compiler_does_not_know_is_left_to_jsonschema(monkeypatch):
    import gitreg.manifests as manifests

    schema = copy.deepcopy(load_schema("model"))
    schema["properties"]["tags"]["contains"] = {"const": "x"}
    manifests._fast_validator.cache_clear()
    monkeypatch.setattr(manifests, "load_schema", lambda kind: schema)
    try:
        assert manifests._fast_validator("model") is None
    finally:
        manifests._fast_validator.cache_clear()
