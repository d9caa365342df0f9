"""gitreg check: schemas, stage invariants and tag/manifest agreement."""

import pytest

from conftest import git
from gitreg.check import check
from gitreg.cli.app import main


def _problems(client):
    report = check(client.registry.repo)
    return [str(p) for p in report.problems], report


def test_clean_registry_checks_ok(client):
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    problems, report = _problems(client)
    assert problems == [] and report.ok and (report.models, report.versions) == (1, 1)


def test_hand_edit_making_two_production_versions(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    path = repo / ".mcp/models/iris/versions/2.yaml"
    path.write_text(path.read_text().replace("stage: none", "stage: production"))
    git(repo, "commit", "-qam", "sneaky")
    problems, report = _problems(client)
    assert not report.ok
    assert any("stage 'production' is claimed by versions 1 and 2" in p and "[stage-conflict]" in p for p in problems)
    assert any("versions/2.yaml:stage" in p and "moved v1 there" in p for p in problems)


def test_missing_tag_and_lightweight_tags(repo, client):
    client.create_model_version("iris")
    git(repo, "tag", "-d", "models/iris/v1")
    git(repo, "tag", "models/iris/v1")  # lightweight
    git(repo, "tag", "models/iris/whatever")
    problems, report = _problems(client)
    assert any("registration tag models/iris/v1 is missing" in p for p in problems)
    assert any("lightweight tag" in p for p in problems)
    assert any("not a gitreg tag name" in p and "warning" in p for p in problems)


def test_every_problem_is_reported_with_file_and_field(repo, client):
    client.create_model_version("iris")
    client.create_model_version("bert")
    (repo / ".mcp/models/iris/versions/1.yaml").write_text("format: 1\nmodel: iris\nnumber: one\n")
    (repo / ".mcp/models/bert/model.yaml").write_text("not: [valid")
    (repo / ".mcp/models/bert/versions/x.yaml").write_text("a: 1\n")
    git(repo, "add", ".mcp")
    git(repo, "commit", "-qm", "break things")
    problems, report = _problems(client)
    text = "\n".join(problems)
    assert ".mcp/models/iris/versions/1.yaml:number: error: 'one' is not of type 'integer'" in text
    assert ".mcp/models/iris/versions/1.yaml: error: 'name' is a required property" in text
    assert ".mcp/models/bert/model.yaml: error: not valid YAML" in text
    assert ".mcp/models/bert/versions/x.yaml: error: unexpected file" in text


def test_reads_fail_clearly_on_an_invalid_committed_manifest(repo, client):
    import pytest

    from gitreg.errors import ManifestError

    client.create_model_version("iris")
    path = repo / ".mcp/models/iris/versions/1.yaml"
    path.write_text(path.read_text().replace("number: 1", "number: 2"))
    git(repo, "commit", "-qam", "wrong number")
    with pytest.raises(ManifestError, match=r"versions/1.yaml:number: is 2 but the file is 1.yaml"):
        client.get_model_version("iris", 1)


def test_stray_file_in_a_model_folder_is_an_error_but_never_read(repo, client):
    # one grammar for every path: a file the contract has no place for fails check (it could stand in for
    # another in review), is never read, and does not stop reads or writes of the model
    client.create_model_version("iris")
    (repo / ".mcp/models/iris/README.md").write_text("notes\n")
    git(repo, "add", ".mcp")
    git(repo, "commit", "-qm", "notes")
    problems, report = _problems(client)
    assert not report.ok and any("README.md: error: unexpected file" in p for p in problems)
    assert client.get_model_version("iris").number == 1
    client.create_model_version("iris")  # writes keep the file
    assert (repo / ".mcp/models/iris/README.md").read_text() == "notes\n"
    client.delete_model("iris")
    assert not (repo / ".mcp/models/iris").exists()
    assert _problems(client)[1].ok


# ---------------------------------------------------------------- codes

def test_every_problem_carries_a_known_code(repo, client):
    from gitreg.check import FINDINGS

    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    path = repo / ".mcp/models/iris/versions/2.yaml"
    path.write_text(path.read_text().replace("stage: none", "stage: production"))
    (repo / ".mcp/models/iris/notes.txt").write_text("x\n")
    (repo / ".mcp/models/bert").mkdir()
    (repo / ".mcp/models/bert/model.yaml").write_text("not: [valid")
    git(repo, "add", ".mcp")
    git(repo, "commit", "-qm", "break things")
    git(repo, "tag", "models/iris/light")
    report = check(client.registry.repo)
    found = {(p.code, p.severity) for p in report.problems}
    assert {("stage-conflict", "error"), ("schema", "error"), ("unexpected-file", "error"),
            ("tag-name", "warning"), ("tag-stale", "error")} <= found
    assert all(p.code in FINDINGS for p in report.problems)
    assert all(str(p).endswith(f"[{p.code}]") for p in report.problems)


# ---------------------------------------------------------------- tags that lie

def _tag_message(repo, tag):
    return git(repo, "tag", "-l", "--format=%(contents)", tag)


def _codes(client):
    report = check(client.registry.repo)
    return sorted((p.code, p.path) for p in report.problems), report


def test_a_stage_tag_moved_to_another_commit_fails_check(repo, client):
    client.create_model_version("m")
    client.update_model_version("m", 1, stage="production")
    client.log_metadata("m", 1, {"accuracy": 0.9})
    assert _codes(client)[1].ok
    message = _tag_message(repo, "models/m/production/1")
    git(repo, "tag", "-f", "-a", "models/m/production/1", "HEAD", "-m", message)  # v1 was production already
    found, report = _codes(client)
    assert not report.ok and found == [("tag-moved", "tag models/m/production/1")]
    assert "already production before that commit" in report.errors[0].message
    git(repo, "tag", "-f", "-a", "models/m/production/1", "models/m/v1^{commit}", "-m", message)  # v1 is not production
    found, report = _codes(client)
    assert found == [("tag-moved", "tag models/m/production/1")] and "where v1 is none" in report.errors[0].message


def test_a_moved_registration_tag_fails_check(repo, client):
    client.create_model_version("m")
    client.create_model_version("m")
    assert _codes(client)[1].ok  # both verified (and remembered)
    git(repo, "tag", "-f", "-a", "models/m/v1", "models/m/v2^{commit}", "-m", _tag_message(repo, "models/m/v1"))
    found, report = _codes(client)
    assert found == [("tag-moved", "tag models/m/v1")] and "does not add" in report.errors[0].message
    git(repo, "tag", "-f", "-a", "models/m/v1", "HEAD~2", "-m", _tag_message(repo, "models/m/v1"))
    found, report = _codes(client)
    assert found == [("tag-moved", "tag models/m/v1")] and "does not add" in report.errors[0].message


def test_a_verified_tag_object_under_another_name_is_verified_again(repo, client):
    client.create_model_version("m")
    client.create_model_version("m")
    assert _codes(client)[1].ok
    v1_object = git(repo, "rev-parse", "refs/tags/models/m/v1")
    git(repo, "update-ref", "refs/tags/models/m/v2", v1_object)
    found, report = _codes(client)
    assert found == [("tag-moved", "tag models/m/v2")]


def test_a_tag_on_a_commit_outside_the_checked_history_fails_check(repo, client):
    client.create_model_version("m")
    assert _codes(client)[1].ok  # what is reachable from main is remembered
    git(repo, "checkout", "-q", "-b", "experiment")
    client.create_model_version("m")
    client.update_model_version("m", 2, stage="staging")
    git(repo, "checkout", "-q", "main")
    found, report = _codes(client)
    assert found == [("tag-unreachable", "tag models/m/staging/1"), ("tag-unreachable", "tag models/m/v2")]
    assert "not in the history of HEAD" in report.errors[0].message
    assert check(client.registry.repo, "experiment").ok
    assert _codes(client)[0] == found  # and after checking the branch, main again
    git(repo, "merge", "-q", "--ff-only", "experiment")
    assert _codes(client)[1].ok


@pytest.mark.fastpath_only("tag-proofs")
def test_tag_verification_is_remembered_by_tag_object(repo, client):
    from gitreg.check.tag_targets import verified_key
    from gitreg.state.cache import cache_get

    client.create_model_version("m")
    client.update_model_version("m", 1, stage="staging")
    assert _codes(client)[1].ok
    import hashlib

    remembered = cache_get(client.registry.repo, verified_key("models"), "tag-proofs")
    objects = {hashlib.sha1(f"refs/tags/{t} {git(repo, 'rev-parse', 'refs/tags/' + t)}".encode()).hexdigest()[:20]
               for t in ("models/m/v1", "models/m/staging/1")}
    assert set(remembered["pairs"]) == objects and remembered["all"] is not None
    git(repo, "tag", "-f", "-a", "models/m/staging/1", "models/m/v1^{commit}", "-m",
        _tag_message(repo, "models/m/staging/1"))
    assert not _codes(client)[1].ok
    remembered = cache_get(client.registry.repo, verified_key("models"), "tag-proofs")
    assert len(remembered["pairs"]) == 1 and remembered["all"] is None  # the forged one is not remembered
    assert not _codes(client)[1].ok  # and is found again


# ---------------------------------------------------------------- reverts

def _stale_index_commit(repo):
    """A write committed v2 but the index still holds v1's state; the user commits their code."""
    git(repo, "restore", "--staged", "--source=HEAD~1", "--", ".mcp")
    (repo / "app.py").write_text("print('hi')\n")
    git(repo, "add", "app.py")


def test_an_ordinary_commit_from_a_stale_index_fails_check_and_the_hook(repo, client, capsys):
    from gitreg.cli.app import main

    client.create_model_version("m")
    client.create_model_version("m")
    _stale_index_commit(repo)
    assert main(["check", "--staged"]) == 14
    out = capsys.readouterr().out
    assert ".mcp/models/m/versions/2.yaml: error: what is staged deletes this registered version" in out
    assert ".mcp/models/m/model.yaml:counters.versions: error: what is staged lowers it from 2 to 1" in out
    assert "git restore --staged --worktree --source=HEAD" in out
    git(repo, "commit", "-qm", "add app")
    assert "versions: 1" in git(repo, "show", "HEAD:.mcp/models/m/model.yaml")
    found, report = _codes(client)
    assert found == [("counter-lowered", ".mcp/models/m/model.yaml"),
                     ("unrecorded-delete", ".mcp/models/m/versions/2.yaml")]
    lost = next(p for p in report.errors if p.code == "unrecorded-delete")
    head = git(repo, "rev-parse", "HEAD")[:12]
    assert f'commit {head} ("add app") removed it' in lost.message
    assert "registration tag models/m/v2" in lost.message and '"m v2: delete version"' in lost.message
    assert main(["check"]) == 14
    assert main(["check", "--allow", "unrecorded-delete", "--allow", "counter-lowered"]) == 0


def test_a_revert_of_a_registration_fails_check(repo, client):
    client.create_model_version("m")
    client.create_model_version("m")
    git(repo, "revert", "--no-edit", "HEAD")
    found, _ = _codes(client)
    assert [code for code, _path in found] == ["counter-lowered", "unrecorded-delete"]


def test_gitreg_deletes_are_recorded_and_pass_check(repo, client):
    client.create_model_version("m")
    client.create_model_version("m")
    client.create_model_version("m")
    client.delete_model_version("m", 2, reason="bad data")
    assert _codes(client)[1].ok
    client.create_model_version("bert")
    client.delete_model("bert")
    assert _codes(client)[1].ok
    assert check(client.registry.repo, "HEAD", tags=False).ok


def test_a_hand_deleted_version_fails_check_even_under_a_lookalike_subject(repo, client):
    client.create_model_version("m")
    client.create_model_version("m")
    git(repo, "rm", "-q", ".mcp/models/m/versions/1.yaml")
    git(repo, "commit", "-qm", "m v2: delete version")  # deletes v1, says v2
    found, report = _codes(client)
    assert found == [("unrecorded-delete", ".mcp/models/m/versions/1.yaml")]


def test_staged_checks_pass_for_ordinary_work(repo, client, capsys):
    from gitreg.cli.app import main

    client.create_model_version("m")
    client.delete_model_version("m", 1)
    (repo / "app.py").write_text("x = 1\n")
    git(repo, "add", "app.py")
    assert main(["check", "--staged"]) == 0
    card = repo / ".mcp/models/m/model.yaml"
    card.write_text(card.read_text().replace("versions: 1", "versions: 0"))
    git(repo, "add", str(card))
    capsys.readouterr()
    assert main(["check", "--staged"]) == 14
    assert "counters.versions: error: what is staged lowers it from 1 to 0" in capsys.readouterr().out


def test_delete_subjects_round_trip_and_match_what_gitreg_writes(repo, client):
    from gitreg import operations as ops
    from gitreg.tagnames import DeleteSubject, format_delete_subject, parse_delete_subject

    for subject in (DeleteSubject("m", 3), DeleteSubject("iris.v-2_x", 12), DeleteSubject("m", None, 4),
                    DeleteSubject("m", None, 0)):
        assert parse_delete_subject(subject.text()) == subject
        assert parse_delete_subject(format_delete_subject(subject.model, subject.number, subject.versions)) == subject
    for text in ("m v0: delete version", "m v2: delete versions", "m: delete model", "m v2 -> production",
                 "m v2: delete version and more", ""):
        assert parse_delete_subject(text) is None
    assert DeleteSubject("m", 2).covers("m", 2) and not DeleteSubject("m", 2).covers("m", 3)
    assert DeleteSubject("m", None, 2).covers("m", 7) and not DeleteSubject("m", None, 2).covers("n", 7)
    client.create_model_version("m")
    client.create_model_version("m")
    snap = client.registry.snapshot()
    version_subject = ops.delete_version(snap, "m", 2, reason="x").message.splitlines()[0]
    model_subject = ops.delete_model(snap, "m").message.splitlines()[0]
    assert parse_delete_subject(version_subject) == DeleteSubject("m", 2)
    assert parse_delete_subject(model_subject) == DeleteSubject("m", None, 2)


def test_check_by_url_brings_the_commits_of_the_tags_it_fetches(tmp_path):
    import subprocess

    from gitreg import Client

    seed = tmp_path / "seed"
    Client.init(seed, store=str(tmp_path / "store")).create_model_version("m")
    bare = tmp_path / "models.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    reader = Client("file://" + str(bare))
    assert reader.check().ok
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    Client(work).create_model_version("m")  # another clone registers v2 and pushes it
    git(work, "push", "-q", "origin", "main", "refs/tags/models/m/v2")
    report = reader.check()  # within the freshness window of the reader's clone
    assert report.ok, [str(p) for p in report.problems]
    assert report.tags == 2 and report.versions == 2


def test_warnings_survive_the_validation_cache_and_writes(repo, client, capsys):
    """A tree that validated once is cached; its warnings must still be reported every time."""
    client.create_model_version("m")
    client.save_artifact("m", 1, b"weights", "w")
    client.create_model_version("m")
    path = repo / ".mcp/models/m/versions/1.yaml"
    path.write_text(path.read_text().replace("format: bytes", "format: pickle"))  # as an older gitreg wrote it
    git(repo, "commit", "-qam", "an old pickle link")

    def warnings() -> list[str]:
        assert main(["check"]) == 0
        return [line for line in capsys.readouterr().out.splitlines() if "[unmarked-code-format]" in line]

    assert len(warnings()) == 1                                    # read and validated now
    assert main(["model", "version", "list", "m"]) == 0            # a read caches the tree
    assert len(warnings()) == 1                                    # from the cache
    client.log_metadata("m", 2, {"acc": 0.9})                      # a write seeds the next tree's cache
    assert len(warnings()) == 1


def test_a_model_folder_that_is_no_model_name_is_reported_not_a_crash(repo, client, capsys):
    client.create_model("ok")
    for bad in ("bad\nname", "my model"):
        folder = repo / ".mcp/models" / bad
        folder.mkdir()
        (folder / "model.yaml").write_text((repo / ".mcp/models/ok/model.yaml").read_text())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hand-made folders")
    assert main(["check"]) == 14
    out = capsys.readouterr().out
    assert ".mcp/models/'bad\\nname': error: not a valid model name" in out
    assert ".mcp/models/'my model': error: not a valid model name" in out
    assert main(["model", "list"]) == 0  # the healthy model is still listed
    assert "ok" in capsys.readouterr().out


def test_the_same_tree_under_another_folder_name_is_validated_for_that_name(repo, client, capsys):
    """The validation cache is keyed by tree id; a copied folder must not inherit the original's verdict."""
    client.create_model_version("ok")
    assert main(["check"]) == 0  # caches the folder's tree as valid for "ok"
    import shutil

    shutil.copytree(repo / ".mcp/models/ok", repo / ".mcp/models/copy")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a copy")
    capsys.readouterr()
    assert main(["check"]) == 14
    assert ".mcp/models/copy/model.yaml:name: error: is 'ok' but the folder is 'copy'" in capsys.readouterr().out
