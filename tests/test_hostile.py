"""Hostile input: manifests built to hang or crash readers, names that are not names, bare repositories.

Every command here runs in a subprocess with a timeout: a guard that turns a hang into a
failure, never a measurement.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.errors import (
    BareRepositoryError,
    InvalidNameError,
    InvalidValueError,
    ManifestError,
    NotARegistryError,
)
from gitreg.git.reader import ObjectReader
from gitreg.manifests import (
    MAX_MANIFEST_BYTES,
    MAX_METADATA_DEPTH,
    MAX_NESTING,
    RegistryConfig,
    dump_yaml,
    parse_yaml,
)

GUARD = 60  # seconds; each of these commands answers in about one


def gitreg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=GUARD)


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    """The error a failed command printed: one line, no traceback."""
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def commit_file(repo: Path, path: str, text: str | bytes) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", f"hand edit of {path}")


def nested(depth: int) -> object:
    """A mapping ``depth`` levels deep (itself included): {"a": {"a": ... 1}}."""
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


VERSION = ".mcp/models/m/versions/1.yaml"

# Seventeen lines: 9**15 strings once expanded.
ALIAS_BOMB = "metadata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 16))


def version_text(metadata_block: str) -> str:
    return ("format: 1\nmodel: m\nnumber: 1\nname: '1'\nstage: none\ntags: []\n"
            "created: '2026-11-26T15:47:52Z'\n" + metadata_block + "artifacts: []\nruns: []\n")


@pytest.fixture
def bombed(client, repo) -> Path:
    client.create_model_version("m")
    assert ALIAS_BOMB.count("\n") == 17
    commit_file(repo, VERSION, version_text(ALIAS_BOMB))
    return repo


# ---------------------------------------------------------------- YAML anchors and aliases

@pytest.mark.parametrize("args, code", [
    (["model", "version", "list", "m"], 7),
    (["model", "describe", "m"], 7),
    (["metadata", "show", "m"], 7),
    (["model", "version", "describe", "m", "1"], 7),
])
def test_alias_bomb_is_refused_naming_the_file(bombed, args, code):
    res = gitreg(bombed, *args)
    assert res.returncode == code
    line = one_line_error(res)
    assert VERSION in line and "anchors and aliases" in line


def test_check_reports_an_alias_bomb_and_finishes(bombed):
    res = gitreg(bombed, "check")
    assert res.returncode == 14 and "Traceback" not in res.stderr
    assert f"{VERSION}: error: YAML anchors and aliases" in res.stdout
    base = git(bombed, "rev-parse", "HEAD~1")
    res = gitreg(bombed, "check", "--base", base)  # the pull request that carries it
    assert res.returncode == 14 and f"{VERSION}: error: YAML anchors and aliases" in res.stdout


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: 2\n",            # an anchor nothing refers to
    "a: &x [1]\nb: *x\n",         # an alias
    "a: {b: &x 1, c: *x}\n",      # inside flow style
    "&x {a: 1}\n",                # at the very start
    "a: !!str &x s\n",            # after a tag
])
def test_anchors_and_aliases_are_refused(text):
    with pytest.raises(ManifestError) as info:
        parse_yaml(text.encode(), "x.yaml")
    assert info.value.path == "x.yaml" and "anchors and aliases" in info.value.problem and "line 1" in str(info.value)


@pytest.mark.parametrize("text, value", [
    ("d: R&D x*y\n", "R&D x*y"),
    ("d: '**bold** & more'\n", "**bold** & more"),
    ("d: a * b & c\n", "a * b & c"),
    ("d: \"&x *y\"\n", "&x *y"),
])
def test_ampersands_and_stars_in_values_still_parse(text, value):
    assert parse_yaml(text.encode(), "x.yaml") == {"d": value}
    assert parse_yaml(text, "x.yaml") == {"d": value}


def test_dumped_yaml_never_uses_aliases():
    shared = {"k": [1, 2]}
    data = dump_yaml({"a": shared, "b": shared, "c": shared["k"]})
    assert b"&" not in data and b"*" not in data
    assert parse_yaml(data, "x.yaml") == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}, "c": [1, 2]}


# ---------------------------------------------------------------- size and depth

def test_oversized_manifest_is_refused():
    data = b"a: '" + b"x" * MAX_MANIFEST_BYTES + b"'\n"
    with pytest.raises(ManifestError) as info:
        parse_yaml(data, "big.yaml")
    assert info.value.path == "big.yaml" and "MiB" in info.value.problem


def test_check_reports_an_oversized_version_manifest(client, repo):
    client.create_model_version("m")
    big = "metadata:\n  notes: '" + "x" * MAX_MANIFEST_BYTES + "'\n"
    commit_file(repo, VERSION, version_text(big))
    res = gitreg(repo, "check")
    assert res.returncode == 14 and "Traceback" not in res.stderr
    assert f"{VERSION}: error: " in res.stdout and "MiB a manifest may have" in res.stdout


def test_a_write_that_would_exceed_the_size_limit_is_refused(client, repo):
    client.create_model_version("m")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidValueError) as info:
        client.log_metadata("m", 1, {"notes": "x" * MAX_MANIFEST_BYTES})
    assert VERSION in str(info.value) and "MiB" in str(info.value)
    assert git(repo, "rev-parse", "HEAD") == head
    assert client.get_model_version("m", 1).metadata == {}


def test_nesting_limit_of_parsed_manifests():
    def flow(depth: int) -> str:  # a mapping with one list holding lists: ``depth`` levels in all
        return "k: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"

    assert parse_yaml(flow(MAX_NESTING), "x.yaml")["k"]
    with pytest.raises(ManifestError) as info:
        parse_yaml(flow(MAX_NESTING + 1), "x.yaml")
    assert f"more than {MAX_NESTING} levels deep (at k.0.0.0" in info.value.problem


def test_check_reports_deeply_nested_metadata(client, repo):
    client.create_model_version("m")
    deep = "metadata:\n  k: " + "[" * 900 + "]" * 900 + "\n"  # under libyaml's own limit of 1,000
    commit_file(repo, VERSION, version_text(deep))
    res = gitreg(repo, "check")
    assert res.returncode == 14 and "Traceback" not in res.stderr
    assert f"{VERSION}: error: lists and mappings nested more than {MAX_NESTING} levels deep (at metadata.k.0.0" \
        in res.stdout
    res = gitreg(repo, "metadata", "show", "m")
    assert res.returncode == 7 and VERSION in one_line_error(res)


def test_integer_too_long_to_convert_is_a_manifest_error():
    with pytest.raises(ManifestError) as info:
        parse_yaml("a: " + "1" * 5000 + "\n", "x.yaml")
    assert info.value.path == "x.yaml"


def test_metadata_at_the_depth_limit_is_written_and_read_back(client, repo):
    client.create_model_version("m")
    value = nested(MAX_METADATA_DEPTH - 1)  # inside the metadata mapping: the limit exactly
    client.log_metadata("m", 1, {"k": value})
    assert Client(repo).get_model_version("m", 1).metadata["k"] == value
    assert gitreg(repo, "check").returncode == 0


def test_metadata_nested_too_deep_in_python(client):
    client.create_model_version("m")
    for value in (nested(MAX_METADATA_DEPTH), nested(1000)):
        with pytest.raises(InvalidValueError) as info:
            client.log_metadata("m", 1, {"k": value})
        assert f"nested more than {MAX_METADATA_DEPTH} levels" in str(info.value)
        assert "metadata.k.a.a" in str(info.value)
    looped: dict = {}
    looped["self"] = looped
    with pytest.raises(InvalidValueError):
        client.log_metadata("m", 1, {"k": looped})
    with pytest.raises(InvalidValueError):
        client.create_model_version("m", metadata={"k": nested(1000)})
    assert [v.number for v in client.list_model_versions("m")] == [1]


def test_metadata_nested_too_deep_on_the_command_line(client, repo):
    client.create_model_version("m")
    head = git(repo, "rev-parse", "HEAD")
    deep = "[" * 2000 + "]" * 2000
    res = gitreg(repo, "metadata", "log", "m", "1", f"k={deep}")
    assert res.returncode == 2
    assert f"'metadata.k': nested more than {MAX_METADATA_DEPTH} levels" in one_line_error(res)
    res = gitreg(repo, "model", "version", "list", "m", "--metadata", f"k:eq:{deep}")
    assert res.returncode == 2 and f"more than {MAX_METADATA_DEPTH} levels" in one_line_error(res)
    assert git(repo, "rev-parse", "HEAD") == head
    # brackets inside JSON strings are text, not nesting
    res = gitreg(repo, "metadata", "log", "m", "1", 'k=["' + "[" * 100 + '"]')
    assert res.returncode == 0 and client.get_model_version("m", 1).metadata["k"] == ["[" * 100]
    # and a text that is not JSON stays text, brackets and all
    res = gitreg(repo, "metadata", "log", "m", "1", "note=see " + "[" * 100)
    assert res.returncode == 0 and client.get_model_version("m", 1).metadata["note"] == "see " + "[" * 100


# ---------------------------------------------------------------- names at the API's entrance

BAD_MODEL_NAMES = ["my model", "", "a/../m", "m/versions", "m\nx", "m*", "../m"]


@pytest.mark.parametrize("name, reason", [("my model", "contains ' '"), ("", "must not be empty")])
def test_describe_with_an_invalid_model_name(repo, name, reason):
    res = gitreg(repo, "model", "describe", name)
    assert res.returncode == 2
    assert one_line_error(res) == f"error: invalid model name {name!r}: {reason}" + \
        ("; use letters, digits, '.', '_' and '-'" if name else "")


@pytest.mark.parametrize("args", [
    ["model", "version", "list", "my model"],
    ["model", "version", "describe", "m", "bad name"],
    ["metadata", "show", "m", "bad\nname"],
    ["model", "version", "history", "m*"],
    ["artifact", "get", "m", "1", "a b"],
    ["model", "version", "model_artifacts", "m m"],
    ["run", "describe", "a b"],
])
def test_cli_reads_refuse_invalid_names(client, repo, args):
    client.create_model_version("m")
    res = gitreg(repo, *args)
    assert res.returncode == 2 and "invalid" in one_line_error(res) and "name" in one_line_error(res)


def test_invalid_names_never_reach_git(client, monkeypatch):
    client.create_model_version("m")
    asked: list[str] = []
    real = ObjectReader.ask

    def spy(self, requests):
        asked.extend(requests)
        return real(self, requests)

    monkeypatch.setattr(ObjectReader, "ask", spy)
    model_calls = [
        lambda bad: client.get_model(bad), lambda bad: client.get_model_state(bad),
        lambda bad: client.get_model_version(bad), lambda bad: client.list_model_versions(bad),
        lambda bad: client.version_history(bad), lambda bad: client.list_runs(bad),
        lambda bad: client.list_artifacts(bad), lambda bad: client.log_metadata(bad, None, {"a": 1}),
        lambda bad: client.update_model(bad, description="d"), lambda bad: client.delete_model(bad),
        lambda bad: client.create_model(bad), lambda bad: client.create_model_version(bad),
        lambda bad: client.update_model_version(bad, 1, stage="staging"),
        lambda bad: client.delete_model_version(bad, 1), lambda bad: client.delete_artifact(bad, 1, "a"),
    ]
    for bad in BAD_MODEL_NAMES:
        for call in model_calls:
            with pytest.raises(InvalidNameError) as info:
                call(bad)
            assert info.value.kind == "model"
    version_calls = [
        lambda bad: client.get_model_version("m", bad), lambda bad: client.update_model_version("m", bad),
        lambda bad: client.log_metadata("m", bad, {"a": 1}), lambda bad: client.delete_model_version("m", bad),
    ]
    artifact_calls = [
        lambda bad: client.get_artifact("m", 1, bad), lambda bad: client.load_artifact("m", 1, bad),
        lambda bad: client.delete_artifact("m", 1, bad),
    ]
    for bad in ("bad name", "a\nb", "x/y"):
        for call in version_calls:
            with pytest.raises(InvalidNameError) as info:
                call(bad)
            assert info.value.kind == "version"
        for call in artifact_calls:
            with pytest.raises(InvalidNameError) as info:
                call(bad)
            assert info.value.kind == "artifact"
        with pytest.raises(InvalidNameError):
            client.get_run(bad)
    assert not [r for r in asked if any(c in r for c in " \n*") or "/../" in r or r.endswith(":.mcp/models/")]
    assert client.get_model_version("m", "latest").number == 1  # valid names still work


# ---------------------------------------------------------------- bare repositories

@pytest.fixture
def bare(repo, tmp_path) -> Path:
    Client(repo).create_model_version("m")
    target = tmp_path / "registry.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(target))
    return target


def test_repo_option_on_a_bare_repository(bare, tmp_path):
    res = gitreg(tmp_path, "--repo", str(bare), "model", "list")
    assert res.returncode == 3
    line = one_line_error(res)
    assert "is a bare git repository" in line and f"--repo {bare.as_uri()}" in line
    res = gitreg(tmp_path, "--repo", str(bare / "refs" / "heads"), "model", "list")
    assert res.returncode == 3 and "is a bare git repository" in one_line_error(res)
    res = gitreg(tmp_path, "--repo", bare.as_uri(), "model", "list")  # what the message says to do
    assert res.returncode == 0 and res.stdout.splitlines()[1].split()[0] == "m"


def test_bare_repository_inside_a_registry_is_not_mistaken_for_it(repo, bare):
    inner = repo / "mirror.git"
    bare.rename(inner)
    with pytest.raises(BareRepositoryError):
        Client(inner)
    with pytest.raises(NotARegistryError):
        Client(inner / "objects")
    assert Client(repo).get_model_version("m").number == 1  # the work tree around it still opens


def test_init_refuses_a_bare_repository(bare, tmp_path):
    res = gitreg(tmp_path, "init", str(bare))
    assert res.returncode == 3 and "is a bare git repository" in one_line_error(res)
    assert git(bare, "rev-parse", "--is-bare-repository") == "true"
    assert not (bare / ".git").exists() and not (bare / ".mcp").exists()


# ---------------------------------------------------------------- tag prefixes

@pytest.mark.parametrize("prefix", ["a..b", "x.lock", "team/x.LOCK", "a.", ".a", "a/", "a//b", "a b", "a~b"])
def test_init_refuses_a_tag_prefix_git_cannot_use(tmp_path, prefix):
    target = tmp_path / "new"
    with pytest.raises(InvalidNameError) as info:
        Client.init(target, tag_prefix=prefix)
    assert info.value.kind == "tag prefix"
    assert not target.exists()  # refused before anything was created
    with pytest.raises(InvalidNameError):
        RegistryConfig(store="s", tag_prefix=prefix)


@pytest.mark.parametrize("prefix", ["a..b", "x.lock"])
def test_cli_init_refuses_a_bad_tag_prefix(tmp_path, prefix):
    res = gitreg(tmp_path, "init", "--tag-prefix", prefix, "new")
    assert res.returncode == 2 and f"invalid tag prefix name {prefix!r}" in one_line_error(res)
    assert not (tmp_path / "new").exists()


def test_nested_tag_prefix_works_end_to_end(tmp_path):
    c = Client.init(tmp_path / "r", tag_prefix="team-a/models")
    c.create_model_version("m")
    c.update_model_version("m", 1, stage="production")
    assert git(tmp_path / "r", "tag", "-l").split() == ["team-a/models/m/production/1", "team-a/models/m/v1"]
    assert gitreg(tmp_path / "r", "check").returncode == 0


@pytest.mark.parametrize("prefix", ["a..b", "x.lock", "a/.b"])
def test_check_fails_on_a_hand_edited_bad_tag_prefix(repo, prefix):
    text = (repo / ".mcp/registry.yaml").read_text()
    commit_file(repo, ".mcp/registry.yaml", text.replace("tag_prefix: models", f"tag_prefix: {prefix}"))
    res = gitreg(repo, "check")  # the report says what is wrong (check opens a registry that does not read)
    assert res.returncode == 14 and "Traceback" not in res.stderr
    [line] = [x for x in res.stdout.splitlines() if x.startswith(".mcp/registry.yaml:tag_prefix")]
    assert line.startswith(f".mcp/registry.yaml:tag_prefix: error: {prefix!r}") and "git could not create" in line
    res = gitreg(repo, "model", "list")  # and every other command refuses it in one line
    assert res.returncode != 0
    line = one_line_error(res)
    assert line.startswith(f"error: .mcp/registry.yaml:tag_prefix: {prefix!r}") and "git could not create" in line


def test_a_run_whose_manifest_would_exceed_the_limit_is_refused_not_written(repo, client):
    """Reads refuse manifests over the limit, so a write must never produce one (run records too)."""
    from gitreg import pipeline, step
    from gitreg.errors import InvalidValueError

    @step
    def echo(text: str) -> int:
        return len(text)

    @pipeline
    def big(text: str) -> None:
        echo(text)

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    with pytest.raises(InvalidValueError, match="more than the 4 MiB"):
        big(text="x" * (5 * 1024 * 1024))
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout == head
    assert client.check().ok
