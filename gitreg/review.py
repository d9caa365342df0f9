"""``gitreg check --base REF``: what a branch changes relative to REF, for pull-request CI.

On top of the full check of the branch (schemas, exclusive stages, names), the
change itself must be legal:

- history is never rewritten: REF must be an ancestor of the branch;
- a registered version is immutable: its number, creation time and every artifact
  link's URI, hash and size stay as registered;
- nothing is deleted (a model, a version, an artifact link) without ``allow_delete``;
- numbers are never reused: counters never go down, a new version is numbered
  above every number the base had allocated;
- stage moves are legal: a version that held a stage never goes back to ``none``
  (archive it instead).

Tags are not checked here: a pull request's promotion is tagged after its merge.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .check import CheckReport, check, with_lines
from .gitrepo import GitRepo
from .state import MODELS_PATH, Problem, model_file, validated_model, version_file


def _models(repo: GitRepo, commit: str) -> dict[str, dict[str, Any]]:
    """Model name -> {"model": doc, "versions": {number: doc}} for every model that reads at ``commit``."""
    out: dict[str, dict[str, Any]] = {}
    tree = repo.read_tree(f"{commit}:{MODELS_PATH}")
    for entry in tree[1] if tree else []:
        if not entry.is_tree:
            continue
        ignored: list[Problem] = []
        docs, versions, _count = validated_model(repo, entry.name, entry.oid, ignored)
        model_doc = docs["model"] if docs else None
        files = repo.read_tree(f"{commit}:{MODELS_PATH}/{entry.name}/versions")
        present = {e.name for e in files[1]} if files else set()
        out[entry.name] = {"model": model_doc, "versions": {v["number"]: v for v in versions}, "files": present}
    return out


def check_change(repo: GitRepo, base: str, rev: str = "HEAD", allow_delete: bool = False,
                 verify_signatures: bool = False) -> CheckReport:
    report = check(repo, rev, tags=False, verify_signatures=verify_signatures)
    if report.commit is None:
        return report
    problems = list(report.problems)
    base_commit = repo.resolve(f"{base}^{{commit}}")
    if base_commit is None:
        problems.append(Problem(base, "", "no such commit to compare with; fetch it first (e.g. `git fetch origin"
                                          " main`, and `fetch-depth: 0` in CI)"))
        return replace(report, problems=tuple(problems))
    if not repo.is_ancestor(base_commit, report.commit):
        problems.append(Problem(rev, "", f"does not contain {base} ({base_commit[:12]}): history was rewritten,"
                                         f" or the branch is behind; gitreg never rewrites history — merge or"
                                         f" rebase onto {base} (pull-request CI checks the merge result)"))
        return replace(report, problems=tuple(problems))
    if base_commit != report.commit:
        problems.extend(_compare(_models(repo, base_commit), _models(repo, report.commit), allow_delete))
        problems.extend(_compare_runs(repo, base_commit, report.commit, allow_delete))
    return replace(report, problems=tuple(with_lines(repo, report.commit, problems)))


def _compare_runs(repo: GitRepo, base: str, head: str, allow_delete: bool) -> list[Problem]:
    """A recorded run is history: never edited, deleted only with ``allow_delete``."""
    from .runs import RUNS_PATH

    def files(commit: str) -> dict[str, str]:
        tree = repo.read_tree(f"{commit}:{RUNS_PATH}")
        return {e.name: e.oid for e in tree[1]} if tree else {}

    problems: list[Problem] = []
    after = files(head)
    for name, oid in files(base).items():
        path = f"{RUNS_PATH}/{name}"
        if name not in after:
            msg = _deleted(f"the record of run {name[:-5]}", allow_delete)
            if msg:
                problems.append(Problem(path, "", msg))
        elif after[name] != oid:
            problems.append(Problem(path, "", "a recorded run was edited; run records are history and never change"))
    return problems


def _deleted(what: str, allow: bool) -> str | None:
    return None if allow else f"{what} was deleted; pass --allow-delete (allow_delete=True) if that is intended"


def _compare(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], allow_delete: bool) -> list[Problem]:
    problems: list[Problem] = []
    for name, before in old.items():
        after = new.get(name)
        if after is None:
            msg = _deleted(f"model {name!r} with {len(before['versions'])} version(s)", allow_delete)
            if msg:
                problems.append(Problem(model_file(name), "", msg))
            continue
        problems.extend(_compare_model(name, before, after, allow_delete))
    return problems


def _compare_model(name: str, before: dict[str, Any], after: dict[str, Any], allow_delete: bool) -> list[Problem]:
    problems: list[Problem] = []
    old_card, new_card = before["model"], after["model"]
    if old_card and new_card:
        for key, old_value in old_card["counters"].items():
            if new_card["counters"].get(key, 0) < old_value:
                problems.append(Problem(model_file(name), f"counters.{key}",
                                        f"went down from {old_value} to {new_card['counters'].get(key, 0)};"
                                        " counters never go back, so numbers are never reused"))
    allocated = old_card["counters"]["versions"] if old_card else 0
    for number, old in before["versions"].items():
        new = after["versions"].get(number)
        path = version_file(name, number)
        if new is None and f"{number}.yaml" in after["files"]:
            continue  # present but invalid: the full check reports it
        if new is None:
            msg = _deleted(f"{name} v{number}", allow_delete)
            if msg:
                problems.append(Problem(path, "", msg))
            continue
        problems.extend(_compare_version(path, old, new, allow_delete))
    for number in sorted(set(after["versions"]) - set(before["versions"])):
        if number <= allocated:
            problems.append(Problem(version_file(name, number), "number",
                                    f"{number} was already allocated (the base's counter is {allocated});"
                                    " numbers are never reused: register the version with gitreg"))
    return problems


def _compare_version(path: str, old: dict[str, Any], new: dict[str, Any], allow_delete: bool) -> list[Problem]:
    problems: list[Problem] = []
    for key in ("model", "number", "created"):
        if old.get(key) != new.get(key):
            problems.append(Problem(path, key, f"changed from {old.get(key)!r} to {new.get(key)!r}; a registered"
                                               " version's identity is immutable"))
    if old["stage"] != "none" and new["stage"] == "none":
        problems.append(Problem(path, "stage", f"moved from {old['stage']} back to none; a version that held a"
                                               " stage keeps a record of it: archive it instead"))
    links = {(a["name"], a["version"]): (i, a) for i, a in enumerate(new.get("artifacts") or [])}
    for link in old.get("artifacts") or []:
        ident = (link["name"], link["version"])
        if ident not in links:
            msg = _deleted(f"the link to artifact {link['name']} v{link['version']}", allow_delete)
            if msg:
                problems.append(Problem(path, "artifacts", msg))
            continue
        i, now = links[ident]
        for attr in ("uri", "sha256", "size"):
            if link.get(attr) != now.get(attr):
                problems.append(Problem(path, f"artifacts.{i}.{attr}",
                                        f"artifact {link['name']} v{link['version']}: {attr} changed from"
                                        f" {link.get(attr)!r} to {now.get(attr)!r}; registered artifacts are"
                                        " immutable (link a new artifact version instead)"))
    return problems
