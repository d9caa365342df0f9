"""The tag grammar: pure formatting and parsing of gitreg's git tags.

    <prefix>/<model>/v<N>             registration of version N
    <prefix>/<model>/<stage>/<seq>    the seq-th assignment of <stage> in <model>

A stage tag's message starts with ``<model> v<N> -> <stage>``; its body holds
``key: value`` lines (version, previous stage, demoted versions, by, reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import InvalidNameError
from .stages import STORED_STAGES


@dataclass(frozen=True)
class VersionTag:
    prefix: str
    model: str
    number: int

    @property
    def name(self) -> str:
        return f"{self.prefix}/{self.model}/v{self.number}"


@dataclass(frozen=True)
class StageTag:
    prefix: str
    model: str
    stage: str
    seq: int

    @property
    def name(self) -> str:
        return f"{self.prefix}/{self.model}/{self.stage}/{self.seq}"


@dataclass(frozen=True)
class StageTagMessage:
    model: str
    number: int
    stage: str
    previous_stage: str
    demoted: tuple[int, ...] = ()
    by: str = ""
    reason: str = ""
    extra: tuple[tuple[str, str], ...] = field(default=())


MAX_PREFIX_LENGTH = 100
_PREFIX_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def tag_prefix_problem(prefix: object) -> str | None:
    """Why ``prefix`` cannot start gitreg's tag names, or None if it can.

    A prefix is one or more ``/``-separated components of letters, digits, ``.``,
    ``_`` and ``-``, each starting with a letter or digit; and, as git's ref-name
    rules demand (git-check-ref-format), no ``..`` and no component ending in
    ``.lock`` (nor, to be safe on every file system, in ``.`` or ``.LOCK``).
    Every tag ``<prefix>/<model>/...`` it starts is then a valid ref name.
    """
    if not isinstance(prefix, str):
        return "must be a string"
    if not prefix:
        return "must not be empty"
    if len(prefix) > MAX_PREFIX_LENGTH:
        return f"longer than {MAX_PREFIX_LENGTH} characters"
    bad = sorted({c for c in prefix if not (c.isascii() and (c.isalnum() or c in "._-/"))})
    if bad:
        return f"contains {', '.join(repr(c) for c in bad)}; use letters, digits, '.', '_', '-' and '/'"
    if prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        return "must not start or end with '/' or contain '//'"
    if ".." in prefix:
        return "must not contain '..'"
    for component in prefix.split("/"):
        if not _PREFIX_COMPONENT.fullmatch(component):
            return f"{component!r} must start with a letter or a digit"
        if component.endswith(".") or component.lower().endswith(".lock"):
            return f"{component!r} must not end in '.' or '.lock'"
    return None


def validate_tag_prefix(prefix: object) -> str:
    """Return ``prefix`` if tags can start with it, else raise InvalidNameError saying why."""
    problem = tag_prefix_problem(prefix)
    if problem is not None:
        raise InvalidNameError("tag prefix", prefix, problem)
    return prefix  # type: ignore[return-value]  # a str: tag_prefix_problem refuses anything else


_VERSION_RE = re.compile(r"v([1-9][0-9]*)")
_SEQ_RE = re.compile(r"[1-9][0-9]*")


def format_version_tag(prefix: str, model: str, number: int) -> str:
    return VersionTag(prefix, model, number).name


def format_stage_tag(prefix: str, model: str, stage: str, seq: int) -> str:
    return StageTag(prefix, model, stage, seq).name


@lru_cache(maxsize=16)
def _tag_re(prefix: str) -> re.Pattern[str]:
    stages = "|".join(re.escape(s) for s in STORED_STAGES)
    return re.compile(rf"(?:refs/tags/)?{re.escape(prefix)}/([^/]+)/(?:v([1-9][0-9]*)|({stages})/([1-9][0-9]*))")


def parse_tag(prefix: str, tag: str) -> VersionTag | StageTag | None:
    """Parse a tag name (with or without ``refs/tags/``); None if not gitreg's."""
    m = _tag_re(prefix).fullmatch(tag)
    if m is None:
        return None
    if m.group(2) is not None:
        return VersionTag(prefix, m.group(1), int(m.group(2)))
    return StageTag(prefix, m.group(1), m.group(3), int(m.group(4)))


_NUMBER = re.compile(r"[1-9][0-9]*")


def numbers_in(folder: str, refs: Iterable[str], lead: str = "") -> list[int]:
    """The numbers of the refs named ``<folder><lead><number>`` among ``refs`` (full ref names), read as
    :func:`parse_tag` reads them: ``numbers_in("refs/tags/models/iris/", refs, "v")`` are iris's
    registration tags, ``numbers_in("refs/tags/models/iris/production/", refs)`` its production
    assignments. One pass, no tag object per ref (a write reads every tag of its model)."""
    start = folder + lead
    at = len(start)
    return [int(ref[at:]) for ref in refs if ref.startswith(start) and _NUMBER.fullmatch(ref, at)]


def format_stage_message(msg: StageTagMessage) -> str:
    lines = [
        f"{msg.model} v{msg.number} -> {msg.stage}",
        "",
        f"version: {msg.number}",
        f"previous-stage: {msg.previous_stage}",
        "demoted: " + (", ".join(f"v{n}" for n in msg.demoted) if msg.demoted else "none"),
    ]
    if msg.by:
        lines.append(f"by: {msg.by}")
    if msg.reason:
        lines.append("reason: " + msg.reason.replace("\n", " ").strip())
    lines.extend(f"{k}: {v}" for k, v in msg.extra)
    return "\n".join(lines) + "\n"


_SUBJECT_RE = re.compile(r"(\S+) v([1-9][0-9]*) -> (\S+)")


def parse_stage_message(text: str) -> StageTagMessage | None:
    """Inverse of :func:`format_stage_message`; None if the subject does not match."""
    lines = text.strip("\n").splitlines()
    if not lines:
        return None
    m = _SUBJECT_RE.fullmatch(lines[0].strip())
    if not m:
        return None
    fields: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key in ("version", "previous-stage", "demoted", "by", "reason"):
            fields[key] = value
        else:
            extra.append((key, value))
    demoted_text = fields.get("demoted", "none")
    demoted = () if demoted_text == "none" else tuple(
        int(part.strip().lstrip("v")) for part in demoted_text.split(",") if part.strip()
    )
    return StageTagMessage(
        model=m.group(1),
        number=int(m.group(2)),
        stage=m.group(3),
        previous_stage=fields.get("previous-stage", "none"),
        demoted=demoted,
        by=fields.get("by", ""),
        reason=fields.get("reason", ""),
        extra=tuple(extra),
    )


def format_version_message(model: str, number: int, name: str, by: str = "", reason: str = "") -> str:
    lines = [f"{model} v{number} registered", "", f"version: {number}", f"name: {name}"]
    if by:
        lines.append(f"by: {by}")
    if reason:
        lines.append("reason: " + reason.replace("\n", " ").strip())
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class VersionTagMessage:
    model: str
    number: int
    name: str
    by: str = ""
    reason: str = ""


_REGISTERED_RE = re.compile(r"(\S+) v([1-9][0-9]*) registered")


def parse_version_message(text: str) -> VersionTagMessage | None:
    """Inverse of :func:`format_version_message`; None if the subject does not match."""
    lines = text.strip("\n").splitlines()
    m = _REGISTERED_RE.fullmatch(lines[0].strip()) if lines else None
    if not m:
        return None
    fields = {}
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        if sep:
            fields[key] = value
    return VersionTagMessage(m.group(1), int(m.group(2)), fields.get("name", m.group(2)),
                             fields.get("by", ""), fields.get("reason", ""))


@dataclass(frozen=True)
class DeleteSubject:
    """The first line of gitreg's commit that deletes a version (``number``) or a whole model (``number`` None)."""

    model: str
    number: int | None = None
    versions: int = 0  # for a model: how many versions it had

    def text(self) -> str:
        if self.number is not None:
            return f"{self.model} v{self.number}: delete version"
        return f"{self.model}: delete model ({self.versions} version(s))"

    def covers(self, model: str, number: int) -> bool:
        """Whether this delete removed version ``number`` of ``model``."""
        return self.model == model and self.number in (None, number)


_DELETE_VERSION_RE = re.compile(r"(\S+) v([1-9][0-9]*): delete version")
_DELETE_MODEL_RE = re.compile(r"(\S+): delete model \(([0-9]+) version\(s\)\)")


def format_delete_subject(model: str, number: int | None = None, versions: int = 0) -> str:
    return DeleteSubject(model, number, versions).text()


def parse_delete_subject(subject: str) -> DeleteSubject | None:
    """Inverse of :func:`format_delete_subject` (the subjects of ``delete_version``/``delete_model``)."""
    text = subject.strip()
    m = _DELETE_VERSION_RE.fullmatch(text)
    if m:
        return DeleteSubject(m.group(1), int(m.group(2)))
    m = _DELETE_MODEL_RE.fullmatch(text)
    if m:
        return DeleteSubject(m.group(1), None, int(m.group(2)))
    return None
