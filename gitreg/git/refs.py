"""Refs: read from the files git keeps them in, listed, and moved in transactions.

Branch refs and folders of tags are read as git stores them (a loose file, else packed-refs), with
no process.  Moves go to one long-lived ``git update-ref --stdin`` per repository
(:class:`RefTransactions`): the branch and an operation's tags move together, all or none.

Two fast paths (see :mod:`gitreg.fastpaths`): ``refs`` (reading the files; its reference asks
``git symbolic-ref``, ``git show-ref``, ``git rev-parse`` and ``git for-each-ref``) and ``ref-updates``
(the long-lived process; its reference runs one ``git update-ref --stdin`` per transaction).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import GitError
from ..fastpaths import fast
from ..stamps import stat_stamp
from .objects import ZERO_OID
from .process import CAS_MARKERS, LOCK_HELD, git_env, lock_held_error, run_git
from .walk import files_under

if TYPE_CHECKING:
    from .handle import RepoHandle

    class RefRepo(RepoHandle, Protocol):
        """What the ref functions need of a repository: the handle, and its packed-refs file."""

        packed_refs: PackedRefs


@dataclass(frozen=True)
class RefInfo:
    name: str          # e.g. refs/tags/models/iris/v3
    oid: str           # the ref's own object (tag object for annotated tags)
    type: str          # "tag" for annotated tags, "commit" for lightweight ones
    target: str        # the commit it finally points to
    subject: str       # first line of the tag message (annotated) or commit
    body: str
    tagger: str
    date: str          # ISO 8601 (tagger date for tags, committer date otherwise)


@dataclass(frozen=True)
class RefUpdate:
    moved: bool                 # True: every ref moved; False: none did (a ref was not where expected)
    refused: tuple[str, ...]    # the refs git named in its refusal


class PackedRefs:
    """The packed-refs file of a repository, read again only when it changed (git replaces it whole: a new
    inode)."""

    def __init__(self, common_dir: Path) -> None:
        self.path = common_dir / "packed-refs"
        self._read: tuple[tuple[int, ...], bytes] | None = None  # the file as last read, with its stamp

    def data(self) -> bytes:
        try:
            st = os.stat(self.path)
        except OSError:
            return b""
        stamp = stat_stamp(st)
        if self._read is None or self._read[0] != stamp:
            try:
                self._read = (stamp, self.path.read_bytes())
            except OSError:
                return b""
        return self._read[1]

    def refs_under(self, prefix: str) -> list[tuple[bytes, bytes]]:
        """(ref name, object id) of every packed ref whose name starts with ``prefix``, in the file's order.

        git writes packed-refs sorted by name (its header says so: ``sorted``), so where ``prefix``
        would stand is found by bisecting the file's bytes, and reading stops at the first name past it:
        the cost does not grow with the number of other refs (210,000 tags at 10,000 models). A file
        without that header is read whole.
        """
        data = self.data()
        key = prefix.encode("utf-8", "surrogateescape")
        first_line = data[:data.find(b"\n") + 1] if data.startswith(b"#") else b""
        ordered = b" sorted" in first_line
        pos = _first_at_or_after(data, key) if ordered else 0
        size = len(data)
        found: list[tuple[bytes, bytes]] = []
        while pos < size:
            end = data.find(b"\n", pos)
            end = size if end == -1 else end
            line = data[pos:end]
            pos = end + 1
            if line[:1] in (b"^", b"#", b""):
                continue  # a peeled line (the commit an annotated tag names), the header, an empty line
            oid, _sp, ref = line.partition(b" ")
            if ref.startswith(key):
                found.append((ref, oid))
            elif ordered:
                break
        return found


def _first_at_or_after(data: bytes, key: bytes) -> int:
    """Where the first ref line of sorted packed-refs ``data`` whose name is ``key`` or after it starts
    (``len(data)`` if none)."""
    size = len(data)
    lo, hi = 0, size  # both are line starts (or the end); every ref line before ``lo`` names a ref < key
    while lo < hi:
        mid = (lo + hi) // 2
        newline = data.rfind(b"\n", lo, mid)
        start = lo if newline == -1 else newline + 1
        line, end = start, start
        while line < hi:  # the first ref line at or after ``start``
            end = data.find(b"\n", line)
            end = size if end == -1 else end
            if data[line:line + 1] not in (b"^", b"#", b"\n", b""):
                break
            line = end + 1
        if line >= hi:  # no ref line in [start, hi): the answer is before ``start``, or is ``hi``
            if start == lo:
                return hi
            hi = start
            continue
        ref = data[data.find(b" ", line, end) + 1:end]
        if ref < key:
            lo = end + 1
        else:
            hi = line
    return lo


# ---------------------------------------------------------------- reading

def head_ref(git_dir: Path) -> str | None:
    """The ref HEAD points to (``refs/heads/<branch>``), or None when detached."""
    if not fast("refs"):
        res = run_git(["git", "--git-dir", str(git_dir), "symbolic-ref", "-q", "HEAD"], cwd=git_dir, check=False)
        if res.returncode not in (0, 1):
            raise GitError(f"cannot read {git_dir / 'HEAD'}: {res.stderr.decode('utf-8', 'replace').strip()}")
        return res.stdout.decode("utf-8", "surrogateescape").strip() or None
    head = git_dir / "HEAD"
    try:
        text = head.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise GitError(f"cannot read {head}: {exc}") from None
    if text.startswith("ref: "):
        return text[5:].strip()
    return None


def commit_of(repo: RefRepo, ref: str) -> str | None:
    """The commit ``ref`` points to (None: no such ref).  Branch refs are read from the ref files."""
    if not fast("refs"):
        return _rev_parse_commit(repo, ref)
    if ref.startswith("refs/heads/") or ref.startswith("refs/remotes/"):
        return read_ref(repo, ref)
    if ref == "HEAD":
        branch = head_ref(repo.git_dir)
        if branch is not None:
            return read_ref(repo, branch)
        try:  # detached (as CI checkouts are): the file holds the commit itself
            text = (repo.git_dir / "HEAD").read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            text = ""
        if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
            return text
    return _rev_parse_commit(repo, ref)


def read_ref(repo: RefRepo, ref: str) -> str | None:
    """The object id a (non-symbolic) ref holds, read as git stores it: a loose file, else packed-refs."""
    if not fast("refs"):
        res = repo.run("show-ref", "--verify", "--hash", ref, check=False)
        oid = res.stdout.decode("ascii", "replace").strip()
        return oid if res.returncode == 0 and oid else None
    git_dir, common_dir = repo.git_dir, repo.common_dir
    for folder in (git_dir, common_dir) if git_dir != common_dir else (common_dir,):
        try:
            text = (folder / ref).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
            return text
        if text.startswith("ref: "):  # symbolic: let git follow it
            return _rev_parse_commit(repo, ref)
    key = ref.encode("utf-8", "surrogateescape")
    for name, packed in repo.packed_refs.refs_under(ref):
        if name == key and len(packed) == 40:
            return packed.decode("ascii", "replace")
    return None


def _rev_parse_commit(repo: RefRepo, ref: str) -> str | None:
    res = repo.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
    return res.stdout.decode().strip() if res.returncode == 0 else None


def list_refs(repo: RefRepo, pattern: str) -> list[RefInfo]:
    """Every ref under ``pattern`` (e.g. ``refs/tags/models/iris/``) in one call."""
    fmt = "%00".join([
        "%(refname)", "%(objectname)", "%(objecttype)", "%(*objectname)",
        "%(contents:subject)", "%(contents:body)", "%(taggername) %(taggeremail)",
        "%(if)%(taggerdate)%(then)%(taggerdate:iso-strict)%(else)%(committerdate:iso-strict)%(end)",
    ]) + "%00%00"
    text = repo.run("for-each-ref", f"--format={fmt}", pattern).stdout.decode("utf-8", "replace")
    refs = []
    for record in text.split("\0\0\n"):
        if not record.strip("\n"):
            continue
        parts = record.lstrip("\n").split("\0")
        if len(parts) < 8:
            continue
        name, oid, otype, peeled, subject, body, tagger, date = parts[:8]
        refs.append(RefInfo(name, oid, otype, peeled or oid, subject, body.strip("\n"),
                            tagger.strip(), date))
    return refs


def ref_names(repo: RefRepo, pattern: str, merged: str | None = None) -> list[str]:
    """Names of the refs under ``pattern`` (only those reachable from ``merged``, when given).

    A folder pattern (``refs/tags/models/iris/``) without ``merged`` is read from the ref
    files as git keeps them (loose files, then packed-refs), with no process.
    """
    if merged is None and pattern.endswith("/") and pattern.startswith("refs/") and "*" not in pattern \
            and fast("refs"):
        return _ref_files(repo.common_dir, repo.packed_refs, pattern)
    only = [f"--merged={merged}"] if merged else []
    out = repo.run("for-each-ref", "--format=%(refname)", *only, pattern).stdout.decode("utf-8", "replace")
    return [line for line in out.splitlines() if line]


def _ref_files(common_dir: Path, packed_refs: PackedRefs, prefix: str) -> list[str]:
    # a model's tags: hundreds of loose files
    names = {rel for rel, _full in files_under(os.path.join(common_dir, prefix), prefix.rstrip("/"))
             if not rel.endswith(".lock")}
    names.update(name.decode("utf-8", "replace") for name, _oid in packed_refs.refs_under(prefix))
    return sorted(names)


# ---------------------------------------------------------------- moving

def update_ref(repo: RefRepo, ref: str, new: str, old: str | None, message: str = "gitreg",
               force: bool = False) -> bool:
    """Move ``ref`` to ``new`` only if it still is ``old`` (None: must not exist; force: any)."""
    expected = [] if force else [old or ZERO_OID]
    res = repo.run("update-ref", "-m", message, ref, new, *expected, check=False)
    return res.returncode == 0


def delete_ref(repo: RefRepo, ref: str, old: str | None = None) -> bool:
    """Delete ``ref`` (only if it still is ``old``, when given); False if it was not deleted."""
    return repo.run("update-ref", "-d", ref, *([old] if old else []), check=False).returncode == 0


def update_refs(transactions: RefTransactions, updates: Sequence[tuple[str, str, str | None]]) -> RefUpdate:
    """Move every ``(ref, new, old)`` in one transaction: all or none.

    ``old`` None means the ref must not exist yet.  Returns ``moved`` False when a
    ref was not where expected (another writer won, or a tag exists already); any
    other refusal (an invalid ref name, a full disk) raises GitError.

    The transactions go to the repository's long-lived ``git update-ref --stdin`` (see
    :class:`RefTransactions`), whose reflog entries say ``gitreg`` (the commit's own message says
    what was written).
    """
    lines = "".join(f"update {ref} {new} {old or ZERO_OID}\n" for ref, new, old in updates)
    for attempt in range(25):  # about a second for another git command to let go of a ref lock
        moved, err = transactions.commit(lines)
        if moved:
            return RefUpdate(True, ())
        held = LOCK_HELD.search(err)
        if held is None:
            break
        time.sleep(0.02 + attempt * 0.002)
    else:
        assert held is not None  # the loop ends without a break only while the lock is held
        raise lock_held_error(held.group(1))
    lost = [ref for ref, _new, _old in updates if ref in err]
    if any(marker in err for marker in CAS_MARKERS):
        return RefUpdate(False, tuple(lost))
    raise GitError(f"git could not move {', '.join(ref for ref, _n, _o in updates)}: {err}")


class RefTransactions:
    """One long-lived ``git update-ref --stdin`` per repository, taking one ref transaction after another.

    Each transaction is written whole (``start``, its updates, ``prepare``, ``commit``): git locks
    every ref and checks its old value at ``prepare`` and moves them all at ``commit``, exactly as a
    one-shot ``git update-ref --stdin`` would, without starting a process per write.  A refusal
    makes git exit with its reason; the next transaction starts a new process.  If this process
    dies, git reads the end of its input: a transaction it has read whole is finished, one it has
    not is aborted and its locks released, so no lock is ever left behind.

    git stamps reflog entries with the time it first needed one and keeps it for the rest of the
    process, so a process takes the transactions of one second of the clock only: the next second's
    first transaction starts a new one (at most one process start per second of writing).
    """

    REFLOG_MESSAGE = "gitreg"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._second = 0  # the second of the clock the process took its first transaction in
        self._owner = os.getpid()
        self._lock = threading.Lock()

    def commit(self, lines: str) -> tuple[bool, str]:
        """Run one transaction of ``update`` lines: (moved, git's words when it refused)."""
        if not fast("ref-updates"):  # the reference: a process of its own
            res = subprocess.run(["git", "update-ref", "-m", self.REFLOG_MESSAGE, "--stdin"], cwd=self.root,
                                 input=("start\n" + lines + "prepare\ncommit\n").encode("utf-8", "surrogateescape"),
                                 capture_output=True, env=git_env())
            err = res.stderr.decode("utf-8", "replace").strip()
            return (True, "") if res.returncode == 0 else (False, err or "git update-ref stopped answering")
        with self._lock:
            for fresh in (False, True):
                proc = self._proc
                if self._owner != os.getpid():  # a forked child must not share its parent's pipes
                    proc, self._owner = None, os.getpid()
                now = int(time.time())
                if proc is not None and self._second != now:  # its reflog time is a second old: retire it
                    self._proc = None
                    self._finish(proc)
                    proc = None
                if proc is None or proc.poll() is not None or fresh:
                    proc = self._proc = subprocess.Popen(
                        ["git", "update-ref", "-m", self.REFLOG_MESSAGE, "--stdin"], cwd=self.root,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env())
                    fresh = True
                    self._second = now
                assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
                answers: list[bytes] = []
                try:
                    proc.stdin.write(("start\n" + lines + "prepare\ncommit\n").encode("utf-8", "surrogateescape"))
                    proc.stdin.flush()
                    for _ in range(3):
                        answer = proc.stdout.readline()
                        if not answer:
                            break
                        answers.append(answer)
                except OSError:
                    pass
                if answers == [b"start: ok\n", b"prepare: ok\n", b"commit: ok\n"]:
                    return True, ""
                self._proc = None
                err = self._finish(proc)
                if answers or err or fresh:
                    return False, err or "git update-ref stopped answering"
                # a process that had died since the last transaction (nothing was sent to a live one): once more
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _finish(proc: subprocess.Popen[bytes]) -> str:
        """Stop a process that refused (it exits by itself after saying why): its words."""
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err = proc.stderr.read() if proc.stderr is not None else b""
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return err.decode("utf-8", "replace").strip()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or self._owner != os.getpid():
            return
        self._finish(proc)
