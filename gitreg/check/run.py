"""``gitreg check`` itself: the registry at one revision (manifests, runs, tags), answered from the
remembered report while its inputs stay the same."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ..names import is_valid_name
from ..state import MODELS_PATH, REGISTRY_PATH, Problem, load_checked
from .findings import CheckReport, accept, allowed_codes, with_lines
from .report_cache import remember_report, remembered_report, report_key
from .tags import ModelFolder, check_signatures, match_tags, scan_tags, show_ref
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
    config = load_checked(reg[1], "registry", REGISTRY_PATH, problems)
    prefix = config["tag_prefix"] if config else "models"
    current: dict[str, ModelFolder] = {}
    n_versions = 0
    models_tree = repo.read_tree(f"{commit}:{MODELS_PATH}")
    entries = list(models_tree[1]) if models_tree else []
    folders = [(e.name, e.oid) for e in entries if e.is_tree and is_valid_name(e.name)]
    tag_commit = commit if is_commit else None
    read_tags = (lambda: scan_tags(repo, tag_commit, rev, prefix, listing)) if tags else None
    summaries, scan = model_summaries(repo, folders, read_tags)  # the tags are read while workers validate
    del read_tags
    for entry in entries:
        if not entry.is_tree:
            problems.append(Problem(f"{MODELS_PATH}/{entry.name}", "",
                                    "unexpected file; .mcp/models/ holds one folder per model", code="unexpected-file"))
            continue
        if not is_valid_name(entry.name):
            problems.append(Problem(f"{MODELS_PATH}/{entry.name!r}", "", "not a valid model name (letters, digits,"
                                    " '.', '_', '-'); gitreg cannot read this folder: rename or remove it"))
            continue
        summary = summaries[entry.name]
        problems.extend(Problem(**p) for p in summary["problems"])
        current[entry.name] = ModelFolder(summary["counter"], frozenset(summary["numbers"]),
                                         {int(n): stage for n, stage in summary["stages"].items()})
        n_versions += summary["count"]
    del summaries
    _check_runs(repo, commit, problems)
    n_tags = 0
    if scan is not None:
        match_tags(repo, tag_commit, rev, prefix, scan, current, problems,
                   registration_tags=config.get("registration_tags", True) if config else True)
        n_tags = scan.count
    return prefix, CheckReport(commit, len(current), n_versions, n_tags, tuple(with_lines(repo, commit, problems)))


def _check_runs(repo: GitRepo, commit: str, problems: list[Problem]) -> None:
    """Every run manifest against its schema, named after its id."""
    from ..pipelines.runs import RUNS_PATH

    tree = repo.read_tree(f"{commit}:{RUNS_PATH}")
    entries = [e for e in tree[1] if not e.is_tree] if tree else []
    for entry, data in zip(entries, repo.read_blobs([e.oid for e in entries])):
        path = f"{RUNS_PATH}/{entry.name}"
        doc = load_checked(data, "run", path, problems)
        if doc is not None and f"{doc['id']}.yaml" != entry.name:
            problems.append(Problem(path, "id", f"is {doc['id']!r} but the file is {entry.name}"))
