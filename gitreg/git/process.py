"""Running git: one environment, one way to run a command, git's lock and compare-and-swap refusals."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ..errors import GitError

# git's words when another process holds (or a crashed one left) a lock file.
LOCK_HELD = re.compile(r"Unable to create '([^']+\.lock)': File exists")
# What git says when a ref is not where a compare-and-swap expected it.
CAS_MARKERS = ("but expected", "reference already exists", "cannot lock ref", "is at ", "unable to resolve reference")


def lock_held_error(lock: str | os.PathLike[str]) -> GitError:
    """A lock file of git's is there: say so, and how to free it if it is a crashed command's."""
    return GitError(f"{lock} exists: another git command is running, or one crashed; nothing was written."
                    f" If no git command is running, remove it (rm {lock}), then retry")


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env["LC_ALL"] = "C"
    return env


def start_git(cmd: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start a git command and return at once (its output is read with ``communicate()``)."""
    try:
        return subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=git_env())
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git and retry") from None


def run_git(cmd: list[str], cwd: Path, input: bytes | None = None, check: bool = True,
         env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = git_env()
    if env:
        full_env.update(env)
    try:
        res = subprocess.run(cmd, cwd=cwd, input=input, capture_output=True, env=full_env)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git and retry") from None
    if check and res.returncode != 0:
        err = res.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"`{' '.join(cmd[:3])}` failed: {err}")
    return res
