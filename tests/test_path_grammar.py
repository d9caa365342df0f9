"""One grammar for every path under .mcp/: in ASCII, nothing can stand in for another file; anything the
contract has no place for is an error in `check` and `check --base` and is never read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg import Client
from gitreg.errors import InvalidNameError
from gitreg.layout import classify, grammar_problem, version_file_number
from gitreg.names import is_valid_name

V3 = ".mcp/models/m/versions/3.yaml"

# names a file for version 3 could be given that are not "3.yaml": other scripts' digits, case, space, zeros
IMPOSTORS = [
    "\u0663.yaml",      # ARABIC-INDIC DIGIT THREE (str.isdigit() and int() accept it)
    "\uff13.yaml",      # FULLWIDTH DIGIT THREE
    "\u00b3.yaml",      # SUPERSCRIPT THREE (isdigit, but int() raises)
    "\u0969.yaml",      # DEVANAGARI DIGIT THREE
    "03.yaml", "3.YAML", "3.Yaml", "3.yaml ", " 3.yaml", "3 .yaml", ".3.yaml", "3.yml", "3.yaml.bak", "+3.yaml",
    "3_.yaml", "3.yaml\u200b", "+3.yaml", "0x3.yaml", "3.0.yaml",
]


def gitreg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=cwd, capture_output=True, text=True)


@given(st.integers(min_value=1, max_value=10**17))
def test_a_version_file_name_round_trips(number: int):
    assert version_file_number(f"{number}.yaml") == number
    assert classify(f".mcp/models/m/versions/{number}.yaml").number == number  # type: ignore[union-attr]


@given(st.text(min_size=1, max_size=12))
def test_only_canonical_ascii_numbers_name_a_version(stem: str):
    number = version_file_number(f"{stem}.yaml")
    canonical = stem.isascii() and stem.isdigit() and not stem.startswith("0")
    assert (number is not None) == canonical
    if number is not None:
        assert str(number) == stem


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20))
def test_classify_places_only_ascii_paths(name: str):
    for path in (f".mcp/models/{name}/model.yaml", f".mcp/models/m/versions/{name}", f".mcp/runs/{name}",
                 f".mcp/{name}"):
        found = classify(path)
        if found is not None:
            assert path.isascii()
            if found.model is not None:
                assert is_valid_name(found.model)


@pytest.fixture
def registry(repo: Path, client: Client) -> Path:
    for _ in range(3):
        client.create_model_version("m")
    client.log_metadata("m", 3, {"reviewed": "yes"})
    client.update_model_version("m", 3, stage="production")
    git(repo, "branch", "base")
    return repo


@pytest.mark.parametrize("name", IMPOSTORS)
def test_an_impostor_of_a_version_file_is_an_error_and_never_read(registry: Path, name: str):
    real = (registry / V3).read_text()
    (registry / ".mcp/models/m/versions" / name).write_text(real.replace("reviewed: 'yes'", "reviewed: evil")
                                                          .replace("reviewed: yes", "reviewed: evil"))
    git(registry, "add", "-A", ".mcp")
    git(registry, "commit", "-qm", "a second file for v3")
    for args in (["check"], ["check", "--base", "base"]):
        res = gitreg(registry, *args)
        assert res.returncode == 14 and "Traceback" not in res.stderr, res.stderr
        assert "[unexpected-file]" in res.stdout and "never reads it" in res.stdout
    # every read, cold or warm, of v3 and of production sees the one file the grammar names
    for cold in (True, False):
        if cold:
            subprocess.run(["rm", "-rf", str(registry / ".git/gitreg")], check=True)
        res = gitreg(registry, "model", "version", "describe", "m", "production", "-o", "json")
        assert res.returncode == 0, res.stderr
        assert '"reviewed": "yes"' in res.stdout.replace("'", '"') or "yes" in res.stdout
        assert "evil" not in res.stdout


@pytest.mark.parametrize("path, mode", [
    (".mcp/models/m/Model.yaml", "100644"), (".mcp/models/m/STAGES.yaml", "100644"),
    (".mcp/models/m/Versions/3.yaml", "100644"), (".mcp/models/m/.hidden", "100644"),
    (".mcp/.foo", "100644"), (".mcp/models/m/notes.md", "100644"), (".mcp/runs/x.yml", "100644"),
    (".mcp/models/m/versions/3.yaml", "120000"), (".mcp/registry.yaml", "120000"),
    (".mcp/models/m/versions/3.yaml", "100755"), (".mcp/models/m/model.yaml", "160000"),
])
def test_grammar_names_what_is_wrong(path: str, mode: str):
    assert grammar_problem(path, mode) is not None


def test_a_symlinked_version_file_is_never_followed(registry: Path):
    target = registry / "elsewhere.yaml"
    target.write_text((registry / V3).read_text().replace("reviewed: 'yes'", "reviewed: evil"))
    link = registry / ".mcp/models/m/versions/4.yaml"
    link.symlink_to("../../../../elsewhere.yaml")
    git(registry, "add", "-A")
    git(registry, "commit", "-qm", "a link")
    res = gitreg(registry, "check")
    assert res.returncode == 14 and "versions/4.yaml: error: unexpected file: a symbolic link" in res.stdout
    assert Client(registry).get_model_state("m").by_number(4) is None


@pytest.mark.parametrize("name", ["con", "NUL", "com1", "aux.txt", "Prn", "lpt9.tar.gz", "CON.yaml"])
def test_windows_device_names_are_refused_as_model_names(client: Client, repo: Path, name: str):
    with pytest.raises(InvalidNameError, match="device name on Windows"):
        client.create_model_version(name)
    res = gitreg(repo, "model", "version", "create", name)
    assert res.returncode == 2 and "device name on Windows" in res.stderr


@pytest.mark.parametrize("folder, said", [
    ("aux", (".mcp/models/'aux'", "device names")),   # Git for Windows cannot check it out
    ("M", ("[case-clash]",)),                          # one folder with m on macOS and Windows
])
def test_a_committed_model_folder_no_system_can_hold_is_reported(
        registry: Path, folder: str, said: tuple[str, ...]) -> None:
    card = (registry / ".mcp/models/m/model.yaml").read_text().replace("name: m", f"name: {folder}")
    (registry / ".mcp/models" / folder).mkdir()
    (registry / ".mcp/models" / folder / "model.yaml").write_text(card)
    git(registry, "add", "-A")
    git(registry, "commit", "-qm", folder)
    res = gitreg(registry, "check")
    assert res.returncode == 14 and all(text in res.stdout for text in said), res.stdout


def test_pinned_attributes_edited_by_hand_are_reported(registry: Path):
    (registry / ".mcp/.gitattributes").write_text("* text eol=crlf\n")
    git(registry, "commit", "-qam", "line endings my way")
    res = gitreg(registry, "check")
    assert res.returncode == 14 and ".mcp/.gitattributes: error: differs from the attributes gitreg pins" in res.stdout
