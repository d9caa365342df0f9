"""Validating what a model folder holds, and the :class:`Problem` each finding is.

A cold read of a model validates it (schemas, the invariants within a version and across a model's
versions, the path grammar), and ``gitreg check`` reports every problem the same functions find: one
set of rules for reads and for the check, which builds on this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AmbiguousStageError, ManifestError
from ..layout import MODELS_PATH, STAGES_FILE, model_file, stages_file, version_file, version_file_number
from ..manifests import StageHolders, parse_yaml, schema_problems
from ..stages import RESERVED_VERSION_NAMES
from .model import stage_claims

if TYPE_CHECKING:
    from ..git import GitRepo


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the registry, located by file and field."""

    path: str
    field: str
    message: str
    severity: str = "error"  # or "warning"
    line: int | None = None  # 1-based line of the field in the file, when known
    code: str = "schema"     # the finding's stable code (see gitreg.check.FINDINGS)
    accepted: bool = False   # an error a maintainer accepted with ``--allow <code>``

    @property
    def blocking(self) -> bool:
        """An error nobody accepted: it fails the check."""
        return self.severity == "error" and not self.accepted

    def __str__(self) -> str:
        where = f"{self.path}:{self.field}" if self.field else self.path
        label = "accepted" if self.accepted else self.severity
        return f"{where}: {label}: {self.message} [{self.code}]"


def load_checked(data: bytes | None, kind: str, path: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        doc = parse_yaml(data or b"", path)
    except ManifestError as exc:
        problems.append(Problem(path, exc.field, exc.problem, code=getattr(exc, "code", None) or "schema"))
        return None
    found = schema_problems(kind, doc)
    problems.extend(Problem(path, f, m) for f, m in found)
    return None if found else doc


@dataclass
class ModelRead:
    """What reading one model folder found: the card, stages.yaml, the versions that read and those that do
    not.  ``fatal``: the problems that make the whole model unreadable (its card or stages.yaml, or an
    invariant across its versions); a version whose manifest does not read fails only reads of that version."""

    model: dict[str, Any] | None = None
    stages: dict[str, Any] | None = None
    versions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    unreadable: dict[int, tuple[str, str]] = dataclasses.field(default_factory=dict)
    count: int = 0  # version manifests present (readable or not)
    fatal: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def readable(self) -> bool:
        return self.model is not None and not self.fatal

    def docs(self, problems: list[Problem]) -> dict[str, Any]:
        """The documents cached for the folder (``problems``: what its readable state still warns about)."""
        return {"model": self.model, "versions": self.versions, "stages": self.stages,
                "unreadable": {str(n): list(why) for n, why in self.unreadable.items()},
                "warnings": [dataclasses.asdict(p) for p in problems]}


def _one_line(problems: list[Problem]) -> tuple[str, str]:
    """(field, problem) of the first of ``problems``, saying how many more there are."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more problem(s); run `gitreg check`)" if len(problems) > 1 else ""
    return first.field, first.message + more


def read_model_tree(repo: GitRepo, name: str, tree_oid: str, problems: list[Problem]) -> ModelRead:
    """Parse and validate one model folder (see :class:`ModelRead`).

    Every problem found is appended to ``problems``; ``gitreg check`` reports them all.  Only paths the
    grammar (:mod:`gitreg.layout`) names are read: any other entry is a problem and is never read.
    """
    from ..layout import grammar_problem

    path = f"{MODELS_PATH}/{name}"
    read = ModelRead()
    repo.prefetch([tree_oid])  # a blob-less clone: the folder's missing files in one fetch
    children: dict[str, Any] = {}
    for entry in repo.tree_entries(tree_oid):
        where = f"{path}/{entry.name}"
        if entry.name == "versions" and entry.is_tree:
            children[entry.name] = entry
            continue
        why = grammar_problem(where, entry.mode)
        if why is None:
            children[entry.name] = entry
        else:
            problems.append(Problem(where, "", f"unexpected file: {why}; gitreg never reads it",
                                    code="unexpected-file"))
    card = children.pop("model.yaml", None)
    if card is None:
        read.fatal.append(Problem(model_file(name), "", "missing: every model folder needs a model.yaml"))
    else:
        found: list[Problem] = []
        read.model = load_checked(repo.read_blobs([card.oid])[0], "model", model_file(name), found)
        if read.model and read.model["name"] != name:
            found.append(Problem(model_file(name), "name", f"is {read.model['name']!r} but the folder is {name!r}"))
            read.model = None
        read.fatal += found
    stages = children.pop(STAGES_FILE, None)
    if stages is not None:
        found = []
        read.stages = load_checked(repo.read_blobs([stages.oid])[0], "stages", stages_file(name), found)
        read.fatal += found
    folder = children.pop("versions", None)
    entries: list[tuple[int, Any]] = []
    for entry in repo.tree_entries(folder.oid) if folder is not None else []:
        vpath = f"{path}/versions/{entry.name}"
        why = grammar_problem(vpath, entry.mode) if not entry.is_tree else "a folder; version manifests are files"
        if why is not None:
            problems.append(Problem(vpath, "", f"unexpected file: {why}; gitreg never reads it",
                                    code="unexpected-file"))
            continue
        # the ignore: a name the grammar allows in versions/ is a number
        entries.append((version_file_number(entry.name), entry))  # type: ignore[arg-type]
    read.count = len(entries)
    for (number, _entry), data in zip(entries, repo.read_blobs([e.oid for _n, e in entries])):
        vpath = version_file(name, number)
        found = []
        doc = load_checked(data, "version", vpath, found)
        if doc is not None:
            try:
                check_version_doc(doc, name, number, vpath, found)
            except ManifestError as exc:
                found.append(Problem(exc.path, exc.field, exc.problem, code=getattr(exc, "code", None) or "schema"))
                doc = None
        problems.extend(found)
        if doc is None:
            read.unreadable[number] = _one_line([p for p in found if p.severity == "error"])
        else:
            read.versions.append(doc)
    read.versions.sort(key=lambda d: d["number"])
    if read.model is not None:
        try:
            check_model_invariants(read.model, read.versions, name, read.unreadable)
        except ManifestError as exc:
            read.fatal.append(Problem(exc.path, exc.field, exc.problem))
    problems.extend(read.fatal)
    return read


def stage_problems(name: str, read: ModelRead) -> list[Problem]:
    """A readable model folder's stage conflicts, as ``stage-conflict`` errors (reads of those stages fail,
    naming the claimants and the repair; every other read works)."""
    holders = StageHolders.from_dict(read.stages) if read.stages is not None else None
    claims = stage_claims(holders, {d["number"]: d["stage"] for d in read.versions}, read.unreadable,
                          {d["number"]: d.get("aliases") or () for d in read.versions})
    out = []
    for stage, (claimants, detail) in sorted(claims.items()):
        error = AmbiguousStageError(name, stage, claimants, detail)
        out.append(Problem(stages_file(name) if read.stages is not None else version_file(name, claimants[-1]),
                           stage if read.stages is not None else "stage", error.cli_message or error.message,
                           code="stage-conflict"))
    return out



def check_version_doc(doc: dict[str, Any], model: str, number: int, path: str,
                      warnings: list[Problem] | None = None) -> None:
    """Invariants of one version manifest beyond its schema (warnings, if any, go to ``warnings``)."""
    if doc["model"] != model:
        raise ManifestError(path, "model", f"is {doc['model']!r} but the folder is {model!r}")
    if doc["number"] != number:
        raise ManifestError(path, "number", f"is {doc['number']} but the file is {number}.yaml")
    label = doc["name"]
    if label != str(number) and (label.isdigit() or label.lower() in RESERVED_VERSION_NAMES):
        raise ManifestError(path, "name", f"{label!r} is a number or a stage word, not a version name")
    if warnings is not None and label[:1] in ("v", "V") and label[1:].isascii() and label[1:].isdigit():
        # written before `v<N>` meant version N: a lookup by this name now finds that number instead
        warnings.append(Problem(path, "name", f"{label!r} reads as version {int(label[1:])}, not as this"
                                f" version's name: rename it (`gitreg model version update {model} {number}"
                                " --name NEW`)"))
    seen = set()
    for i, link in enumerate(doc.get("artifacts") or ()):
        key = (link["name"], link["version"])
        if key in seen:
            raise ManifestError(path, f"artifacts.{i}", f"artifact {link['name']} v{link['version']} is linked twice")
        seen.add(key)
        _check_code_marker(link, f"artifacts.{i}.executes_code", path, warnings)


def _check_code_marker(link: dict[str, Any], field: str, path: str, warnings: list[Problem] | None) -> None:
    """``executes_code`` must say what the format does (the loader itself goes by the format).

    Links in the code formats that gitreg wrote before the marker existed
    (pickle, sklearn, pandas, torch) may lack it: a warning, so that old
    registries stay readable; any other disagreement is an error.
    """
    from ..materializers import LEGACY_UNMARKED_FORMATS, executes_code

    fmt, flag = link["format"], link.get("executes_code")
    if executes_code(fmt):
        if flag is True:
            return
        if flag is None and fmt in LEGACY_UNMARKED_FORMATS:
            if warnings is not None:
                warnings.append(Problem(path, field, f"missing: format {fmt!r} runs code when loaded; add"
                                        " `executes_code: true` to this link (written by an older gitreg)", "warning",
                                        code="unmarked-code-format"))
            return
        raise ManifestError(path, field, f"must be true: format {fmt!r} runs code when loaded")
    if flag is True:
        raise ManifestError(path, field, f"is true but format {fmt!r} does not run code when loaded; remove it")


def check_model_invariants(model_doc: dict[str, Any], versions: list[dict[str, Any]], name: str,
                           unreadable: Iterable[int] = ()) -> None:
    """Invariants across a model's versions: unique names, a counter at or above every number present.
    (Exclusive stages are not among them: a stage claimed twice fails reads of that stage only, see
    :func:`stage_claims`.)"""
    path = model_file(name)
    names: dict[str, int] = {}
    for doc in versions:
        vpath = version_file(name, doc["number"])
        if doc["name"] in names:
            raise ManifestError(vpath, "name", f"{doc['name']!r} is also the name of version {names[doc['name']]}")
        names[doc["name"]] = doc["number"]
    top = max([*(d["number"] for d in versions), *unreadable], default=0)
    if top and model_doc["counters"]["versions"] < top:
        raise ManifestError(path, "counters.versions", f"is {model_doc['counters']['versions']} but version {top}"
                                                       " exists")

