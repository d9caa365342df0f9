"""Registry files are exactly the bytes gitreg wrote, whatever core.autocrlf, core.eol, a .gitattributes or
.git/info/attributes says: gitreg pins its own attributes in .mcp/.gitattributes, writes its bytes past
git's conversions, takes a file git checked out with CRLF line endings for unchanged, refuses to write when
info/attributes would make git store other bytes, and `check --base` reports attribute changes that could
reach .mcp/ or the artifact store."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg import Client
from gitreg.attributes import ATTRIBUTES_PATH, could_apply, covers, pinned_attributes
from gitreg.cli.app import main

ROT13 = "tr 'A-Za-z' 'N-ZA-Mn-za-m'"  # a filter that changes bytes, and undoes itself
ROT13_DRIVER = {"filter.rot13.clean": ROT13, "filter.rot13.smudge": ROT13}


@dataclass(frozen=True)
class Setup:
    """A clone's configuration and the repository's top .gitattributes."""

    name: str
    config: dict[str, str] = field(default_factory=dict)
    attributes: str | None = None

    def __str__(self) -> str:
        return self.name


SETUPS = [
    Setup("autocrlf-true", {"core.autocrlf": "true"}),
    Setup("autocrlf-input", {"core.autocrlf": "input"}),
    Setup("eol-crlf", {"core.eol": "crlf"}),
    Setup("eol-crlf-text-auto", {"core.eol": "crlf"}, "* text=auto\n"),
    Setup("text-eol-crlf", {}, "* text eol=crlf\n"),
    Setup("mcp-text-eol-crlf", {}, ".mcp/** text eol=crlf\n"),
    Setup("filter-without-driver", {}, "* filter=absent\n"),
    Setup("filter-rot13", ROT13_DRIVER, "*.yaml filter=rot13\n"),
    Setup("filter-rot13-required-crlf", {**ROT13_DRIVER, "filter.rot13.required": "true", "core.autocrlf": "true"},
          "*.yaml filter=rot13 text eol=crlf\n"),
    Setup("utf16", {}, "*.yaml working-tree-encoding=UTF-16\n"),
    Setup("ident", {}, "* ident\n"),
    # an index git writes itself (gitreg edits only plain ones in-process)
    Setup("filter-rot13-index-v4", {**ROT13_DRIVER, "index.version": "4"}, "*.yaml filter=rot13\n"),
    Setup("autocrlf-safecrlf-index-v4", {"core.autocrlf": "true", "core.safecrlf": "true", "index.version": "4"}),
]

# Each operation, then the next one as the second write.
OPERATIONS: list[tuple[str, Callable[[Client], object]]] = [
    ("register", lambda c: c.create_model_version("iris", description="a\r\nb $Id$")),
    ("set-stage", lambda c: c.update_model_version("iris", 1, stage="staging")),
    ("log-metadata", lambda c: c.log_metadata("iris", 1, {"accuracy": 0.9, "notes": "x\r\ny"})),
]


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch):
    """Manifests carry creation times: fixed, so that two registries made alike hold the same bytes."""
    monkeypatch.setattr("gitreg.operations.now", lambda: "2026-01-02T03:04:05Z")


def run(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=check)


def configure(repo: Path, setup: Setup) -> None:
    for key, value in setup.config.items():
        git(repo, "config", key, value)


def commit_attributes(repo: Path, text: str | None, path: str = ".gitattributes") -> None:
    if text is None:
        return
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-qm", f"attributes: {text.strip()}")


def first_version(client: Client) -> None:
    client.create_model_version("iris", description="$Id$ of the first")  # what `ident` would expand


def plain_registry(where: Path, pinned: bool = True) -> Path:
    """An ordinary registry (no configuration of note) with iris v1; without the pinned file if not ``pinned``
    (a registry made before gitreg pinned its attributes)."""
    where.mkdir()
    Client.init(where)
    first_version(Client(where))
    if not pinned:
        git(where, "rm", "-q", ATTRIBUTES_PATH)
        git(where, "commit", "-qm", "a registry from before the pinned attributes")
    return where


def clone(origin: Path, where: Path, setup: Setup) -> Path:
    options = [arg for key, value in setup.config.items() for arg in ("-c", f"{key}={value}")]
    git(origin.parent, "clone", "-q", *options, str(origin), str(where))
    return where


def assert_exact(repo: Path, reference: Path, written: set[str] | None = None) -> None:
    """.mcp/ of ``repo`` is what an ordinary registry made alike holds, byte for byte, in the commit, the index
    and the work tree (of the files in ``written`` only, if given), and git sees nothing changed there."""
    assert git(repo, "rev-parse", "HEAD:.mcp") == git(reference, "rev-parse", "HEAD:.mcp")
    assert run(repo, "status", "--porcelain", "--", ".mcp").stdout == b""
    assert run(repo, "diff", "--exit-code", "--", ".mcp", check=False).returncode == 0
    assert run(repo, "diff", "--cached", "--exit-code", "--", ".mcp", check=False).returncode == 0
    for line in git(repo, "ls-tree", "-r", "HEAD", "--", ".mcp").splitlines():
        info, path = line.split("\t")
        if written is None or path in written:
            assert (repo / path).read_bytes() == run(repo, "cat-file", "blob", info.split()[2]).stdout, path


def both(repo: Path, reference: Path, operation: Callable[[Client], object]) -> None:
    operation(Client(repo))
    operation(Client(reference))


# ---------------------------------------------------------------- writes under every configuration

@pytest.mark.parametrize("first", range(len(OPERATIONS)), ids=[name for name, _op in OPERATIONS])
@pytest.mark.parametrize("setup", SETUPS, ids=str)
def test_a_registry_created_under_the_configuration_writes_exact_bytes(setup, first, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    configure(repo, setup)
    commit_attributes(repo, setup.attributes)
    reference = plain_registry(tmp_path / "reference")
    Client.init(repo)
    assert run(repo, "show", f"HEAD:{ATTRIBUTES_PATH}").stdout == pinned_attributes()
    first_version(Client(repo))
    assert_exact(repo, reference)
    for _name, operation in (OPERATIONS[first], OPERATIONS[(first + 1) % len(OPERATIONS)]):
        both(repo, reference, operation)
        assert_exact(repo, reference)


@pytest.mark.parametrize("first", range(len(OPERATIONS)), ids=[name for name, _op in OPERATIONS])
@pytest.mark.parametrize("setup", SETUPS, ids=str)
def test_a_registry_cloned_under_the_configuration_writes_exact_bytes(setup, first, tmp_path):
    origin = plain_registry(tmp_path / "origin")
    commit_attributes(origin, setup.attributes)
    reference = plain_registry(tmp_path / "reference")
    repo = clone(origin, tmp_path / "clone", setup)
    assert_exact(repo, reference)  # the checkout itself: exactly the blobs
    for _name, operation in (OPERATIONS[first], OPERATIONS[(first + 1) % len(OPERATIONS)]):
        both(repo, reference, operation)
        assert_exact(repo, reference)


@pytest.mark.parametrize("setup", [s for s in SETUPS if s.name in (
    "autocrlf-true", "text-eol-crlf", "mcp-text-eol-crlf", "eol-crlf-text-auto", "filter-rot13", "ident", "utf16",
    "filter-rot13-index-v4", "autocrlf-safecrlf-index-v4")], ids=str)
def test_a_registry_from_before_the_pinned_attributes_still_writes_in_such_a_clone(setup, tmp_path):
    origin = plain_registry(tmp_path / "origin", pinned=False)
    commit_attributes(origin, setup.attributes)
    reference = plain_registry(tmp_path / "reference", pinned=False)
    repo = clone(origin, tmp_path / "clone", setup)
    v1 = ".mcp/models/iris/versions/1.yaml"
    assert (repo / v1).read_bytes() != run(repo, "cat-file", "blob", f"HEAD:{v1}").stdout  # git converted it
    for _name, operation in OPERATIONS:
        both(repo, reference, operation)
        # the commit and the index are exact; the files are as git itself checks them out there
        assert_exact(repo, reference, written=set())


def test_crlf_checkouts_are_known_in_process_without_asking_git(tmp_path, monkeypatch):
    """A file that differs from its blob in CRLF line endings only is in line without a git process (the
    common case on Windows: core.autocrlf=true), and its stat is remembered for the next write."""
    from gitreg.git.worktree import WorkTree

    asked: list[list[str]] = []
    real = WorkTree._same_for_git
    monkeypatch.setattr(WorkTree, "_same_for_git", lambda self, files: asked.append(list(files)) or real(self, files))
    origin = plain_registry(tmp_path / "origin", pinned=False)
    Client(origin).create_model("other")
    repo = clone(origin, tmp_path / "clone", SETUPS[0])
    assert b"\r\n" in (repo / ".mcp/models/iris/model.yaml").read_bytes()
    for operation in (lambda c: c.create_model_version("iris"), lambda c: c.create_model_version("other"),
                      lambda c: c.log_metadata("iris", 1, {"a": 1})):
        operation(Client(repo))
    assert asked == []


@pytest.mark.parametrize("setup", [s for s in SETUPS if s.name in (
    "autocrlf-true", "text-eol-crlf", "filter-rot13", "utf16")], ids=str)
def test_adding_the_pinned_attributes_to_such_a_clone_leaves_exact_bytes(setup, tmp_path):
    """What a migration of a registry from before the pinned attributes does: the file in one write (the
    whole of .mcp/ checked), then the files git converted on checkout rewritten as their blobs' bytes."""
    from gitreg.registry import Change, Registry

    origin = plain_registry(tmp_path / "origin", pinned=False)
    commit_attributes(origin, setup.attributes)
    repo = clone(origin, tmp_path / "clone", setup)
    registry = Registry.open(repo)
    registry.transact(lambda snap: Change("gitreg: pin the attributes", {ATTRIBUTES_PATH: pinned_attributes()},
                                          paths=[".mcp"]))
    with registry.repo.sync_lock():
        rewritten = registry.repo.worktree.rewrite_exact(".mcp")
    assert ".mcp/registry.yaml" in rewritten and registry.repo.worktree.pinned()
    reference = plain_registry(tmp_path / "reference")
    assert_exact(repo, reference)
    run(repo, "update-index", "--really-refresh", check=False)  # git reads every file again: still unchanged
    assert_exact(repo, reference)
    both(repo, reference, OPERATIONS[0][1])
    assert_exact(repo, reference)


def test_a_user_edit_is_still_refused_in_a_crlf_clone(tmp_path):
    origin = plain_registry(tmp_path / "origin", pinned=False)
    repo = clone(origin, tmp_path / "clone", SETUPS[0])
    card = repo / ".mcp/models/iris/model.yaml"
    card.write_bytes(card.read_bytes().replace(b"\r\n", b"\r\n# mine\r\n", 1))
    assert main(["-C", str(repo), "model", "version", "create", "iris"]) == 8
    assert b"# mine" in card.read_bytes()


# ---------------------------------------------------------------- .git/info/attributes, before the pinned file

INFO_CASES = [
    # (lines of .git/info/attributes, what the refusal names; None: the write goes through)
    ("* text eol=crlf\n", None),
    ("* filter=absent\n", None),
    ("*.png filter=rot13\n", None),
    ("assets/** ident\n", None),
    ("* filter=rot13\n", "filter=rot13"),
    ("*.yaml filter=rot13\n", "filter=rot13"),
    (".mcp/models/** filter=rot13\n", "filter=rot13"),
    ("[attr]sealed filter=rot13\n* sealed\n", "filter=rot13"),
    ("* ident\n", "ident"),
    ("*.yaml working-tree-encoding=UTF-16\n", "working-tree-encoding=UTF-16"),
    ("* filter=rot13\n.mcp/** -filter\n", None),
    ("* ident\n* -ident\n", None),
]


@pytest.mark.parametrize("lines,refused", INFO_CASES)
def test_info_attributes_are_written_past_or_refused_in_one_line(lines, refused, tmp_path, capsys):
    repo = plain_registry(tmp_path / "origin")
    configure(repo, Setup("rot13", ROT13_DRIVER))
    (repo / ".git/info").mkdir(exist_ok=True)
    (repo / ".git/info/attributes").write_text(lines)
    reference = plain_registry(tmp_path / "reference")
    before = git(repo, "rev-parse", "HEAD")
    code = main(["-C", str(repo), "model", "version", "create", "iris"])
    err = capsys.readouterr().err
    if refused is None:
        assert code == 0, err
        Client(reference).create_model_version("iris")
        assert_exact(repo, reference)
        return
    assert code == 9 and git(repo, "rev-parse", "HEAD") == before
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ".git/info/attributes line " in err and refused in err and "add the line `.mcp/** " in err
    fix = err.split("add the line `", 1)[1].split("`", 1)[0]
    with open(repo / ".git/info/attributes", "a") as fh:
        fh.write(fix + "\n")
    assert main(["-C", str(repo), "model", "version", "create", "iris"]) == 0
    Client(reference).create_model_version("iris")
    assert_exact(repo, reference)


# ---------------------------------------------------------------- check --base

def run_check(repo: Path, *args: str) -> tuple[int, dict]:
    import io
    import json
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["-C", str(repo), "check", "-o", "json", *args])
    return code, json.loads(buf.getvalue())


@pytest.fixture
def branch(repo, client):
    client.create_model_version("iris")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo


FLAGGED = [
    (".gitattributes", ".mcp/** text eol=crlf\n"),
    (".gitattributes", "*.yaml filter=lfs\n"),
    (".gitattributes", "* -diff\n"),
    (".gitattributes", ".gitreg/store/** filter=lfs diff=lfs merge=lfs -text\n"),  # the store's path
    (".gitreg/.gitattributes", "store/** -text\n"),
    (".mcp/models/.gitattributes", "*.png binary\n"),
    (".mcp/.gitattributes", "* text\n"),
]


@pytest.mark.parametrize("path,text", FLAGGED)
def test_check_base_reports_attributes_that_could_reach_the_registry_or_the_store(branch, path, text):
    commit_attributes(branch, text, path)
    code, data = run_check(branch, "--base", "main")
    found = [p for p in data["problems"] if p["code"] == "attributes-changed"]
    assert code == 14 and [p["path"] for p in found] == [path] and not found[0]["accepted"], data
    found = [p for p in run_check(branch, "--base", "main", "--allow", "attributes-changed")[1]["problems"]
             if p["code"] == "attributes-changed"]
    assert [p["accepted"] for p in found] == [True]


@pytest.mark.parametrize("path,text", [
    ("assets/.gitattributes", "*.png binary\n"),
    ("docs/img/.gitattributes", "* filter=lfs -text\n"),
    (".gitattributes", ".mcp/ -text\n"),  # a folder's attributes do not reach its files
    (".gitattributes", "# only a comment\n"),
])
def test_check_base_says_nothing_of_attributes_that_cannot_reach_them(branch, path, text):
    commit_attributes(branch, text, path)
    assert run_check(branch, "--base", "main") == (0, {**run_check(branch, "--base", "main")[1], "problems": []})


def test_check_base_reports_the_pinned_file_removed_or_changed_and_nothing_else_of_a_comment(branch):
    git(branch, "rm", "-q", ATTRIBUTES_PATH)
    git(branch, "commit", "-qm", "unpin")
    assert [p["code"] for p in run_check(branch, "--base", "main")[1]["problems"]] == ["attributes-changed"]
    git(branch, "checkout", "-q", "main", "--", ATTRIBUTES_PATH)
    git(branch, "commit", "-qm", "pin again")
    commit_attributes(branch, ".mcp/** -text\n")
    git(branch, "checkout", "-q", "-b", "pr2")
    commit_attributes(branch, "# why\n.mcp/** -text\n")  # the lines that reach .mcp/ are the same
    assert run_check(branch, "--base", "pr")[1]["problems"] == []


def test_check_base_follows_a_store_inside_the_repository_by_absolute_path(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    Client.init(repo, store=str(repo / "artifacts"))
    Client(repo).create_model_version("iris")
    git(repo, "checkout", "-q", "-b", "pr")
    commit_attributes(repo, "artifacts/** filter=lfs\n")
    assert [p["code"] for p in run_check(repo, "--base", "main")[1]["problems"]] == ["attributes-changed"]


# ---------------------------------------------------------------- the pattern reading against git's own

_PART = st.sampled_from(["*", "**", ".mcp", "models", "m*", "*.yaml", "?odels", "[mn]odels", "iris", "v*", "x",
                         ".gitreg", "store", "objects", "*.png", ".*"])
_PATTERNS = st.lists(_PART, min_size=1, max_size=4).map("/".join) | \
    st.lists(_PART, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
_BASES = st.sampled_from(["", ".mcp", ".mcp/models", "assets", ".gitreg"])
_SAMPLES = [".mcp/registry.yaml", ".mcp/.gitattributes", ".mcp/models/iris/model.yaml",
            ".mcp/models/iris/versions/1.yaml", ".mcp/runs/r1.yaml", ".mcp/models/x.png",
            ".gitreg/store/objects/sha256/ab/cdef", ".gitreg/store/.gitignore", ".gitreg/store/runs/r.json"]


@pytest.fixture(scope="module")
def attr_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("attr")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=_PATTERNS, base=_BASES)
def test_the_pattern_reading_never_misses_a_file_git_applies_it_to(attr_repo, pattern, base):
    """Whenever git applies a line to a file under .mcp/ or the store, could_apply says it could; whenever
    covers says a line surely reaches every file under a folder, git applies it to each one there."""
    for old in attr_repo.rglob(".gitattributes"):
        old.unlink()
    folder = attr_repo / base
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".gitattributes").write_text(f"{pattern} marked\n")
    res = subprocess.run(["git", "check-attr", "--stdin", "-z", "marked"], cwd=attr_repo, capture_output=True,
                         input="".join(p + "\0" for p in _SAMPLES).encode(), check=True)
    fields = res.stdout.decode().split("\0")
    applied = {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == "set"}
    for top in (".mcp", ".gitreg/store"):
        under = [p for p in _SAMPLES if p.startswith(top + "/")]
        if any(p in applied for p in under):
            assert could_apply(pattern, base, top), (pattern, base, top, applied)
        if not base and covers(pattern, top, True):
            assert set(under) <= applied, (pattern, top, applied)
