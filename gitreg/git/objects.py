"""git's object formats, computed in-process: ids, trees, loose-object encoding, messages."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Sequence

ZERO_OID = "0" * 40
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
        entries.append(TreeEntry(mode, name, oid))
        pos = nul + 21
    return entries


def tree_order(e: TreeEntry) -> bytes:
    # git sorts tree entries by name, with directories compared as "name/".
    raw = e.name.encode("utf-8", "surrogateescape")
    return raw + b"/" if e.is_tree else raw


def format_tree(entries: Sequence[TreeEntry], ordered: bool = False) -> bytes:
    """A tree object's bytes (``ordered``: the entries are in git's order already)."""
    out = bytearray()
    for e in entries if ordered else sorted(entries, key=tree_order):
        out += e.mode.encode() + b" " + e.name.encode("utf-8", "surrogateescape") + b"\0"
        out += bytes.fromhex(e.oid)
    return bytes(out)


def encode_object(otype: str, data: bytes) -> tuple[str, bytes]:
    """The id git gives an object, and the bytes a loose object file holds compressed."""
    raw = f"{otype} {len(data)}\0".encode() + data
    return hashlib.sha1(raw).hexdigest(), raw


def compress_loose(raw: bytes) -> bytes:
    return zlib.compress(raw, 1)  # git's core.looseCompression default


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
