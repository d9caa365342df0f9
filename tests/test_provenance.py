"""Provenance: a promotion is only as good as the bytes it promotes, and the audit trail's "who" is the
commit that made a change, never a tag's free text.

- `check --base` flags a pull request that promotes a version it also registers or re-links
  (`promotes-unreviewed`), and one that force-adds files under an in-repository store (`store-files-added`);
- `check` flags a tag whose message disagrees with the commit it marks (`tag-mismatch`), `tags sync`
  reports such a tag instead of keeping it silently, and history names the commit's author;
- every tag gitreg itself makes, in every flow, agrees.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg import Client
from gitreg.check import check
from gitreg.cli.app import main
from gitreg.tagnames import StageTagMessage, format_stage_message, format_version_message

SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_check(*args: str) -> tuple[int, dict]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["check", "-o", "json", *args])
    return code, json.loads(buf.getvalue())


def found(data: dict, code: str) -> list[str]:
    return sorted(p["path"] for p in data["problems"] if p["code"] == code)


def fresh(parent: Path, store: str | None = None) -> tuple[Path, Client]:
    """A new registry in a new folder under ``parent`` (one per generated case)."""
    path = Path(tempfile.mkdtemp(dir=parent))
    return path, Client.init(path, store=store)


# ---------------------------------------------------------------- promotes-unreviewed, generated

_STAGES = ("staging", "production")

# an operation on the pull request's branch: register a version, link an artifact to version k (1-based
# among those that exist), or promote version k to a stage (force: the holder is archived)
_ops = st.lists(st.one_of(st.just(("register",)),
                          st.tuples(st.just("link"), st.integers(1, 4)),
                          st.tuples(st.just("promote"), st.integers(1, 4), st.sampled_from(_STAGES))),
                min_size=1, max_size=5)


@SLOW
@given(base_versions=st.integers(1, 2), base_stage=st.sampled_from(("none", *_STAGES)), ops=_ops)
def test_a_promotion_of_bytes_the_change_brings_is_flagged_and_nothing_else(tmp_path, base_versions, base_stage,
                                                                            ops):
    repo, client = fresh(tmp_path)
    stage: dict[int, str] = {}
    for n in range(1, base_versions + 1):
        client.create_model_version("m")
        client.save_artifact("m", n, f"base {n}".encode(), "weights")
        stage[n] = "none"
    if base_stage != "none":
        client.update_model_version("m", 1, stage=base_stage)
        stage[1] = base_stage
    at_base = dict(stage)
    git(repo, "checkout", "-q", "-b", "pr")
    new: set[int] = set()
    relinked: set[int] = set()
    for i, op in enumerate(ops):
        count = len(stage)
        if op[0] == "register":
            client.create_model_version("m")
            stage[count + 1] = "none"
            new.add(count + 1)
        elif op[0] == "link":
            k = (op[1] - 1) % count + 1
            client.save_artifact("m", k, f"op {i}".encode(), f"extra{i}")
            relinked.add(k)
        else:
            k, to = (op[1] - 1) % count + 1, op[2]
            if stage[k] == to:
                continue
            for other, held in stage.items():
                if held == to:
                    stage[other] = "archived"
            client.update_model_version("m", k, stage=to, force=True)
            stage[k] = to
    expected = sorted(f".mcp/models/m/versions/{n}.yaml" for n, s in stage.items()
                      if s in _STAGES and at_base.get(n) != s and (n in new or n in relinked))
    report = client.check(base="main")
    assert sorted(p.path for p in report.problems if p.code == "promotes-unreviewed") == expected
    for p in report.problems:
        if p.code == "promotes-unreviewed":
            n = int(Path(p.path).stem)
            assert f"m v{n} goes to {stage[n]}" in p.message
            assert ("registers it" in p.message) == (n in new), p.message
    accepted = client.check(base="main", allow=["promotes-unreviewed", "link-added"])
    assert accepted.ok and sorted(p.path for p in accepted.accepted if p.code == "promotes-unreviewed") == expected


# ---------------------------------------------------------------- promotes-unreviewed, through the CLI

@pytest.fixture
def base(repo, client):
    """main: iris v1 (with weights) in production, v2 registered (with weights); then the branch `pr`."""
    client.create_model_version("iris")
    client.save_artifact("iris", 1, b"weights 1", "weights")
    client.update_model_version("iris", 1, stage="production")
    client.create_model_version("iris")
    client.save_artifact("iris", 2, b"weights 2", "weights")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo


def test_registering_and_promoting_in_one_change_fails_review_until_allowed(base, client, capsys):
    client.create_model_version("iris")
    client.save_artifact("iris", 3, b"unreviewed bytes", "weights")
    client.update_model_version("iris", 3, stage="production", force=True)
    code, data = run_check("--base", "main")
    assert code == 14 and found(data, "promotes-unreviewed") == [".mcp/models/iris/versions/3.yaml"]
    [problem] = [p for p in data["problems"] if p["code"] == "promotes-unreviewed"]
    assert "iris v3 goes to production in the same change that registers it" in problem["message"]
    assert problem["field"] == "stage" and problem["line"] > 1
    code, data = run_check("--base", "main", "--allow", "promotes-unreviewed")
    assert code == 0 and [p["accepted"] for p in data["problems"]] == [True]


def test_promoting_a_version_registered_on_the_base_passes(base, client):
    client.update_model_version("iris", 2, stage="production", force=True)
    code, data = run_check("--base", "main")
    assert code == 0 and data["problems"] == []
    # beside a promotion of new bytes in the same change, it is still not the one flagged
    client.create_model_version("iris")
    client.update_model_version("iris", 3, stage="staging")
    code, data = run_check("--base", "main")
    assert code == 14 and [(p["code"], p["path"]) for p in data["problems"]] == [
        ("promotes-unreviewed", ".mcp/models/iris/versions/3.yaml")]


def test_relinking_then_promoting_fails_review(base, client, capsys):
    client.save_artifact("iris", 2, b"other bytes", "more_weights")
    client.update_model_version("iris", 2, stage="staging")
    code, data = run_check("--base", "main")
    assert code == 14 and found(data, "promotes-unreviewed") == [".mcp/models/iris/versions/2.yaml"]
    [problem] = [p for p in data["problems"] if p["code"] == "promotes-unreviewed"]
    assert "adds or changes its link(s) to more_weights v1" in problem["message"]
    assert main(["check", "--base", "main", "--allow", "link-added"]) == 14
    assert "--allow promotes-unreviewed" in capsys.readouterr().err
    assert main(["check", "--base", "main", "--allow", "link-added", "--allow", "promotes-unreviewed"]) == 0


# ---------------------------------------------------------------- store-files-added

def _force_add(repo: Path, path: str, data: bytes = b"not what the store holds") -> None:
    file = repo / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(data)
    git(repo, "add", "-f", path)
    git(repo, "commit", "-qm", f"add {path}")


@pytest.mark.parametrize("store, inside", [
    (None, ".gitreg/store"),                  # the default: a git-ignored folder of the repository
    ("./artifacts/", "artifacts"),
    ("{root}/blobs", "blobs"),                # an absolute path inside the repository
    ("file://{root}/blobs", "blobs"),
])
def test_files_force_added_under_an_in_repository_store_fail_review(tmp_path, monkeypatch, store, inside):
    root = tmp_path / "reg"
    client = Client.init(root, store=store.format(root=root) if store else None)
    monkeypatch.chdir(root)
    client.create_model_version("iris")
    client.save_artifact("iris", 1, b"weights", "weights")
    git(root, "checkout", "-q", "-b", "pr")
    objects = sorted(str(p.relative_to(root)) for p in (root / inside).rglob("*") if p.is_file())
    assert objects  # the store holds the weights, and git ignores them
    for path in objects:
        _force_add(root, path)
    for i in range(6):
        _force_add(root, f"{inside}/objects/sha256/ab/{i:062d}")
    code, data = run_check("--base", "main")
    assert code == 14 and found(data, "store-files-added") == [inside]
    [problem] = [p for p in data["problems"] if p["code"] == "store-files-added"]
    assert f"{len(objects) + 6} file(s) added or changed" in problem["message"]
    assert f"{inside}/objects/sha256/ab/{0:062d}" in problem["message"] and "in all" in problem["message"]
    assert run_check("--base", "main", "--allow", "store-files-added")[0] == 0


def test_a_symlink_put_where_the_store_folder_is_fails_review(repo, client):
    git(repo, "checkout", "-q", "-b", "pr")
    shutil.rmtree(repo / ".gitreg", ignore_errors=True)
    os.symlink("elsewhere", repo / ".gitreg")
    git(repo, "add", "-f", ".gitreg")
    git(repo, "commit", "-qm", "store folder is a link now")
    code, data = run_check("--base", "main")
    assert code == 14 and found(data, "store-files-added") == [".gitreg/store"]
    assert "1 file(s) added or changed under the artifact store's path '.gitreg/store': .gitreg;" in \
        data["problems"][0]["message"]


@pytest.mark.parametrize("store", ["s3://models/iris", "{outside}", "../{name}"])
def test_a_store_outside_the_repository_has_no_files_in_a_change(tmp_path, monkeypatch, store):
    root, outside = tmp_path / "reg", tmp_path / "shared-store"
    Client.init(root, store=store.format(outside=outside, name=outside.name))
    monkeypatch.chdir(root)
    git(root, "checkout", "-q", "-b", "pr")
    _force_add(root, ".gitreg/store/objects/sha256/ab/cdef")  # where the default store would be: not this one
    _force_add(root, "s3:/models/iris/objects/x")
    assert run_check("--base", "main") == (0, {**run_check("--base", "main")[1], "problems": []})
    # the change points the store into the repository, where it adds files: both are findings
    reg = root / ".mcp/registry.yaml"
    reg.write_text("\n".join(line if not line.startswith("store:") else "store: s3:/models/iris"
                             for line in reg.read_text().splitlines()) + "\n")
    git(root, "commit", "-qam", "store: a folder of the repository now")
    code, data = run_check("--base", "main")
    assert code == 14 and found(data, "store-files-added") == ["s3:/models/iris"]
    assert "registry-changed" in {p["code"] for p in data["problems"]}


# ---------------------------------------------------------------- tags against the commits they mark

MALLORY = ["-c", "user.name=Mallory", "-c", "user.email=mallory@example.com"]
ME = "Test User <test@example.com>"


def forge(repo: Path, name: str, target: str, message: str) -> None:
    """A tag made by someone who may push tags but not the branch."""
    subprocess.run(["git", *MALLORY, "tag", "-a", "-F", "-", name, target], cwd=repo, input=message.encode(),
                   check=True, capture_output=True)


def _merge(repo: Path, branch: str, style: str, merger: dict[str, str] | None = None) -> None:
    env = {**os.environ, **(merger or {})}

    def g(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    if style == "merge":
        g("merge", "-q", "--no-ff", "-m", f"Merge pull request #1 from {branch}", branch)
    elif style == "squash":
        g("merge", "-q", "--squash", branch)
        body = git(repo, "log", "-1", "--format=%B", branch)
        g("commit", "-q", "-m", "Promote it (#1)", "-m", "* " + body)
    elif style == "squash-titled":  # the host replaced the message by the pull request's title
        g("merge", "-q", "--squash", branch)
        g("commit", "-q", "-m", "Promote it (#1)")
    else:  # rebase
        g("cherry-pick", branch)


@pytest.fixture
def proposed(repo, client):
    """iris v1 in production, v2 proposed for production on a branch."""
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production", reason="baseline")
    return client.propose_model_version_stage("iris", 2, "production", force=True, reason="better recall")


_FORGED = st.fixed_dictionaries({"by": st.booleans(), "reason": st.booleans(), "previous": st.booleans()})


@SLOW
@given(kind=st.sampled_from(("stage", "registered")), forged=_FORGED,
       style=st.sampled_from(("merge", "squash", "squash-titled", "rebase")))
def test_a_tag_whose_words_disagree_with_its_commit_is_flagged_reported_and_not_believed(
        tmp_path, monkeypatch, kind, forged, style):
    repo, client = fresh(tmp_path)
    monkeypatch.chdir(repo)
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production", reason="baseline")
    if kind == "registered":
        git(repo, "checkout", "-q", "-b", "register")
        client.create_model_version("iris", reason="nightly")
        git(repo, "tag", "-d", "models/iris/v3")  # a branch's own tag: gone, the merge result gets one
        git(repo, "checkout", "-q", "main")
        branch = "register"
    else:
        branch = client.propose_model_version_stage("iris", 2, "production", force=True, reason="better recall").branch
    _merge(repo, branch, style)
    target = git(repo, "rev-parse", "HEAD^2" if style == "merge" else "HEAD")
    titled = style == "squash-titled"
    honest_reason = ("Promote it (#1)" if titled else "better recall") if kind == "stage" else \
        ("" if titled else "nightly")
    by = "Alice <alice@example.com>" if forged["by"] else ME
    # without a record in the commit message (a squash titled by its pull request), a reason cannot disagree
    reason = "approved by the CTO" if forged["reason"] else honest_reason
    lying = forged["by"] or (forged["reason"] and not titled) or (forged["previous"] and kind == "stage")
    if kind == "stage":
        name = "models/iris/production/2"
        message = format_stage_message(StageTagMessage("iris", 2, "production",
                                                       "staging" if forged["previous"] else "none",
                                                       (1,), by, reason))
    else:
        name = "models/iris/v3"
        message = format_version_message("iris", 3, "3", by, reason)
    forge(repo, name, target, message)

    report = check(client.registry.repo)
    mismatches = [p for p in report.problems if p.code == "tag-mismatch"]
    assert [p.path for p in mismatches] == ([f"tag {name}"] if lying else []), report.problems
    assert report.ok == (not lying), report.problems
    if forged["by"]:
        assert "by: Alice <alice@example.com>" in mismatches[0].message and ME in mismatches[0].message

    sync = client.sync_tags()
    assert sync.created == ()  # the change has its tag already: none is made beside it, none is moved
    assert [p.path for p in sync.problems] == ([f"tag {name}"] if lying else [])
    assert git(repo, "rev-parse", f"{name}^{{commit}}") == target

    [event] = [e for e in client.version_history("iris") if e.tag == name]
    assert event.by == ME  # the commit's author, whatever the tag says
    assert bool(event.tag_mismatch) == (forged["by"] or (forged["reason"] and not titled))
    if forged["by"]:
        assert "Alice" in event.tag_mismatch


def test_tags_sync_reports_a_forged_tag_and_history_names_who_really_promoted(repo, proposed, capsys):
    forge(repo, "models/iris/production/2", proposed.commit, format_stage_message(StageTagMessage(
        "iris", 2, "production", "none", (1,), "Chief Officer <cto@example.com>", "approved in the board meeting")))
    _merge(repo, proposed.branch, "merge")
    capsys.readouterr()
    assert main(["check"]) == 14
    out = capsys.readouterr().out
    assert "tag models/iris/production/2: error: its message says by: Chief Officer <cto@example.com>, but commit" \
           f" {proposed.commit[:12]} was made by {ME}" in out
    assert "reason: 'approved in the board meeting', but the commit records 'better recall'" in out
    assert "[tag-mismatch]" in out
    for _again in range(2):  # reported each time: a forged tag is never remembered as proven
        assert main(["tags", "sync"]) == 14
        captured = capsys.readouterr()
        assert "tag models/iris/production/2: error: its message says by: Chief Officer" in captured.out
        assert "0 tag(s) created" in captured.err and "left as they are" in captured.err
    assert main(["model", "version", "history", "iris", "2", "-o", "json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert events[-1]["tag"] == "models/iris/production/2" and events[-1]["by"] == ME
    assert "Chief Officer" in events[-1]["tag_mismatch"]
    assert main(["model", "version", "history", "iris", "2"]) == 0
    assert "[the tag disagrees: its message says by: Chief Officer" in capsys.readouterr().out
    assert main(["check", "--allow", "tag-mismatch"]) == 0  # accepted deliberately, still listed


def test_a_registration_tag_naming_another_version_is_a_message_finding(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris")
    git(repo, "tag", "-d", "models/iris/v2")
    forge(repo, "models/iris/v2", "HEAD", format_version_message("iris", 1, "1"))
    report = check(client.registry.repo)
    assert [(p.code, p.path) for p in report.problems] == [("tag-message", "tag models/iris/v2")]
    assert "does not read 'iris v2 registered'" in report.problems[0].message


# ---------------------------------------------------------------- gitreg's own tags, in every flow

def _clean(client: Client) -> None:
    report = check(client.registry.repo)
    assert report.ok and not [p for p in report.problems if p.code.startswith("tag")], report.problems
    assert client.sync_tags().problems == ()
    for e in client.version_history("iris"):
        assert e.tag_mismatch == "", e


@pytest.mark.parametrize("style", ["merge", "squash", "squash-titled", "rebase"])
def test_gitreg_tags_after_every_merge_style_agree_even_when_another_person_merges(repo, proposed, style,
                                                                                    monkeypatch):
    # someone else merges; the tag of a squash merge names the promoter from the commit message
    merger = {"GIT_AUTHOR_NAME": "Merger", "GIT_AUTHOR_EMAIL": "merger@example.com",
              "GIT_COMMITTER_NAME": "Merger", "GIT_COMMITTER_EMAIL": "merger@example.com"}
    _merge(repo, proposed.branch, style, merger)
    client = Client(repo)
    [tag] = client.sync_tags().created
    body = git(repo, "tag", "-l", "--format=%(contents)", tag.name)
    promoter = "Merger <merger@example.com>" if style == "squash-titled" else ME
    assert f"by: {promoter}" in body
    _clean(client)
    last = client.version_history("iris")[-1]
    author = "Merger <merger@example.com>" if style.startswith("squash") else ME
    committer = "Merger <merger@example.com>" if style == "rebase" else ""
    assert (last.by, last.committer) == (author, committer)


def test_a_merged_branch_of_several_promotions_is_tagged_as_its_own_commit_made_the_change(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    git(repo, "checkout", "-q", "-b", "pr")
    client.update_model_version("iris", 2, stage="staging", reason="try it")
    client.update_model_version("iris", 2, stage="production", force=True, reason="ship it")
    git(repo, "tag", "-d", "models/iris/staging/1", "models/iris/production/2")  # a branch's tags stay behind
    git(repo, "checkout", "-q", "main")
    _merge(repo, "pr", "merge")
    [tag] = client.sync_tags().created  # on the branch's last commit, which moved v2 from staging
    assert tag.name == "models/iris/production/2" and tag.commit == git(repo, "rev-parse", "pr")
    assert "previous-stage: staging" in git(repo, "tag", "-l", "--format=%(contents)", tag.name)
    _clean(client)


def test_many_objects_are_read_the_same_as_a_few(repo, client, monkeypatch):
    from gitreg import provenance

    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    repo_ = client.registry.repo
    tags = git(repo, "for-each-ref", "--format=%(objectname)", "refs/tags/models/").split()
    commits = git(repo, "rev-list", "HEAD").split()
    asked = [*tags, *commits, "0" * 40, commits[0]]  # and one missing, one twice, commits among tags
    few = (provenance.read_tag_messages(repo_, asked), provenance.read_commits(repo_, asked))
    monkeypatch.setattr(provenance, "_MANY", 1)
    many = (provenance.read_tag_messages(repo_, asked), provenance.read_commits(repo_, asked))
    assert few == many and sorted(few[0]) == sorted(tags) and sorted(few[1]) == sorted(commits)
    assert all(m.startswith("iris v1 ") for m in few[0].values())
    assert {f.author for f in few[1].values()} == {ME}


def test_gitreg_tags_of_direct_writes_runs_and_repairs_agree(repo, client, monkeypatch):
    from typing import Annotated as A

    from gitreg import Model, pipeline, step

    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ann Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ann@example.com")
    client.create_model_version("iris", reason="first")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="staging", reason="try")
    client.update_model_version("iris", 2, stage="staging", force=True, reason="better")

    @step
    def train() -> A[int, "model"]:
        return 1

    @pipeline(model=Model("iris"))
    def nightly():
        train()

    nightly()
    git(repo, "tag", "-d", "models/iris/v1", "models/iris/staging/2")
    assert [t.name for t in client.sync_tags().created] == ["models/iris/v1", "models/iris/staging/2"]
    _clean(client)
    events = client.version_history("iris")
    assert {e.by for e in events} == {"Ann Author <ann@example.com>"}  # the author; the tags name the committer
    assert {e.committer for e in events} == {ME}
    assert all(f"by: {ME}" in git(repo, "tag", "-l", "--format=%(contents)", e.tag) for e in events)


def test_signed_commits_are_shown_as_git_judges_them(repo, tmp_path):
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test@example.com", "-f", str(key)],
                   check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'test@example.com namespaces="git" {(tmp_path / "signing_key.pub").read_text()}')
    for name, value in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("commit.gpgSign", "true"),
                        ("tag.gpgSign", "true"), ("gpg.ssh.allowedSignersFile", str(allowed))):
        git(repo, "config", name, value)
    client = Client(repo)
    client.create_model_version("iris")
    git(repo, "config", "commit.gpgSign", "false")
    client.update_model_version("iris", 1, stage="production")
    _clean(client)
    assert [e.signature for e in client.version_history("iris")] == ["verified", ""]
    allowed.write_text("")  # nobody's key is trusted any more
    assert [e.signature for e in client.version_history("iris")] == ["unverified", ""]


def test_tags_sync_reports_a_lightweight_tag_holding_a_promotions_name(repo, client):
    # `gitreg check` does not count a lightweight tag; sync must not count it either (it cannot replace it)
    client.create_model_version("m")
    client.update_model_version("m", 1, stage="production")
    subprocess.run(["git", "tag", "-d", "models/m/production/1"], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "tag", "models/m/production/1"], cwd=repo, check=True)  # lightweight, same commit
    res = subprocess.run([sys.executable, "-m", "gitreg", "tags", "sync"], cwd=repo, capture_output=True, text=True)
    assert res.returncode == 14 and "Traceback" not in res.stderr
    assert "tag models/m/production/1" in res.stdout + res.stderr and "is a lightweight tag" in res.stdout + res.stderr
