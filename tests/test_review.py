"""`gitreg check --base`: every change that alters what a load returns is a finding with a code;
maintainers accept findings deliberately (`--allow CODE`), never silently."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml

from conftest import git
from gitreg import Client
from gitreg.check import DELETE_CODES, FINDINGS
from gitreg.cli.app import main
from gitreg.errors import InvalidValueError
from gitreg.manifests import dump_yaml

V1 = ".mcp/models/m/versions/1.yaml"


class _Payload:
    """Unpickling this creates a folder: stands for "runs a command when unpickled"."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.fixture
def promoted(repo, client):
    """main: m v1 with a model artifact in the store, in production; then the branch `pr`."""
    client.create_model_version("m")
    client.save_artifact("m", 1, b"weights", "trained_model", type="model")
    client.update_model_version("m", 1, stage="production")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo


def run_check(*args: str) -> tuple[int, dict]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["check", "-o", "json", *args])
    return code, json.loads(buf.getvalue())


def codes(data: dict, accepted: bool | None = None) -> list[str]:
    return sorted(p["code"] for p in data["problems"] if accepted is None or p["accepted"] == accepted)


def edit_yaml(repo: Path, path: str, change, message: str = "hand edit") -> None:
    doc = yaml.safe_load((repo / path).read_text())
    change(doc)
    (repo / path).write_text(dump_yaml(doc).decode())
    git(repo, "add", path)
    git(repo, "commit", "-qm", message)


def evil_pickle(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "owned"
    payload = tmp_path / "outside" / "model.pkl"
    payload.parent.mkdir()
    payload.write_bytes(pickle.dumps(_Payload(marker)))
    return payload, marker


# ---------------------------------------------------------------- the reported attack

def test_a_pickle_link_appended_to_a_production_version_fails_review(promoted, client, tmp_path):
    payload, marker = evil_pickle(tmp_path)
    data = payload.read_bytes()

    def append(doc):
        doc["artifacts"].append({
            "name": "trained_model", "version": 2, "type": "model", "uri": str(payload),
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "format": "pickle",
            "kind": "file", "external": False})

    edit_yaml(promoted, V1, append, "retrain")
    # what the branch would serve: the loader refuses the link outside the store, so nothing runs
    from gitreg.errors import ArtifactRefusedError

    with pytest.raises(ArtifactRefusedError, match="points outside the artifact store"):
        client.load_artifact("m", "production", "trained_model")
    assert not marker.exists()
    code, data_ = run_check("--base", "main", "--rev", "pr")
    assert code == 14 and not data_["ok"]
    assert codes(data_) == ["executes-code", "link-added", "unmarked-code-format", "uri-outside-store"]
    lines = (promoted / V1).read_text().splitlines()
    for p in data_["problems"]:
        if p["severity"] == "warning":  # the link lacks executes_code: true (as an older gitreg wrote pickles)
            assert p["code"] == "unmarked-code-format" and p["allow"] is None
            continue
        assert p["path"] == V1 and p["allow"] == f"--allow {p['code']}" and not p["accepted"]
        assert p["field"].startswith("artifacts.1")
        assert "trained_model v2" in p["message"]
    line = {p["code"]: p["line"] for p in data_["problems"]}
    assert lines[line["uri-outside-store"] - 1].strip() == f"uri: {payload}"
    assert lines[line["executes-code"] - 1].strip() == "format: pickle"
    # accepting one finding is not accepting the others
    code, data_ = run_check("--base", "main", "--allow", "link-added")
    assert code == 14 and codes(data_, accepted=True) == ["link-added"]
    code, data_ = run_check("--base", "main", "--allow", "link-added", "--allow", "executes-code",
                            "--allow", "uri-outside-store")
    assert code == 0 and data_["ok"] and data_["accepted"] == 3
    assert codes(data_, accepted=True) == ["executes-code", "link-added", "uri-outside-store"]


def test_renaming_a_version_fails_review(promoted, client):
    """Renaming changes what a lookup by name loads: v1 becomes "best"."""
    edit_yaml(promoted, V1, lambda d: d.update(name="best"))
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["version-renamed"]
    assert "version='best' gets this version now" in data["problems"][0]["message"]
    assert run_check("--base", "main", "--allow", "version-renamed")[0] == 0


def test_flipping_a_link_format_to_pickle_fails_review(promoted, client):
    edit_yaml(promoted, V1, lambda d: d["artifacts"][0].update(format="pickle"))
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["executes-code", "format-changed", "unmarked-code-format"]
    flip = next(p for p in data["problems"] if p["code"] == "format-changed")
    assert flip["field"] == "artifacts.0.format" and "'bytes' to 'pickle'" in flip["message"]


@pytest.mark.parametrize("field, value", [
    ("size", 8), ("kind", "directory"), ("type", "data"), ("external", True), ("executes_code", True),
    ("run", "someone-else"), ("step", "train"),
])
def test_any_field_changed_on_an_existing_link_fails_review(promoted, field, value):
    edit_yaml(promoted, V1, lambda d: d["artifacts"][0].update({field: value}))
    code, data = run_check("--base", "main")
    assert code == 14
    if field == "executes_code":  # a marker contradicting the format: the manifest itself is invalid
        assert [(p["code"], p["field"]) for p in data["problems"]] == [("schema", "artifacts.0.executes_code")]
        return
    changed = [p for p in data["problems"] if p["code"] == "link-changed"]
    assert [p["field"] for p in changed] == [f"artifacts.0.{field}"]
    assert all(c in ("link-changed", "executes-code", "uri-outside-store") for c in codes(data))
    if field == "external":
        assert "uri-outside-store" in codes(data)


def test_a_uri_moved_out_of_the_store_fails_review(promoted, tmp_path):
    copy = tmp_path / "copy.bin"
    copy.write_bytes(b"weights")
    edit_yaml(promoted, V1, lambda d: d["artifacts"][0].update(uri=str(copy)))
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["link-changed", "uri-outside-store"]


def test_a_removed_link_needs_approval(promoted):
    edit_yaml(promoted, V1, lambda d: d.update(artifacts=[]))
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["link-removed"]
    assert run_check("--base", "main", "--allow", "link-removed")[0] == 0
    code, data = run_check("--base", "main", "--allow-delete")
    assert code == 0 and codes(data, accepted=True) == ["link-removed"]


def test_a_new_versions_links_are_reviewed_when_they_run_code_or_live_outside_the_store(promoted, client, tmp_path):
    client.create_model_version("m")
    client.save_artifact("m", 2, {"threshold": 0.5}, "config")  # json, in the store: fine
    assert run_check("--base", "main")[0] == 0
    client.save_artifact("m", 2, object(), "estimator")  # pickle, in the store
    external = tmp_path / "data.csv"
    external.write_text("a,b\n")
    client.link_artifact("m", 2, str(external), "raw")   # in place, outside the store
    code, data = run_check("--base", "main")
    assert code == 14
    found = {(p["code"], p["field"]) for p in data["problems"]}
    assert found == {("executes-code", "artifacts.1.format"), ("uri-outside-store", "artifacts.2.uri")}


def test_the_store_is_the_bases_not_the_branchs(promoted, client, tmp_path):
    other = tmp_path / "elsewhere"
    registry = promoted / ".mcp/registry.yaml"
    registry.write_text(registry.read_text().replace("store: .gitreg/store", f"store: {other}"))
    git(promoted, "commit", "-qam", "move the store")
    client = Client(promoted)
    client.create_model_version("m")
    client.save_artifact("m", 2, b"new weights", "trained_model")  # lands in the branch's store
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["registry-changed", "uri-outside-store"]
    reg = next(p for p in data["problems"] if p["code"] == "registry-changed")
    assert reg["path"] == ".mcp/registry.yaml" and reg["field"] == "store" and reg["line"] == 2
    assert f"store '.gitreg/store' -> '{other}'" in reg["message"]


@pytest.mark.parametrize("old, new, key", [
    ("tag_prefix: models", "tag_prefix: elsewhere", "tag_prefix"),
    ("format: 2\n", "format: 2\nremote: origin\n", "remote"),
    ("format: 2\n", "format: 2\noptions:\n  storage_options:\n    anon: true\n", "options"),
])
def test_any_change_to_registry_yaml_fails_review_and_names_the_key(promoted, tmp_path, old, new, key):
    git(promoted, "clone", "-q", "--bare", str(promoted), str(tmp_path / "hub.git"))
    git(promoted, "remote", "add", "origin", str(tmp_path / "hub.git"))
    registry = promoted / ".mcp/registry.yaml"
    assert old in registry.read_text()
    registry.write_text(registry.read_text().replace(old, new))
    git(promoted, "commit", "-qam", "config")
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["registry-changed"]
    assert key in data["problems"][0]["message"]


def test_a_comment_in_registry_yaml_is_not_a_change(promoted):
    registry = promoted / ".mcp/registry.yaml"
    registry.write_text("# the team's registry\n" + registry.read_text())
    git(promoted, "commit", "-qam", "comment")
    code, data = run_check("--base", "main")
    assert code == 0 and data["problems"] == []


# ---------------------------------------------------------------- codes, approvals, output

def test_every_finding_has_a_known_code_and_the_github_output_names_its_approval(promoted, capsys):
    edit_yaml(promoted, V1, lambda d: d["artifacts"][0].update(format="pickle", size=1))
    assert main(["check", "--base", "main", "-o", "github"]) == 14
    lines = capsys.readouterr().out.splitlines()
    out = [line for line in lines if line.startswith("::error")]
    assert len(out) == 3
    assert [line for line in lines if line not in out] == [
        next(line for line in lines if line.startswith("::warning") and "[unmarked-code-format" in line)]
    for line in out:
        m = re.fullmatch(r"::error file=(\S+),line=(\d+),title=gitreg check%3A (\S+)::(.*) \[([a-z-]+); needs"
                         r" approval: a maintainer accepts it with `--allow ([a-z-]+)`\]", line)
        assert m, line
        assert m.group(5) == m.group(6) and m.group(5) in FINDINGS
    assert main(["check", "--base", "main", "-o", "github", "--allow", "format-changed"]) == 14
    out = capsys.readouterr().out
    assert "::notice file=" in out and "[format-changed; accepted with `--allow format-changed`]" in out
    assert main(["check", "--base", "main", "--allow", "format-changed"]) == 14
    captured = capsys.readouterr()
    assert f"{V1}:artifacts.0.format: accepted: " in captured.out and "[format-changed]" in captured.out
    assert f"{V1}:artifacts.0.size: error: " in captured.out and captured.out.count("[link-changed]") == 1
    assert "1 accepted" in captured.err and "--allow executes-code --allow link-changed" in captured.err


def test_a_finding_that_must_be_fixed_cannot_be_accepted(promoted, client, capsys):
    edit_yaml(promoted, V1, lambda d: d.update(stage="shipped"))
    assert main(["check", "--base", "main", "-o", "github"]) == 14
    assert "[schema; must be fixed: this finding cannot be accepted]" in capsys.readouterr().out
    assert main(["check", "--allow", "schema"]) == 2
    assert "cannot be accepted, only fixed" in capsys.readouterr().err
    assert main(["check", "--allow", "no-such-code"]) == 2
    assert "no such finding code" in capsys.readouterr().err
    with pytest.raises(InvalidValueError):
        client.check(base="main", allow=["stage-conflict"])


def test_client_check_accepts_findings_by_code(promoted, client):
    edit_yaml(promoted, V1, lambda d: d.update(artifacts=[]))
    report = client.check(base="main")
    assert not report.ok and [p.code for p in report.errors] == ["link-removed"]
    for allowed in ({"allow": ["link-removed"]}, {"allow_delete": True}):
        report = client.check(base="main", **allowed)
        assert report.ok and [(p.code, p.accepted) for p in report.problems] == [("link-removed", True)]
        assert "accepted" in str(report.problems[0])


def test_allow_delete_is_the_deletion_codes():
    assert {"model-deleted", "version-deleted", "link-removed", "run-deleted"} == DELETE_CODES
    assert set(FINDINGS) >= DELETE_CODES


def test_the_reference_lists_every_finding_code():
    """The documentation's table of codes (generated from FINDINGS) has each code once, with how to accept it."""
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    try:
        from docsgen.reference import render_findings
    finally:
        sys.path.remove(str(root))
    page = (root / "docs/reference/findings.md").read_text()
    assert "<!-- gitreg-findings -->" in page
    table = render_findings()
    listed = re.findall(r"^\| `([a-z-]+)` \|", table, re.M)
    assert sorted(listed) == sorted(FINDINGS) and len(listed) == len(set(listed))
    for code in listed:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{code}` |"))
        finding = FINDINGS[code]
        assert ("`--allow " + code + "`" in row) == (finding.acceptable and not finding.warning), row
        assert ("fix it" in row) == (not finding.acceptable), row
        assert ("`--allow-delete`" in row) == (code in DELETE_CODES), row


def test_history_findings_have_codes(promoted, client):
    git(promoted, "rm", "-q", V1)
    git(promoted, "commit", "-qm", "drop v1")
    # v1 held production: stages.yaml still names it, so reads of production fail until that is repaired too
    assert codes(run_check("--base", "main")[1]) == ["stage-conflict", "version-deleted"]
    git(promoted, "rm", "-rq", ".mcp/models/m")
    git(promoted, "commit", "-qm", "drop m")
    # (a delete by hand leaves the model's name claim behind; gitreg's delete removes it)
    assert codes(run_check("--base", "main")[1]) == ["model-deleted", "name-claim"]
    assert codes(run_check("--base", "nosuch")[1]) == ["base-missing", "name-claim"]
    git(promoted, "checkout", "-q", "main")
    client.create_model_version("m")
    assert codes(run_check("--base", "main", "--rev", "pr")[1]) == ["history-rewritten", "name-claim"]
