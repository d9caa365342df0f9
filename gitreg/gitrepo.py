"""The git repository: the only module that talks to git (and imports GitPython).

Reads go through one long-lived ``git cat-file --batch`` process (no GitPython
import on the read path, which keeps one-shot lookups fast).  Objects are
written in-process through GitPython's object database; commits and tags go
through ``git commit-tree`` / ``git tag`` so that git's own identity and
signing configuration apply; branch moves are compare-and-swap
``git update-ref`` calls.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from .errors import BareRepositoryError, GitError, NotARegistryError
from .stamps import read_record, stat_stamp, write_record

ZERO_OID = "0" * 40
OBJECT_CACHE_ENTRIES = 20000     # remembered cat-file answers (cleared when exceeded)
OBJECT_CACHE_MAX_BYTES = 1 << 20
_IMMUTABLE_REV = re.compile(r"[0-9a-f]{40}(?:$|[:^])")
GC_LOOSE_OBJECTS = 6700  # git's own gc.auto default
TREE_MODE = "40000"
BLOB_MODE = "100644"


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    name: str
    oid: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


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


# git's words when another process holds (or a crashed one left) a lock file.
_LOCK_HELD = re.compile(r"Unable to create '([^']+\.lock)': File exists")
# What git says when a ref is not where a compare-and-swap expected it.
_CAS_MARKERS = ("but expected", "reference already exists", "cannot lock ref", "is at ", "unable to resolve reference")


def lock_held_error(lock: str | os.PathLike[str]) -> GitError:
    """A lock file of git's is there: say so, and how to free it if it is a crashed command's."""
    return GitError(f"{lock} exists: another git command is running, or one crashed; nothing was written."
                    f" If no git command is running, remove it (rm {lock}), then retry")


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env["LC_ALL"] = "C"
    return env


class GitRepo:
    """A git repository with a work tree (or bare), addressed by its top folder."""

    def __init__(self, root: Path, git_dir: Path, common_dir: Path, bare: bool = False) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.bare = bare
        self._batch: subprocess.Popen[bytes] | None = None
        self._batch_lock = threading.Lock()
        self._gc_threshold: int | None = None
        self._sign_commits: bool | None = None
        self._sign_tags: bool | None = None
        self._who: dict[tuple[object, ...], str] = {}
        # Answers to requests that name an object id (immutable: "<oid>", "<oid>:<path>", "<oid>^{tree}").
        self._objects_seen: dict[str, tuple[str, str, bytes] | None] = {}
        self._trees: dict[str, list[TreeEntry]] = {}

    # ------------------------------------------------------------ discovery

    @classmethod
    def discover(cls, start: str | os.PathLike[str]) -> "GitRepo":
        """Find the repository containing ``start`` (walking upwards); a bare one is refused, saying what to do."""
        path = Path(start).resolve()
        if not path.exists():
            raise NotARegistryError(str(start), "no such directory")
        here = path if path.is_dir() else path.parent
        for folder in (here, *here.parents):
            dotgit = folder / ".git"
            if dotgit.is_dir():
                return cls(folder, dotgit, dotgit)
            if folder.name != ".git" and (folder / "HEAD").is_file() and (folder / "objects").is_dir() \
                    and (folder / "refs").is_dir():
                # A bare repository (no work tree): never walk past it into a repository around it.
                raise BareRepositoryError(str(start), (
                    f"{folder} is a bare git repository (no work tree); work on it by URL, e.g."
                    f" `gitreg --repo {folder.as_uri()} ...` (a cached clone), or run gitreg in a clone of it"))
            if dotgit.is_file():  # linked worktree or submodule: "gitdir: <path>"
                text = dotgit.read_text(encoding="utf-8").strip()
                if text.startswith("gitdir:"):
                    git_dir = (folder / text[len("gitdir:"):].strip()).resolve()
                    common = git_dir
                    common_file = git_dir / "commondir"
                    if common_file.is_file():
                        common = (git_dir / common_file.read_text().strip()).resolve()
                    return cls(folder, git_dir, common)
        raise NotARegistryError(
            str(start), "not inside a git repository; run `gitreg init` there to create a registry"
        )

    @classmethod
    def init(cls, path: str | os.PathLike[str]) -> "GitRepo":
        folder = Path(path).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        _run(["git", "init", "-q", str(folder)], cwd=folder)
        return cls(folder, folder / ".git", folder / ".git")

    # ------------------------------------------------------------ commands

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return _run(["git", *args], cwd=self.root, input=input, check=check, env=env)

    @staticmethod
    def run_anywhere(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
        """A git command outside any repository (clone, ls-remote); never raises on failure."""
        return _run(["git", *args], cwd=cwd, check=False)

    def out(self, *args: str, input: bytes | None = None) -> str:
        return self.run(*args, input=input).stdout.decode("utf-8", "replace").strip()

    # ------------------------------------------------------------ refs

    def head_ref(self) -> str | None:
        """The ref HEAD points to (``refs/heads/<branch>``), or None when detached."""
        head = self.git_dir / "HEAD"
        try:
            text = head.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise GitError(f"cannot read {head}: {exc}") from None
        if text.startswith("ref: "):
            return text[5:].strip()
        return None

    def operation_in_progress(self) -> str | None:
        """The git operation (merge, rebase, ...) this work tree is in the middle of, if any."""
        for marker, name in (("MERGE_HEAD", "merge"), ("CHERRY_PICK_HEAD", "cherry-pick"),
                             ("REVERT_HEAD", "revert"), ("rebase-merge", "rebase"),
                             ("rebase-apply", "rebase or am"), ("BISECT_LOG", "bisect")):
            if (self.git_dir / marker).exists():
                return name
        return None

    def resolve(self, rev: str) -> str | None:
        """Object id of ``rev`` (e.g. a ref or ``<commit>:<path>``) or None."""
        header = self._batch_request(rev)
        return header[0] if header else None

    def commit_of(self, ref: str) -> str | None:
        """The commit ``ref`` points to (None: no such ref).  Branch refs are read from the ref files."""
        if ref.startswith("refs/heads/") or ref.startswith("refs/remotes/"):
            return self.read_ref(ref)
        res = self.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        return res.stdout.decode().strip() if res.returncode == 0 else None

    def read_ref(self, ref: str) -> str | None:
        """The object id a (non-symbolic) ref holds, read as git stores it: a loose file, else packed-refs."""
        for folder in (self.git_dir, self.common_dir) if self.git_dir != self.common_dir else (self.common_dir,):
            try:
                text = (folder / ref).read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
                return text
            if text.startswith("ref: "):  # symbolic: let git follow it
                res = self.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
                return res.stdout.decode().strip() if res.returncode == 0 else None
        try:
            packed = (self.common_dir / "packed-refs").read_bytes()
        except OSError:
            return None
        needle = b" " + ref.encode() + b"\n"
        at = packed.find(needle)
        if at < 40:
            return None
        line_start = packed.rfind(b"\n", 0, at) + 1
        oid = packed[line_start:at].decode("ascii", "replace")
        return oid if len(oid) == 40 else None

    def update_ref(self, ref: str, new: str, old: str | None, message: str = "gitreg",
                   force: bool = False) -> bool:
        """Move ``ref`` to ``new`` only if it still is ``old`` (None: must not exist; force: any)."""
        expected = [] if force else [old or ZERO_OID]
        res = self.run("update-ref", "-m", message, ref, new, *expected, check=False)
        return res.returncode == 0

    def delete_ref(self, ref: str, old: str | None = None) -> bool:
        """Delete ``ref`` (only if it still is ``old``, when given); False if it was not deleted."""
        return self.run("update-ref", "-d", ref, *([old] if old else []), check=False).returncode == 0

    def remote_url(self, name: str) -> str | None:
        """The URL configured for remote ``name``, or None if there is no such remote."""
        res = self.run("remote", "get-url", name, check=False)
        return res.stdout.decode("utf-8", "replace").strip() if res.returncode == 0 else None

    def index_tree(self) -> str:
        """The tree the index would commit (``git write-tree``)."""
        res = self.run("write-tree", check=False)
        if res.returncode != 0:
            raise GitError("the index has unresolved conflicts; resolve them, then retry")
        return res.stdout.decode().strip()

    def code_state(self) -> tuple[str | None, bool]:
        """(HEAD commit, whether tracked files differ from it): what code a pipeline run ran."""
        head = self.commit_of("HEAD")
        if head is None or self.bare:
            return head, False
        res = self.run("status", "--porcelain", "--untracked-files=no", check=False)
        return head, bool(res.stdout.strip())

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        return self.run("merge-base", "--is-ancestor", ancestor, commit, check=False).returncode == 0

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two commits."""
        out = self.run("diff", "--name-only", "--no-renames", "-z", old, new).stdout.decode("utf-8", "replace")
        return [p for p in out.split("\0") if p]

    def rev_list(self, *args: str) -> list[str]:
        return self.out("rev-list", *args).split()

    def config_bool(self, key: str) -> bool:
        res = self.run("config", "--type=bool", "--get", key, check=False)
        return res.returncode == 0 and res.stdout.decode().strip() == "true"

    def list_refs(self, pattern: str) -> list[RefInfo]:
        """Every ref under ``pattern`` (e.g. ``refs/tags/models/iris/``) in one call."""
        fmt = "%00".join([
            "%(refname)", "%(objectname)", "%(objecttype)", "%(*objectname)",
            "%(contents:subject)", "%(contents:body)", "%(taggername) %(taggeremail)",
            "%(if)%(taggerdate)%(then)%(taggerdate:iso-strict)%(else)%(committerdate:iso-strict)%(end)",
        ]) + "%00%00"
        text = self.run("for-each-ref", f"--format={fmt}", pattern).stdout.decode("utf-8", "replace")
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

    def ref_names(self, pattern: str, merged: str | None = None) -> list[str]:
        """Names of the refs under ``pattern`` (only those reachable from ``merged``, when given).

        A folder pattern (``refs/tags/models/iris/``) without ``merged`` is read from the ref
        files as git keeps them (loose files, then packed-refs), with no process.
        """
        if merged is None and pattern.endswith("/") and pattern.startswith("refs/") and "*" not in pattern:
            return self._ref_files(pattern)
        only = [f"--merged={merged}"] if merged else []
        out = self.run("for-each-ref", "--format=%(refname)", *only, pattern).stdout.decode("utf-8", "replace")
        return [line for line in out.splitlines() if line]

    def _ref_files(self, prefix: str) -> list[str]:
        names: set[str] = set()
        folder = self.common_dir / prefix
        if folder.is_dir():
            for sub, _dirs, files in os.walk(folder):
                rel = Path(sub).relative_to(self.common_dir).as_posix()
                names.update(f"{rel}/{f}" for f in files if not f.endswith(".lock"))
        try:
            packed = (self.common_dir / "packed-refs").read_bytes()
        except OSError:
            packed = b""
        needle = b" " + prefix.encode()
        at = packed.find(needle)
        while at != -1:  # packed-refs is sorted: one model's refs stand together
            end = packed.find(b"\n", at)
            names.add(packed[at + 1:end if end != -1 else None].decode("utf-8", "replace"))
            at = packed.find(needle, end) if end != -1 else -1
        return sorted(names)

    def identity(self) -> str:
        """``Name <email>`` of the committer git would record (env and config applied)."""
        text = self.tagger_ident()
        return text.rsplit(" ", 2)[0] if text.count(" ") >= 2 else text

    def create_tag(self, name: str, target: str, message: str, date: str | None = None) -> bool:
        """Create the annotated tag ``name``; False if it already exists (never moved).

        ``date`` (git's date format) sets the tagger date, e.g. to the date of the
        commit a tag is created for after the fact.
        """
        env = {"GIT_COMMITTER_DATE": date} if date else None
        res = self.run("tag", "-a", "-F", "-", name, target, input=message.encode("utf-8"), check=False, env=env)
        if res.returncode == 0:
            return True
        if self.resolve(f"refs/tags/{name}") is not None:
            return False
        raise GitError(f"git tag {name} failed: {res.stderr.decode('utf-8', 'replace').strip()}")

    def tagger_ident(self) -> str:
        """``Name <email> <seconds> <tz>`` as git would record a tagger now (env and config applied)."""
        return self._ident("COMMITTER")

    def _ident(self, role: str) -> str:
        """git's ``GIT_<role>_IDENT``: who, from ``git var`` (remembered while the environment variables and
        config files that decide it stay the same), and when, now (or ``GIT_<role>_DATE`` through git)."""
        if os.environ.get(f"GIT_{role}_DATE"):
            return self._git_var(role)
        key = (role, *(os.environ.get(v) for v in (f"GIT_{role}_NAME", f"GIT_{role}_EMAIL", "EMAIL",
                                                    "GIT_CONFIG_GLOBAL", "HOME", "XDG_CONFIG_HOME")),
               *(_mtime(p) for p in self._config_files()))
        who = self._who.get(key)
        if who is None:
            who = self._git_var(role).rsplit(" ", 2)[0]
            self._who[key] = who
        now = time.time()
        offset = time.localtime(now).tm_gmtoff // 60
        sign = "+" if offset >= 0 else "-"
        return f"{who} {int(now)} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"

    def _git_var(self, role: str) -> str:
        res = self.run("var", f"GIT_{role}_IDENT", check=False)
        if res.returncode != 0:
            raise GitError(
                "git does not know who you are: set `git config user.name` and"
                " `git config user.email` (or GIT_COMMITTER_NAME/GIT_COMMITTER_EMAIL), then retry"
            )
        return res.stdout.decode("utf-8", "replace").strip()

    def _config_files(self) -> tuple[Path, ...]:
        home = Path(os.environ.get("HOME", "~")).expanduser()
        xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        glob = os.environ.get("GIT_CONFIG_GLOBAL")
        return (self.common_dir / "config", Path(glob) if glob else home / ".gitconfig", xdg / "git" / "config")

    def signs_tags(self) -> bool:
        """Whether git signs annotated tags here (``tag.gpgSign``): such tags are made by ``git tag``."""
        if self._sign_tags is None:
            self._sign_tags = self.config_bool("tag.gpgSign")
        return self._sign_tags

    def write_tag_object(self, name: str, target: str, message: str, ident: str) -> str:
        """Write an annotated tag object for ``target`` without creating its ref; its object id."""
        text = clean_message(message)
        data = (f"object {target}\ntype commit\ntag {name}\ntagger {ident}\n\n{text}").encode("utf-8")
        return self.write_object("tag", data)

    def update_refs(self, updates: Sequence[tuple[str, str, str | None]], message: str = "gitreg") -> RefUpdate:
        """Move every ``(ref, new, old)`` in one transaction: all or none.

        ``old`` None means the ref must not exist yet.  Returns ``moved`` False when a
        ref was not where expected (another writer won, or a tag exists already); any
        other refusal (an invalid ref name, a full disk) raises GitError.
        """
        lines = "".join(f"update {ref} {new} {old or ZERO_OID}\n" for ref, new, old in updates)
        for attempt in range(25):  # about a second for another git command to let go of a ref lock
            res = self.run("update-ref", "-m", message, "--stdin", input=lines.encode("utf-8"), check=False)
            if res.returncode == 0:
                return RefUpdate(True, ())
            err = res.stderr.decode("utf-8", "replace").strip()
            held = _LOCK_HELD.search(err)
            if held is None:
                break
            time.sleep(0.02 + attempt * 0.002)
        else:
            raise lock_held_error(held.group(1))
        lost = [ref for ref, _new, _old in updates if ref in err]
        if any(marker in err for marker in _CAS_MARKERS):
            return RefUpdate(False, tuple(lost))
        raise GitError(f"git could not move {', '.join(ref for ref, _n, _o in updates)}: {err}")

    # ------------------------------------------------------------ objects

    def _batch_request(self, request: str) -> tuple[str, str, bytes] | None:
        return self._batch_many([request])[0]

    def _batch_many(self, requests: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """Answer many cat-file requests, pipelined in chunks small enough for a pipe."""
        for request in requests:
            if "\n" in request:
                raise GitError(f"invalid object name {request!r}")
        cache = self._objects_seen
        missing = [r for r in dict.fromkeys(requests) if r not in cache]
        if not missing:
            return [cache[r] for r in requests]
        answers = self._ask_batch(missing)
        if len(cache) > OBJECT_CACHE_ENTRIES:
            cache.clear()
        for request, answer in zip(missing, answers):
            # "missing" is not remembered: the object may arrive with the next fetch
            if answer is not None and _IMMUTABLE_REV.match(request) and len(answer[2]) <= OBJECT_CACHE_MAX_BYTES:
                cache[request] = answer
        found = dict(zip(missing, answers))
        return [cache[r] if r in cache else found[r] for r in requests]

    def _remember(self, oid: str, otype: str, data: bytes) -> None:
        """An object just written is known: reads of it (and of paths through it) need no round trip."""
        if len(data) <= OBJECT_CACHE_MAX_BYTES:
            self._objects_seen[oid] = (oid, otype, data)

    def _ask_batch(self, requests: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        out: list[tuple[str, str, bytes] | None] = []
        with self._batch_lock:
            proc = self._batch
            if proc is None or proc.poll() is not None:
                proc = self._batch = subprocess.Popen(
                    ["git", "cat-file", "--batch"], cwd=self.root, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_git_env(),
                )
            assert proc.stdin is not None and proc.stdout is not None
            try:
                self._exchange(proc, requests, out)
            except (OSError, ValueError) as exc:
                self._batch = None
                proc.kill()
                raise GitError(f"git cat-file stopped answering ({exc}); is the repository intact?") from None
        return out

    @staticmethod
    def _exchange(proc: subprocess.Popen[bytes], requests: Sequence[str],
                  out: list[tuple[str, str, bytes] | None]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        for first in range(0, len(requests), 256):  # 256 requests stay well under 64 KiB
            chunk = requests[first:first + 256]
            proc.stdin.write("".join(r + "\n" for r in chunk).encode("utf-8"))
            proc.stdin.flush()
            for _ in chunk:
                header = proc.stdout.readline().decode("utf-8", "replace").rstrip("\n")
                parts = header.split(" ")
                if len(parts) != 3:
                    out.append(None)  # "<request> missing" / "ambiguous"
                    continue
                body = proc.stdout.read(int(parts[2]))
                proc.stdout.read(1)  # trailing newline
                out.append((parts[0], parts[1], body))

    def _parsed(self, oid: str, body: bytes) -> list[TreeEntry]:
        """The entries of tree ``oid`` (parsed once: a tree never changes)."""
        entries = self._trees.get(oid)
        if entries is None:
            if len(self._trees) > OBJECT_CACHE_ENTRIES:
                self._trees.clear()
            entries = self._trees[oid] = parse_tree(body)
        return entries

    def read_blobs(self, revs: Sequence[str]) -> list[bytes | None]:
        """Contents of many blobs in one pipelined exchange (None where missing)."""
        return [obj[2] if obj is not None and obj[1] == "blob" else None for obj in self._batch_many(revs)]

    def read_object(self, rev: str) -> tuple[str, str, bytes] | None:
        """(oid, type, content) of ``rev`` or None if it does not exist."""
        return self._batch_request(rev)

    def read_blob(self, rev: str) -> tuple[str, bytes] | None:
        obj = self._batch_request(rev)
        if obj is None or obj[1] != "blob":
            return None
        return obj[0], obj[2]

    def read_tree(self, rev: str) -> tuple[str, list[TreeEntry]] | None:
        obj = self._batch_request(rev)
        if obj is None or obj[1] != "tree":
            return None
        return obj[0], self._parsed(obj[0], obj[2])

    def tree_entries(self, oid: str) -> list[TreeEntry]:
        """Entries of a tree known to exist (a missing one means a damaged repository)."""
        tree = self.read_tree(oid)
        if tree is None:
            raise GitError(f"tree {oid} is missing from the repository; run `git fsck`")
        return tree[1]

    def write_object(self, otype: str, data: bytes) -> str:
        """Write a loose object (as git does: zlib, then a read-only file named by its id); its id."""
        import hashlib
        import zlib

        raw = f"{otype} {len(data)}\0".encode() + data
        oid = hashlib.sha1(raw).hexdigest()
        if otype in ("tree", "commit"):
            self._remember(oid, otype, data)
        folder = self.common_dir / "objects" / oid[:2]
        path = folder / oid[2:]
        try:
            os.utime(path)  # there already: freshen it, as git does, so that no prune takes it now
            return oid
        except OSError:
            pass
        tmp = folder / f"tmp_obj_{os.getpid()}_{threading.get_ident()}"
        packed = zlib.compress(raw, 1)  # git's core.looseCompression default
        for attempt in range(3):
            try:
                with open(tmp, "wb") as fh:
                    fh.write(packed)
                os.chmod(tmp, 0o444)
                os.replace(tmp, path)
                return oid
            except FileNotFoundError:
                # the fan-out folder is not there (yet, or any more: git's gc removes emptied ones)
                try:
                    folder.mkdir(exist_ok=True)
                except OSError as exc:
                    raise GitError(f"cannot write to {folder}: {exc}; check permissions and free disk space") \
                        from None
            except OSError as exc:
                raise GitError(f"cannot write to {self.common_dir / 'objects'}: {exc}; check permissions and free"
                               " disk space") from None
        raise GitError(f"cannot write to {folder}: it keeps disappearing (is a `git gc` or prune running?);"
                       " retry")

    def write_blob(self, data: bytes) -> str:
        return self.write_object("blob", data)

    def write_tree(self, entries: Sequence[TreeEntry]) -> str:
        ordered = sorted(entries, key=_tree_order)
        oid = self.write_object("tree", format_tree(ordered))
        self._trees.setdefault(oid, ordered)  # what parsing it would give: git's order
        return oid

    def commit_tree(self, tree: str, parents: Sequence[str], message: str) -> str:
        """A commit of ``tree`` (written in-process, or by ``git commit-tree`` when commits are signed)."""
        if not self.signs_commits():
            lines = [f"tree {tree}", *(f"parent {p}" for p in parents),
                     f"author {self._ident('AUTHOR')}", f"committer {self._ident('COMMITTER')}"]
            return self.write_object("commit", ("\n".join(lines) + "\n\n" + message).encode("utf-8"))
        args = ["commit-tree", tree]
        if self.signs_commits():
            args.append("-S")  # commit-tree ignores commit.gpgSign; honour it as `git commit` does
        for parent in parents:
            args += ["-p", parent]
        res = self.run(*args, "-F", "-", input=message.encode("utf-8"), check=False)
        if res.returncode != 0:
            err = res.stderr.decode("utf-8", "replace").strip()
            if "tell me who you are" in err or "empty ident" in err:
                raise GitError(
                    "git does not know who you are: set `git config user.name` and"
                    " `git config user.email` (or GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL), then retry"
                )
            raise GitError(f"git commit-tree failed: {err}")
        return res.stdout.decode().strip()

    def signs_commits(self) -> bool:
        if self._sign_commits is None:
            self._sign_commits = self.config_bool("commit.gpgSign")
        return self._sign_commits

    def verify_tag(self, name: str) -> tuple[bool, str]:
        """Whether the tag carries a good signature (git's gpg/ssh configuration applies), and git's words."""
        res = self.run("verify-tag", "--raw", name, check=False)
        text = res.stderr.decode("utf-8", "replace").strip()
        return res.returncode == 0, text.splitlines()[-1] if text else ""

    def update_paths(self, root_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
        """New root tree: ``root_tree`` with files written (bytes) or removed (None: a file or folder)."""
        return self._apply(root_tree, {tuple(p.split("/")): v for p, v in changes.items()}) or \
            self.write_tree([])

    def _apply(self, tree: str | None, changes: dict[tuple[str, ...], bytes | None]) -> str | None:
        entries = {e.name: e for e in (self.tree_entries(tree) if tree else [])}
        nested: dict[str, dict[tuple[str, ...], bytes | None]] = {}
        for parts, data in changes.items():
            if len(parts) == 1:
                if data is None:
                    entries.pop(parts[0], None)
                else:
                    entries[parts[0]] = TreeEntry(BLOB_MODE, parts[0], self.write_blob(data))
            else:
                nested.setdefault(parts[0], {})[parts[1:]] = data
        for name, sub in nested.items():
            old = entries.get(name)
            new = self._apply(old.oid if old is not None and old.is_tree else None, sub)
            if new is None:
                entries.pop(name, None)
            else:
                entries[name] = TreeEntry(TREE_MODE, name, new)
        if not entries:
            return None
        return self.write_tree(list(entries.values()))

    # ------------------------------------------------------------ work tree

    def dirty_paths(self, commit: str | None, paths: Sequence[str]) -> list[str]:
        """Files under ``paths`` whose work-tree or staged (index) content differs from ``commit``.

        Compares blob ids of the work-tree files and of the index entries with the
        commit's tree, so the cost depends on the size of ``paths``, not of the repository.
        """
        if self.bare or not paths:
            return []
        # Unchanged since gitreg itself brought these paths in line with ``commit``: staged == committed.
        note = self._index_note(commit, paths)
        index = {} if note is not None else self.index_entries(paths)
        stats = note.get("files", {}) if note is not None else {}
        dirty: list[str] = []
        for path in paths:
            committed = dict(self._blobs_under(commit, path)) if commit else {}
            staged = committed if note is not None else \
                {p: oid for p, oid in index.items() if p == path or p.startswith(path + "/")}
            present = self.worktree_files(path)
            for rel in sorted(set(committed) | set(present) | set(staged)):
                want = committed.get(rel)
                if want is None or staged.get(rel) != want or rel not in present:
                    dirty.append(rel)  # deleted, added, or changed in the index
                elif stats.get(rel) != _file_stat(present[rel]) and blob_id(present[rel].read_bytes()) != want:
                    dirty.append(rel)  # changed in the work tree (a file untouched since gitreg wrote it is not)
        return dirty

    def worktree_files(self, path: str) -> dict[str, Path]:
        """Every file under ``path`` in the work tree (relative path -> full path)."""
        local = self.root / path
        present: dict[str, Path] = {}
        if local.is_file():
            present[path] = local
        elif local.is_dir():
            for folder, _dirs, files in os.walk(local):
                for name in files:
                    full = Path(folder) / name
                    present[full.relative_to(self.root).as_posix()] = full
        return present

    def _index_stat(self) -> list[int] | None:
        try:
            return list(stat_stamp(os.stat(self.git_dir / "index")))
        except OSError:
            return None

    def note_index_synced(self, commit: str, paths: Sequence[str]) -> None:
        """Remember that the index entries under ``paths`` equal ``commit`` now (gitreg just wrote them).

        Any later rewrite of the index by anyone (git replaces the file: a new inode and
        times) makes the note stale, and the next dirty check reads the index again.
        """
        stamp = self._index_stat()
        note = self.git_dir / "gitreg-index-note.json"
        try:
            if stamp is None:
                note.unlink(missing_ok=True)
                return
            files = {rel: _file_stat(full) for path in paths for rel, full in self.worktree_files(path).items()}
        except OSError:
            return
        write_record(note, {"index": stamp, "commit": commit, "paths": sorted(paths), "files": files})

    def _index_note(self, commit: str | None, paths: Sequence[str]) -> dict | None:
        """The note of :meth:`note_index_synced`, if it still holds for ``commit`` and ``paths``."""
        if commit is None:
            return None
        note = read_record(self.git_dir / "gitreg-index-note.json")
        if isinstance(note, dict) and (note.get("commit") == commit and note.get("index") == self._index_stat()
                and set(paths) <= set(note.get("paths") or ())):
            return note
        return None

    def index_entries(self, paths: Sequence[str]) -> dict[str, str]:
        """Path -> blob id of the index entries under ``paths`` ("conflict" for unmerged ones)."""
        if self.bare or not paths:
            return {}
        out = self.run("ls-files", "-s", "-z", "--", *paths).stdout.decode("utf-8", "surrogateescape")
        entries: dict[str, str] = {}
        for record in out.split("\0"):
            if not record:
                continue
            info, _tab, name = record.partition("\t")
            _mode, oid, stage = info.split(" ")
            entries[name] = oid if stage == "0" else "conflict"
        return entries

    def worktree_blob(self, path: str) -> str | None:
        """The blob id the work-tree file ``path`` would have (None: no such file)."""
        full = self.root / path
        return blob_id(full.read_bytes()) if full.is_file() else None

    def _blobs_under(self, commit: str, path: str) -> Iterator[tuple[str, str]]:
        obj = self.read_object(f"{commit}:{path}")
        if obj is None:
            return
        oid, otype, body = obj
        if otype == "blob":
            yield path, oid
        elif otype == "tree":
            stack = [(path, self._parsed(oid, body))]
            while stack:
                prefix, entries = stack.pop()
                for e in entries:
                    if e.is_tree:
                        stack.append((f"{prefix}/{e.name}", self.tree_entries(e.oid)))
                    else:
                        yield f"{prefix}/{e.name}", e.oid

    def blobs_under(self, commit: str | None, paths: Sequence[str]) -> dict[str, str]:
        """Path -> blob id of every file under ``paths`` at ``commit``."""
        out: dict[str, str] = {}
        for path in paths if commit else ():
            out.update(self._blobs_under(commit, path))  # type: ignore[arg-type]
        return out

    def changed_files(self, old: str | None, new: str, paths: Sequence[str]) -> dict[str, str | None]:
        """Files under ``paths`` that differ between two commits: path -> blob id at ``new`` (None: gone).

        Walks only the subtrees whose ids differ, so a write's cost stays with what it changed.
        """
        out: dict[str, str | None] = {}
        for path in paths:
            a = self.read_object(f"{old}:{path}") if old else None
            b = self.read_object(f"{new}:{path}")
            self._diff(path, a, b, out)
        return out

    def _diff(self, path: str, a: tuple[str, str, bytes] | None, b: tuple[str, str, bytes] | None,
              out: dict[str, str | None]) -> None:
        if a is not None and b is not None and a[0] == b[0]:
            return
        a_tree = {e.name: e for e in self._parsed(a[0], a[2])} if a is not None and a[1] == "tree" else {}
        b_tree = {e.name: e for e in self._parsed(b[0], b[2])} if b is not None and b[1] == "tree" else {}
        if b is not None and b[1] == "blob":
            out[path] = b[0]
        elif a is not None and a[1] == "blob":
            out[path] = None
        for name in sorted(set(a_tree) | set(b_tree)):
            ea, eb = a_tree.get(name), b_tree.get(name)
            if ea is not None and eb is not None and ea.oid == eb.oid:
                continue
            self._diff(f"{path}/{name}", self.read_object(ea.oid) if ea else None,
                       self.read_object(eb.oid) if eb else None, out)

    def index_locked(self) -> bool:
        return (self.git_dir / "index.lock").exists()

    def wait_for_index(self, seconds: float = 2.0) -> bool:
        """Wait up to ``seconds`` for another git command to release the index; False if it stays locked."""
        deadline = time.monotonic() + seconds
        while self.index_locked():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def set_files(self, files: Mapping[str, str | None]) -> bool:
        """Make the work tree and index entries of ``files`` equal to the given blob ids (None: remove).

        Only these paths are touched.  False (nothing in the index changed) when the
        index stayed locked by another git command.
        """
        if self.bare or not files:
            return True
        wanted = [oid for oid in files.values() if oid is not None]
        contents = dict(zip(wanted, self.read_blobs(wanted)))
        for rel, oid in files.items():
            full = self.root / rel
            if oid is None:
                if full.is_file() or full.is_symlink():
                    full.unlink()
                self._prune_empty(full.parent)
                continue
            data = contents.get(oid)
            if data is None:
                raise GitError(f"blob {oid} for {rel} is missing from the repository; run `git fsck`")
            if full.is_file() and blob_id(full.read_bytes()) == oid:
                continue
            full.parent.mkdir(parents=True, exist_ok=True)
            tmp = full.with_name(f".{full.name}.gitreg-tmp")
            tmp.write_bytes(data)
            os.replace(tmp, full)
        listing = "".join(p + "\0" for p in files).encode("utf-8", "surrogateescape")
        for attempt in range(30):  # about 1.5 s for another git command to let go of the index
            res = self.run("update-index", "--add", "--remove", "-z", "--stdin", input=listing, check=False)
            if res.returncode == 0:
                return True
            err = res.stderr.decode("utf-8", "replace")
            if "index.lock" not in err:
                raise GitError(f"could not update the index for {', '.join(list(files)[:3])}: {err.strip()}")
            time.sleep(0.02 + attempt * 0.002)
        return False

    def _prune_empty(self, folder: Path) -> None:
        """Remove ``folder`` and its parents while empty, up to the top of the work tree."""
        root = self.root.resolve()
        while folder.resolve() != root and folder.is_dir():
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def maybe_gc(self) -> None:
        """Let git pack loose objects and refs once they pile up.

        Plumbing never triggers git's automatic housekeeping, so a registry
        written only by gitreg would collect loose objects forever.  Like
        ``git gc --auto`` itself, estimate from one fan-out folder first.
        """
        try:
            loose = len(os.listdir(self.common_dir / "objects" / "17"))
        except OSError:
            return
        if loose > 1 and loose * 256 > self.gc_threshold():
            self.run("gc", "--auto", "--quiet", check=False)

    def gc_threshold(self) -> int:
        """git's gc.auto (0 disables automatic housekeeping), read once."""
        if self._gc_threshold is None:
            res = self.run("config", "--get", "gc.auto", check=False)
            text = res.stdout.decode().strip() if res.returncode == 0 else ""
            value = int(text) if text.lstrip("-").isdigit() else GC_LOOSE_OBJECTS
            self._gc_threshold = value if value > 0 else 1 << 62
        return self._gc_threshold

    # ------------------------------------------------------------ locking and cache

    @contextmanager
    def write_lock(self, blocking: bool = True) -> Iterator[bool]:
        """Serialise gitreg writers of this clone (a file lock in the git dir, released if the process dies).

        Yields True once held; with ``blocking`` False, yields False at once when
        another process holds it.
        """
        from filelock import FileLock, Timeout

        folder = self.common_dir / "gitreg"
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / "write.lock"), timeout=-1 if blocking else 0)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    @property
    def cache_dir(self) -> Path:
        return self.common_dir / "gitreg" / "cache"

    def close(self) -> None:
        proc, self._batch = self._batch, None
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def blob_id(data: bytes) -> str:
    """The object id git gives ``data`` as a blob."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def parse_tree(data: bytes) -> list[TreeEntry]:
    entries = []
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space].decode()
        name = data[space + 1:nul].decode("utf-8", "surrogateescape")
        oid = data[nul + 1:nul + 21].hex()
        entries.append(TreeEntry(mode, name, oid))
        pos = nul + 21
    return entries


def _tree_order(e: TreeEntry) -> bytes:
    # git sorts tree entries by name, with directories compared as "name/".
    raw = e.name.encode("utf-8", "surrogateescape")
    return raw + b"/" if e.is_tree else raw


def format_tree(entries: Sequence[TreeEntry]) -> bytes:
    out = bytearray()
    for e in sorted(entries, key=_tree_order):
        out += e.mode.encode() + b" " + e.name.encode("utf-8", "surrogateescape") + b"\0"
        out += bytes.fromhex(e.oid)
    return bytes(out)


def _run(cmd: list[str], cwd: Path, input: bytes | None = None, check: bool = True,
         env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = _git_env()
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


def clean_message(message: str) -> str:
    """A message as ``git tag``/``git commit`` store it: trailing blanks stripped, blank runs folded, one final newline."""
    lines = [line.rstrip() for line in message.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _file_stat(path: Path) -> list[int]:
    """What changes when a file is written (a stamp, as a JSON record holds it)."""
    return list(stat_stamp(path.stat()))
