"""Command-line conventions: help pages, usage errors, -v/-q, messages in the CLI's words,
tables fitted to the terminal, --sort/--limit, progress bars, completion and start-up imports."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from gitreg.cli.app import app, main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, path + (name,))


def _in_terminal(args: list[str], cwd: Path, columns: int = 80) -> str:
    """Run ``python -m gitreg ARGS`` with stdout and stderr on a pseudo-terminal ``columns`` wide."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS=str(columns), LINES="40", TERM="xterm")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "gitreg", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal is closed
                break
            if data:
                chunks.append(data)
                continue
            break
        if proc.poll() is not None:  # gone, and nothing more to read
            break
    proc.wait(timeout=30)
    os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")


# ---------------------------------------------------------------- help pages

def test_help_shows_choices_and_words_not_python_types(capsys):
    import typer

    pages = {}
    for path, _cmd in _commands(typer.main.get_command(app)):
        code, out, _ = run(capsys, *path, "--help")
        assert code == 0, path
        pages[path] = out
    for path, out in pages.items():
        for python_word in ("<bool>", "<str>", "<int>", "<float>", "<list[", "<path>", "{NAME}", "[[VERSION]]"):
            assert python_word not in out, (path, python_word)
    flat = {p: " ".join(out.split()) for p, out in pages.items()}
    assert "-s, --stage [none|staging|production|archived]" in flat[("model", "version", "update")]
    assert "--stage [none|staging|production|archived|latest]" in flat[("model", "version", "list")]
    assert "--type [data|model|deployment|service]" in flat[("artifact", "add")]
    assert "-o, --output [table|json|yaml]" in flat[("model", "list")]
    assert "Usage: gitreg model version describe [OPTIONS] NAME [VERSION]" in pages[("model", "version", "describe")]
    assert "Usage: gitreg model version update [OPTIONS] NAME VERSION" in pages[("model", "version", "update")]
    assert "-f, --force Take" in flat[("model", "version", "update")]  # a flag: no value word
    assert "-t, --tag TAG" in flat[("model", "version", "update")]


def test_help_choices_match_the_core():
    from gitreg.cli import render
    from gitreg.manifests import ARTIFACT_TYPES
    from gitreg.stages import STORED_STAGES

    assert render.STAGES == STORED_STAGES and render.ARTIFACT_TYPES == ARTIFACT_TYPES


def test_root_help_lists_global_options_and_completion(capsys):
    code, out, _ = run(capsys, "--help")
    flat = " ".join(out.split())
    assert code == 0
    for option in ("-v, --verbose", "-q, --quiet", "--version", "--install-completion", "--show-completion"):
        assert option in flat, option
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("gitreg ")


def test_shell_completion_script_and_model_names(repo, capsys, monkeypatch):
    code, out, _ = run(capsys, "--show-completion", "bash")
    assert code == 0 and "_gitreg_completion" in out and "complete" in out
    run(capsys, "model", "register", "iris")
    run(capsys, "model", "register", "irises")
    run(capsys, "model", "register", "wine")
    env = dict(os.environ, _GITREG_COMPLETE="complete_bash", COMP_WORDS="gitreg model version list ir", COMP_CWORD="4")
    res = subprocess.run([sys.executable, "-m", "gitreg"], env=env, capture_output=True, text=True, cwd=repo)
    assert res.stdout.split() == ["iris", "irises"]
    env.update(COMP_WORDS="gitreg model version update iris 1 --stage ", COMP_CWORD="7")
    res = subprocess.run([sys.executable, "-m", "gitreg"], env=env, capture_output=True, text=True, cwd=repo)
    assert res.stdout.split() == ["none", "staging", "production", "archived"]


# ---------------------------------------------------------------- usage errors

@pytest.mark.parametrize("args, words, hint", [
    (["model", "list", "-o", "xml"], "invalid value for '-o' / '--output': 'xml' is not one of 'table', 'json', 'yaml'",
     "gitreg model list"),
    (["model", "version", "update", "iris"], "missing argument 'VERSION'", "gitreg model version update"),
    (["nonsense"], "no such command 'nonsense'", "gitreg"),
    (["model", "lsit"], "no such command 'lsit'", "gitreg model"),
    (["model", "list", "--bogus"], "no such option: --bogus", "gitreg model list"),
    (["model", "version", "update", "iris", "1", "-s", "prod"],
     "'prod' is not one of 'none', 'staging', 'production', 'archived'", "gitreg model version update"),
    (["model", "version", "list", "iris", "--limit", "0"], "0 is not in the range x>=1", "gitreg model version list"),
    (["model", "version", "list", "iris", "--limit", "ten"], "'ten' is not a valid integer",
     "gitreg model version list"),
    (["artifact", "add", "iris", "1", "f", "--type", "weights"],
     "'weights' is not one of 'data', 'model', 'deployment', 'service'", "gitreg artifact add"),
    (["-q", "model", "version", "list", "iris", "--stage"], "option '--stage' requires an argument",
     "gitreg model version list"),
])
def test_usage_errors_are_one_error_line_and_where_help_is(repo, capsys, args, words, hint):
    code, out, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 2, err
    assert lines[0].startswith("error: ") and words in lines[0]
    assert lines[1] == f"Try '{hint} --help' for help."


def test_a_misspelled_command_gets_a_suggestion(repo, capsys):
    code, _, err = run(capsys, "model", "lsit")
    assert code == 2 and "did you mean 'list'" in err.lower()


def test_a_group_without_a_command_shows_its_help(capsys):
    code, out, err = run(capsys, "model", "version")
    assert code == 0 and out.startswith("Usage: gitreg model version") and err == ""


# ---------------------------------------------------------------- -v / -q

def test_quiet_silences_notes_and_warnings_but_not_errors(repo, client, capsys):
    code, out, err = run(capsys, "-q", "model", "version", "create", "iris")
    assert code == 0 and out.strip() == "1" and err == ""
    code, out, err = run(capsys, "model", "version", "create", "iris")
    assert code == 0 and "Registered iris v2" in err  # without -q (the setting does not stick)
    code, _, err = run(capsys, "-q", "model", "describe", "nope")
    assert code == 4 and err.startswith("error: model 'nope' does not exist")
    client.create_model_version("bad")
    manifest = repo / ".mcp/models/bad/versions/1.yaml"
    manifest.write_text(manifest.read_text().replace("stage: none", "stage: nowhere"))
    git(repo, "commit", "-qam", "a broken hand edit")
    code, out, err = run(capsys, "-q", "model", "list")
    assert code == 19 and "iris" in out
    assert "warning:" not in err and err.startswith("error: 1 model(s) could not be read")


def test_verbosity_sets_what_the_gitreg_logger_lets_through(repo, capsys):
    import logging

    log = logging.getLogger("gitreg")
    for flags, level in ((["-q"], logging.ERROR), ([], logging.WARNING), (["-v"], logging.INFO),
                         (["-vv"], logging.DEBUG), (["--verbose", "--verbose", "--verbose"], logging.DEBUG)):
        assert run(capsys, *flags, "model", "list")[0] == 0
        assert log.getEffectiveLevel() == level, flags
    from gitreg.cli.logs import configure

    configure(1)
    log.info("something informative")
    assert "something informative" in capsys.readouterr().err
    configure(0)
    log.info("not shown")
    log.warning("shown")
    err = capsys.readouterr().err
    assert "not shown" not in err and "warning: shown" in err


# ---------------------------------------------------------------- messages in the CLI's words

def test_misspelled_model_name_gets_did_you_mean(repo, client, capsys):
    from gitreg.errors import ModelNotFoundError

    client.create_model_version("iris")
    client.create_model_version("wine")
    with pytest.raises(ModelNotFoundError) as caught:
        client.get_model_version("irs")
    assert caught.value.suggestions == ("iris",) and "did you mean 'iris'?" in str(caught.value)
    code, _, err = run(capsys, "model", "version", "list", "iriss")
    assert code == 4 and "did you mean 'iris'?" in err
    code, _, err = run(capsys, "model", "describe", "zzz")  # nothing close: the usual advice
    assert code == 4 and "did you mean" not in err and "gitreg model register zzz" in err


def test_already_exists_says_what_to_do_instead(repo, client, capsys):
    from gitreg.errors import AlreadyExistsError

    client.create_model("iris")
    code, _, err = run(capsys, "model", "register", "iris")
    assert code == 5 and "already exists: add a version with `gitreg model version create iris`" in err
    run(capsys, "model", "version", "create", "iris", "--name", "cand")
    code, _, err = run(capsys, "model", "version", "create", "iris", "--name", "cand")
    assert code == 5 and "choose another --name" in err and "gitreg model version describe iris cand" in err
    with pytest.raises(AlreadyExistsError) as caught:
        client.create_model_version("iris", name="cand")
    assert "Model('iris', version='cand')" in str(caught.value) and "--name" not in str(caught.value)
    code, _, err = run(capsys, "init", ".")
    assert code == 5 and "already exists: it is ready to use" in err


def test_errors_on_the_cli_speak_cli_and_in_python_speak_python(repo, client, capsys, tmp_path):
    from gitreg.errors import InvalidValueError, StageConflictError

    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    with pytest.raises(StageConflictError) as caught:
        client.update_model_version("iris", 2, stage="production")
    assert "force=True" in str(caught.value) and "--force" not in str(caught.value)
    code, _, err = run(capsys, "model", "version", "update", "iris", "2", "-s", "production")
    assert code == 6 and "pass --force to move version 2" in err and "force=True" not in err
    with pytest.raises(InvalidValueError) as caught:
        client.add_artifact("iris", 1, "s3://bucket/weights.bin", "weights")
    assert "link=True" in str(caught.value) and "--link" not in str(caught.value)
    code, _, err = run(capsys, "artifact", "add", "iris", "1", "s3://bucket/weights.bin")
    assert code == 2 and "--link" in err and "link=True" not in err


# ---------------------------------------------------------------- tables, --sort, --limit

def test_sort_reverse_and_limit(repo, client, capsys):
    for accuracy in (0.7, 0.9, None, 0.8):
        v = client.create_model_version("iris")
        if accuracy is not None:
            client.log_metadata("iris", v.number, {"metrics": {"accuracy": accuracy}})
    code, out, _ = run(capsys, "model", "version", "list", "iris", "--sort-metadata", "metrics.accuracy",
                       "--reverse", "--limit", "2", "-o", "json")
    assert code == 0 and [r["number"] for r in json.loads(out)] == [2, 4]
    code, out, _ = run(capsys, "model", "version", "list", "iris", "--sort-metadata", "metrics.accuracy")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["1", "4", "2", "3"]  # without it: last
    code, out, _ = run(capsys, "model", "version", "list", "iris", "--reverse", "--limit", "1")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["4"]
    client.create_model_version("wine")
    client.create_model_version("wine")
    client.create_model_version("apple")
    code, out, _ = run(capsys, "model", "list", "--sort", "versions", "--reverse", "--limit", "2")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["iris", "wine"]
    code, out, _ = run(capsys, "model", "list", "--sort", "name")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["apple", "iris", "wine"]
    code, _, err = run(capsys, "model", "version", "list", "iris", "--sort", "name", "--sort-metadata", "a")
    assert code == 2 and "not both" in err


def test_artifact_and_run_listings_sort_and_limit(repo, client, capsys, tmp_path):
    client.create_model_version("iris")
    for name, size in (("small", 1), ("big", 300), ("mid", 20)):
        f = tmp_path / f"{name}.bin"
        f.write_bytes(b"x" * size)
        client.add_artifact("iris", 1, str(f), name)
    code, out, _ = run(capsys, "artifact", "list", "iris", "1", "--sort", "size", "--reverse", "-o", "json")
    assert [a["name"] for a in json.loads(out)] == ["big", "mid", "small"]
    code, out, _ = run(capsys, "artifact", "list", "iris", "1", "--sort", "name", "--limit", "1")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["big"]
    code, out, _ = run(capsys, "run", "list", "--limit", "1")
    assert code == 0


def test_table_fits_the_terminal_and_never_cuts_what_is_copied():
    from gitreg.cli.render import Table

    run_id = "training-20261129-230101-0123456789abcdef"
    table = Table(["RUN", "PIPELINE", "STATUS", "MODELS"], keep=("RUN", "PIPELINE"))
    table.add(run_id, "training_pipeline_with_a_long_name", "completed", "iris v1 (new), " * 8)
    out = io.StringIO()
    table.print_rich(file=out, width=100)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 100 for line in lines), lines
    assert any(run_id in line for line in lines)
    assert any("training_pipeline_with_a_long_name" in line for line in lines)
    assert "MODELS" in lines[0] and len(lines) > 3  # the other column wraps into what is left
    narrow = io.StringIO()
    table.print_rich(file=narrow, width=50)  # the kept columns alone are wider: wider, not cut
    assert any(run_id in line for line in narrow.getvalue().splitlines())
    assert "STATUS" not in narrow.getvalue() and table.dropped == ["MODELS", "STATUS"]  # left out, and said so
    wide = io.StringIO()
    table.print_rich(file=wide, width=50, wide=True)  # --wide: every column, wider than the terminal
    assert "STATUS" in wide.getvalue() and "MODELS" in wide.getvalue() and table.dropped == []
    plain = "\n".join(table.lines())
    assert run_id in plain and "\x1b" not in plain  # piped: plain columns, nothing cut


def test_tables_on_a_terminal_use_its_width(repo, client):
    long_name = "candidate-" + "x" * 40
    client.create_model_version("iris", name=long_name, description="d")
    client.log_metadata("iris", 1, {f"key{i}": "value " * 5 for i in range(6)})
    text = _in_terminal(["model", "version", "list", "iris"], repo, columns=140)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and all(len(line) <= 140 for line in lines), text
    assert any(long_name in line for line in lines), text  # never cut, never wrapped
    assert "VERSION" in text and "METADATA" in text


# ---------------------------------------------------------------- progress

def test_progress_bar_only_on_a_terminal_and_never_with_quiet(repo, client, capsys, monkeypatch, tmp_path):
    from gitreg.cli import artifact_cmds

    monkeypatch.setattr(artifact_cmds, "PROGRESS_THRESHOLD", 1)
    big = tmp_path / "weights.bin"
    big.write_bytes(b"w" * 300_000)
    client.create_model_version("iris")
    code, _, err = run(capsys, "artifact", "add", "iris", "1", str(big))
    assert code == 0 and "storing" not in err and "/s" not in err  # piped: no bar
    text = _in_terminal(["artifact", "add", "iris", "1", str(big), "--name", "second"], repo)
    assert "stored second" in text  # under the threshold of 32 MiB: no bar
    from gitreg.progress import transfer_bar

    shown = io.StringIO()
    with transfer_bar(3 * 2**20, "storing weights.bin", stream=shown, force=True) as progress:
        for _ in range(3):
            progress(2**20)
    drawn = shown.getvalue()
    assert "storing weights.bin" in drawn and "3.0/3.0 MiB" in drawn and "/s" in drawn
    quiet = io.StringIO()
    with transfer_bar(10, "x", stream=quiet, enabled=False) as progress:
        progress(10)
    assert quiet.getvalue() == ""


def test_progress_bar_on_a_terminal_for_a_big_transfer(repo, client, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:
        fh.truncate(33 * 2**20)  # above the CLI's threshold
    client.create_model_version("iris")
    text = _in_terminal(["artifact", "add", "iris", "1", str(big)], repo)
    assert "storing big.bin" in text and "33.0/33.0 MiB" in text and "/s" in text, text
    text = _in_terminal(["-q", "artifact", "get", "iris", "1", "big", "--to", str(tmp_path / "back.bin")], repo)
    assert "fetching" not in text and "MiB/s" not in text
    assert (tmp_path / "back.bin").stat().st_size == 33 * 2**20


def test_api_progress_is_opt_in(repo, client, capsys, tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"w" * 4096)
    client.create_model_version("iris")
    client.add_artifact("iris", 1, str(f), "w")
    assert capsys.readouterr().err == ""
    client.add_artifact("iris", 1, str(f), "w2", progress=True)
    err = capsys.readouterr().err
    assert "storing w2" in err and "4.0/4.0 KiB" in err
    client.download_artifact("iris", 1, "w2", tmp_path / "back.bin", progress=True)
    err = capsys.readouterr().err
    assert "fetching w2" in err and (tmp_path / "back.bin").read_bytes() == f.read_bytes()
    seen = []
    client.download_artifact("iris", 1, "w", tmp_path / "again.bin", progress=seen.append)
    assert sum(seen) == 4096 and capsys.readouterr().err == ""
    from fsspec.callbacks import Callback

    callback = Callback()
    client.download_artifact("iris", 1, "w", tmp_path / "third.bin", progress=callback)
    assert (callback.size, callback.value) == (4096, 4096)


# ---------------------------------------------------------------- the code a run ran

def _pipeline_file(repo: Path, name: str) -> Path:
    path = repo / f"{name}.py"
    path.write_text("from gitreg import Model, pipeline, step\n\n"
                    "@step\ndef one() -> int:\n    return 1\n\n"
                    "@pipeline(model=Model('iris'))\ndef training():\n    one()\n")
    return path


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_run_from_an_untracked_pipeline_file_is_dirty(repo, client):
    path = _pipeline_file(repo, "untracked_pipeline")
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""  # every tracked file is clean
    head = git(repo, "rev-parse", "HEAD")
    result = _load(path).training()
    run = client.get_run(result.id)
    assert run.code_commit == head and run.code_dirty is True


def test_a_run_from_a_committed_pipeline_file_is_clean(repo, client):
    path = _pipeline_file(repo, "committed_pipeline")
    git(repo, "add", path.name)
    git(repo, "commit", "-qm", "pipeline code")
    head = git(repo, "rev-parse", "HEAD")
    result = _load(path).training()
    run = client.get_run(result.id)
    assert run.code_commit == head and run.code_dirty is False


# ---------------------------------------------------------------- what start-up imports

def _imported(args: list[str], cwd: Path) -> set[str]:
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "gitreg", *args], cwd=cwd,
                         capture_output=True, text=True)
    return {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}


def test_help_and_listings_import_only_what_they_need(repo, client):
    client.create_model_version("iris")
    helped = _imported(["--help"], repo)
    assert not {m for m in helped if m.split(".")[0] in ("rich", "pydantic", "logging", "yaml", "jsonschema")}
    assert not {"gitreg.client", "gitreg.manifests", "gitreg.registry"} & helped
    for args in (["model", "version", "list", "iris"], ["model", "version", "list", "iris", "-o", "json"],
                 ["model", "version", "update", "iris", "1", "-s", "staging"]):
        imported = _imported(args, repo)
        assert "gitreg.client" in imported  # it did run
        assert not {m for m in imported if m.split(".")[0] in ("rich", "pydantic")}, args
