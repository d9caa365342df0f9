"""``gitreg check``: every manifest against its schema, the stage invariants, and
agreement between manifests and tags.  Collects every problem, not just the first."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .gitrepo import GitRepo
from .state import MODELS_PATH, REGISTRY_PATH, Problem, load_checked, validated_model
from .tagnames import StageTag, VersionTag, parse_stage_message, parse_tag


@dataclass(frozen=True)
class CheckReport:
    commit: str | None
    models: int
    versions: int
    tags: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def check(repo: GitRepo, rev: str = "HEAD", tags: bool = True, verify_signatures: bool = False) -> CheckReport:
    """Check the registry at ``rev``; every problem is reported, none raised.

    ``tags``: also prove that tags and manifests agree (not for a pull request's
    branch, whose tags come after the merge).  ``verify_signatures``: every stage
    tag must carry a good signature by git's gpg/ssh configuration.
    """
    commit = repo.resolve(f"{rev}^{{commit}}") or repo.resolve(f"{rev}^{{tree}}")  # a tree: the staged state
    problems: list[Problem] = []
    if commit is None:
        return CheckReport(None, 0, 0, 0, (Problem(rev, "", "no such commit; is anything committed yet?"),))
    reg = repo.read_blob(f"{commit}:{REGISTRY_PATH}")
    if reg is None:
        return CheckReport(commit, 0, 0, 0, (Problem(REGISTRY_PATH, "", "missing: not a gitreg registry (run `gitreg init`)"),))
    config = load_checked(reg[1], "registry", REGISTRY_PATH, problems)
    prefix = config["tag_prefix"] if config else "models"
    current: dict[str, list[dict[str, Any]]] = {}
    n_versions = 0
    models_tree = repo.read_tree(f"{commit}:{MODELS_PATH}")
    for entry in models_tree[1] if models_tree else []:
        if not entry.is_tree:
            problems.append(Problem(f"{MODELS_PATH}/{entry.name}", "", "unexpected file; .mcp/models/ holds one folder per model"))
            continue
        _docs, current[entry.name], count = validated_model(repo, entry.name, entry.oid, problems)
        n_versions += count
    _check_runs(repo, commit, problems)
    n_tags = _check_tags(repo, prefix, current, problems) if tags else 0
    if verify_signatures:
        n_tags = max(n_tags, _verify_signatures(repo, prefix, problems))
    return CheckReport(commit, len(current), n_versions, n_tags, tuple(with_lines(repo, commit, problems)))


def _check_runs(repo: GitRepo, commit: str, problems: list[Problem]) -> None:
    """Every run manifest against its schema, named after its id."""
    from .runs import RUNS_PATH

    tree = repo.read_tree(f"{commit}:{RUNS_PATH}")
    entries = [e for e in tree[1] if not e.is_tree] if tree else []
    for entry, data in zip(entries, repo.read_blobs([e.oid for e in entries])):
        path = f"{RUNS_PATH}/{entry.name}"
        doc = load_checked(data, "run", path, problems)
        if doc is not None and f"{doc['id']}.yaml" != entry.name:
            problems.append(Problem(path, "id", f"is {doc['id']!r} but the file is {entry.name}"))


def _verify_signatures(repo: GitRepo, prefix: str, problems: list[Problem]) -> int:
    """Every stage tag must verify (git verify-tag); registration tags are not promotions."""
    refs = repo.list_refs(f"refs/tags/{prefix}/")
    for ref in refs:
        name = ref.name[len("refs/tags/"):]
        if not isinstance(parse_tag(prefix, name), StageTag):
            continue
        if ref.type != "tag":
            problems.append(Problem(f"tag {name}", "", "not signed: a lightweight tag cannot carry a signature"))
            continue
        ok, said = repo.verify_tag(name)
        if not ok:
            text = said.removeprefix("error: ") if said else "no good signature"
            problems.append(Problem(f"tag {name}", "", f"signature does not verify: {text}"))
    return len(refs)


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
    """``problems`` with the line of each field in its file at ``commit`` (for annotations)."""
    texts: dict[str, str] = {}
    out = []
    for p in problems:
        if p.line is not None or not p.path.endswith(".yaml"):
            out.append(p)
            continue
        if p.path not in texts:
            blob = repo.read_blob(f"{commit}:{p.path}")
            texts[p.path] = blob[1].decode("utf-8", "replace") if blob else ""
        out.append(replace(p, line=locate(texts[p.path], p.field)))
    return out


def _check_tags(repo: GitRepo, prefix: str, models: dict[str, list[dict[str, Any]]],
                problems: list[Problem]) -> int:
    refs = repo.list_refs(f"refs/tags/{prefix}/")
    registered: dict[str, set[int]] = {}
    latest_stage: dict[tuple[str, str], tuple[int, Any]] = {}
    for ref in refs:
        tag_name = ref.name[len("refs/tags/"):]
        parsed = parse_tag(prefix, tag_name)
        if parsed is None:
            problems.append(Problem(f"tag {tag_name}", "", "not a gitreg tag name (ignored)", "warning"))
            continue
        if ref.type != "tag":
            problems.append(Problem(f"tag {tag_name}", "", "lightweight tag: gitreg's tags are annotated, so this"
                                    " one carries no message and is not counted", "warning"))
            continue
        if isinstance(parsed, VersionTag):
            registered.setdefault(parsed.model, set()).add(parsed.number)
        elif isinstance(parsed, StageTag):
            message = parse_stage_message(ref.subject + "\n\n" + ref.body)
            if message is None or message.stage != parsed.stage or message.model != parsed.model:
                problems.append(Problem(f"tag {tag_name}", "", f"message does not read '<model> v<N> -> {parsed.stage}'"))
                continue
            key = (parsed.model, parsed.stage)
            if key not in latest_stage or latest_stage[key][0] < parsed.seq:
                latest_stage[key] = (parsed.seq, message)
    for model, docs in models.items():
        have = registered.get(model, set())
        for doc in docs:
            if doc["number"] not in have:
                problems.append(Problem(f"{MODELS_PATH}/{model}/versions/{doc['number']}.yaml", "number",
                                        f"registration tag {prefix}/{model}/v{doc['number']} is missing"
                                        " (`gitreg tags sync` creates it)"))
            stage = doc["stage"]
            if stage in ("staging", "production"):
                last = latest_stage.get((model, stage))
                if last is None:
                    problems.append(Problem(f"{MODELS_PATH}/{model}/versions/{doc['number']}.yaml", "stage",
                                            f"is {stage} but no {prefix}/{model}/{stage}/<n> tag records it"
                                            " (`gitreg tags sync` creates it)"))
                elif last[1].number != doc["number"]:
                    problems.append(Problem(
                        f"{MODELS_PATH}/{model}/versions/{doc['number']}.yaml", "stage",
                        f"is {stage} but the latest tag {prefix}/{model}/{stage}/{last[0]} moved v{last[1].number} there"))
    return len(refs)
