"""Every fast path has a plain reference beside it, one switch selects the reference, and the two agree.

The switch itself (GITREG_REFERENCE, read again whenever it changes); every name asked for in the code is a
known fast path and every fast path is asked for; and, fast path by fast path, generated cases on which the
fast way and its reference give the same result: the same YAML bytes, the same values or the same errors, the
same schema problems, the same git objects, index entries, refs and file lists, the same models read.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg import Client, Model, pipeline, step
from gitreg.errors import InvalidValueError, ManifestError
from gitreg.fastpaths import ENV, FAST_PATHS, fast, reference_selected
from gitreg.git import GitRepo
from gitreg.git.objects import blob_id
from gitreg.manifests import dump_yaml, parse_yaml
from gitreg.manifests.schemas import schema_problems
from test_yaml_fuzz import MARK, VALID, YAMLISH, _marked, _mutated, documents, typed

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


def both(monkeypatch: pytest.MonkeyPatch, name: str, action):
    """``action()`` with the fast path ``name`` on, then with its reference: (fast outcome, reference outcome),
    where an outcome is the value returned or the error raised (its type and words)."""
    outcomes = []
    for selected in ("", name):
        monkeypatch.setenv(ENV, selected)
        try:
            outcomes.append(("value", action()))
        except ManifestError as exc:
            outcomes.append(("error", exc.path, exc.field, exc.problem, exc.code))
        except yaml.YAMLError as exc:
            outcomes.append(("yaml", str(exc)))
    monkeypatch.delenv(ENV)
    return outcomes


# ---------------------------------------------------------------- the switch

def test_the_switch_selects_references_by_name_and_is_read_again_when_it_changes(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert all(fast(name) for name in FAST_PATHS) and reference_selected() == frozenset()
    monkeypatch.setenv(ENV, "all")
    assert not any(fast(name) for name in FAST_PATHS) and reference_selected() == frozenset(FAST_PATHS)
    monkeypatch.setenv(ENV, " index , yaml-reader")
    assert [name for name in FAST_PATHS if not fast(name)] == ["yaml-reader", "index"]
    monkeypatch.setenv(ENV, "")
    assert all(fast(name) for name in FAST_PATHS)


def test_a_name_the_switch_does_not_know_is_refused_with_the_names_it_knows(monkeypatch):
    monkeypatch.setenv(ENV, "index,indx")
    with pytest.raises(InvalidValueError) as info:
        fast("index")
    assert "'indx'" in str(info.value) and "yaml-reader" in str(info.value)


def test_a_command_run_with_a_bad_switch_says_so_without_a_traceback(repo):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{ENV: "no-such-path"})
    res = subprocess.run([sys.executable, "-m", "gitreg", "model", "list"], cwd=repo, env=env, capture_output=True,
                         text=True)
    assert res.returncode == 2 and "no fast path is named 'no-such-path'" in res.stderr
    assert "Traceback" not in res.stderr


def _asked_names() -> set[str]:
    """The fast path names the code asks about: ``fast("name")``, and the name given to the cache."""
    names: set[str] = set()
    for path in (ROOT / "gitreg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
                continue
            called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            at = {"fast": 0, "cache_get": 2, "cache_put": 3}.get(called)
            if at is not None and len(node.args) > at and isinstance(node.args[at], ast.Constant):
                names.add(node.args[at].value)
    return names


def test_every_fast_path_is_asked_for_and_every_name_asked_for_is_a_fast_path():
    assert _asked_names() - {"check-cache"} == set(FAST_PATHS) - {"check-cache"}
    import inspect

    from gitreg.state.cache import cache_get, cache_put

    for function in (cache_get, cache_put):  # the cache's other entries: the default name
        assert inspect.signature(function).parameters["fast_path"].default == "check-cache"


# ---------------------------------------------------------------- manifests

@FUZZ
@given(documents, st.data())
def test_the_event_reader_and_pyyaml_read_the_same_values_or_refuse_with_the_same_error(monkeypatch, doc, data):
    snippets: list[str] = []
    marked = _marked(doc, data, snippets)
    text = dump_yaml(marked).decode()
    for i, snippet in enumerate(snippets):
        text = text.replace(f"'{MARK.format(i)}'", snippet)
    fast_read, reference_read = both(monkeypatch, "yaml-reader", lambda: typed(parse_yaml(text, "f.yaml")))
    assert fast_read == reference_read, text


@FUZZ
@given(st.one_of(YAMLISH, st.text(max_size=40), st.binary(max_size=40)))
def test_the_event_reader_and_pyyaml_agree_on_any_text(monkeypatch, text):
    fast_read, reference_read = both(monkeypatch, "yaml-reader", lambda: typed(parse_yaml(text, "f.yaml")))
    assert fast_read == reference_read, text


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n", "a: *x\n", "a: [1, &y [2]]\n", "- &r {a: 1}\n",
    "k: " + "[" * 40 + "]" * 40 + "\n", "k:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 40)),
    "k: [" + "0," * 500_001 + "]\n", "a: 1\n---\nb: 2\n", "a: 1\n...\n", "", "---\n", "[1, 2]\n", "x\n",
    "{[a]: 1}\n", "a:\n  {b: 1}: 2\n", "a: !!map {b: 1}\n", "a: !!seq [1]\n", "a: !!str {b: 1}\n", "a: ! 12\n",
    "a: 1" + ":1" * 300 + "\n", "a: 1" + ":1" * 300 + ".5\n", "a: 0" + ":1" * 300 + "\n", "a: 0x" + "f" * 4000 + "\n",
    "a:\n  b:\n    - 1\n    - 2020-01-01\n", "a:\n  - {x: 1, x: 2}\n", "? [a]\n: 1\n",
    "a: !!python/object:os.system x\n",
])
def test_the_event_reader_and_pyyaml_agree_on_aliases_limits_nesting_and_tags(monkeypatch, text):
    fast_read, reference_read = both(monkeypatch, "yaml-reader", lambda: typed(parse_yaml(text, "f.yaml")))
    assert fast_read == reference_read


@pytest.mark.parametrize("kind", sorted(k for k in VALID if k != "run"))
@FUZZ
@given(data=st.data())
def test_the_compiled_proof_and_jsonschema_find_the_same_problems(monkeypatch, kind, data):
    doc = _mutated(VALID[kind], data)
    fast_found, reference_found = both(monkeypatch, "schema-proof", lambda: schema_problems(kind, doc))
    assert fast_found == reference_found


# ---------------------------------------------------------------- git

@FUZZ
@given(st.dictionaries(st.sampled_from(["a", "b", "a/x", "a/y", "b/c/d", "b/c/e/f", "b.c", "b-c", "b0", ".mcp/m", "z"]),
                       st.one_of(st.none(), st.binary(max_size=8)), max_size=6))
def test_trees_written_in_process_and_by_git_are_the_same_and_hold_what_the_changes_say(monkeypatch,
                                                                                       tmp_path_factory, changes):
    folder = tmp_path_factory.mktemp("trees")
    git(folder, "init", "-q")
    repo = GitRepo.discover(folder)
    files = {"a/x": b"1", "b/c/e": b"2", "b.c": b"3", "m": b"4"}
    start = repo.update_paths(None, files)
    trees = {}
    for reference in ("", "objects", "objects,reader"):
        monkeypatch.setenv(ENV, reference)
        trees[reference] = repo.update_paths(start, changes)
    monkeypatch.delenv(ENV)
    assert len(set(trees.values())) == 1, trees
    if any(other.startswith(path + "/") for path in changes for other in changes):
        return  # a path and one under it changed at once: what wins is update_paths' own rule
    for path, data in changes.items():  # what the tree must hold: files replaced, folders and files removed
        files = {f: d for f, d in files.items() if f != path and not f.startswith(path + "/")
                 and not path.startswith(f + "/")}
        if data is not None:
            files[path] = data
    assert repo.changed_files(None, trees[""], []) == {path: blob_id(data) for path, data in files.items()}


def test_objects_written_by_git_and_in_process_have_the_same_ids(repo, monkeypatch):
    handle = GitRepo.discover(repo)
    tree = handle.update_paths(None, {"f": b"x\n"})
    monkeypatch.setenv("GIT_AUTHOR_DATE", "1767225600 +0000")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1767225600 +0000")
    ids = {}
    for reference in ("", "objects", "objects,git-config"):
        monkeypatch.setenv(ENV, reference)
        ids[reference] = (handle.write_blob(b"some\r\nbytes\0"), handle.commit_tree(tree, [], "m\n\nwhy\n"),
                          handle.write_tag_object("t", handle.commit_of("HEAD"), "  a tag\n\n\n",
                                                  handle.tagger_ident()))
    assert len(set(ids.values())) == 1
    assert git(repo, "cat-file", "-t", ids[""][2]) == "tag"


def test_refs_read_from_files_and_from_git_agree(repo, client, monkeypatch):
    client.create_model_version("m")
    client.update_model_version("m", 1, stage="staging")
    git(repo, "pack-refs", "--all")
    client.create_model_version("m")
    git(repo, "branch", "side")
    handle = GitRepo.discover(repo)
    asked = lambda: (handle.head_ref(), handle.commit_of("HEAD"), handle.commit_of("refs/heads/side"),  # noqa: E731
                     handle.read_ref("refs/tags/models/m/v1"), handle.read_ref("refs/tags/models/m/v2"),
                     handle.read_ref("refs/heads/none"), handle.ref_names("refs/tags/models/m/"))
    fast_refs, reference_refs = both(monkeypatch, "refs", asked)
    assert fast_refs == reference_refs and fast_refs[1][6] == ["refs/tags/models/m/staging/1",
                                                                "refs/tags/models/m/v1", "refs/tags/models/m/v2"]
    git(repo, "checkout", "-q", "--detach")
    fast_refs, reference_refs = both(monkeypatch, "refs", asked)
    assert fast_refs == reference_refs and fast_refs[1][0] is None


def test_the_index_git_writes_and_the_one_edited_in_process_hold_the_same_entries(tmp_path, monkeypatch):
    from gitreg import operations

    monkeypatch.setattr(operations, "now", lambda: "2026-01-01T00:00:00Z")  # the same manifests both ways
    listings = []
    for reference in ("", "index,index-note"):
        monkeypatch.setenv(ENV, reference)
        folder = tmp_path / (reference or "fast")
        folder.mkdir()
        client = Client.init(folder)
        client.create_model_version("m", metadata={"a": 1})
        client.log_metadata("m", 1, {"b": 2})
        client.create_model_version("n")
        client.delete_model_version("n", 1)
        listings.append(git(folder, "ls-files", "-s"))
        assert git(folder, "status", "--porcelain") == ""
    assert listings[0] == listings[1]


# ---------------------------------------------------------------- state and caches

@step
def doubled(x: int) -> Annotated[int, "twice"]:
    return 2 * x


@pipeline(model=Model("p"))
def twice() -> None:
    doubled(21)


def _story(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    client.create_model_version("m", metadata={"a": 1})
    client.create_model_version("m", metadata={"a": 2})
    client.update_model_version("m", 1, stage="production")
    client.create_model_version("n")
    client.log_metadata("m", 2, {"b": [1, 2.5, None]})
    client.get_model_version("m", 2)
    Client(client.registry.repo.root).log_metadata("m", 1, {"c": "by another client"})
    client.update_model_version("m", 2, stage="production", force=True)
    client.delete_model_version("n", 1)
    monkeypatch.chdir(client.registry.repo.root)
    assert [twice().versions for _ in range(2)] == [{"p": [1]}, {"p": [2]}]  # the second: the first's client


def _seen(client: Client) -> list:
    return [(v.model, v.number, v.stage, dict(v.metadata)) for name in ("m", "n", "p")
            for v in client.list_model_versions(name)] + [client.get_model_version("m", "production").number]


@pytest.mark.parametrize("name", list(FAST_PATHS))
def test_each_fast_path_switched_alone_gives_what_every_fast_path_gives(tmp_path, monkeypatch, name):
    from gitreg.check import check

    seen = []
    for selected in ("", name):
        monkeypatch.setenv(ENV, selected)
        folder = tmp_path / (selected or "fast")
        client = Client.init(folder)
        _story(client, monkeypatch)
        report = check(client.registry.repo)
        seen.append((_seen(client), _seen(Client(folder)), report.models, report.versions, report.tags,
                     report.problems, git(folder, "status", "--porcelain")))
    assert seen[0] == seen[1]
    assert seen[0][-1] == "" and seen[0][5] == ()


@pytest.mark.parametrize("written, read", [("", "all"), ("all", ""), ("all", "all"),
                                           ("model-cache,state-memo", "reader")])
def test_a_registry_written_one_way_reads_the_same_the_other_way(tmp_path, monkeypatch, written, read):
    monkeypatch.setenv(ENV, written)
    client = Client.init(tmp_path / "r")
    _story(client, monkeypatch)
    before = _seen(client)
    monkeypatch.setenv(ENV, read)
    assert _seen(Client(tmp_path / "r")) == before
    from gitreg.check import check

    def checked():
        report = check(Client(tmp_path / "r").registry.repo)
        return report.models, report.versions, report.tags, report.problems

    for _ in range(2):  # the second time, what the first remembered
        fast_report, reference_report = both(monkeypatch, "report-cache,tag-proofs,check-cache,model-cache",
                                             checked)
        assert fast_report == reference_report == ("value", (3, 4, 7, ()))


def test_with_the_caches_off_nothing_is_cached_and_every_read_parses(repo, monkeypatch):
    import gitreg.manifests as manifests
    from gitreg.state import memo_of, snapshot, validation

    monkeypatch.setenv(ENV, "model-cache,state-memo,report-cache,tag-proofs,check-cache")
    cache = repo / ".git" / "gitreg" / "cache"
    if cache.exists():
        import shutil

        shutil.rmtree(cache)  # what `gitreg init` left
    client = Client(repo)
    _story(client, monkeypatch)
    from gitreg.check import check

    assert check(client.registry.repo).ok
    assert not cache.exists() or not [p for p in cache.rglob("*") if p.is_file()]
    memo = memo_of(client.registry.repo)
    assert not memo.loaded and not memo.latest and not memo.configs
    parsed: list[str] = []
    real = manifests.parse_yaml
    for module in (snapshot, validation):  # the two that parse manifests
        monkeypatch.setattr(module, "parse_yaml", lambda data, path: parsed.append(path) or real(data, path))
    Client(repo).get_model_version("m", 2)
    Client(repo).get_model_version("m", 2)
    assert parsed.count(".mcp/models/m/versions/2.yaml") == 2
