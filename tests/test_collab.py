"""Promotion by pull request: --propose, check --base, tags sync after every merge style, history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.cli.app import main
from gitreg.errors import AlreadyExistsError, InvalidValueError


def tags(repo: Path, pattern: str = "models/*") -> list[str]:
    return git(repo, "tag", "-l", pattern).splitlines()


@pytest.fixture
def two_versions(repo, client):
    client.create_model_version("iris", reason="first try")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production", reason="baseline")
    return client


# ---------------------------------------------------------------- propose

def test_propose_makes_a_branch_with_one_promotion_commit(repo, two_versions):
    client = two_versions
    (repo / "wip.py").write_text("uncommitted\n")
    head = git(repo, "rev-parse", "HEAD")
    proposal = client.propose_model_version_stage("iris", 2, "production", force=True, reason="better recall")
    assert proposal.branch == "gitreg/promote/iris-v2-production"
    assert proposal.remote is None and proposal.target == "main" and proposal.base == head
    # the user's branch, work tree and tags are untouched
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert (repo / "wip.py").read_text() == "uncommitted\n"
    assert client.get_model_version("iris", "production").number == 1
    assert tags(repo, "models/iris/production/*") == ["models/iris/production/1"]
    # the branch: exactly one commit on main, promoting v2 and archiving v1
    assert git(repo, "rev-list", "--count", f"main..{proposal.branch}") == "1"
    changed = git(repo, "diff", "--name-only", "main", proposal.branch).splitlines()
    assert changed == [".mcp/models/iris/model.yaml", ".mcp/models/iris/stages.yaml",
                       ".mcp/models/iris/versions/1.yaml", ".mcp/models/iris/versions/2.yaml"]
    diff = git(repo, "diff", "main", proposal.branch, "--", ".mcp/models/iris/versions/2.yaml")
    assert "-stage: none" in diff and "+stage: production" in diff
    assert git(repo, "log", "-1", "--format=%s", proposal.branch) == "iris v2 -> production"
    assert "reason: better recall" in git(repo, "log", "-1", "--format=%b", proposal.branch)
    # proposing the same again is a clear error; proposing without force is a stage conflict
    with pytest.raises(AlreadyExistsError, match="gitreg/promote/iris-v2-production"):
        client.propose_model_version_stage("iris", 2, "production", force=True)
    with pytest.raises(InvalidValueError, match="nothing to propose"):
        client.propose_model_version_stage("iris", 1, "production")


def test_propose_from_the_cli_prints_the_branch_and_next_steps(repo, two_versions, capsys):
    assert main(["model", "version", "update", "iris", "2", "-s", "staging", "--propose", "-m", "try it"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "gitreg/promote/iris-v2-staging"
    assert "pull request" in err and "gitreg check --base" in err and "tags sync" in err
    assert main(["model", "version", "update", "iris", "2", "--propose", "--name", "x"]) == 2


def test_propose_pushes_when_the_registry_is_shared(tmp_path):
    seed = tmp_path / "seed"
    c = Client.init(seed, store=str(tmp_path / "store"))
    c.create_model_version("iris")
    bare = tmp_path / "models.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    proposal = Client("file://" + str(bare)).propose_model_version_stage("iris", 1, "production")
    assert proposal.remote == "origin"
    assert git(bare, "rev-parse", f"refs/heads/{proposal.branch}") == proposal.commit
    assert git(bare, "log", "-1", "--format=%s", "main") == "iris v1 registered"


# ---------------------------------------------------------------- merges, then tags sync

def _merge(repo: Path, branch: str, style: str) -> None:
    if style == "merge":
        git(repo, "merge", "-q", "--no-ff", "-m", f"Merge pull request #1 from {branch}", branch)
    elif style == "squash":
        git(repo, "merge", "-q", "--squash", branch)
        body = git(repo, "log", "-1", "--format=%B", branch)
        git(repo, "commit", "-q", "-m", "Promote iris v2 (#1)", "-m", "* " + body)
    else:  # rebase: the commit is replayed onto main (new id, no merge)
        git(repo, "cherry-pick", branch)


@pytest.mark.parametrize("style", ["merge", "squash", "rebase"])
def test_tags_sync_tags_the_merged_promotion(repo, two_versions, style):
    client = two_versions
    proposal = client.propose_model_version_stage("iris", 2, "production", force=True, reason="better recall")
    (repo / "code.py").write_text("x = 1\n")  # main moves on meanwhile
    git(repo, "add", "code.py")
    git(repo, "commit", "-qm", "unrelated code")
    _merge(repo, proposal.branch, style)
    assert client.get_model_version("iris", "production").number == 2
    from gitreg.check import check

    assert not check(client.registry.repo).ok  # the tag is missing until synced
    report = client.sync_tags()
    assert [t.name for t in report.created] == ["models/iris/production/2"]
    tag = report.created[0]
    expected_target = proposal.commit if style == "merge" else git(repo, "rev-parse", "HEAD")
    assert tag.commit == expected_target
    body = git(repo, "tag", "-l", "--format=%(contents)", "models/iris/production/2")
    assert body.splitlines()[0] == "iris v2 -> production"
    assert "demoted: v1" in body and "previous-stage: none" in body
    assert "reason: better recall" in body and "by: Test User <test@example.com>" in body
    assert check(client.registry.repo).ok
    assert client.sync_tags().created == ()  # idempotent
    assert client.version_history("iris")[-1].tag == "models/iris/production/2"


def test_tags_sync_repairs_missing_registration_tags_with_the_commit_date(repo, client):
    client.create_model_version("iris", reason="why not")
    client.create_model_version("iris")
    commit_date = git(repo, "log", "-1", "--format=%cI", "models/iris/v1")
    git(repo, "tag", "-d", "models/iris/v1", "models/iris/v2")
    assert main(["tags", "sync", "--dry-run"]) == 0
    assert tags(repo) == []
    report = client.sync_tags()
    assert [t.name for t in report.created] == ["models/iris/v1", "models/iris/v2"]
    assert git(repo, "tag", "-l", "--format=%(taggerdate:iso-strict)", "models/iris/v1") == commit_date
    assert "reason: why not" in git(repo, "tag", "-l", "--format=%(contents)", "models/iris/v1")


def test_tags_sync_push_fills_the_remote(tmp_path, monkeypatch):
    seed = tmp_path / "seed"
    Client.init(seed, store=str(tmp_path / "store")).create_model_version("iris")
    bare = tmp_path / "models.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--no-tags", str(seed), str(bare)], check=True)
    git(bare, "tag", "-l")
    work = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    monkeypatch.chdir(work)
    assert main(["tags", "sync", "--push"]) == 0
    assert tags(bare) == ["models/iris/v1"]
    assert main(["tags", "sync", "--push"]) == 0  # nothing more to do


# ---------------------------------------------------------------- check --base

@pytest.fixture
def pr(repo, client):
    client.create_model_version("iris")
    client.save_artifact("iris", 1, b"weights", "w")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo


def _check(*args: str, base: str = "main") -> tuple[int, dict]:
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["check", "--base", base, "-o", "json", *args])
    return code, json.loads(buf.getvalue())


def _edit(repo: Path, path: str, old: str, new: str, message: str = "hand edit") -> None:
    file = repo / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))
    git(repo, "commit", "-qam", message)


def test_check_base_accepts_a_promotion_and_a_registration(pr, client):
    client.update_model_version("iris", 1, stage="production")
    client.create_model_version("iris")
    code, data = _check()
    assert code == 0 and data["ok"] and data["problems"] == []


def test_check_base_rejects_a_changed_artifact_hash_with_file_and_line(pr, capsys):
    path = ".mcp/models/iris/versions/1.yaml"
    text = (pr / path).read_text()
    sha = next(line.split(": ")[1] for line in text.splitlines() if "sha256:" in line)
    _edit(pr, path, sha, "0" * 64)
    code, data = _check()
    assert code == 14
    [problem] = data["problems"]
    assert problem["path"] == path and problem["field"] == "artifacts.0.sha256"
    line = (pr / path).read_text().splitlines()[problem["line"] - 1]
    assert line.strip().startswith("sha256: 000")
    assert main(["check", "--base", "main", "-o", "github"]) == 14
    out = capsys.readouterr().out
    assert out.startswith(f"::error file={path},line={problem['line']},title=gitreg check%3A artifacts.0.sha256::")


def test_check_base_rejects_deletion_unless_allowed(pr):
    git(pr, "rm", "-q", ".mcp/models/iris/versions/1.yaml")
    git(pr, "commit", "-qm", "drop v1")
    code, data = _check()
    assert code == 14 and "was deleted" in data["problems"][0]["message"]
    code, data = _check("--allow-delete")
    assert code == 0


def test_check_base_rejects_reused_numbers_and_illegal_stage_moves(pr, client):
    client.update_model_version("iris", 1, stage="staging")
    client.create_model_version("iris")
    client.delete_model_version("iris", 2)
    git(pr, "checkout", "-q", "-b", "pr2")
    _edit(pr, ".mcp/models/iris/versions/1.yaml", "stage: staging", "stage: none")
    _edit(pr, ".mcp/models/iris/model.yaml", "staging: 1", "staging: 0")
    v1 = (pr / ".mcp/models/iris/versions/1.yaml").read_text()
    (pr / ".mcp/models/iris/versions/2.yaml").write_text(v1.replace("number: 1", "number: 2").replace(
        "name: '1'", "name: '2'"))
    git(pr, "add", ".")
    git(pr, "commit", "-qm", "a hand-made v2")
    code, data = _check(base="pr")
    messages = " | ".join(p["message"] for p in data["problems"])
    assert code == 14, messages
    assert "back to none" in messages and "counters never go back" in messages
    assert "2 was already allocated" in messages


def test_check_base_rejects_two_versions_in_production_and_schema_errors(pr, client):
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    _edit(pr, ".mcp/models/iris/versions/2.yaml", "stage: none", "stage: production")
    code, data = _check()
    assert code == 14 and "exclusive stage" in data["problems"][0]["message"]
    _edit(pr, ".mcp/models/iris/versions/2.yaml", "stage: production", "stage: prod")
    code, data = _check()
    assert code == 14 and data["problems"][0]["field"] == "stage"


def test_check_base_rejects_rewritten_history(pr, client):
    git(pr, "checkout", "-q", "main")
    client.create_model_version("iris")
    git(pr, "checkout", "-q", "pr")
    code, data = _check()
    assert code == 14 and "history was rewritten" in data["problems"][0]["message"]


# ---------------------------------------------------------------- history and plain git

def test_history_lists_every_registration_and_stage_change(repo, client):
    client.create_model_version("iris", reason="first")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="staging", reason="try it")
    client.update_model_version("iris", 1, stage="production", reason="ship it")
    client.update_model_version("iris", 2, stage="production", force=True, reason="better")
    events = client.version_history("iris")
    assert [(e.version, e.from_stage, e.to_stage) for e in events] == [
        (1, None, "none"), (2, None, "none"), (1, "none", "staging"), (1, "staging", "production"),
        (2, "none", "production")]
    assert events[-1].demoted == (1,) and events[-1].reason == "better"
    assert events[0].reason == "first" and events[0].by == "Test User <test@example.com>"
    # each event is what git says about its tag
    for e in events:
        assert git(repo, "rev-parse", f"{e.tag}^{{commit}}") == e.commit
        assert git(repo, "tag", "-l", "--format=%(taggerdate:iso-strict)", e.tag) == e.when
    assert [e.to_stage for e in client.version_history("iris", 1)] == ["none", "staging", "production", "production"]
    assert main(["model", "version", "history", "iris", "-o", "json"]) == 0


def test_plain_git_answers_match_gitreg(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris", metadata={"accuracy": 0.93})
    client.create_model_version("iris")
    client.update_model_version("iris", 2, stage="production", reason="best accuracy")
    # what is in production (the README's command)
    subject = git(repo, "for-each-ref", "--sort=-version:refname", "--count=1", "--format=%(subject)",
                  "refs/tags/models/iris/production/")
    assert subject == f"iris v{client.get_model_version('iris', 'production').number} -> production"
    # who promoted it and when
    who = git(repo, "for-each-ref", "--sort=-version:refname", "--count=1",
              "--format=%(taggername) %(taggeremail)|%(taggerdate:iso-strict)", "refs/tags/models/iris/production/")
    last = client.version_history("iris")[-1]
    assert who == f"{last.by}|{last.when}"
    # what version 2 contained
    shown = git(repo, "show", "models/iris/v2:.mcp/models/iris/versions/2.yaml")
    assert "accuracy: 0.93" in shown and "stage: none" in shown
    # every change to the model, one line each
    log = git(repo, "log", "--format=%s", "--", ".mcp/models/iris").splitlines()
    assert log[0] == "iris v2 -> production" and len(log) == 4


def test_reason_lands_in_every_commit(repo, client):
    client.create_model("iris", reason="new project")
    client.update_model("iris", description="d", reason="describe")
    client.create_model_version("iris", reason="nightly")
    client.log_metadata("iris", 1, {"a": 1}, reason="eval")
    client.save_artifact("iris", 1, b"x", "w", reason="weights")
    client.delete_artifact("iris", 1, "w", reason="wrong file")
    client.delete_model_version("iris", 1, reason="bad data")
    bodies = git(repo, "log", "--format=%B%x00", "-7").split("\0")
    reasons = [line for body in bodies for line in body.splitlines() if line.startswith("reason: ")]
    assert reasons == ["reason: bad data", "reason: wrong file", "reason: weights", "reason: eval",
                       "reason: nightly", "reason: describe", "reason: new project"]
    assert main(["metadata", "log", "iris", "--reason", "cli", "k=1"]) == 4  # v1 is gone: not found


# ---------------------------------------------------------------- signed promotions

@pytest.fixture
def signing(repo, tmp_path):
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test@example.com", "-f", str(key)],
                   check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'test@example.com namespaces="git" {(tmp_path / "signing_key.pub").read_text()}')
    for key_, value in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("commit.gpgSign", "true"),
                        ("tag.gpgSign", "true"), ("gpg.ssh.allowedSignersFile", str(allowed))):
        git(repo, "config", key_, value)
    return repo


def test_signed_tags_and_commits_verify(signing, capsys):
    client = Client(signing)
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    assert "Good" in subprocess.run(["git", "verify-tag", "models/iris/production/1"], cwd=signing,
                                    capture_output=True, text=True).stderr
    subprocess.run(["git", "verify-commit", "HEAD"], cwd=signing, check=True, capture_output=True)
    assert main(["check", "--verify-signatures"]) == 0


def test_verify_signatures_fails_on_an_unsigned_stage_tag(signing, capsys):
    client = Client(signing)
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="staging")
    git(signing, "config", "tag.gpgSign", "false")
    client.update_model_version("iris", 2, stage="staging", force=True)
    assert main(["check"]) == 0  # without verification all is well
    capsys.readouterr()
    assert main(["check", "--verify-signatures"]) == 14
    out = capsys.readouterr().out
    assert "tag models/iris/staging/2: error: signature does not verify" in out
    assert "staging/1" not in out


def test_check_staged_validates_what_the_index_would_commit(repo, client, capsys):
    client.create_model_version("iris")
    path = repo / ".mcp/models/iris/versions/1.yaml"
    path.write_text(path.read_text().replace("stage: none", "stage: shipped"))
    assert main(["check", "--staged"]) == 0  # not staged yet: the index is fine
    git(repo, "add", str(path))
    capsys.readouterr()
    assert main(["check", "--staged"]) == 14
    assert ".mcp/models/iris/versions/1.yaml:stage: error" in capsys.readouterr().out
    assert main(["check"]) == 0  # HEAD itself is still valid
    assert main(["check", "--staged", "--base", "main"]) == 2


# ---------------------------------------------------------------- the shipped examples

ROOT = Path(__file__).resolve().parent.parent


def _steps(job: dict) -> list[dict]:
    return [step for step in job["steps"] if "run" in step]


def _run_script(step: dict, cwd: Path, values: dict[str, str]) -> None:
    """A workflow step's script as the runner runs it: its `env:` (expressions filled in from ``values``)
    in the environment, the script itself free of expressions (no template injection)."""
    script = step["run"]
    assert "${{" not in script, script
    values = {"github.token": "a-token", **values}
    step_env = {}
    for name, value in (step.get("env") or {}).items():
        for key, filled in values.items():
            value = value.replace("${{ " + key + " }}", filled)
        assert "${{" not in value, value
        step_env[name] = value
    os_env = __import__("os").environ
    env = {**os_env, "PATH": str(Path(__import__("sys").executable).parent) + ":" + os_env["PATH"],
           "GITHUB_SERVER_URL": "https://github.com", "RUNNER_TEMP": str(cwd.parent), **step_env}
    res = subprocess.run(["bash", "-euc", script], cwd=cwd, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_example_workflow_reviews_a_proposal_and_tags_it_after_a_squash_merge(tmp_path, monkeypatch):
    import yaml

    workflow = yaml.safe_load((ROOT / "examples/github/gitreg.yml").read_text())
    check_job, tags_job = workflow["jobs"]["check"], workflow["jobs"]["tags"]
    # "GitHub": a bare repository holding a registry that pushes to it
    seed = tmp_path / "seed"
    c = Client.init(seed, store=str(tmp_path / "store"))
    c.create_model_version("iris")
    c.create_model_version("iris")
    c.update_model_version("iris", 1, stage="production")
    hub = tmp_path / "hub.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(hub)], check=True)
    git(seed, "push", "-q", str(hub), "--tags")
    # a data scientist proposes v2 for production
    dev = tmp_path / "dev"
    subprocess.run(["git", "clone", "-q", str(hub), str(dev)], check=True)
    (dev / ".mcp/registry.yaml").write_text((dev / ".mcp/registry.yaml").read_text() + "remote: origin\n")
    git(dev, "commit", "-qam", "registry: share through origin")
    git(dev, "push", "-q", "origin", "main")
    proposal = Client(dev).propose_model_version_stage("iris", 2, "production", force=True, reason="better")
    assert git(hub, "rev-parse", proposal.branch) == proposal.commit
    # pull-request CI: the merge result, checked against the base branch
    ci = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(hub), str(ci)], check=True)
    git(ci, "checkout", "-q", "-b", "pr-merge", f"origin/{proposal.branch}")
    for script in _steps(check_job)[1:]:
        _run_script(script, ci, {"github.base_ref": "main"})
    # a bad pull request fails the same step
    bad = ci / ".mcp/models/iris/versions/1.yaml"
    bad.write_text(bad.read_text().replace("stage: archived", "stage: production"))
    git(ci, "commit", "-qam", "two in production")
    with pytest.raises(AssertionError, match="exclusive stage"):
        _run_script(_steps(check_job)[-1], ci, {"github.base_ref": "main"})
    # squash-merged on the host; then the main-branch job tags it
    merge = tmp_path / "merge"
    subprocess.run(["git", "clone", "-q", str(hub), str(merge)], check=True)
    before = git(merge, "rev-parse", "HEAD")
    git(merge, "merge", "-q", "--squash", f"origin/{proposal.branch}")
    git(merge, "commit", "-qm", "Promote iris v2 to production (#7)")
    git(merge, "push", "-q", "origin", "main")
    Client(merge).save_artifact("iris", 1, b"evaluation report", "report")  # a direct write to main
    runner = tmp_path / "runner"
    subprocess.run(["git", "clone", "-q", str(hub), str(runner)], check=True)
    for script in _steps(tags_job)[1:]:
        _run_script(script, runner, {"github.event.before": before})
    assert "models/iris/production/2" in git(hub, "tag", "-l").splitlines()
    body = git(hub, "tag", "-l", "--format=%(contents)", "models/iris/production/2")
    assert body.splitlines()[0] == "iris v2 -> production"
    assert "reason: Promote iris v2 to production (#7)" in body  # the squash replaced the message: its title


def test_pre_commit_hook_definition_runs_gitreg_check_on_registry_files():
    import yaml

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "gitreg-check" and hook["entry"] == "gitreg check --staged"
    assert hook["pass_filenames"] is False and hook["files"] == r"^\.mcp/"
    assert hook["always_run"] is True  # a commit that only deletes a manifest must be checked too


def test_check_base_rejects_edited_run_records(pr, client):
    from typing import Annotated as A

    from gitreg import Model as M
    from gitreg import pipeline, step

    @step
    def s() -> A[int, "x"]:
        return 1

    @pipeline(model=M("iris"))
    def p():
        s()

    run = p()
    git(pr, "checkout", "-q", "-b", "pr3")
    _edit(pr, f".mcp/runs/{run.id}.yaml", "status: completed", "status: failed")
    code, data = _check(base="pr")
    assert code == 14 and "never change" in data["problems"][0]["message"]


def test_check_base_shows_each_promotion_compared_with_the_version_it_replaces(repo, two_versions, capsys,
                                                                               tmp_path, monkeypatch):
    client = two_versions
    client.log_metadata("iris", 1, {"accuracy": 0.9})
    client.log_metadata("iris", 2, {"accuracy": 0.95})
    proposal = client.propose_model_version_stage("iris", 2, "production", force=True, reason="better")
    capsys.readouterr()
    assert main(["check", "--base", "main", "--rev", proposal.branch]) == 0
    out = capsys.readouterr().out
    assert "iris v2: none -> production (replaces v1)" in out
    assert "accuracy" in out and "+0.05" in out
    assert main(["check", "--base", "main", "--rev", proposal.branch, "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## gitreg check passes: 0 error(s)") and "## gitreg: stage changes" in md
    assert "### iris v2: none -> production" in md
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["check", "--base", "main", "--rev", proposal.branch, "-o", "github"]) == 0
    assert "### iris v2: none -> production" in summary.read_text()
