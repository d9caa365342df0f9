"""``gitreg check`` itself: the registry at one revision (manifests, runs, tags), answered from the
remembered report while its inputs stay the same."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..layout import MODELS_PATH, REGISTRY_PATH, stages_file
from ..names import is_valid_name
from ..state.validation import Problem, load_checked
from .findings import CheckReport, accept, allowed_codes, with_lines
from .folders import ModelFolder
from .report_cache import remember_report, remembered_report, report_key
from .tags import check_signatures, match_tags, scan_tags, show_ref
from .workers import model_summaries

if TYPE_CHECKING:
    from ..git import GitRepo


def check(repo: GitRepo, rev: str = "HEAD", tags: bool = True, verify_signatures: bool = False,
          allow: Iterable[str] = ()) -> CheckReport:
    """Check the registry at ``rev``; every problem is reported, none raised.

    ``tags``: also prove that tags and manifests agree and that tags tell the truth
    (not for a pull request's branch, whose tags come after the merge).
    ``verify_signatures``: every stage tag must carry a good signature by git's
    gpg/ssh configuration.  ``allow``: finding codes accepted deliberately.
    """
    allowed = allowed_codes(allow)
    commit = repo.resolve(f"{rev}^{{commit}}")
    is_commit = commit is not None
    commit = commit or repo.resolve(f"{rev}^{{tree}}")  # a tree: the staged state
    if commit is None:
        return CheckReport(None, 0, 0, 0, (Problem(rev, "", "no such commit; is anything committed yet?",
                                                   code="no-such-revision"),))
    listing = show_ref(repo) if tags else b""
    slot, inputs = report_key(repo, commit, is_commit, rev, tags, listing)
    found = remembered_report(repo, slot, inputs)
    if found is None:
        repo.complete_clone()  # every file is read: a blob-less clone gets all it lacks in one request
        text = listing.decode("utf-8", "replace")
        del listing  # held once, as text
        found = _check_at(repo, commit, is_commit, rev, tags, text)
        del text
        remember_report(repo, slot, inputs, *found)
    else:
        del listing
    prefix, report = found
    if any(p.code == "not-a-registry" for p in report.problems):
        return CheckReport(commit, 0, 0, 0, report.problems)
    problems = list(report.problems)
    n_tags = report.tags
    if verify_signatures:
        n_tags = max(n_tags, check_signatures(repo, prefix, problems))
    return CheckReport(commit, report.models, report.versions, n_tags, tuple(accept(problems, allowed)))


def _check_at(repo: GitRepo, commit: str, is_commit: bool, rev: str, tags: bool,
              listing: str) -> tuple[str, CheckReport]:
    """(tag prefix, report) of the registry at ``commit``: every problem, with its line, none accepted."""
    problems: list[Problem] = []
    reg = repo.read_blob(f"{commit}:{REGISTRY_PATH}")
    if reg is None:
        return "models", CheckReport(commit, 0, 0, 0, (Problem(REGISTRY_PATH, "", "missing: not a gitreg registry"
                                                               " (run `gitreg init`)", code="not-a-registry"),))
    config = _registry_doc(reg[1], problems)
    prefix = config["tag_prefix"] if config else "models"
    _check_layout(repo, commit, problems)
    current: dict[str, ModelFolder] = {}
    n_versions = 0
    models_tree = repo.read_tree(f"{commit}:{MODELS_PATH}")
    entries = list(models_tree[1]) if models_tree else []
    folders = [(e.name, e.oid) for e in entries if e.is_tree and is_valid_name(e.name)]
    tag_commit = commit if is_commit else None
    read_tags = (lambda: scan_tags(repo, tag_commit, rev, prefix, listing)) if tags else None
    summaries, scan = model_summaries(repo, folders, read_tags)  # the tags are read while workers validate
    del read_tags
    layout = config.get("format", 1) if config else 1
    folded: dict[str, str] = {}
    for entry in entries:
        if not entry.is_tree:
            problems.append(Problem(f"{MODELS_PATH}/{entry.name}", "",
                                    "unexpected file; .mcp/models/ holds one folder per model", code="unexpected-file"))
            continue
        if not is_valid_name(entry.name):
            problems.append(Problem(f"{MODELS_PATH}/{entry.name!r}", "", "not a valid model name (letters, digits,"
                                    " '.', '_', '-'; no Windows device names such as con or nul); gitreg never reads"
                                    " this folder: rename or remove it", code="unexpected-file"))
            continue
        twin = folded.setdefault(entry.name.casefold(), entry.name)
        if twin != entry.name:
            problems.append(Problem(f"{MODELS_PATH}/{entry.name}", "", f"differs from the model {twin!r} only in case:"
                                    " the two folders are one on macOS and Windows; rename or remove one",
                                    code="case-clash"))
        summary = summaries[entry.name]
        problems.extend(Problem(**p) for p in summary["problems"])
        if layout >= 2 and summary["stages"] and not summary.get("has_stages_file"):
            problems.append(Problem(stages_file(entry.name), "", "missing: a version of this model holds an exclusive"
                                    " stage, and in registry format 2 stages.yaml must name it (one line per stage,"
                                    " so that git turns two concurrent promotions into a conflict); set the stage"
                                    " again with gitreg, which writes it", code="stages-missing"))
        current[entry.name] = ModelFolder(summary["counter"], frozenset(summary["numbers"]),
                                         {int(n): stage for n, stage in summary["stages"].items()})
        n_versions += summary["count"]
    del summaries
    if layout >= 2:
        _check_claims(repo, commit, sorted(current), problems)
    _check_runs(repo, commit, problems)
    n_tags = 0
    if scan is not None:
        match_tags(repo, tag_commit, rev, prefix, scan, current, problems,
                   registration_tags=config.get("registration_tags", True) if config else True)
        n_tags = scan.count
    return prefix, CheckReport(commit, len(current), n_versions, n_tags, tuple(with_lines(repo, commit, problems)))


def _registry_doc(data: bytes, problems: list[Problem]) -> dict[str, Any] | None:
    """registry.yaml checked against its schema; a format newer than this gitreg reads is said in those words."""
    from ..errors import ManifestError
    from ..manifests import REGISTRY_FORMAT, newer_format, parse_yaml

    try:
        newer = newer_format(parse_yaml(data, REGISTRY_PATH))
    except ManifestError:
        newer = None  # load_checked reports it
    if newer is not None:
        problems.append(Problem(REGISTRY_PATH, "format", f"registry format {newer} is newer than this gitreg reads"
                                f" (up to {REGISTRY_FORMAT}); upgrade gitreg: `pip install -U gitreg-registry`"))
        return None
    return load_checked(data, "registry", REGISTRY_PATH, problems)


def _check_layout(repo: GitRepo, commit: str, problems: list[Problem]) -> None:
    """Every entry of .mcp/ and .mcp/runs/ where the grammar (gitreg.layout) has a place for it; model folders
    are checked as they are read."""
    from ..attributes import ATTRIBUTES_PATH, pinned_attributes
    from ..layout import MCP, NAMES_PATH, RUNS_PATH, grammar_problem

    top = repo.read_tree(f"{commit}:{MCP}")
    for entry in top[1] if top else []:
        path = f"{MCP}/{entry.name}"
        if path in (MODELS_PATH, RUNS_PATH, NAMES_PATH):
            if not entry.is_tree:
                problems.append(Problem(path, "", "must be a folder", code="unexpected-file"))
            continue
        why = grammar_problem(path, entry.mode) or (None if path in (REGISTRY_PATH, ATTRIBUTES_PATH)
                                                   else "no place in the registry")
        if why is not None:
            problems.append(Problem(path, "", f"unexpected file: {why}; gitreg never reads it", code="unexpected-file"))
        elif path == ATTRIBUTES_PATH and repo.read_blobs([entry.oid])[0] != pinned_attributes():
            problems.append(Problem(path, "", "differs from the attributes gitreg pins for .mcp/: git may then give"
                                    " its files other bytes than gitreg wrote (line endings, filters); restore it"
                                    " (`gitreg migrate` writes it when it is missing)", code="attributes-changed"))
    for folder in (RUNS_PATH, NAMES_PATH):
        found = repo.read_tree(f"{commit}:{folder}")
        for entry in found[1] if found else []:
            path = f"{folder}/{entry.name}"
            why = grammar_problem(path, entry.mode)
            if why is not None:
                problems.append(Problem(path, "", f"unexpected file: {why}; gitreg never reads it",
                                        code="unexpected-file"))


def _check_claims(repo: GitRepo, commit: str, models: list[str], problems: list[Problem]) -> None:
    """Registry format 2: every model's name is claimed, whatever its case, by ``names/<lower-case>.yaml``
    naming it exactly, and every claim names a model (see gitreg.layout)."""
    from ..layout import NAMES_PATH, classify, name_claim_file
    from ..manifests import dump_yaml

    tree = repo.read_tree(f"{commit}:{NAMES_PATH}")
    entries = {f"{NAMES_PATH}/{e.name}": e for e in (tree[1] if tree else []) if e.mode == "100644"}
    claims = {path: e for path, e in entries.items() if classify(path) is not None}
    data = dict(zip(claims, repo.read_blobs([e.oid for e in claims.values()])))
    for name in models:
        path = name_claim_file(name)
        if path not in data:
            problems.append(Problem(path, "", f"missing: in registry format 2 every model's name is claimed here"
                                    f" (`model: {name}`), so that git turns two new models whose names differ only"
                                    " in case into a conflict; `gitreg migrate` writes the claims a registry lacks",
                                    code="name-claim"))
        elif data[path] != dump_yaml({"model": name}):
            problems.append(Problem(path, "model", f"does not claim the name for the model {name!r} (it must read"
                                    f" `model: {name}`)", code="name-claim"))
    folded = {m.lower() for m in models}
    for path in data:
        found = classify(path)  # (a claim: see claims above)
        claimed = found.model if found is not None else None
        if claimed not in folded:
            problems.append(Problem(path, "", f"claims a name no model has ({claimed!r}); remove it",
                                    code="name-claim"))


def _check_runs(repo: GitRepo, commit: str, problems: list[Problem]) -> None:
    """Every run manifest against its schema, named after its id."""
    from ..pipelines.runs import RUNS_PATH

    tree = repo.read_tree(f"{commit}:{RUNS_PATH}")
    from ..layout import classify

    entries = [e for e in tree[1] if e.mode == "100644" and classify(f"{RUNS_PATH}/{e.name}")] if tree else []
    for entry, data in zip(entries, repo.read_blobs([e.oid for e in entries])):
        path = f"{RUNS_PATH}/{entry.name}"
        doc = load_checked(data, "run", path, problems)
        if doc is not None and f"{doc['id']}.yaml" != entry.name:
            problems.append(Problem(path, "id", f"is {doc['id']!r} but the file is {entry.name}"))
