"""The findings of ``gitreg check`` and ``gitreg check --base``: their stable codes, what each means and
whether a maintainer may accept it, the report they make up, and the line of each in its file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..errors import InvalidValueError

if TYPE_CHECKING:
    from ..git import GitRepo
    from ..state.validation import Problem


@dataclass(frozen=True)
class Finding:
    """What a finding code means, and whether a maintainer may accept it (else it must be fixed)."""

    code: str
    meaning: str
    acceptable: bool = True
    warning: bool = False  # only ever a warning: it fails nothing, so nothing needs accepting


FINDINGS: dict[str, Finding] = {f.code: f for f in (
    # the registry at one revision
    Finding("no-such-revision", "the revision to check does not exist", False),
    Finding("not-a-registry", ".mcp/registry.yaml is missing", False),
    Finding("schema", "a manifest is not valid YAML, does not match its JSON Schema, or contradicts its file"
                      " name, folder or the other versions (duplicate names or links, counter below a version)",
            False),
    Finding("yaml-type", "a manifest holds a value JSON has no word for: a YAML date or timestamp, binary, set,"
                         " ordered map, another tag, a merge key, a key that is not a string, .nan or .inf", False),
    Finding("unexpected-file", "a file gitreg does not know where it expects only manifests", False),
    Finding("stage-conflict", "an exclusive stage (staging, production) or an alias is claimed by two versions, or"
                              " stages.yaml and the version manifests disagree on who holds it", False),
    Finding("stages-missing", "registry format 2: a model with a version in an exclusive stage has no stages.yaml",
            False),
    Finding("case-clash", "two model folders differ only in case (one folder on macOS and Windows)", False),
    Finding("name-claim", "registry format 2: a model's name claim (.mcp/names/<lower-case name>.yaml) is missing"
                          " or names another model, or a claim names no model", False),
    # tags against manifests and history
    Finding("tag-name", "a tag under the prefix that is not a gitreg tag name", warning=True),
    Finding("tag-lightweight", "a lightweight tag where gitreg makes annotated ones", warning=True),
    Finding("unmarked-code-format", "a link in a format that runs code when loaded (pickle and kin), written by an"
                                    " older gitreg without `executes_code: true`", warning=True),
    Finding("unknown-format", "a link's format is none gitreg knows (the message lists those it does): no load can"
                              " read it"),
    Finding("trusted-type-refused", "a link's trusted_types names a type gitreg never trusts because it can reach"
                                    " code (eval, os, subprocess, pickle, ...): every load of the link is refused",
            False),
    Finding("tag-message", "a stage tag whose message does not read '<model> v<N> -> <stage>', or a registration"
                           " tag v<N> whose message does not read '<model> v<N> registered'"),
    Finding("tag-missing", "a registered version or a stage assignment without its tag (`gitreg tags sync`)"),
    Finding("tag-stale", "a version holds a stage, but the latest tag of that stage moved another version there"),
    Finding("tag-moved", "a tag points at a commit that did not make the change its name records"),
    Finding("tag-mismatch", "a tag's message disagrees with the commit it points at: its by: is neither that"
                            " commit's author, its committer nor the promoter the commit message records, its"
                            " reason is not the one the commit message records, or its previous stage is not the"
                            " one the version left there"),
    Finding("tag-unreachable", "a tag points at a commit outside the history of the checked revision"),
    Finding("signature", "a stage tag's signature does not verify (--verify-signatures)"),
    Finding("unrecorded-delete", "a registered version's manifest (or its model) is gone, but no gitreg delete"
                                 " removed it: a revert, or a commit from a stale index"),
    Finding("counter-lowered", "a counter went down, or is below a number already registered: numbers would be"
                               " reused"),
    # a change against its base (--base)
    Finding("base-missing", "the base to compare with does not exist (fetch it)", False),
    Finding("history-rewritten", "the base is not an ancestor of the revision", False),
    Finding("registry-changed", ".mcp/registry.yaml changed (store, tag prefix, remote, options)"),
    Finding("attributes-changed", "a .gitattributes changed whose lines could apply to files under .mcp/ or the"
                                  " artifact store (or .mcp/.gitattributes, gitreg's pinned attributes, did): they"
                                  " decide the bytes git stores and checks out, what a diff shows, how merges go"),
    Finding("model-deleted", "a model was deleted (also accepted by --allow-delete)"),
    Finding("version-deleted", "a version was deleted (also accepted by --allow-delete)"),
    Finding("link-removed", "an artifact link was removed from an existing version (also accepted by"
                            " --allow-delete)"),
    Finding("run-deleted", "a recorded pipeline run was deleted (also accepted by --allow-delete)"),
    Finding("run-changed", "a recorded pipeline run was edited"),
    Finding("identity-changed", "a version's model, number or creation time changed"),
    Finding("version-renamed", "an existing version's name changed: what a lookup by name loads changes"),
    Finding("stage-to-none", "a version that held a stage went back to none"),
    Finding("number-reused", "a new version takes a number the base had already allocated"),
    Finding("link-added", "an artifact link was added to a version that exists at the base"),
    Finding("link-changed", "a field of an existing artifact link changed (uri, sha256, size, kind, type,"
                            " external, ...)"),
    Finding("format-changed", "the format of an existing artifact link changed: the same bytes decode"
                              " differently"),
    Finding("executes-code", "an added or changed link, or a new version's link, is in a format whose loading"
                             " runs code (pickle and kin)"),
    Finding("uri-outside-store", "an added or changed link, or a new version's link, is not read from the base's"
                                 " store (its content address there), or is linked in place (external)"),
    Finding("trusted-types-changed", "the trusted_types of an existing artifact link changed (added, removed or"
                                     " edited): what a load trusts its bytes to hold changes"),
    Finding("trusted-types", "an added link, or a new version's link, makes loads trust types beyond the format's"
                             " own (listed, for the reviewer)", warning=True),
    Finding("promotes-unreviewed", "the change puts a version into an exclusive stage (staging, production), or"
                                   " gives it an alias, that it also registers, or whose artifact links it adds"
                                   " or changes: bytes that were never on the base branch go straight to that"
                                   " stage or alias"),
    Finding("store-files-added", "the change adds or changes files under the artifact store's path inside the"
                                 " repository (git-ignored, so only force-added): bytes a load may read that no"
                                 " gitreg write stored"),
)}

#: The codes ``--allow-delete`` accepts.
DELETE_CODES = frozenset({"model-deleted", "version-deleted", "link-removed", "run-deleted"})


def allowed_codes(allow: Iterable[str] = (), allow_delete: bool = False) -> frozenset[str]:
    """The finding codes a maintainer accepts; an unknown or unacceptable code is an error."""
    codes = set(DELETE_CODES if allow_delete else ())
    for code in allow:
        finding = FINDINGS.get(code)
        if finding is None:
            raise InvalidValueError(f"--allow {code}: no such finding code; known: {', '.join(sorted(FINDINGS))}")
        if not finding.acceptable:
            raise InvalidValueError(f"--allow {code}: a {code} finding ({finding.meaning}) cannot be accepted,"
                                    " only fixed")
        codes.add(code)
    return frozenset(codes)


def approval(code: str) -> str | None:
    """The option that accepts a finding with ``code`` (``--allow <code>``), or None if it needs none or a fix."""
    finding = FINDINGS.get(code)
    return f"--allow {code}" if finding is not None and finding.acceptable and not finding.warning else None


def accept(problems: Iterable[Problem], allow: frozenset[str]) -> list[Problem]:
    """``problems`` with the errors whose code is in ``allow`` marked accepted (still listed)."""
    return [replace(p, accepted=True) if p.severity == "error" and p.code in allow else p for p in problems]


@dataclass(frozen=True)
class CheckReport:
    commit: str | None
    models: int
    versions: int
    tags: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        """Errors that fail the check (accepted ones excluded)."""
        return [p for p in self.problems if p.blocking]

    @property
    def accepted(self) -> list[Problem]:
        return [p for p in self.problems if p.accepted]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def locate(text: str, field: str) -> int:
    """The 1-based line of ``field`` (e.g. ``artifacts.0.sha256``) in a manifest, 1 if not found."""
    lines = text.splitlines()
    pos, found = 0, 0
    for part in field.split(".") if field else []:
        if part.isdigit():
            items = [i for i in range(pos, len(lines)) if lines[i].lstrip().startswith("- ")]
            if int(part) >= len(items):
                break
            pos = found = items[int(part)]
            continue
        for i in range(pos, len(lines)):
            if lines[i].lstrip().lstrip("- ").startswith(f"{part}:"):
                pos = found = i
                break
        else:
            break
    return found + 1


def with_lines(repo: GitRepo, commit: str, problems: list[Problem]) -> list[Problem]:
    """``problems`` with the line of each field in its file at ``commit`` (for annotations).

    The files are read in batches (one exchange with git for many), each file once.
    """
    paths = list(dict.fromkeys(p.path for p in problems if p.line is None and p.path.endswith(".yaml")))
    lines: dict[tuple[str, str], int] = {}
    for first in range(0, len(paths), 1000):
        batch = paths[first:first + 1000]
        texts = {path: (data or b"").decode("utf-8", "replace")
                 for path, data in zip(batch, repo.read_blobs([f"{commit}:{path}" for path in batch]))}
        for p in problems:
            if p.path in texts and (p.path, p.field) not in lines:
                lines[(p.path, p.field)] = locate(texts[p.path], p.field)
    return [replace(p, line=lines[(p.path, p.field)]) if (p.path, p.field) in lines and p.line is None else p
            for p in problems]
