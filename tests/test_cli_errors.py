"""Every error the command line can meet is one line on stderr, no traceback, and a stable exit code: ports in
use or out of range, folders that cannot be created or written (/proc, /sys, read-only, a file where a folder
is wanted), a full disk."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitreg.cli.app import main
from gitreg.cli.oserrors import local_file_error
from gitreg.errors import LocalFileError


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m gitreg ARGS`` in a process of its own: what a user sees, traceback included if there is one."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(Path(__file__).parents[1]),
                                                                   os.environ.get("PYTHONPATH", "")) if p))
    return subprocess.run([sys.executable, "-m", "gitreg", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def churn(client, tmp_path: Path) -> bytes:
    weights = tmp_path / "weights.npy"
    weights.write_bytes(b"weights " * 8)
    client.create_model_version("churn")
    client.add_artifact("churn", 1, str(weights), "weights", type="model")
    return weights.read_bytes()


# ---------------------------------------------------------------- ui: ports

def test_ui_on_a_port_in_use(churn, repo, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("ui", "--port", str(port), "--to", str(tmp_path / "site"), cwd=repo)
    line = one_error_line(result.stderr)
    assert result.returncode == 2 and f"127.0.0.1:{port}" in line and "choose another port" in line


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_ui_port_out_of_range_is_a_usage_error(churn, capsys, port):
    code, out, err = run(capsys, "ui", "--port", port)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.splitlines() == [f"error: invalid value for '--port' / '-p': {port} is not in the range x>=0 and"
                                " x<=65535", "Try 'gitreg ui --help' for help."]


# ---------------------------------------------------------------- folders that cannot be written

@pytest.mark.parametrize("target", ["/proc/nope", "/proc/nope/deeper"])
def test_site_build_into_proc(churn, repo, target):
    result = cli("site", "build", "--to", target, cwd=repo)
    line = one_error_line(result.stderr)
    assert result.returncode == LocalFileError.exit_code and result.stdout == ""
    assert "/proc/nope" in line and "choose a place you can write to" in line


def test_site_build_into_sys_is_refused_by_the_kernel(churn, capsys):
    code, _, err = run(capsys, "site", "build", "--to", "/sys/gitreg-nope")
    line = one_error_line(err)
    assert code == LocalFileError.exit_code and "/sys/gitreg-nope" in line


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be created in, even by root (made immutable then), or the test is skipped."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    immutable = False
    if os.geteuid() == 0 and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        try:
            (folder / "probe").write_bytes(b"")
        except OSError:
            pass
        else:
            pytest.skip("cannot make a folder read-only here")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(stat.S_IRWXU)


def test_site_build_into_a_read_only_folder(churn, capsys, read_only):
    code, out, err = run(capsys, "site", "build", "--to", str(read_only / "site"))
    line = one_error_line(err)
    assert code == LocalFileError.exit_code and out == "" and str(read_only / "site") in line
    assert "choose a place you can write to" in line


def test_artifact_get_into_a_read_only_folder(churn, capsys, read_only):
    code, _, err = run(capsys, "artifact", "get", "churn", "1", "weights", "--to", str(read_only / "w.npy"))
    line = one_error_line(err)
    assert code == LocalFileError.exit_code and str(read_only / "w.npy") in line  # not the scratch file's name
    assert not list(read_only.iterdir())


def test_artifact_get_onto_a_folder(churn, capsys, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    code, _, err = run(capsys, "artifact", "get", "churn", "1", "weights", "--to", str(folder))
    line = one_error_line(err)
    assert code == LocalFileError.exit_code and f"give a file's path, e.g. {folder}/NAME" in line
    assert not list(folder.iterdir())


def test_artifact_get_through_a_file(churn, capsys, tmp_path):
    (tmp_path / "a-file").write_text("x")
    code, _, err = run(capsys, "artifact", "get", "churn", "1", "weights", "--to", str(tmp_path / "a-file" / "w"))
    line = one_error_line(err)
    assert code == LocalFileError.exit_code and "a-file" in line


# ---------------------------------------------------------------- any OSError of a writer: one line, exit 21

FS_ERRORS = [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR,
             errno.ENOENT, errno.EEXIST, errno.ENAMETOOLONG, errno.EIO, errno.EMFILE]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.sampled_from(FS_ERRORS), name=st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True),
       scratch=st.booleans())
def test_any_writer_error_is_one_line_naming_the_path(churn, capsys, monkeypatch, tmp_path, code, name, scratch):
    import gitreg.site.builder as builder

    wanted = tmp_path / name
    failing = wanted.parent / f".{name}.tmp-0123456789abcdef0123456789abcdef" if scratch else wanted

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(code, os.strerror(code), str(failing))

    monkeypatch.setattr(builder, "build_site", full_disk)
    status, out, err = run(capsys, "site", "build", "--to", str(wanted))
    line = one_error_line(err)
    assert status == LocalFileError.exit_code and out == ""
    assert line.startswith(f"error: {wanted}: ") and ".tmp-" not in line


def test_a_rename_names_its_destination():
    error = local_file_error(IsADirectoryError(errno.EISDIR, "Is a directory", ".w.npy.tmp-" + "a" * 32, None, "out"))
    assert error.path == "out" and error.errno == errno.EISDIR and error.message.startswith("out: it is a folder")


def test_traceback_flag_still_shows_the_traceback(churn, repo):
    result = cli("--traceback", "site", "build", "--to", "/proc/nope", cwd=repo)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_init_where_no_folder_can_be_made(hermetic, capsys):
    code, _, err = run(capsys, "init", "/proc/gitreg-nope")
    line = one_error_line(err)
    assert code == LocalFileError.exit_code and "/proc/gitreg-nope" in line and "--to" not in line
