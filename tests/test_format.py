"""Registry format 2 (stages.yaml per model): older registries keep reading, the first write (or
`gitreg migrate`) upgrades them in a commit of its own, a newer format asks for an upgrade, and a registry
already broken by a merge of two promotions keeps serving every other read and is repaired by one command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from gitreg import Client
from gitreg.errors import AmbiguousStageError, FormatTooNewError


def gitreg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=cwd, capture_output=True, text=True)


def make_format_1(repo: Path) -> Client:
    """A registry as the previous gitreg wrote it: format 1, no stages.yaml anywhere."""
    client = Client.init(repo)
    for _ in range(3):
        client.create_model_version("churn")
    client.update_model_version("churn", 1, stage="production")
    client.update_model_version("churn", 2, stage="staging")
    client.create_model_version("iris")
    reg = repo / ".mcp/registry.yaml"
    reg.write_text(reg.read_text().replace("format: 2", "format: 1"))
    for stages in (repo / ".mcp/models").glob("*/stages.yaml"):
        stages.unlink()
    (repo / ".mcp/.gitattributes").unlink()
    for claim in (repo / ".mcp/names").glob("*.yaml"):
        claim.unlink()
    git(repo, "add", "-A", ".mcp")
    git(repo, "commit", "-qm", "as the previous gitreg wrote it")
    return Client(repo)


def test_a_format_1_registry_keeps_reading_and_checking(hermetic: Path):
    client = make_format_1(hermetic)
    assert client.get_model_version("churn", "production").number == 1
    assert client.get_model_version("churn", "staging").number == 2
    assert client.check().ok


def test_the_first_write_upgrades_in_a_commit_of_its_own(hermetic: Path):
    client = make_format_1(hermetic)
    client.update_model_version("churn", 3, stage="production", force=True)
    subjects = git(hermetic, "log", "-2", "--format=%s").splitlines()
    assert subjects == ["churn v3 -> production", "gitreg: migrate the registry to format 2"]
    changed = git(hermetic, "diff", "--name-only", "HEAD~2", "HEAD~1").splitlines()
    assert changed == [".mcp/.gitattributes", ".mcp/models/churn/stages.yaml", ".mcp/models/iris/stages.yaml",
                       ".mcp/names/churn.yaml", ".mcp/names/iris.yaml", ".mcp/registry.yaml"]
    assert "format: 2" in (hermetic / ".mcp/registry.yaml").read_text()
    assert (hermetic / ".mcp/models/churn/stages.yaml").read_text() == "production: 3\nstaging: 2\n"
    assert client.check().ok
    assert git(hermetic, "status", "--porcelain") == ""
    # the promotion's tag is on the promotion, not on the migration
    assert git(hermetic, "rev-parse", "models/churn/production/2^{commit}") == git(hermetic, "rev-parse", "HEAD")


def test_gitreg_migrate_upgrades_once_and_says_so(hermetic: Path):
    make_format_1(hermetic)
    first = gitreg(hermetic, "migrate")
    assert first.returncode == 0, first.stderr
    assert "from format 1 to 2: 2 model(s) given a stages.yaml" in first.stdout
    assert git(hermetic, "log", "-1", "--format=%s") == "gitreg: migrate the registry to format 2"
    again = gitreg(hermetic, "migrate")
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert gitreg(hermetic, "check").returncode == 0


def test_a_newer_format_asks_for_an_upgrade_in_one_line(hermetic: Path):
    Client.init(hermetic).create_model_version("iris")
    reg = hermetic / ".mcp/registry.yaml"
    reg.write_text(reg.read_text().replace("format: 2", "format: 3"))
    git(hermetic, "commit", "-qam", "from the future")
    with pytest.raises(FormatTooNewError, match="upgrade gitreg"):
        Client(hermetic).get_model_version("iris", 1)
    res = gitreg(hermetic, "model", "list")
    assert res.returncode == 20 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: .mcp/registry.yaml: registry format 3 is newer than this gitreg reads (up to 2); upgrade gitreg:"
        " `pip install -U gitreg-registry`"]
    res = gitreg(hermetic, "check")
    assert res.returncode == 20 and "registry format 3 is newer than this gitreg" in res.stderr


def two_in_production(repo: Path, fmt: int) -> Client:
    """main after two reviewed promotions merged cleanly: versions 2 and 3 both say production."""
    client = make_format_1(repo) if fmt == 1 else Client.init(repo)
    if fmt == 2:
        for _ in range(3):
            client.create_model_version("churn")
        client.update_model_version("churn", 1, stage="production")
        client.create_model_version("iris")
    for number in (2, 3):
        path = repo / f".mcp/models/churn/versions/{number}.yaml"
        text = path.read_text()
        path.write_text(text.replace("stage: staging", "stage: production").replace("stage: none", "stage: production"))
    v1 = repo / ".mcp/models/churn/versions/1.yaml"
    v1.write_text(v1.read_text().replace("stage: production", "stage: archived"))
    git(repo, "commit", "-qam", "two merged promotions")
    return Client(repo)


@pytest.mark.parametrize("fmt", [1, 2])
def test_a_broken_main_keeps_other_reads_and_names_both_holders_and_the_repair(hermetic: Path, fmt: int):
    client = two_in_production(hermetic, fmt)
    assert client.get_model_version("churn", 1).number == 1  # other reads keep working
    assert client.get_model_version("iris", "latest").number == 1
    with pytest.raises(AmbiguousStageError) as raised:
        client.get_model_version("churn", "production")
    assert raised.value.claimants == (2, 3) if fmt == 1 else set(raised.value.claimants) >= {2, 3}
    res = gitreg(hermetic, "model", "version", "describe", "churn", "production")
    assert res.returncode == 6 and "Traceback" not in res.stderr
    assert "gitreg model version update churn <" in res.stderr and "--stage production --force" in res.stderr
    listing = gitreg(hermetic, "model", "list")
    assert listing.returncode == 0 and "churn" in listing.stdout and "conflict: " in listing.stdout
    report = client.check()
    assert "stage-conflict" in [p.code for p in report.problems if p.blocking]


@pytest.mark.parametrize("fmt", [1, 2])
def test_the_named_repair_command_repairs_it(hermetic: Path, fmt: int):
    two_in_production(hermetic, fmt)
    res = gitreg(hermetic, "model", "version", "update", "churn", "3", "--stage", "production", "--force")
    assert res.returncode == 0, res.stderr
    client = Client(hermetic)
    assert client.get_model_version("churn", "production").number == 3
    assert client.get_model_version("churn", 2).stage == "archived"
    assert (hermetic / ".mcp/models/churn/stages.yaml").read_text().startswith("production: 3\n")
    blocking = [p for p in client.check().problems if p.blocking]
    # the hand edits that broke main also left stage tags behind the manifests; the stage itself is repaired
    assert [p.code for p in blocking if p.code != "tag-stale"] == [], [str(p) for p in blocking]


def test_migrating_a_broken_main_leaves_that_model_to_its_repair(hermetic: Path):
    two_in_production(hermetic, 1)
    res = gitreg(hermetic, "migrate")
    assert res.returncode == 0, res.stderr
    assert "churn: no stages.yaml yet: production is claimed by versions 2, 3" in res.stderr
    assert not (hermetic / ".mcp/models/churn/stages.yaml").exists()
    assert (hermetic / ".mcp/models/iris/stages.yaml").exists()
    assert "skipped: churn" in git(hermetic, "log", "-1", "--format=%B")


def test_a_format_2_model_with_a_stage_but_no_stages_yaml_fails_check(hermetic: Path):
    client = Client.init(hermetic)
    client.create_model_version("churn")
    client.update_model_version("churn", 1, stage="production")
    git(hermetic, "rm", "-q", ".mcp/models/churn/stages.yaml")
    git(hermetic, "commit", "-qm", "drop it")
    assert [p.code for p in client.check().problems if p.blocking] == ["stages-missing"]
    assert client.get_model_version("churn", "production").number == 1  # reads still work from the manifests
    head = git(hermetic, "rev-parse", "HEAD")
    client.update_model_version("churn", 1, stage="production")  # what the finding says to do
    assert git(hermetic, "diff", "--name-only", head, "HEAD").splitlines() == [".mcp/models/churn/stages.yaml"]
    assert client.check().ok


def test_the_migration_in_an_autocrlf_clone_leaves_exact_bytes_and_a_clean_status(hermetic: Path, tmp_path: Path):
    # Git for Windows' default: the previous gitreg's registry, checked out with CRLF line endings
    make_format_1(hermetic)
    clone = tmp_path / "windows"
    subprocess.run(["git", "-c", "core.autocrlf=true", "clone", "-q", str(hermetic), str(clone)], check=True)
    git(clone, "config", "core.autocrlf", "true")
    assert b"\r\n" in (clone / ".mcp/registry.yaml").read_bytes()
    Client(clone).update_model_version("churn", 3, stage="production", force=True)
    assert git(clone, "log", "-2", "--format=%s").splitlines()[1] == "gitreg: migrate the registry to format 2"
    assert git(clone, "status", "--porcelain") == ""
    for path in (clone / ".mcp").rglob("*"):
        if path.is_file():
            rel = path.relative_to(clone).as_posix()
            committed = subprocess.run(["git", "cat-file", "blob", f"HEAD:{rel}"], cwd=clone, check=True,
                                       capture_output=True).stdout
            assert path.read_bytes() == committed, rel
    Client(clone).log_metadata("churn", 3, {"accuracy": 0.9})  # and the next write works too
    assert git(clone, "status", "--porcelain") == ""


def test_a_format_2_model_without_its_name_claim_fails_check_and_migrate_writes_it(hermetic: Path):
    client = Client.init(hermetic)
    client.create_model_version("Churn")
    assert (hermetic / ".mcp/names/churn.yaml").read_text() == "model: Churn\n"
    git(hermetic, "rm", "-q", ".mcp/names/churn.yaml")
    git(hermetic, "commit", "-qm", "drop the claim")
    assert [p.code for p in client.check().problems if p.blocking] == ["name-claim"]
    res = gitreg(hermetic, "migrate")  # what the finding says to do
    assert res.returncode == 0, res.stderr
    assert git(hermetic, "log", "-1", "--format=%s") == "gitreg: complete the registry's format 2 files"
    assert (hermetic / ".mcp/names/churn.yaml").read_text() == "model: Churn\n" and client.check().ok
    client.delete_model("Churn")  # a delete removes the model's claim
    assert not (hermetic / ".mcp/names/churn.yaml").exists() and client.check().ok


def test_a_model_with_no_version_number_left_refuses_to_register_and_writes_nothing(hermetic: Path):
    from gitreg.errors import InvalidValueError
    from gitreg.operations import MAX_VERSION

    client = Client.init(hermetic)
    client.create_model_version("churn")
    card = hermetic / ".mcp/models/churn/model.yaml"
    card.write_text(card.read_text().replace("versions: 1", f"versions: {MAX_VERSION}"))
    git(hermetic, "commit", "-qam", "every number used")
    head = git(hermetic, "rev-parse", "HEAD")
    with pytest.raises(InvalidValueError, match="no version number left"):
        client.create_model_version("churn")
    assert git(hermetic, "rev-parse", "HEAD") == head
    card.write_text(card.read_text().replace(f"versions: {MAX_VERSION}", f"versions: {MAX_VERSION + 1}"))
    git(hermetic, "commit", "-qam", "beyond")
    assert [p.code for p in client.check().problems if p.blocking] == ["schema"]
