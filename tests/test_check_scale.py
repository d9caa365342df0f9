"""gitreg check at scale: the remembered report, streamed tags, worker processes and the fast manifest
reads must find exactly what the plain path finds."""

import math
import shutil

import pytest
import yaml

from conftest import git
from gitreg.check import check, report_cache, run, tag_targets, tags, workers
from gitreg.cli.app import main
from gitreg.errors import ManifestError
from gitreg.manifests import parse_yaml, schema_problems
from gitreg.manifests.schemas import _proven_valid, _validator
from gitreg.tagnames import StageTag, VersionTag, parse_tag


def _findings(report):
    return [(p.code, p.path, p.field, p.line, p.severity, p.message) for p in report.problems]


def _broken_registry(repo, client):
    """Models with problems of every kind the tag check and the schema check report."""
    for name in ("a", "b", "c", "d", "e"):
        client.create_model_version(name)
        client.create_model_version(name)
    client.update_model_version("a", 1, stage="production")
    client.update_model_version("b", 2, stage="staging")
    (repo / ".mcp/models/c/versions/1.yaml").write_text("format: 1\nmodel: c\nnumber: one\n")
    (repo / ".mcp/models/d/model.yaml").write_text("not: [valid")
    git(repo, "add", ".mcp")
    git(repo, "commit", "-qm", "break things")
    git(repo, "tag", "-d", "models/e/v2")                      # tag-missing
    git(repo, "tag", "models/e/v2")                            # lightweight
    git(repo, "tag", "-a", "models/e/whatever", "-m", "x")     # not a gitreg tag name
    message = git(repo, "tag", "-l", "--format=%(contents)", "models/a/production/1")
    git(repo, "tag", "-f", "-a", "models/a/production/1", "HEAD", "-m", message)  # tag-moved


def _clear_cache(client):
    shutil.rmtree(client.registry.repo.cache_dir, ignore_errors=True)


@pytest.mark.fastpath_only("report-cache")
def test_an_unchanged_registry_is_answered_from_the_remembered_report(repo, client, monkeypatch):
    _broken_registry(repo, client)
    first = check(client.registry.repo)
    assert not first.ok and {p.code for p in first.problems} >= {"schema", "tag-missing", "tag-moved", "tag-name",
                                                                "tag-lightweight"}

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the registry was checked again although nothing changed")

    monkeypatch.setattr(run, "_check_at", must_not_run)
    again = check(client.registry.repo)
    assert _findings(again) == _findings(first) and again.commit == first.commit
    assert (again.models, again.versions, again.tags) == (first.models, first.versions, first.tags)
    accepted = check(client.registry.repo, allow=["tag-moved"])  # acceptance is applied to the remembered findings
    assert [p.code for p in accepted.accepted] == ["tag-moved"]


@pytest.mark.parametrize("change", ["move a tag", "add a tag", "delete a tag", "commit", "other revision"])
def test_the_remembered_report_is_not_used_when_an_input_changed(repo, client, change):
    client.create_model_version("m")
    client.create_model_version("m")
    client.update_model_version("m", 1, stage="production")
    assert check(client.registry.repo).ok
    if change == "move a tag":
        message = git(repo, "tag", "-l", "--format=%(contents)", "models/m/v1")
        git(repo, "tag", "-f", "-a", "models/m/v1", "models/m/v2^{commit}", "-m", message)
        expected = [("tag-moved", "tag models/m/v1")]
    elif change == "add a tag":
        git(repo, "tag", "models/m/v9")
        expected = [("tag-lightweight", "tag models/m/v9")]
    elif change == "delete a tag":
        git(repo, "tag", "-d", "models/m/v2")
        expected = [("tag-missing", ".mcp/models/m/versions/2.yaml")]
    elif change == "commit":
        path = repo / ".mcp/models/m/versions/2.yaml"
        path.write_text(path.read_text().replace("stage: none", "stage: production"))
        git(repo, "commit", "-qam", "sneaky")
        expected = [("stage-conflict", ".mcp/models/m/stages.yaml")]
    else:
        git(repo, "checkout", "-q", "-b", "other", "HEAD~1")  # before the promotion
        expected = [("tag-unreachable", "tag models/m/production/1")]
    found = sorted((p.code, p.path) for p in check(client.registry.repo).problems)
    assert [f for f in found if f[0] != "tag-stale"] == expected


@pytest.mark.fastpath_only("report-cache")
def test_a_remembered_report_for_other_inputs_is_not_trusted(repo, client):
    """An entry copied from another state (another clone's cache, an old run) claims other inputs: unused."""
    client.create_model_version("m")
    assert check(client.registry.repo).ok
    slot, _ = report_cache.report_key(client.registry.repo, git(repo, "rev-parse", "HEAD"), True, "HEAD", True,
                                      tags.show_ref(client.registry.repo))
    from gitreg.state.cache import cache_get, cache_put

    passing = cache_get(client.registry.repo, slot, "report-cache")
    assert passing["report"][3] == []
    git(repo, "tag", "-d", "models/m/v1")
    cache_put(client.registry.repo, slot, passing, "report-cache")  # the passing verdict, claiming the old tags
    report = check(client.registry.repo)
    assert [p.code for p in report.errors] == ["tag-missing"]
    damaged = dict(passing, report="garbage")
    cache_put(client.registry.repo, slot, damaged, "report-cache")
    assert [p.code for p in check(client.registry.repo).errors] == ["tag-missing"]
    assert main(["check"]) == 14


def test_a_shallow_boundary_is_an_input_of_the_remembered_report(repo, client):
    client.create_model_version("m")
    repo_obj = client.registry.repo
    head = git(repo, "rev-parse", "HEAD")
    listing = tags.show_ref(repo_obj)
    before = report_cache.report_key(repo_obj, head, True, "HEAD", True, listing)
    (repo_obj.common_dir / "shallow").write_text(head + "\n")
    try:
        after = report_cache.report_key(repo_obj, head, True, "HEAD", True, listing)
    finally:
        (repo_obj.common_dir / "shallow").unlink()
    assert before[0] == after[0] and before[1] != after[1]


def test_worker_processes_find_what_one_process_finds(repo, client, monkeypatch):
    _broken_registry(repo, client)
    _clear_cache(client)
    alone = check(client.registry.repo)
    _clear_cache(client)
    monkeypatch.setattr(workers, "_PREFETCH", 2)
    monkeypatch.setattr(workers, "_workers", lambda batches: 2)  # whatever the cores, and other tests' threads
    shared = check(client.registry.repo)
    assert _findings(shared) == _findings(alone)


def test_no_worker_processes_for_few_folders_or_beside_other_threads(monkeypatch):
    import threading

    assert workers._workers(1) == 1  # 100 folders: not worth a process
    monkeypatch.setattr(workers, "_PARALLEL_MIN_FOLDERS", 1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert workers._workers(10) == 1  # a fork would copy the locks that thread may hold
    finally:
        stop.set()
        other.join()


def test_tags_verified_in_small_chunks_find_the_same(repo, client, monkeypatch):
    _broken_registry(repo, client)
    _clear_cache(client)
    whole = check(client.registry.repo)
    _clear_cache(client)
    monkeypatch.setattr(tag_targets, "_TAG_CHUNK", 2)
    chunked = check(client.registry.repo)
    assert _findings(chunked) == _findings(whole)
    assert [p.path for p in chunked.problems if p.code == "tag-moved"] == ["tag models/a/production/1"]


@pytest.mark.parametrize("name", [
    "models/m/v1", "models/m/v10", "models/m/v0", "models/m/v01", "models/m/v", "models/m/v1x", "models/m/v\u0661",
    "models/m/production/1", "models/m/staging/12", "models/m/none/3", "models/m/archived/4",
    "models/m/production/0", "models/m/production/01", "models/m/production/1/2", "models/m/latest/1",
    "models/m/production", "models/m//v1", "models//v1", "models/m/v1/x", "models/m", "models/m/",
    "models/a.b-c_d/v7", "models/m/V1", "models/m/v\u00b2",
])
def test_tag_names_are_cut_as_the_tag_grammar_reads_them(name):
    parsed = parse_tag("models", name)
    cut = tags.split_tag(name[len("models/"):])
    if parsed is None:
        assert cut is None
    elif isinstance(parsed, VersionTag):
        assert cut == (parsed.model, None, parsed.number)
    else:
        assert isinstance(parsed, StageTag) and cut == (parsed.model, parsed.stage, parsed.seq)


def test_show_ref_lines_are_read_as_tags_with_their_targets():
    listing = ("a" * 40 + " refs/heads/main\n"
               + "b" * 40 + " refs/tags/models/m/v1\n" + "c" * 40 + " refs/tags/models/m/v1^{}\n"
               + "d" * 40 + " refs/tags/models/m/v2\n"
               + "e" * 40 + " refs/tags/other/x\n" + "f" * 40 + " refs/tags/other/x^{}\n"
               + "1" * 40 + " refs/tags/models/n/v1\n" + "2" * 40 + " refs/tags/models/n/v1^{}")  # no final newline
    assert list(tags.tags_under(listing, "refs/tags/models/")) == [
        ("refs/tags/models/m/v1", "b" * 40, "c" * 40), ("refs/tags/models/m/v2", "d" * 40, None),
        ("refs/tags/models/n/v1", "1" * 40, "2" * 40)]


# ---------------------------------------------------------------- manifests, read faster

_VERSION = {
    "format": 1, "model": "m", "number": 3, "name": "3", "stage": "none", "tags": ["a", "b"],
    "created": "2026-01-01T00:00:00Z", "metadata": {"accuracy": 0.5, "nested": {"k": [1, 2]}},
    "artifacts": [{"name": "w", "version": 1, "type": "model", "uri": "store://x", "sha256": "0" * 64,
                   "size": 3, "format": "json", "kind": "file", "external": False,
                   "created": "2024-02-29T23:59:59.5Z"}],
    "runs": ["r1"], "created_by_run": {"id": "r1", "status": "completed"},
}
_MODEL = {"format": 1, "name": "m", "description": None, "tags": [], "created": "2026-01-01T00:00:00Z",
          "counters": {"versions": 3, "staging": 0, "production": 1, "archived": 0}}


def _variants(doc):
    """``doc`` with one field at a time set to values near and across the schema's lines."""
    odd = [None, True, False, 0, 1, -1, 1.0, 2.5, math.nan, math.inf, "", "x", "1", "a\n", "-a", "a" * 101,
           [], ["a", "a"], ["a", 1], [[1]], {}, {"x": 1}, {1: "x"}, "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z",
           "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+01:00",
           "2026-01-01t00:00:00z", "0000-01-01T00:00:00Z", "staging", "production", "archived", "bogus"]
    yield doc
    for key in list(doc) + ["extra"]:
        for value in odd:
            yield {**doc, key: value}
        if key in doc:
            yield {k: v for k, v in doc.items() if k != key}
    for key in _VERSION["artifacts"][0]:
        for value in odd:
            yield {**doc, "artifacts": [{**_VERSION["artifacts"][0], key: value}]}
    for key in list(_MODEL["counters"]) + ["none", "extra"]:
        for value in (None, True, 0, -1, 1.0, "1"):
            yield {**doc, "counters": {**_MODEL["counters"], key: value}}


@pytest.mark.parametrize("kind,doc", [("version", _VERSION), ("model", _MODEL)])
def test_what_the_compiled_schema_proves_valid_jsonschema_finds_valid(kind, doc):
    proven = _proven_valid(kind)
    assert proven is not None and proven(doc)  # the common case takes the fast path
    validator = _validator(kind)
    counted = 0
    for variant in _variants(doc):
        if proven(variant):
            counted += 1
            assert list(validator.iter_errors(variant)) == [], variant
        found = schema_problems(kind, variant)
        expected = sorted(validator.iter_errors(variant), key=lambda e: list(map(str, e.absolute_path)))
        assert found == [(".".join(map(str, e.absolute_path)), e.message) for e in expected]
    assert counted > 20  # variants inside the schema are proven too, not only the original


_TRICKY_YAML = [
    "a: 1\nb: '1'\nc: 1.5\nd: true\ne: ~\nf: 2026-01-01\ng: 2026-01-01T00:00:00Z\nh: 0x1F\ni: 0o17\nj: 1_000\n",
    "a: yes\nb: no\nc: on\nd: off\ne: .inf\nf: -.inf\ng: 1:30\nh: !!str 12\ni: !!int '7'\nj: !!binary aGk=\n",
    "<<: {a: 1, b: 2}\nc: 3\n",
    "base: {<<: {a: 1}, b: 2}\n",
    "1: one\ntrue: t\nnull: n\n1.5: f\n",
    "s: !!set {a, b}\no: !!omap [a: 1, b: 2]\np: !!pairs [a: 1, a: 2]\n",
    "k: |\n  line one\n  line two\nf: >\n  folded\n  text\nq: \"esc\\taped\\u00e9\"\n",
    "dup: 1\ndup: 2\n",
    "'<<': {a: 1}\n",
    "list:\n- a\n- - b\n  - {c: [d, {e: f}]}\n- ''\n- \"\"\n",
    "? [a, b]\n: 1\n",
    "a: !!float 1\nb: !!null ''\nc: !!bool 'true'\n",
    "a: 'x' # comment\n# only a comment\nb: -\n",
    "metadata:\n  k: " + "[" * 40 + "]" * 40 + "\n",
    "metadata:\n  k: " + "[" * 600 + "]" * 600 + "\n",
    "a: !!python/name:os.system ''\n",
    "a: [1, 2\n",
    "- just\n- a list\n",
    "",
    "just a string",
    "a: &x 1\nb: *x\n",
]


@pytest.mark.parametrize("text", _TRICKY_YAML)
def test_manifests_read_as_yaml_safe_load_reads_them(text):
    try:
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        expected = ManifestError
    try:
        got = parse_yaml(text.encode(), "f.yaml")
    except ManifestError as exc:
        got, code = ManifestError, exc.code
    if got is ManifestError and code == "yaml-type":  # a date, binary, set, tag, merge key, key that is no string
        assert not _json_only(expected) or "<<:" in text
        return
    if got is ManifestError:  # refused: not valid YAML, no mapping, anchors, nested too deep, a key twice
        assert expected is ManifestError or not isinstance(expected, dict) or "&x" in text or "[" * 40 in text \
            or "dup:" in text
        return
    assert got == expected and _types(got) == _types(expected)


def _json_only(value) -> bool:
    """Whether ``value`` is made of JSON values only: mappings with string keys, lists, strings, finite numbers,
    booleans and null."""
    todo = [value]
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            if not all(type(k) is str for k in value):
                return False
            todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)
        elif not (value is None or type(value) in (str, int, bool) or type(value) is float and math.isfinite(value)):
            return False
    return True


def _types(value):
    """The structure of ``value`` with the type of every leaf (True == 1 and 1 == 1.0 in Python)."""
    if isinstance(value, dict):
        return {repr(k) + type(k).__name__: _types(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__] + [_types(v) for v in value]
    return type(value).__name__


def test_tag_targets_are_read_for_their_models_only_where_a_commit_changed_many(repo, monkeypatch):
    """A commit that most tags point at (an import of many models) is read for those models' folders; a
    commit that registered one version is read with no list of folders (git walks only what it changed),
    so that the check does not cost more with every commit of the history. Moved tags are still found."""
    import subprocess

    from gitreg import Client
    from gitreg.check import tag_targets

    staging = repo.parent / "staging"
    Client.init(staging)
    drafts = Client(staging)
    for i in range(20):
        drafts.create_model_version(f"m{i}")
    models = repo / ".mcp" / "models"
    subprocess.run(["cp", "-r", str(staging / ".mcp" / "models"), str(models)], check=True)
    subprocess.run(["cp", "-r", str(staging / ".mcp" / "names"), str(repo / ".mcp" / "names")], check=True)
    git(repo, "add", ".mcp")
    git(repo, "commit", "-qm", "import 20 models")
    client = Client(repo)
    client.sync_tags()  # the import's 20 registration tags, all on one commit
    for _ in range(3):
        client.create_model_version("m0")  # three commits, one model each
    asked: list[tuple[list[str], list[str] | None]] = []
    real = tag_targets._first_parent_changes

    def recorded(repo_, commits, paths=None, *more, **options):
        asked.append((list(commits), paths))
        return real(repo_, commits, paths, *more, **options)

    monkeypatch.setattr(tag_targets, "_first_parent_changes", recorded)
    assert client.check().ok
    import_commit = git(repo, "rev-list", "-1", "HEAD~3")
    wide = [(commits, paths) for commits, paths in asked if import_commit in commits]
    assert wide == [([import_commit], [f".mcp/models/m{i}" for i in sorted(range(20), key=str)])]
    narrow = [(commits, paths) for commits, paths in asked if import_commit not in commits and commits]
    assert len(narrow) == 1 and len(narrow[0][0]) == 3 and narrow[0][1] is None
    git(repo, "tag", "-f", "-a", "-m", "moved", "models/m0/v2", "HEAD")  # a registration tag moved by hand
    shutil.rmtree(repo / ".git" / "gitreg" / "cache", ignore_errors=True)  # nothing remembered as proven
    assert any(p.code == "tag-moved" for p in Client(repo).check().problems)
