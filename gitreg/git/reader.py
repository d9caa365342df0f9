"""Reading objects: one long-lived ``git cat-file --batch`` per repository, and what it answered.

Answers to requests that name an object id (``<oid>``, ``<oid>:<path>``, ``<oid>^{tree}``) never
change, so they are remembered (bounded), and trees are parsed once.  A request naming a ref
(``HEAD:...``) is always asked anew; "missing" is never remembered (the object may come with the
next fetch).

The ``reader`` fast path (see :mod:`gitreg.fastpaths`): its reference runs one ``git cat-file --batch``
per request and remembers nothing.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ..errors import GitError
from ..fastpaths import fast
from .objects import TreeEntry, parse_tree
from .process import git_env

OBJECT_CACHE_ENTRIES = 20000     # remembered answers (cleared when exceeded)
OBJECT_CACHE_MAX_BYTES = 1 << 20
_IMMUTABLE_REV = re.compile(r"[0-9a-f]{40}(?:$|[:^])")
_WALKABLE = re.compile(r"([0-9a-f]{40})(\^\{tree\}|:(.*))")

Answer = tuple[str, str, bytes]   # (oid, type, content)


class ObjectReader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()
        self._lock = threading.Lock()
        self._seen: dict[str, Answer | None] = {}
        self._trees: dict[str, list[TreeEntry]] = {}

    def ask(self, requests: Sequence[str]) -> list[Answer | None]:
        """Answer many cat-file requests, pipelined in chunks small enough for a pipe."""
        for request in requests:
            if "\n" in request:
                raise GitError(f"invalid object name {request!r}")
        if not fast("reader"):
            return self._ask_once(requests)
        cache = self._seen
        absent: set[str] = set()  # paths that remembered trees show are not there
        missing = [r for r in dict.fromkeys(requests) if r not in cache and not self._walk(r, absent)]
        if not missing:
            return [None if r in absent else cache[r] for r in requests]
        answers = self._exchange_all(missing)
        if len(cache) > OBJECT_CACHE_ENTRIES:
            cache.clear()
        for request, answer in zip(missing, answers):
            if answer is not None and _IMMUTABLE_REV.match(request) and len(answer[2]) <= OBJECT_CACHE_MAX_BYTES:
                cache[request] = answer
        found = dict(zip(missing, answers))
        return [None if r in absent else cache[r] if r in cache else found[r] for r in requests]

    def _walk(self, request: str, absent: set[str]) -> bool:
        """Answer ``<oid>^{tree}`` or ``<oid>:<path>`` from remembered commits and trees, without asking
        git (a write reads back what it just wrote); True if answered: remembered, or put in ``absent``
        when a remembered tree on the way has no such name (a tree never changes, so that is final)."""
        match = _WALKABLE.fullmatch(request)
        if match is None:
            return False
        oid, path = match.group(1), match.group(3)
        answer = self._seen.get(oid)
        if answer is None:
            return False
        if answer[1] == "commit":
            first = answer[2][:46]
            if not first.startswith(b"tree "):
                return False
            answer = self._seen.get(first[5:45].decode("ascii"))
            if answer is None:
                return False
        if answer[1] != "tree":
            return False
        for part in path.split("/") if path else ():
            if answer[1] != "tree":
                absent.add(request)  # a path through a file
                return True
            entry = next((e for e in self.parsed(answer[0], answer[2]) if e.name == part), None)
            if entry is None:
                absent.add(request)
                return True
            answer = self._seen.get(entry.oid)
            if answer is None:
                return False  # there, but not remembered: git reads it
        self._seen[request] = answer
        return True

    def _ask_once(self, requests: Sequence[str]) -> list[Answer | None]:
        """The reference: one ``git cat-file --batch`` for ``requests``, nothing remembered."""
        if not requests:
            return []
        res = subprocess.run(["git", "cat-file", "--batch"], cwd=self.root, input="".join(r + "\n" for r in requests)
                             .encode("utf-8"), capture_output=True, env=git_env())
        out: list[Answer | None] = []
        try:
            _read_answers(io.BytesIO(res.stdout), len(requests), out)
        except ValueError as exc:
            raise GitError(f"git cat-file answered what it should not ({exc}); is the repository intact?") from None
        if res.returncode != 0 or len(out) != len(requests):
            raise GitError(f"git cat-file failed: {res.stderr.decode('utf-8', 'replace').strip()}; is the repository"
                           " intact?")
        return out

    def one(self, request: str) -> Answer | None:
        return self.ask([request])[0]

    def remember(self, oid: str, otype: str, data: bytes) -> None:
        """An object just written is known: reads of it (and of paths through it) need no round trip."""
        if len(data) <= OBJECT_CACHE_MAX_BYTES and fast("reader"):
            self._seen[oid] = (oid, otype, data)

    def remember_tree(self, oid: str, entries: list[TreeEntry]) -> None:
        if fast("reader"):
            self._trees.setdefault(oid, entries)

    def parsed(self, oid: str, body: bytes) -> list[TreeEntry]:
        """The entries of tree ``oid`` (parsed once: a tree never changes)."""
        if not fast("reader"):
            return parse_tree(body)
        entries = self._trees.get(oid)
        if entries is None:
            if len(self._trees) > OBJECT_CACHE_ENTRIES:
                self._trees.clear()
            entries = self._trees[oid] = parse_tree(body)
        return entries

    def _exchange_all(self, requests: Sequence[str]) -> list[Answer | None]:
        out: list[Answer | None] = []
        with self._lock:
            proc = self._proc
            if self._owner != os.getpid():  # a forked child must not share its parent's pipes
                proc, self._owner = None, os.getpid()
            if proc is None or proc.poll() is not None:
                proc = self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"], cwd=self.root, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=git_env(),
                )
            try:
                _exchange(proc, requests, out)
            except (OSError, ValueError) as exc:
                self._proc = None
                proc.kill()
                raise GitError(f"git cat-file stopped answering ({exc}); is the repository intact?") from None
        return out

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or self._owner != os.getpid():
            return
        if proc.poll() is None:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()


def _exchange(proc: subprocess.Popen[bytes], requests: Sequence[str], out: list[Answer | None]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    for first in range(0, len(requests), 256):  # 256 requests stay well under 64 KiB
        chunk = requests[first:first + 256]
        proc.stdin.write("".join(r + "\n" for r in chunk).encode("utf-8"))
        proc.stdin.flush()
        _read_answers(proc.stdout, len(chunk), out)


def _read_answers(stream: IO[bytes], count: int, out: list[Answer | None]) -> None:
    """Read ``count`` answers of ``git cat-file --batch`` from ``stream`` into ``out``."""
    for _ in range(count):
        header = stream.readline().decode("utf-8", "replace").rstrip("\n")
        parts = header.split(" ")
        if len(parts) != 3:
            out.append(None)  # "<request> missing" / "ambiguous"
            continue
        body = stream.read(int(parts[2]))
        stream.read(1)  # trailing newline
        out.append((parts[0], parts[1], body))
