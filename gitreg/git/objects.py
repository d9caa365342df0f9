"""git's object formats, computed in-process: ids, trees, loose-object encoding, messages."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

ZERO_OID = "0" * 40
TREE_MODE = "40000"
BLOB_MODE = "100644"


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    name: str
    oid: str
    # The entry's bytes in the tree object it was read from (``mode SP name NUL oid``): a tree written anew
    # with most entries unchanged (the folder of every model) copies them instead of encoding each again.
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE

    @classmethod
    def made(cls, mode: str, name: str, oid: str) -> TreeEntry:
        """A new entry with its bytes: a tree kept in memory and rewritten by later writes copies them."""
        return cls(mode, name, oid, _entry_bytes(mode, name, oid))


def blob_id(data: bytes) -> str:
    """The object id git gives ``data`` as a blob."""
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
        entries.append(TreeEntry(mode, name, oid, data[pos:nul + 21]))
        pos = nul + 21
    return entries


def tree_order(e: TreeEntry) -> bytes:
    # git sorts tree entries by name, with directories compared as "name/".
    raw = e.name.encode("utf-8", "surrogateescape")
    return raw + b"/" if e.is_tree else raw


def format_tree(entries: Sequence[TreeEntry], ordered: bool = False) -> bytes:
    """A tree object's bytes (``ordered``: the entries are in git's order already)."""
    return b"".join(e.raw or _entry_bytes(e.mode, e.name, e.oid)
                    for e in (entries if ordered else sorted(entries, key=tree_order)))


def _entry_bytes(mode: str, name: str, oid: str) -> bytes:
    return mode.encode() + b" " + name.encode("utf-8", "surrogateescape") + b"\0" + bytes.fromhex(oid)


def encode_object(otype: str, data: bytes) -> tuple[str, bytes]:
    """The id git gives an object, and the bytes a loose object file holds compressed."""
    raw = f"{otype} {len(data)}\0".encode() + data
    return hashlib.sha1(raw).hexdigest(), raw


STORED_ABOVE = 64 * 1024  # loose objects larger than this are written with zlib's "stored" level
TREE_STORED_ABOVE = 4 * 1024  # and trees larger than this


def compress_loose(raw: bytes, otype: str = "blob") -> bytes:
    """A loose object's zlib stream: git's core.looseCompression default (1), except for a large object.

    The large ones are mostly trees, rewritten by every write to a folder: ``.mcp/models`` of a registry
    of 10,000 models (320 KiB), a model's ``versions`` and ``.mcp/runs`` after hundreds of runs (10 to 20
    KiB at 300). Half of a tree entry is an incompressible object id: level 1 halves such a tree at best,
    for 0.1 ms per 10 KiB (7 ms for the 320 KiB one); stored, it costs next to nothing. git reads either,
    and its gc packs (and delta-compresses) loose objects anyway.
    """
    stored = len(raw) > (TREE_STORED_ABOVE if otype == "tree" else STORED_ABOVE)
    return zlib.compress(raw, 0 if stored else 1)


def clean_message(message: str) -> str:
    """A message as ``git tag``/``git commit`` store it: trailing blanks stripped, blank runs folded, one final
    newline."""
    lines = [line.rstrip() for line in message.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n" if out else ""


@dataclass(frozen=True)
class Added:
    """A commit that added files (see :meth:`~.repo.GitRepo.added_by`)."""

    commit: str
    date: str         # the author date, ISO 8601
    author: str       # ``Name <email>``
    message: str
    paths: tuple[str, ...]  # the files it added (under the path asked about)
