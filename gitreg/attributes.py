"""The git attributes of the registry's files: pinned by gitreg in ``.mcp/.gitattributes``, and what a
``.gitattributes`` line could change under a folder.

git may give a file other bytes in the work tree than in its blob, and other bytes in a new blob than in
the work-tree file: line endings (the ``text``, ``eol`` and ``crlf`` attributes, and ``core.autocrlf`` or
``core.eol`` for files they leave unspecified), any command (``filter``), ``$Id$`` (``ident``) and another
encoding (``working-tree-encoding``).  It may also show a reviewer something else than the bytes (a
``diff`` driver's textconv; GitHub folds ``linguist-generated`` files away), and merge by other rules than
the three-way merge whose conflicts keep the registry's invariants (a ``merge`` driver such as ``union``).
:func:`pinned_attributes` is the file that sets every one of them, for every file under ``.mcp/``, to the
state that leaves the bytes alone.

Precedence (gitattributes(5)): ``$GIT_DIR/info/attributes`` first, then the ``.gitattributes`` in the
path's own folder and in each folder above it, the nearer one first, then the global and the system
file; for each attribute the first of them that says anything about the path decides (within one file,
its last line that matches).  So ``.mcp/.gitattributes`` overrides every ``.gitattributes`` above it and
the global and system files, and is overridden only by ``info/attributes`` (local to a clone, never
committed: the write path looks at it) and by a ``.gitattributes`` deeper inside ``.mcp/`` (which
``check --base`` reports).  ``working-tree-encoding`` is put back to unspecified (``!``) rather than
unset: git refuses the values true and false for it.

The rest of the module decides from a line's pattern alone whether it could apply to a file under a
folder, erring on the side of "could" (``check --base``, and the write path's look at
``info/attributes``), or surely applies to every file there (a line that takes an attribute back).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache

#: The pinned attributes' file (``state.MCP`` + ``/.gitattributes``): every file under ``.mcp/``.
ATTRIBUTES_PATH = ".mcp/.gitattributes"

#: Each attribute that could make git's bytes differ from gitreg's, in the state that leaves them alone.
PINNED = ("-text", "-eol", "-crlf", "-filter", "-ident", "!working-tree-encoding", "diff", "merge",
          "-whitespace", "-linguist-generated")

_HEADER = (
    "# Written by gitreg: every file under .mcp/ is stored, checked out, diffed and merged as exactly the\n"
    "# bytes gitreg wrote, whatever a .gitattributes above this folder, the global attributes, core.autocrlf\n"
    "# or core.eol say (only .git/info/attributes comes before this file).  Edit nothing here:\n"
    "# `gitreg check --base` reports any change to it.\n"
)

#: The attributes with which git would store other bytes in a blob than the work-tree file holds (for
#: gitreg's files, which hold no CR and no ``$Id``: line endings change nothing on the way in), with the
#: spelling that takes each back for a path.
REWRITING = {"filter": "-filter", "ident": "-ident", "working-tree-encoding": "!working-tree-encoding"}

State = tuple[str, "bool | str | None"]  # an attribute and its value: True set, False unset (-), None unspecified (!)

#: git's one built-in macro attribute.
_BUILTIN_MACROS: dict[str, tuple[State, ...]] = {"binary": (("diff", False), ("merge", False), ("text", False))}


def pinned_attributes() -> bytes:
    """The exact bytes of :data:`ATTRIBUTES_PATH`, as ``gitreg init`` writes it (and a migration adds it)."""
    return (_HEADER + "* " + " ".join(PINNED) + "\n").encode("ascii")


# ---------------------------------------------------------------- reading a .gitattributes

@dataclass(frozen=True)
class Line:
    """One line of an attributes file that says something: a pattern's or a macro's."""

    number: int  # 1-based
    text: str
    pattern: str | None  # None: a macro definition; "": a pattern this module does not read (quoted)
    macro: str | None
    states: tuple[State, ...]


def parse(data: bytes) -> list[Line]:
    """The lines of an attributes file that say something (comments, blank and negative lines are left out,
    as git leaves them)."""
    lines: list[Line] = []
    for number, raw in enumerate(data.decode("utf-8", "surrogateescape").split("\n"), 1):
        text = raw.strip(" \t\r")
        if not text or text.startswith("#"):
            continue
        if text.startswith('"'):  # a C-quoted pattern: not read here, so taken as one that could be anything
            close = _closing_quote(text)
            pattern, rest = "", text[close + 1:] if close > 0 else ""
        else:
            pattern, _sep, rest = text.replace("\t", " ").partition(" ")
        states = tuple(_state(token) for token in rest.replace("\t", " ").split(" ") if token)
        if pattern.startswith("[attr]"):
            lines.append(Line(number, text, None, pattern[len("[attr]"):], states))
        elif not pattern.startswith("!"):  # negative patterns are ignored by git
            lines.append(Line(number, text, pattern, None, states))
    return lines


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return -1


def _state(token: str) -> State:
    if token.startswith("-"):
        return token[1:], False
    if token.startswith("!"):
        return token[1:], None
    name, eq, value = token.partition("=")
    return (name, value) if eq else (name, True)


def expanded(line: Line, macros: dict[str, tuple[State, ...]]) -> dict[str, object]:
    """The attributes ``line`` sets, macros (set to true) expanded into theirs; a later one overrides."""
    out: dict[str, object] = {}

    def put(states: Iterable[State], depth: int) -> None:
        for name, value in states:
            out[name] = value
            if value is True and depth < 8 and name in macros:
                put(macros[name], depth + 1)

    put(line.states, 0)
    return out


def macros_of(*files: bytes | None) -> dict[str, tuple[State, ...]]:
    """The macro attributes the files define (later files override earlier ones), with git's own."""
    found = dict(_BUILTIN_MACROS)
    for data in files:
        for line in parse(data or b""):
            if line.macro:
                found[line.macro] = line.states
    return found


# ---------------------------------------------------------------- what a pattern could reach

def any_name(_component: str) -> bool:
    """Every file name is possible (the artifact store's: not gitreg's to restrict)."""
    return True


def written_name(component: str) -> bool:
    """Whether the pattern ``component`` could match the name of a file gitreg writes under ``.mcp/``:
    ``<something>.yaml`` or ``.gitattributes`` (decided from the pattern's end, erring on "could")."""
    lower = component.lower()
    if "\\" in lower or "[^" in lower or fnmatchcase(".gitattributes", lower):
        return True
    if not any(c in lower for c in "*?["):
        return lower.endswith(".yaml")
    tail = lower[max(lower.rfind(c) for c in "*?]") + 1:]  # any name it matches ends with this
    return ".yaml".endswith(tail) or tail.endswith(".yaml")


def could_apply(pattern: str, base: str, folder: str, name_ok: Callable[[str], bool] = any_name,
                itself: bool = False) -> bool:
    """Whether ``pattern``, a line of the ``.gitattributes`` in folder ``base`` ("" at the top), could match a
    file under ``folder`` (or, with ``itself``, ``folder`` as a file); ``name_ok`` tells whether a pattern's
    last part could match the name of such a file.  Errs on the side of True (case is ignored; a pattern
    with escapes is taken as matching anything)."""
    inside = _relative(folder, base)
    fixed: tuple[str, ...] = ()
    if inside is None:
        if _relative(base, folder) is None:
            return False  # neither holds the other
        itself = False  # the file is somewhere under ``base``, itself under ``folder``
    elif inside:
        fixed = tuple(inside.split("/"))
    if not pattern:
        return True  # a quoted pattern: not read
    if pattern.endswith("/"):
        return False  # matches folders only, and attributes of a folder do not reach the files in it
    if "/" not in pattern:  # matched against the file's name, at any depth
        return name_ok(pattern) or (itself and bool(fixed) and _component_could(pattern, fixed[-1]))
    parts = tuple(p for p in pattern.lstrip("/").split("/"))
    return _could(parts, fixed, itself, name_ok)


def covers(pattern: str, path: str, folder: bool) -> bool:
    """Whether ``pattern`` (a line of ``info/attributes`` or of the top ``.gitattributes``) surely matches
    every file under ``path`` (a ``folder``), or the file ``path``: ``*``, or ``a/b/**`` for a path inside
    ``a/b`` (or the folder ``a/b`` itself)."""
    if not pattern or pattern.endswith("/"):
        return False
    if "/" not in pattern:
        return set(pattern) == {"*"}
    parts = pattern.lstrip("/").split("/")
    fixed = path.strip("/").split("/")
    if parts[-1] != "**" or len(parts) - 1 > len(fixed) or (len(parts) - 1 == len(fixed) and not folder):
        return False
    return all(_component_surely(p, name) for p, name in zip(parts[:-1], fixed))


def _relative(path: str, base: str) -> str | None:
    """``path`` relative to the folder ``base`` ("" if the same), None if it is not inside."""
    path, base = path.strip("/"), base.strip("/")
    if not base:
        return path
    if path == base:
        return ""
    return path[len(base) + 1:] if path.startswith(base + "/") else None


def _component_could(pattern: str, name: str) -> bool:
    if "\\" in pattern or "[^" in pattern:
        return True
    return fnmatchcase(name.lower(), pattern.lower())


def _component_surely(pattern: str, name: str) -> bool:
    if "\\" in pattern or "[" in pattern:
        return False
    return fnmatchcase(name, pattern)


def _could(parts: tuple[str, ...], fixed: tuple[str, ...], itself: bool, name_ok: Callable[[str], bool]) -> bool:
    """Whether the parts of a pattern with a slash could match ``fixed`` followed by at least one more part
    whose last is a file's name (or, with ``itself``, ``fixed`` alone)."""

    @cache
    def go(i: int, j: int, beyond: bool) -> bool:  # pattern part i against path part j; beyond: past fixed
        if i == len(parts):
            return j == len(fixed) and (beyond or itself)
        part = parts[i]
        if part == "**":
            if go(i + 1, j, beyond):
                return True
            return go(i, j + 1, beyond) if j < len(fixed) else go(i + 1, j, True)
        if j < len(fixed):
            return _component_could(part, fixed[j]) and go(i + 1, j + 1, beyond)
        if i == len(parts) - 1 and not name_ok(part):
            return False
        return go(i + 1, j, True)

    return go(0, 0, False)


# ---------------------------------------------------------------- check --base

def store_folder(store: str, root: str) -> str | None:
    """The folder of the repository at ``root`` that holds the artifact store ``store`` (a URI of
    ``registry.yaml``), relative to ``root``; None when the store lies outside the repository."""
    if store.startswith("file://"):
        store = store[len("file://"):]
    elif "://" in store or store.startswith(("~", "\\")) or ":" in store.split("/", 1)[0]:
        return None  # another file system, a home folder, or a drive letter
    if posixpath.isabs(store):
        rel = posixpath.relpath(posixpath.normpath(store), posixpath.normpath(root))
    else:
        rel = posixpath.normpath(store)
    if rel == "..":
        return None
    if rel.startswith("../"):
        return None
    return "" if rel == "." else rel


def relevant_lines(path: str, data: bytes | None, folders: Iterable[str]) -> list[Line]:
    """The lines of the attributes file ``path`` (None: no such file) that could apply to a file under one
    of ``folders``, in order, with every macro definition if it is the top one (the only place git reads
    them)."""
    base = posixpath.dirname(path)
    folders = list(folders)
    out = []
    for line in parse(data or b""):
        if line.pattern is None:
            if not base:
                out.append(line)
        elif any(could_apply(line.pattern, base, folder) for folder in folders):
            out.append(line)
    return out


def attributes_change(path: str, old: bytes | None, new: bytes | None, folders: Iterable[str]) -> str | None:
    """Why the change of the attributes file ``path`` from ``old`` to ``new`` (None: absent) could change the
    attributes of a file under one of ``folders``, or None if it cannot."""
    folders = list(folders)
    if path == ATTRIBUTES_PATH:
        if old == new:
            return None
        pinned = pinned_attributes()
        if new is None:
            now = "removed"
        elif new == pinned:
            now = ("added (exactly gitreg's own, as a migration adds them)" if old is None
                   else "set back to gitreg's own")
        else:
            now = "changed: no longer gitreg's own" if old == pinned else "changed, and not gitreg's own"
        return (f"gitreg's pinned attributes {now}; they keep every file under .mcp/ stored, checked out,"
                " diffed and merged as exactly the bytes gitreg wrote")
    before = [(line.text, line.pattern, line.macro) for line in relevant_lines(path, old, folders)]
    after_lines = relevant_lines(path, new, folders)
    after = [(line.text, line.pattern, line.macro) for line in after_lines]
    if before == after:
        return None
    added = [line.text for line in after_lines if (line.text, line.pattern, line.macro) not in before]
    gone = [text for text, _p, _m in before if (text, _p, _m) not in after]
    said = f"adds `{added[0]}`" if added else f"removes `{gone[0]}`" if gone else "reorders its lines"
    more = len(added) + len(gone) - 1
    where = " and ".join(f"{folder}/" if folder else "the whole repository" for folder in folders)
    return (f"{said}{f' (and {more} more)' if more > 0 else ''}, which could apply to {where}: attributes"
            " decide the bytes git stores and checks out (line endings, filters, encodings), what a diff"
            " shows and how a merge combines changes")


# ---------------------------------------------------------------- the write path

def rewriting_line(data: bytes, top: bytes | None, paths: Iterable[str], runs_filter: Callable[[str], bool],
                   is_folder: Callable[[str], bool]) -> tuple[Line, str, object, str] | None:
    """(line, attribute, value, path) for a line of ``info/attributes`` (``data``; ``top``: the top
    ``.gitattributes``, for its macros) that makes git store other bytes than gitreg writes for a file under
    one of ``paths`` (or that path itself), and that no later line takes back; None if there is none.
    ``runs_filter(name)``: whether the filter driver ``name`` has a command git runs (or is required);
    ``is_folder(path)``: whether a path is a folder."""
    lines = parse(data)
    macros = macros_of(top, data)
    for attr in REWRITING:
        for path in paths:
            culprit: tuple[Line, str, object, str] | None = None
            for line in lines:
                if line.pattern is None:
                    continue
                states = expanded(line, macros)
                if attr not in states:
                    continue
                value = states[attr]
                if _rewrites(attr, value, runs_filter):
                    if could_apply(line.pattern, "", path, written_name, itself=True):
                        culprit = (line, attr, value, path)
                elif covers(line.pattern, path, is_folder(path)):
                    culprit = None
            if culprit is not None:
                return culprit
    return None


def _rewrites(attr: str, value: object, runs_filter: Callable[[str], bool]) -> bool:
    if attr == "filter":
        return isinstance(value, str) and runs_filter(value)
    if attr == "ident":
        return value is True
    # working-tree-encoding: git refuses true, and converts to any encoding other than UTF-8
    return value is True or (isinstance(value, str) and value.lower().replace("-", "") not in ("", "utf8"))
