"""One meaning per flag: -o/--output is the output format in every command, --to PATH the destination;
the old spellings work for one release with one deprecation line; contradictions are one-line usage errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg.cli.app import app, main
from gitreg.cli.flags import FORMAT_WORDS
from gitreg.cli.usage import value_word

DEPRECATED_TO = "warning: -o PATH is deprecated for the destination; use --to "


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def churn(client, tmp_path: Path):
    weights = tmp_path / "weights.npy"
    weights.write_bytes(b"\x93NUMPY fake weights")
    for _ in range(3):
        client.create_model_version("churn")
    client.add_artifact("churn", 3, str(weights), "weights", type="model")
    return weights.read_bytes()


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


# ---------------------------------------------------------------- -o is a format everywhere

def test_every_o_option_is_an_output_format_and_every_destination_is_to():
    seen_to = []
    for path, command in _commands(typer.main.get_command(app)):
        for param in getattr(command, "params", []):
            opts = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
            if "-o" in opts and not getattr(param, "hidden", False):
                assert "--output" in opts, path
                word = value_word(param)
                values = word.strip("[]").split("|")
                assert values and set(values) <= set(FORMAT_WORDS), (path, word)
            if "--to" in opts:
                seen_to.append(path)
                assert param.metavar == "PATH", path
    assert {("artifact", "get"), ("site", "build"), ("ui",)} <= set(seen_to)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_artifact_get_o_json_shows_the_link_and_writes_no_file(churn, capsys, fmt):
    code, out, err = run(capsys, "artifact", "get", "churn", "3", "weights", "-o", fmt)
    assert code == 0 and err == ""
    shown = json.loads(out) if fmt == "json" else yaml.safe_load(out)
    assert shown["name"] == "weights" and shown["model_version"] == 3
    assert not Path(fmt).exists()


def test_artifact_get_to_downloads_without_a_warning(churn, capsys, tmp_path):
    dest = tmp_path / "out" / "w.npy"
    code, out, err = run(capsys, "artifact", "get", "churn", "3", "weights", "--to", str(dest))
    assert code == 0 and dest.read_bytes() == churn
    assert "warning" not in err and "verified" in err


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.from_regex(r"[a-z][a-z0-9_]{0,12}(\.[a-z]{1,4})?", fullmatch=True)
       .filter(lambda n: n.lower() not in FORMAT_WORDS))
def test_the_old_o_path_still_downloads_with_one_deprecation_line(churn, capsys, tmp_path, name):
    dest = tmp_path / "old" / name
    if dest.exists():
        dest.unlink()
    code, out, err = run(capsys, "artifact", "get", "churn", "3", "weights", "-o", str(dest))
    assert code == 0 and dest.read_bytes() == churn and out == ""
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"{DEPRECATED_TO}{dest} (-o is the output format)"]


def test_the_old_format_option_still_works_with_one_deprecation_line(churn, capsys):
    code, out, err = run(capsys, "artifact", "get", "churn", "3", "weights", "--format", "json")
    assert code == 0 and json.loads(out)["name"] == "weights"
    assert err.splitlines() == ["warning: --format json is deprecated; use -o json (the old spelling stops working"
                                " in the next release)"]


@pytest.mark.parametrize("args", [
    ["artifact", "get", "churn", "3", "weights", "-o", "json", "--format", "yaml"],
    ["artifact", "get", "churn", "3", "weights", "-o", "here.bin", "--to", "there.bin"],
    ["artifact", "get", "churn", "3", "weights", "-o", "json", "--to", "there.bin"],
    ["artifact", "get", "churn", "3", "weights", "--to", "there.bin", "--field", "uri"],
    ["artifact", "get", "churn", "3", "weights", "-o", "markdown"],
    ["check", "-o", "json", "--format", "markdown"],
    ["check", "-o", "github", "--format", "markdown"],
    ["check", "-o", "xml"],
    ["site", "build", "-o", "json"],
    ["site", "build", "-o", "here", "--to", "there"],
    ["ui", "-o", "yaml", "--port", "0"],
])
def test_contradictions_are_one_line_usage_errors(churn, capsys, args):
    before = sorted(os.listdir("."))
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert sorted(os.listdir(".")) == before  # nothing written


# ---------------------------------------------------------------- check: -o github|markdown, --format deprecated

@pytest.mark.parametrize("fmt", ["github", "markdown", "text"])
def test_check_formats_through_o_and_through_the_old_format(churn, capsys, fmt):
    code, new_out, new_err = run(capsys, "check", "-o", fmt)
    assert code == 0 and "warning:" not in new_err
    code, old_out, old_err = run(capsys, "check", "--format", fmt)
    assert code == 0 and old_out == new_out
    assert old_err.splitlines()[0] == (f"warning: --format {fmt} is deprecated; use -o {fmt} (the old spelling stops"
                                       " working in the next release)")
    assert old_err.splitlines()[1:] == new_err.splitlines()
    if fmt == "markdown":
        assert new_out.startswith("## gitreg check passes")


def test_check_o_json_and_the_old_table_default(churn, capsys):
    code, out, _ = run(capsys, "check", "-o", "json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, err = run(capsys, "check", "-o", "table", "--format", "markdown")  # what the old default said
    assert code == 0 and out.startswith("## gitreg check passes") and "deprecated" in err


# ---------------------------------------------------------------- site build and ui: --to DIR

def test_site_build_to_and_the_old_o(churn, capsys, tmp_path):
    code, out, err = run(capsys, "site", "build", "--to", str(tmp_path / "new"))
    assert code == 0 and out.strip() == str(tmp_path / "new" / "index.html") and "warning" not in err
    code, out, err = run(capsys, "site", "build", "-o", str(tmp_path / "old"))
    assert code == 0 and out.strip() == str(tmp_path / "old" / "index.html")
    assert err.splitlines()[0] == f"{DEPRECATED_TO}{tmp_path / 'old'} (-o is the output format)"


def test_ui_old_o_is_the_folder_with_a_warning(churn, capsys, tmp_path):
    # refused before anything is served: the options were read as the folder, with the warning
    code, _, err = run(capsys, "ui", "--host", "0.0.0.0", "--port", "0", "-o", str(tmp_path / "site"))
    assert code == 2
    assert err.splitlines()[0] == f"{DEPRECATED_TO}{tmp_path / 'site'} (-o is the output format)"
    assert err.splitlines()[1].startswith("error: will not listen on")


# ---------------------------------------------------------------- site build without --to

def test_site_build_without_to_writes_outside_the_work_tree(churn, repo, capsys):
    code, out, err = run(capsys, "site", "build")
    assert code == 0, err
    index = Path(out.strip())
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "gitreg" / "sites"
    assert index.is_file() and index.name == "index.html" and cache in index.parents
    assert not (repo / "site").exists()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""  # nothing new in the work tree
    code, again, err = run(capsys, "site", "build")  # the same folder each time: only what changed is rendered
    assert code == 0 and again == out and "(0 rendered" in err


def test_quiet_silences_the_deprecation_line_not_the_work(churn, capsys, tmp_path):
    code, out, err = run(capsys, "-q", "artifact", "get", "churn", "3", "weights", "-o", str(tmp_path / "q.bin"))
    assert code == 0 and err == "" and (tmp_path / "q.bin").read_bytes() == churn
