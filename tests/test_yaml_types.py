"""Manifests hold JSON values only: what YAML alone has a word for is a finding, never a crash or a silent read.

A hand-committed date, binary value, set, tag or non-string key used to pass plain `gitreg check`, crash
`check --base` (its JSON cache cannot hold a date) and every read after a merge.  Now parsing refuses it,
naming the file, the field, the line and what to write instead, with the finding code ``yaml-type``.
The CLI runs in a subprocess with a timeout: a guard that turns a hang into a failure, never a measurement.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from gitreg.check import FINDINGS
from gitreg.errors import InvalidValueError, ManifestError
from gitreg.manifests import MAX_MANIFEST_BYTES, MAX_NESTING, dump_yaml, parse_yaml, schema_problems
from gitreg.manifests.yaml_io import MAX_MANIFEST_NODES, count_nodes

GUARD = 60  # seconds; each command here answers in a few
VERSION = ".mcp/models/m/versions/1.yaml"


def gitreg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=GUARD)


def commit_file(repo: Path, path: str, text: str) -> None:
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", f"hand edit of {path}")


def version_text(metadata_block: str = "metadata: {}\n", tags_block: str = "tags: []\n") -> str:
    return ("format: 1\nmodel: m\nnumber: 1\nname: '1'\nstage: none\n" + tags_block +
            "created: '2026-11-26T15:47:52Z'\n" + metadata_block + "artifacts: []\nruns: []\n")


DATED = version_text("metadata:\n  accuracy: 0.9\n  reviewed: 2026-01-01\n")


# ---------------------------------------------------------------- the parse layer

@pytest.mark.parametrize("text, field, said", [
    ("metadata:\n  reviewed: 2026-01-01\n", "metadata.reviewed", "a YAML date (line 2); quote it: '2026-01-01'"),
    ("a: 2026-01-01 10:00:00\n", "a", "a YAML timestamp (line 1); quote it: '2026-01-01 10:00:00'"),
    ("a: [x, 2026-01-01T00:00:00Z]\n", "a.1", "a YAML timestamp"),
    ("a: !!timestamp '2026-01-01'\n", "a", "a YAML date (!!timestamp"),
    ("x: [1, {b: !!binary aGk=}]\n", "x.1.b", "YAML binary data (!!binary"),
    ("s: !!set {a, b}\n", "s", "a YAML set (!!set, line 1); write a list instead"),
    ("o: !!omap [a: 1, b: 2]\n", "o", "a YAML ordered mapping (!!omap"),
    ("p: !!pairs [a: 1, a: 2]\n", "p", "a YAML list of pairs (!!pairs"),
    ("a: !!python/name:os.system ''\n", "a", "a Python object tag (!!python/name:os.system"),
    ("a: !!python/object/apply:os.system [ls]\n", "a", "a Python object tag"),
    ("a: !custom x\n", "a", "the YAML tag !custom"),
    ("a: !!str [x]\n", "a", "the YAML tag !!str on a list"),
    ("1: one\n", "", "the key '1' reads as a YAML integer (line 1); keys are strings: quote it: '1'"),
    ("m:\n  true: t\n", "m", "the key 'true' reads as a YAML boolean (line 2)"),
    ("m: {null: n}\n", "m", "the key 'null' reads as YAML null"),
    ("m: {~: n}\n", "m", "the key '~' reads as YAML null"),
    ("m: {1.5: f}\n", "m", "the key '1.5' reads as a YAML number"),
    ("m: {2026-01-01: d}\n", "m", "the key '2026-01-01' reads as a YAML date"),
    ("m: {[a]: b}\n", "m", "a list used as a key (line 1); keys are strings"),
    ("m:\n  ? {a: 1}\n  : x\n", "m", "a mapping used as a key (line 2)"),
    ("m: {!!binary aGk=: x}\n", "m", "the key 'aGk=' has the YAML tag !!binary"),
    ("<<: {a: 1}\nc: 3\n", "", "the key '<<' reads as a YAML merge key"),
    ("b: {<<: {a: 1}, c: 2}\n", "b", "the key '<<' reads as a YAML merge key"),
    ("a: <<\n", "a", "'<<' reads as a YAML merge key (line 1); quote it: '<<'"),
    ("a: =\n", "a", "'=' reads as YAML's value key"),
    ("a: .nan\n", "a", "'.nan' is not a JSON number"),
    ("a: [-.inf]\n", "a.0", "'-.inf' is not a JSON number"),
    ("a: 1.0e+999\n", "a", "'1.0e+999' is not a JSON number"),
    ("!!set {a, b}\n", "", "a YAML set"),
])
def test_yaml_only_values_are_refused_naming_field_line_and_fix(text, field, said):
    with pytest.raises(ManifestError) as info:
        parse_yaml(text.encode(), "f.yaml")
    error = info.value
    assert error.code == "yaml-type" and error.path == "f.yaml" and error.field == field
    assert said in error.problem and "\n" not in str(error)
    assert str(error).startswith(f"f.yaml:{field}: " if field else "f.yaml: ")


def test_the_code_is_a_finding_that_must_be_fixed():
    finding = FINDINGS["yaml-type"]
    assert not finding.acceptable and not finding.warning
    assert ManifestError("p", "", "x").code == "schema"  # every other caller: as before


@pytest.mark.parametrize("text, expected", [
    ("a: '2026-01-01'\nb: \"1\"\n'1': one\n'true': t\n'<<': m\nc: '.nan'\n",
     {"a": "2026-01-01", "b": "1", "1": "one", "true": "t", "<<": "m", "c": ".nan"}),
    ("a: !!str 2026-01-01\nb: !!str 1\n!!str 2: two\nc: !!int '7'\nd: !!float 1\ne: !!bool 'yes'\nf: !!null x\n",
     {"a": "2026-01-01", "b": "1", "2": "two", "c": 7, "d": 1.0, "e": True, "f": None}),
    ("a: 0x1F\nb: 017\nc: 1_000\nd: 1:30\ne: 1:30.5\nf: +1\ng: -0.5e+3\nh: yes\ni: ~\nj: ! 12\n",
     {"a": 31, "b": 15, "c": 1000, "d": 90, "e": 90.5, "f": 1, "g": -500.0, "h": True, "i": None, "j": 12}),
])
def test_what_json_has_a_word_for_is_read_as_yaml_safe_load_reads_it(text, expected):
    import yaml

    got = parse_yaml(text.encode(), "f.yaml")
    assert got == expected == yaml.safe_load(text)
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize("text, said", [
    ("a: !!int x\n", "'x' is not a valid !!int"),
    ("a: !!bool maybe\n", "'maybe' is not a valid !!bool"),
    ("a: !!float ''\n", "'' is not a valid !!float"),
    ("a: 0x" + "f" * 4000 + "\n", "an integer of more than 4300 digits"),
    ("a: 1" + ":1" * 3000 + "\n", "an integer of more than 4300 digits"),
])
def test_values_safe_load_cannot_make_or_json_cannot_hold_are_manifest_errors(text, said):
    # PyYAML raises KeyError, IndexError or ValueError on some of these: here they are ManifestError, code schema
    with pytest.raises(ManifestError) as info:
        parse_yaml(text.encode(), "f.yaml")
    assert said in info.value.problem and info.value.code == "schema" and info.value.field == "a"


def test_a_long_base_60_number_is_read_by_splitting_it():
    # the resolver's pattern for 1:2:3 keeps state per part (hundreds of MiB on a 4 MiB text), and the
    # constructor's sum of the parts takes quadratic time: such a scalar is resolved without either
    parts = ":1" * 300_000
    with pytest.raises(ManifestError) as info:
        parse_yaml(f"a: 1{parts}\n", "f.yaml")
    assert info.value.field == "a" and "more than 4300 digits" in info.value.problem
    with pytest.raises(ManifestError) as info:
        parse_yaml(f"a: 1{parts}.5\n", "f.yaml")  # a float: infinite
    assert info.value.field == "a" and "not a JSON number" in info.value.problem
    assert parse_yaml(f"a: 1{parts}x\nb: 0{parts}\n", "f.yaml") == {"a": f"1{parts}x", "b": f"0{parts}"}


def test_a_second_document_is_refused():
    with pytest.raises(ManifestError) as info:
        parse_yaml(b"a: 1\n---\nb: 2\n", "f.yaml")
    assert "a second document" in info.value.problem and "(line 2)" in info.value.problem


# ---------------------------------------------------------------- the node limit

def _flow_list(nodes: int) -> str:
    """A manifest of ``nodes`` nodes: the root mapping, its key k and a list of nodes - 3 zeros."""
    return "k: [" + "0," * (nodes - 3) + "]\n"


def test_node_limit_of_parsed_manifests():
    assert len(_flow_list(MAX_MANIFEST_NODES)) < MAX_MANIFEST_BYTES  # the bytes allow more than the nodes do
    assert len(parse_yaml(_flow_list(MAX_MANIFEST_NODES), "f.yaml")["k"]) == MAX_MANIFEST_NODES - 3
    for text in (_flow_list(MAX_MANIFEST_NODES + 1), "k: [" + "[]," * MAX_MANIFEST_NODES + "]\n"):
        with pytest.raises(ManifestError) as info:
            parse_yaml(text, "f.yaml")
        assert f"more than {MAX_MANIFEST_NODES:,} values" in info.value.problem


def test_a_write_over_the_node_limit_is_refused_and_one_at_it_reads_back(client, repo):
    client.create_model_version("m")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidValueError) as info:
        client.log_metadata("m", 1, {"k": [0] * MAX_MANIFEST_NODES})
    assert VERSION in str(info.value) and f"more than {MAX_MANIFEST_NODES:,} values" in str(info.value)
    assert git(repo, "rev-parse", "HEAD") == head
    fits = MAX_MANIFEST_NODES - count_nodes((repo / VERSION).read_bytes()) - 2  # the key "k" and its list
    client.log_metadata("m", 1, {"k": [0] * fits})
    assert count_nodes((repo / VERSION).read_bytes()) == MAX_MANIFEST_NODES
    assert len(client.get_model_version("m", 1).metadata["k"]) == fits


def test_a_dumped_manifest_has_fewer_nodes_than_bytes():
    # within_limit counts the nodes of a written manifest only from MAX_MANIFEST_NODES bytes on
    for doc in ({"k": [0] * 1000}, {"k": [[]] * 1000}, {"k": [{}] * 1000}, {"k": [[[[0]]]] * 300},
                {str(i): "" for i in range(1000)}, {"a": {"b": {"c": [None, True, "", 0.5]}}}):
        data = dump_yaml(doc)
        assert count_nodes(data) <= len(data)


# ---------------------------------------------------------------- check, check --base and reads

@pytest.fixture
def dated(client, repo) -> Path:
    client.create_model_version("m")
    commit_file(repo, VERSION, DATED)
    return repo


def test_check_reports_an_unquoted_date_and_passes_once_it_is_quoted(dated):
    res = gitreg(dated, "check")
    assert res.returncode == 14 and "Traceback" not in res.stdout + res.stderr
    line = next(x for x in res.stdout.splitlines() if VERSION in x)
    assert "error: a YAML date (line 10); quote it: '2026-01-01'" in line
    commit_file(dated, VERSION, DATED.replace("2026-01-01", "'2026-01-01'"))  # the advice, taken
    res = gitreg(dated, "check")
    assert res.returncode == 0, res.stdout + res.stderr


def test_check_names_the_field_and_the_yaml_type_code(dated):
    res = gitreg(dated, "check")
    assert f"{VERSION}:metadata.reviewed: error: a YAML date" in res.stdout and "[yaml-type]" in res.stdout


def test_check_base_reports_a_date_a_branch_adds_without_a_traceback(client, repo):
    client.create_model_version("m")
    git(repo, "checkout", "-qb", "dated")
    commit_file(repo, VERSION, DATED)
    res = gitreg(repo, "check", "--base", "main")
    assert res.returncode == 14 and "Traceback" not in res.stdout + res.stderr
    assert any(VERSION in x and "a YAML date (line 10)" in x for x in res.stdout.splitlines())


@pytest.mark.parametrize("text", [
    version_text("metadata:\n  blob: !!binary aGk=\n"),
    version_text("metadata:\n  s: !!set {a, b}\n"),
    version_text("metadata:\n  1: x\n"),
    version_text("metadata:\n  ? [a]\n  : b\n"),
    version_text("metadata:\n  <<: {a: 1}\n"),
])
def test_check_and_check_base_report_yaml_only_values(client, repo, text):
    client.create_model_version("m")
    git(repo, "checkout", "-qb", "hand-edit")
    commit_file(repo, VERSION, text)
    for args in (["check"], ["check", "--base", "main"]):
        res = gitreg(repo, *args)
        assert res.returncode == 14 and "Traceback" not in res.stdout + res.stderr, args
        assert any(x.startswith(f"{VERSION}:metadata") and ": error: " in x and x.endswith("[yaml-type]")
                   for x in res.stdout.splitlines()), res.stdout


@pytest.mark.parametrize("args", [["model", "version", "describe", "m", "1"], ["metadata", "show", "m"]])
def test_reads_of_the_version_fail_in_one_line(dated, args):
    res = gitreg(dated, *args)
    assert res.returncode == 7 and "Traceback" not in res.stdout + res.stderr
    [line] = res.stderr.strip().splitlines()
    assert VERSION in line and "a YAML date (line 10); quote it: '2026-01-01'" in line


def test_check_refuses_a_manifest_of_a_million_empty_lists(client, repo):
    client.create_model_version("m")
    commit_file(repo, VERSION, version_text("metadata:\n  k: [" + "[]," * (MAX_MANIFEST_NODES + 1) + "]\n"))
    res = gitreg(repo, "check")
    assert res.returncode == 14 and "Traceback" not in res.stdout + res.stderr
    assert f"{VERSION}: error: more than {MAX_MANIFEST_NODES:,} values" in res.stdout


def test_nested_empty_lists_are_refused_at_the_nesting_limit():
    text = version_text("metadata:\n  k: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ManifestError) as info:
        parse_yaml(text, VERSION)
    assert "nesting" in info.value.problem or f"more than {MAX_NESTING} levels" in info.value.problem


# ---------------------------------------------------------------- the schema check of a large document

def test_unique_items_of_mappings_are_compared_in_linear_time(client, repo):
    # jsonschema compares every pair of items that do not sort: 100,000 tags took more than ten minutes
    client.create_model_version("m")
    commit_file(repo, VERSION, version_text(tags_block="tags:\n" + "- {a: 0}\n" * 100_000))
    res = gitreg(repo, "check")
    assert res.returncode == 14 and "Traceback" not in res.stdout + res.stderr
    listed = [x for x in res.stdout.splitlines() if x.startswith(VERSION)]
    assert len(listed) == 101 and "more problems than the 100 listed" in listed[-1]
    assert all(len(x) < 400 for x in listed)


def test_schema_problems_are_capped_and_shortened():
    doc = parse_yaml(version_text(tags_block="tags: [" + "1, " * 5000 + "1]\n"), VERSION)
    problems = schema_problems("version", doc)
    assert len(problems) == 101 and problems[-1][0] == "" and "more problems" in problems[-1][1]
    assert {field for field, _ in problems[:100]} == {f"tags.{i}" for i in range(100)}  # the first 100 found
    assert {message for _, message in problems[:100]} == {"1 is not of type 'string'"}
    doc = parse_yaml(version_text() + "created_by_run: [" + "x, " * 5000 + "x]\n", VERSION)
    [(field, message)] = schema_problems("version", doc)
    assert field == "created_by_run" and message.startswith("['x', 'x'") and message.endswith("...")
    assert len(message) == 303  # jsonschema quotes the whole list: 25,000 characters


@pytest.mark.parametrize("text, field", [
    ("a: 1\na: 2\n", ""),
    ("m:\n  x: 1\n  'x': 2\n", "m"),
    ("stage: none\nname: '1'\nstage: production\n", ""),
    ("l:\n- {k: 1, k: 1}\n", "l.0"),
])
def test_a_key_twice_in_one_mapping_is_refused(text, field):
    # YAML keys are unique: a reader that keeps the last value and one that keeps the first would show a
    # reviewer and a deploy different manifests
    with pytest.raises(ManifestError) as raised:
        parse_yaml(text, "f.yaml")
    assert raised.value.code == "schema" and "appears twice" in str(raised.value)
    assert raised.value.field == field
