"""The CLI: exit codes, messages, output formats and help text, through gitreg.cli.app.main."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import git
from gitreg.cli.app import app, main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_quick_start_flow(repo, capsys, tmp_path):
    assert run(capsys, "model", "register", "iris", "--license", "MIT", "--description", "Iris", "-t", "vision")[0] == 0
    assert run(capsys, "model", "version", "create", "iris")[1].strip() == "1"
    assert run(capsys, "model", "version", "create", "iris", "--name", "candidate")[0] == 0
    code, _, err = run(capsys, "metadata", "log", "iris", "accuracy=0.97", "notes=first run", "params={\"C\": 1}")
    assert code == 0 and "on iris v2" in err
    run(capsys, "metadata", "log", "iris", "1", "accuracy=0.9")
    weights = tmp_path / "model.pkl"
    weights.write_bytes(b"weights")
    code, _, err = run(capsys, "artifact", "add", "iris", "candidate", str(weights), "--type", "model")
    assert code == 0 and "stored model v1" in err
    code, _, err = run(capsys, "model", "version", "update", "iris", "candidate", "-s", "production", "-m", "ship it")
    assert code == 0 and "iris v2: none -> production" in err
    code, out, _ = run(capsys, "model", "list")
    assert code == 0
    header = ["MODEL", "VERSIONS", "LATEST", "STAGING", "PRODUCTION", "TAGS", "DESCRIPTION"]
    assert out.splitlines()[0].split() == header
    assert out.splitlines()[1].split()[:5] == ["iris", "2", "2", "-", "2"]
    code, out, _ = run(capsys, "model", "version", "list", "iris", "-o", "json")
    rows = json.loads(out)
    assert [(r["number"], r["name"], r["stage"]) for r in rows] == [(1, "1", "none"), (2, "candidate", "production")]
    assert rows[1]["metadata"] == {"accuracy": 0.97, "notes": "first run", "params": {"C": 1}}
    code, out, _ = run(capsys, "model", "version", "list", "iris", "--metadata", "accuracy:gt:0.95", "-o", "json")
    assert [r["number"] for r in json.loads(out)] == [2]
    code, out, _ = run(capsys, "model", "version", "model_artifacts", "iris", "production")
    assert "model.pkl" not in out.splitlines()[0] and out.splitlines()[1].split()[:3] == ["model", "1", "model"]
    assert run(capsys, "model", "version", "model-artifacts", "iris", "production")[1] == out
    assert run(capsys, "model", "version", "data_artifacts", "iris")[1].strip() == "(none)"
    dest = tmp_path / "deploy" / "model.pkl"
    code, _, err = run(capsys, "artifact", "get", "iris", "production", "model", "--to", str(dest))
    assert code == 0 and dest.read_bytes() == b"weights" and "verified" in err
    code, out, _ = run(capsys, "metadata", "show", "iris", "production", "-o", "yaml")
    assert yaml.safe_load(out)["accuracy"] == 0.97
    code, out, _ = run(capsys, "model", "version", "describe", "iris", "2", "-o", "yaml")
    assert yaml.safe_load(out)["stage"] == "production"
    code, out, _ = run(capsys, "model", "describe", "iris")
    assert "license" in out and "MIT" in out
    code, out, err = run(capsys, "check")
    assert code == 0 and "0 error(s)" in err


@pytest.mark.parametrize("args, code, message", [
    (["model", "version", "list", "nope"], 4, "model 'nope' does not exist"),
    (["model", "version", "describe", "iris", "9"], 4, "has no version 9"),
    (["model", "version", "describe", "iris", "staging"], 4, "no version is in stage 'staging'"),
    (["model", "register", "bad/name"], 2, "invalid model name 'bad/name'"),
    (["model", "register", "iris"], 5, "model 'iris' already exists"),
    (["model", "version", "create", "iris", "--name", "42"], 2, "would be read as a number"),
    (["metadata", "log", "iris", "1", "novalue"], 2, "is not KEY=VALUE"),
    (["model", "version", "list", "iris", "--metadata", "acc>1"], 2, "expected KEY:OP:VALUE"),
    (["artifact", "add", "iris", "1", "/no/such/file"], 2, "no such file"),
    (["artifact", "get", "iris", "1", "nothing"], 4, "has no artifact 'nothing'"),
    (["model", "delete", "iris"], 2, "pass --yes"),
])
def test_user_errors_are_one_line_and_an_exit_code(repo, capsys, args, code, message):
    run(capsys, "model", "version", "create", "iris")
    got, out, err = run(capsys, *args)
    assert got == code, err
    assert message in err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_stage_conflict_and_force(repo, capsys):
    run(capsys, "model", "version", "create", "iris")
    run(capsys, "model", "version", "create", "iris")
    run(capsys, "model", "version", "update", "iris", "1", "-s", "production")
    code, _, err = run(capsys, "model", "version", "update", "iris", "2", "-s", "production")
    assert code == 6 and "--force" in err
    code, _, err = run(capsys, "model", "version", "update", "iris", "2", "-s", "production", "--force")
    assert code == 0
    code, _, err = run(capsys, "model", "version", "update", "iris", "2", "-s", "production")
    assert code == 0 and "already production" in err


def test_not_a_registry_exit_code(hermetic, capsys):
    code, _, err = run(capsys, "model", "list")
    assert code == 3 and "gitreg init" in err


def test_init_and_repo_option(hermetic, capsys, tmp_path, monkeypatch):
    target = tmp_path / "registry"
    code, _, err = run(capsys, "init", str(target), "--store", "memory://x")
    assert code == 0 and "Initialised" in err
    assert "store: memory://x" in (target / ".mcp/registry.yaml").read_text()
    assert run(capsys, "--repo", str(target), "model", "version", "create", "m")[0] == 0
    monkeypatch.setenv("GITREG_REPO", str(target))
    assert json.loads(run(capsys, "model", "list", "-o", "json")[1])[0]["name"] == "m"
    assert run(capsys, "init", str(target))[0] == 5


def test_delete_commands(repo, capsys):
    run(capsys, "model", "version", "create", "iris")
    run(capsys, "model", "version", "create", "iris")
    assert run(capsys, "model", "version", "delete", "iris", "1", "--yes")[0] == 0
    assert [r["number"] for r in json.loads(run(capsys, "model", "version", "list", "iris", "-o", "json")[1])] == [2]
    assert run(capsys, "model", "delete", "iris", "-y")[0] == 0
    assert run(capsys, "model", "list")[1].strip() == "(none)"


def test_check_reports_file_and_field(repo, capsys):
    run(capsys, "model", "version", "create", "iris")
    path = repo / ".mcp/models/iris/versions/1.yaml"
    path.write_text(path.read_text().replace("stage: none", "stage: shipped"))
    git(repo, "commit", "-qam", "hand edit")
    code, out, err = run(capsys, "check")
    assert code == 14
    assert ".mcp/models/iris/versions/1.yaml:stage: error:" in out
    code, out, _ = run(capsys, "check", "-o", "json")
    report = json.loads(out)
    assert report["ok"] is False and report["problems"][0]["field"] == "stage"


def test_traceback_flag_shows_one(repo, capsys):
    from gitreg.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError):  # propagates, so Python prints the traceback
        main(["--traceback", "model", "version", "list", "nope"])


def _commands(group, prefix=()):
    import typer

    command = typer.main.get_command(group)
    stack = [(prefix, command)]
    while stack:
        path, cmd = stack.pop()
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append((path + (name,), sub))


def test_every_command_and_option_has_help():
    missing = []
    for path, cmd in _commands(app):
        if not cmd.help and path:
            missing.append(" ".join(path))
        for param in cmd.params:
            if getattr(param, "help", None) is None and param.name not in ("ctx",):
                missing.append(f"{' '.join(path)} {param.name}")
    assert missing == []


@pytest.mark.parametrize("args", [[], ["model"], ["model", "version"], ["metadata"], ["artifact"],
                                  ["model", "version", "update"], ["artifact", "get"], ["check"], ["init"]])
def test_help_pages(capsys, args):
    code, out, _ = run(capsys, *args, "--help")
    assert code == 0 and "Usage: gitreg" in out


def test_console_script_runs(repo):
    res = subprocess.run([sys.executable, "-m", "gitreg", "model", "list"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "(none)"
    res = subprocess.run([sys.executable, "-m", "gitreg", "model", "describe", "x"], capture_output=True, text=True)
    assert res.returncode == 4 and res.stderr.startswith("error: model 'x' does not exist")


def test_progress_bar_on_long_transfers(repo, capsys, tmp_path, monkeypatch):
    from gitreg.cli import artifact_cmds

    monkeypatch.setattr(artifact_cmds, "PROGRESS_THRESHOLD", 1)
    big = tmp_path / "weights.bin"
    big.write_bytes(b"w" * 300_000)
    run(capsys, "model", "version", "create", "iris")
    code, _, err = run(capsys, "artifact", "add", "iris", "1", str(big), "--type", "model")
    assert code == 0 and "storing weights.bin" not in err  # off a terminal: no bar (tests/test_cli_conventions.py)
    code, _, err = run(capsys, "artifact", "get", "iris", "1", "weights", "--to", str(tmp_path / "back.bin"))
    assert code == 0 and "fetching weights" not in err
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()


@pytest.mark.parametrize("args, fragment", [
    (["model", "version", "update", "iris"], "Missing argument"),
    (["model", "list", "--bogus"], "No such option"),
    (["model", "version", "list", "iris", "-o", "xml"], "Invalid value"),
    (["nonsense"], "No such command"),
    (["model", "version", "update", "iris", "1", "-s", "prod"], "'prod' is not one of 'none', 'staging'"),
])
def test_usage_errors_exit_2(repo, capsys, args, fragment):
    code, out, err = run(capsys, *args)
    assert code == 2 and fragment.lower() in err.lower() and "Traceback" not in err


def test_no_arguments_shows_help(capsys):
    code, out, err = run(capsys)
    assert "Usage: gitreg" in out + err and code in (0, 2)


def test_collaboration_commands_have_help_and_clear_errors(repo, capsys):
    from gitreg.cli.app import main

    for args, words in ((["tags", "sync", "--help"], ["--push", "--dry-run", "first-parent"]),
                        (["model", "version", "history", "--help"], ["when", "VERSION"]),
                        (["check", "--help"], ["--base", "--allow-delete", "--verify-signatures", "--staged",
                                               "github"]),
                        (["model", "version", "update", "--help"], ["--propose", "pull request"]),
                        (["--help"], ["--refresh", "URL"])):
        assert main(args) == 0
        out = " ".join(capsys.readouterr().out.split())
        out = __import__("re").sub(r"(\w)- (\w)", r"\1-\2", out)  # help text wraps after a hyphen
        for word in words:
            assert word in out, (args, word)
    assert main(["model", "version", "history", "nosuch"]) == 4
    assert "does not exist" in capsys.readouterr().err
    assert main(["check", "--base", "nosuch-ref"]) == 14
    assert "no such commit" in capsys.readouterr().out
    assert main(["model", "version", "update", "nosuch", "1", "-s", "production", "--propose"]) == 4


def test_zenml_spellings_of_model_register_and_update(repo, capsys):
    code, _, err = run(capsys, "model", "register", "-n", "iris", "-l", "MIT", "-d", "Iris", "-a", "botanists",
                       "-u", "teaching", "--tradeoffs", "speed", "-e", "none known", "--limitations", "small",
                       "-t", "vision")
    assert code == 0 and "Registered model iris" in err
    code, out, _ = run(capsys, "model", "describe", "iris", "-o", "json")
    card = json.loads(out)
    assert (card["license"], card["description"], card["audience"], card["use_cases"], card["trade_offs"],
            card["ethics"], card["limitations"], card["tags"]) == (
        "MIT", "Iris", "botanists", "teaching", "speed", "none known", "small", ["vision"])
    # the long forms still work, positional name too
    assert run(capsys, "model", "register", "flowers", "--trade-offs", "t", "--ethics", "e")[0] == 0
    code, _, err = run(capsys, "model", "register", "a", "-n", "b")
    assert code == 2 and "two model names given" in err
    code, _, err = run(capsys, "model", "register")
    assert code == 2 and "give the model's name" in err
    code, _, err = run(capsys, "model", "update", "iris", "-d", "Iris species", "-t", "tabular", "-r", "vision",
                       "--tradeoffs", "none")
    assert code == 0
    card = json.loads(run(capsys, "model", "describe", "iris", "-o", "json")[1])
    assert card["description"] == "Iris species" and card["tags"] == ["tabular"] and card["trade_offs"] == "none"
    code, _, err = run(capsys, "model", "update", "iris", "-n", "petals")
    assert code == 2 and err.startswith("error: gitreg does not rename models") and "Traceback" not in err
    code, out, _ = run(capsys, "model", "register", "--help")
    assert code == 0 and "--ethical" in out and "--tradeoffs" in out and "-n" in out


def test_model_level_listings_as_in_zenml(repo, capsys, tmp_path):
    run(capsys, "model", "version", "create", "iris")
    run(capsys, "model", "version", "create", "iris")
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    run(capsys, "artifact", "add", "iris", "1", str(f), "--type", "model", "--name", "weights")
    run(capsys, "artifact", "add", "iris", "2", str(f), "--name", "table")
    for args, names in [(("model", "model_artifacts", "iris", "-v", "1"), ["weights"]),
                        (("model", "model_artifacts", "iris"), []),             # latest: v2
                        (("model", "data_artifacts", "iris"), ["table"]),
                        (("model", "data-artifacts", "iris", "--model-version", "2"), ["table"]),
                        (("model", "deployment_artifacts", "iris", "-v", "latest"), [])]:
        code, out, _ = run(capsys, *args, "-o", "json")
        assert code == 0 and [r["name"] for r in json.loads(out)] == names, args
    code, out, _ = run(capsys, "model", "runs", "iris", "-v", "1", "-o", "json")
    assert code == 0 and json.loads(out) == []
    code, _, err = run(capsys, "model", "data_artifacts", "iris", "-v", "9")
    assert code == 4 and err.startswith("error:")
    # the seed's positional shape stays
    code, out, _ = run(capsys, "model", "version", "model_artifacts", "iris", "1", "-o", "json")
    assert code == 0 and [r["name"] for r in json.loads(out)] == ["weights"]


def test_version_option_prints_the_version(capsys):
    from gitreg import __version__
    from gitreg.cli.app import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gitreg {__version__}"
    assert (Path(__file__).resolve().parent.parent / "gitreg" / "py.typed").is_file()


def test_model_list_shows_every_healthy_model_when_one_is_broken(repo, client, capsys):
    from gitreg.cli.app import main

    client.create_model_version("good")
    client.create_model_version("bad")
    manifest = repo / ".mcp/models/bad/versions/1.yaml"
    manifest.write_text(manifest.read_text().replace("stage: none", "stage: nowhere"))
    subprocess.run(["git", "commit", "-qam", "a broken hand edit"], cwd=repo, check=True)
    capsys.readouterr()
    assert main(["model", "list"]) == 19
    out, err = capsys.readouterr()
    assert "good" in out and "bad" not in out
    assert "warning: not listed: .mcp/models/bad/versions/1.yaml:stage:" in err
    assert "1 model(s) could not be read" in err and "gitreg check" in err
    assert main(["check"]) == 14
