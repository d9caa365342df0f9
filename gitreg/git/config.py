"""git's configuration and identity as git's own commands would see them, remembered for every
:class:`~.repo.GitRepo` of this process while the config files and the environment variables that
decide them stay the same (asking git costs a process; looking at a few file times does not).

Remembering is the ``git-config`` fast path (see :mod:`gitreg.fastpaths`): with its reference selected,
git is asked every time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from ..errors import GitError, InvalidValueError
from ..fastpaths import fast

if TYPE_CHECKING:
    from .handle import RepoHandle

GC_LOOSE_OBJECTS = 6700  # git's own gc.auto default
# Environment variables that change what git reads as configuration (and so identity and signing).
_CONFIG_ENV = ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_COUNT",
               "GIT_CONFIG_PARAMETERS", "HOME", "XDG_CONFIG_HOME", "GIT_DIR")
# Answers of `git config` and `git var`, for every GitRepo of this process, keyed by _config_stamp().
_SHARED: dict[tuple[object, ...], object] = {}
T = TypeVar("T")
_CONFIG_FILES: dict[tuple[object, ...], tuple[str, ...]] = {}  # (common dir, environment) -> git's config files


def _remembered(repo: RepoHandle, name: tuple[object, ...], ask: Callable[[], T]) -> T:
    """``ask()``'s answer about git's configuration, remembered (for every GitRepo of this process) while
    the config files and the environment variables that decide it stay the same."""
    if not fast("git-config"):
        return ask()
    key = (*name, *_config_stamp(repo.common_dir))
    if key not in _SHARED:
        _SHARED[key] = ask()
    return cast(T, _SHARED[key])  # what an ask() of this name returned: each name has one ask


def config_bool(repo: RepoHandle, key: str) -> bool:
    """A boolean of git's configuration (remembered, see _remembered)."""
    def ask() -> bool:
        res = repo.run("config", "--type=bool", "--get", key, check=False)
        return res.returncode == 0 and res.stdout.decode().strip() == "true"

    return _remembered(repo, ("bool", key), ask)


def gc_threshold(repo: RepoHandle) -> int:
    """git's gc.auto (0 disables automatic housekeeping; remembered, see _remembered)."""
    def ask() -> int:
        res = repo.run("config", "--get", "gc.auto", check=False)
        text = res.stdout.decode().strip() if res.returncode == 0 else ""
        value = int(text) if text.lstrip("-").isdigit() else GC_LOOSE_OBJECTS
        return value if value > 0 else 1 << 62

    return _remembered(repo, ("gc.auto",), ask)


# Settings that change how git writes its index, and the values that leave it plain (anything else,
# or any index.* setting, and the index is left to git's own commands: see :mod:`.index`).
_PLAIN_INDEX = {"core.filemode": {"true"}, "core.splitindex": {"false"}, "core.untrackedcache": {"false", "keep"},
                "core.fsmonitor": {"false"}, "core.sharedrepository": {"false", "umask"}}


def plain_index(repo: RepoHandle) -> bool:
    """Whether git's configuration leaves the index plain (version as it is, not split, not shared by a
    group, modes from the files): then gitreg may edit it in-process (remembered, see _remembered)."""
    def ask() -> bool:
        pattern = (r"^(core\.(filemode|splitindex|untrackedcache|fsmonitor|sharedrepository)|index\..*"
                   r"|feature\.manyfiles)$")
        res = repo.run("config", "--get-regexp", pattern, check=False)
        lines = res.stdout.decode("utf-8", "replace").splitlines()
        return res.returncode in (0, 1) and all(
            setting.strip().lower() in _PLAIN_INDEX.get(name, set())
            for name, _sp, setting in (line.partition(" ") for line in lines))

    return _remembered(repo, ("plain index",), ask)


def filter_drivers(repo: RepoHandle) -> frozenset[str]:
    """The names of the filter drivers git would run on a file whose ``filter`` attribute names them: with
    a ``clean`` or ``process`` command, or ``required`` (then git fails without one); remembered, see
    _remembered.  A filter attribute naming any other driver changes nothing."""
    def ask() -> frozenset[str]:
        res = repo.run("config", "-z", "--get-regexp", r"^filter\..*\.(clean|process|required)$", check=False)
        names = set()
        for record in res.stdout.decode("utf-8", "surrogateescape").split("\0"):
            key, _nl, value = record.partition("\n")
            name, _dot, var = key[len("filter."):].rpartition(".")
            required = not _nl or value.strip().lower() in ("true", "yes", "on", "1")  # a bare key is true
            if name and (value.strip() if var != "required" else required):
                names.add(name)
        return frozenset(names)

    return _remembered(repo, ("filter drivers",), ask)


def ident(repo: RepoHandle, role: str) -> str:
    """git's ``GIT_<role>_IDENT``: who, from ``git var`` (remembered while the environment variables and
    config files that decide it stay the same), and when, now (or ``GIT_<role>_DATE`` through git)."""
    if os.environ.get(f"GIT_{role}_DATE") or not fast("git-config"):
        return _git_var(repo, role)
    name = ("ident", role, *(os.environ.get(v) for v in (f"GIT_{role}_NAME", f"GIT_{role}_EMAIL", "EMAIL")))
    who = _remembered(repo, name, lambda: _git_var(repo, role).rsplit(" ", 2)[0])
    now = time.time()
    offset = time.localtime(now).tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    return f"{who} {int(now)} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


_CRUD = "".join(chr(c) for c in range(33)) + ".,:;<>\"\\'"


def _without_crud(text: str) -> str:
    """``text`` as git records it in an ident: without the spaces and punctuation git strips from its ends."""
    return text.strip(_CRUD)


@dataclass(frozen=True)
class Author:
    """Who made a change and when, when that is not the person running gitreg now: the author of a commit
    that records an event of another system's history (an import).  The committer stays whoever runs
    gitreg, as git keeps them apart (``git log --format='%an %ad'`` shows the original)."""

    name: str
    email: str
    when: datetime  # timezone-aware

    def __post_init__(self) -> None:
        if self.when.tzinfo is None or self.when.utcoffset() is None:
            raise InvalidValueError("Author.when must be timezone-aware (e.g. datetime.fromtimestamp(t, UTC))")
        for part in (self.name, self.email):
            if not isinstance(part, str) or any(c in part for c in "<>") or any(ord(c) < 32 or ord(c) == 127
                                                                                for c in part):
                raise InvalidValueError(f"an author's name and email cannot hold '<', '>' or control characters:"
                                        f" {part!r}")
        if not _without_crud(self.name):
            raise InvalidValueError(f"an author needs a name, not {self.name!r}")

    def date(self) -> str:
        """``<seconds> <tz>``: the date part of git's ident (``@`` before it: what GIT_*_DATE take)."""
        delta = self.when.utcoffset()
        assert delta is not None  # checked in __post_init__
        offset = int(delta.total_seconds()) // 60
        sign = "+" if offset >= 0 else "-"
        return f"{int(self.when.timestamp())} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"

    def ident(self) -> str:
        """``Name <email> <seconds> <tz>``, as a commit object records its author."""
        return f"{_without_crud(self.name)} <{_without_crud(self.email)}> {self.date()}"

    def environment(self) -> dict[str, str]:
        """The same, as git's own commands read it from the environment."""
        return {"GIT_AUTHOR_NAME": _without_crud(self.name), "GIT_AUTHOR_EMAIL": _without_crud(self.email),
                "GIT_AUTHOR_DATE": "@" + self.date()}


def _git_var(repo: RepoHandle, role: str) -> str:
    res = repo.run("var", f"GIT_{role}_IDENT", check=False)
    if res.returncode != 0:
        raise GitError(
            "git does not know who you are: set `git config user.name` and"
            " `git config user.email` (or GIT_COMMITTER_NAME/GIT_COMMITTER_EMAIL), then retry"
        )
    return res.stdout.decode("utf-8", "replace").strip()


def _config_stamp(common_dir: Path) -> tuple[object, ...]:
    """What git's answer about configuration or identity depends on, as cheaply as it can be seen."""
    env = tuple(os.environ.get(v) for v in _CONFIG_ENV)
    count = env[_CONFIG_ENV.index("GIT_CONFIG_COUNT")]
    if count:  # git reads GIT_CONFIG_KEY_<n> and GIT_CONFIG_VALUE_<n> for n below GIT_CONFIG_COUNT only
        pairs = range(int(count)) if count.isdigit() else range(0)
        env += tuple(os.environ.get(f"GIT_CONFIG_{part}_{n}") for n in pairs for part in ("KEY", "VALUE"))
    files = _CONFIG_FILES.get((common_dir, env))
    if files is None:
        files = _CONFIG_FILES[(common_dir, env)] = tuple(str(p) for p in _config_files(common_dir))
    return (str(common_dir), *env, *(_mtime(p) for p in files))


def _config_files(common_dir: Path) -> tuple[Path, ...]:
    home = Path(os.environ.get("HOME", "~")).expanduser()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    glob = os.environ.get("GIT_CONFIG_GLOBAL")
    system = os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"
    return (common_dir / "config", Path(glob) if glob else home / ".gitconfig", xdg / "git/config",
            Path(system))


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0
