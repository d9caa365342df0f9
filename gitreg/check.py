"""``gitreg check``: every manifest against its schema, the stage invariants, and
agreement between manifests and tags.  Collects every problem, not just the first.

Every problem carries a stable finding code (:data:`FINDINGS`).  A maintainer may
accept a finding deliberately (``--allow CODE``): it is then still reported, as
accepted, but no longer fails the check.  Findings that leave the registry
unreadable cannot be accepted, only fixed.

With tags, the check proves that tags tell the truth: each points at a commit
reachable from the checked revision that made the change its name records
(the registration of version N; a version entering a stage), and no registered
version has disappeared without gitreg's own delete.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, replace
from typing import Any, Iterable

from .errors import InvalidValueError
from .names import is_valid_name
from .git import ZERO_OID, GitRepo
from .state import (
    MODELS_PATH, REGISTRY_PATH, Problem, cache_get, cache_put, load_checked, model_file, model_path,
    prefetch_model_trees, read_model_tree, version_file,
)
from .transitions import stage_of
from .tagnames import (
    StageTag, StageTagMessage, VersionTag, format_delete_subject, parse_delete_subject, parse_stage_message,
    parse_tag,
)


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
    Finding("unexpected-file", "a file gitreg does not know where it expects only manifests", False),
    Finding("stage-conflict", "two versions hold an exclusive stage (staging, production)", False),
    # tags against manifests and history
    Finding("tag-name", "a tag under the prefix that is not a gitreg tag name", warning=True),
    Finding("tag-lightweight", "a lightweight tag where gitreg makes annotated ones", warning=True),
    Finding("unmarked-code-format", "a link in a format that runs code when loaded (pickle and kin), written by an"
                                    " older gitreg without `executes_code: true`", warning=True),
    Finding("tag-message", "a stage tag whose message does not read '<model> v<N> -> <stage>'"),
    Finding("tag-missing", "a registered version or a stage assignment without its tag (`gitreg tags sync`)"),
    Finding("tag-stale", "a version holds a stage, but the latest tag of that stage moved another version there"),
    Finding("tag-moved", "a tag points at a commit that did not make the change its name records"),
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
    problems: list[Problem] = []
    if commit is None:
        return CheckReport(None, 0, 0, 0, (Problem(rev, "", "no such commit; is anything committed yet?",
                                                   code="no-such-revision"),))
    reg = repo.read_blob(f"{commit}:{REGISTRY_PATH}")
    if reg is None:
        return CheckReport(commit, 0, 0, 0, (Problem(REGISTRY_PATH, "", "missing: not a gitreg registry"
                                                     " (run `gitreg init`)", code="not-a-registry"),))
    config = load_checked(reg[1], "registry", REGISTRY_PATH, problems)
    prefix = config["tag_prefix"] if config else "models"
    current: dict[str, _Model] = {}
    n_versions = 0
    models_tree = repo.read_tree(f"{commit}:{MODELS_PATH}")
    entries = list(models_tree[1]) if models_tree else []
    summaries = _model_summaries(repo, [(e.name, e.oid) for e in entries if e.is_tree and is_valid_name(e.name)])
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
        current[entry.name] = _Model(summary["counter"], frozenset(summary["numbers"]),
                                     {int(n): stage for n, stage in summary["stages"].items()})
        n_versions += summary["count"]
    del summaries
    _check_runs(repo, commit, problems)
    n_tags = 0
    if tags:
        n_tags = _check_tags(repo, commit if is_commit else None, rev, prefix, current, problems,
                             registration_tags=config.get("registration_tags", True) if config else True)
    if verify_signatures:
        n_tags = max(n_tags, _verify_signatures(repo, prefix, problems))
    return CheckReport(commit, len(current), n_versions, n_tags,
                       tuple(with_lines(repo, commit, accept(problems, allowed))))


@dataclass(frozen=True)
class _Model:
    """What the tag checks need of a model folder."""

    counter: int | None                  # model.yaml's counters.versions, None when the folder has errors
    numbers: frozenset[int]              # the version manifests that validated
    stages: dict[int, str]               # those of them in an exclusive stage


_SUMMARY_FORMAT = "check-models-1"
_PREFETCH = 100  # model folders whose trees and manifests are asked for in one exchange


def _model_summaries(repo: GitRepo, folders: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Model name -> what checking its folder found: problems, counter, valid numbers and exclusive stages.

    A folder's result depends only on its name and its tree (immutable), so results are kept in one
    compact cache entry for the whole registry; only folders not in it are read and validated, in
    batches (trees and manifests of many models per exchange with git).  Full documents are never
    held for more than one batch.
    """
    from .stages import EXCLUSIVE_STAGES

    key = hashlib.sha1(_SUMMARY_FORMAT.encode()).hexdigest()
    cached = cache_get(repo, key)
    known: dict[str, Any] = cached if isinstance(cached, dict) else {}
    out: dict[str, dict[str, Any]] = {}
    fresh: dict[str, Any] = {}
    todo = []
    for name, oid in folders:
        entry = known.get(f"{name}/{oid}")
        if isinstance(entry, dict):
            out[name] = fresh[f"{name}/{oid}"] = entry
        else:
            todo.append((name, oid))
    for first in range(0, len(todo), _PREFETCH):
        batch = todo[first:first + _PREFETCH]
        prefetch_model_trees(repo, [oid for _n, oid in batch])
        for name, oid in batch:
            found: list[Problem] = []
            model_doc, docs, count = read_model_tree(repo, name, oid, found)
            valid = model_doc is not None and not any(p.severity == "error" for p in found)
            out[name] = fresh[f"{name}/{oid}"] = {
                "problems": [dataclasses.asdict(p) for p in found],
                "counter": model_doc["counters"]["versions"] if valid else None,
                "numbers": [d["number"] for d in docs],
                "stages": {str(d["number"]): d["stage"] for d in docs if d["stage"] in EXCLUSIVE_STAGES},
                "count": count,
            }
    if todo or len(fresh) != len(known):
        cache_put(repo, key, fresh)
    return out


def _check_runs(repo: GitRepo, commit: str, problems: list[Problem]) -> None:
    """Every run manifest against its schema, named after its id."""
    from .pipelines.runs import RUNS_PATH

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
            problems.append(Problem(f"tag {name}", "", "not signed: a lightweight tag cannot carry a signature",
                                    code="signature"))
            continue
        ok, said = repo.verify_tag(name)
        if not ok:
            text = said.removeprefix("error: ") if said else "no good signature"
            problems.append(Problem(f"tag {name}", "", f"signature does not verify: {text}", code="signature"))
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


# ---------------------------------------------------------------- tags

@dataclass(frozen=True)
class _Tag:
    """A tag under the prefix: what ``git show-ref -d`` says of it, and a stage tag's message."""

    name: str                 # refs/tags/...
    oid: str                  # the tag object (annotated) or what a lightweight tag names
    annotated: bool
    target: str               # the object it peels to
    subject: str = ""
    body: str = ""


def _list_tags(repo: GitRepo, prefix: str) -> list[_Tag]:
    """Every tag under ``prefix``: names, objects and targets from one ``git show-ref -d`` (git reads peeled
    targets from packed-refs without opening each tag), the messages of stage tags from one ``for-each-ref``."""
    from .stages import STORED_STAGES

    base = f"refs/tags/{prefix}/"
    res = repo.run("show-ref", "-d", "--tags", check=False)
    tags: list[_Tag] = []
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        oid, _, name = line.partition(" ")
        if name.endswith("^{}"):
            if tags and tags[-1].name == name[:-3]:
                tags[-1] = _Tag(tags[-1].name, tags[-1].oid, True, oid)
        elif name.startswith(base):
            tags.append(_Tag(name, oid, False, oid))
    patterns = [f"{base}*/{stage}/*" for stage in STORED_STAGES]
    fmt = "%(refname)%00%(contents:subject)%00%(contents:body)%00%00"
    text = repo.run("for-each-ref", f"--format={fmt}", *patterns).stdout.decode("utf-8", "replace")
    messages: dict[str, tuple[str, str]] = {}
    for record in text.split("\0\0\n"):
        parts = record.lstrip("\n").split("\0")
        if len(parts) >= 3:
            messages[parts[0]] = (parts[1], parts[2].strip("\n"))
    return [replace(t, subject=messages[t.name][0], body=messages[t.name][1]) if t.name in messages else t
            for t in tags]


def _check_tags(repo: GitRepo, commit: str | None, rev: str, prefix: str, models: dict[str, _Model],
                problems: list[Problem], registration_tags: bool = True) -> int:
    refs = _list_tags(repo, prefix)
    unreachable = _unreachable_tags(repo, commit, prefix, refs) if commit and refs else set()
    registered: dict[str, set[int]] = {}           # model -> numbers with a registration tag
    reachable_numbers: dict[str, set[int]] = {}    # the same, for tags in the checked history
    latest_stage: dict[tuple[str, str], tuple[int, StageTagMessage]] = {}
    to_verify: list[tuple[_Tag, VersionTag | StageTag, StageTagMessage | None]] = []
    for ref in refs:
        tag_name = ref.name[len("refs/tags/"):]
        parsed = parse_tag(prefix, tag_name)
        if parsed is None:
            problems.append(Problem(f"tag {tag_name}", "", "not a gitreg tag name (ignored)", "warning",
                                    code="tag-name"))
            continue
        if not ref.annotated:
            problems.append(Problem(f"tag {tag_name}", "", "lightweight tag: gitreg's tags are annotated, so this"
                                    " one carries no message and is not counted", "warning", code="tag-lightweight"))
            continue
        if ref.name in unreachable:
            problems.append(Problem(f"tag {tag_name}", "", f"points at {ref.target[:12]}, which is not in the history"
                                    f" of {rev}: a tag made on another branch, or {rev} is behind (check the"
                                    " registry branch after fetching and merging it)", code="tag-unreachable"))
        message = None
        if isinstance(parsed, VersionTag):
            registered.setdefault(parsed.model, set()).add(parsed.number)
            if ref.name not in unreachable:
                reachable_numbers.setdefault(parsed.model, set()).add(parsed.number)
        else:
            message = parse_stage_message(ref.subject + "\n\n" + ref.body)
            if message is None or message.stage != parsed.stage or message.model != parsed.model:
                problems.append(Problem(f"tag {tag_name}", "", f"message does not read '<model> v<N> ->"
                                        f" {parsed.stage}'", code="tag-message"))
                continue
            key = (parsed.model, parsed.stage)
            if key not in latest_stage or latest_stage[key][0] < parsed.seq:
                latest_stage[key] = (parsed.seq, message)
        to_verify.append((ref, parsed, message))
    _verify_tag_targets(repo, prefix, to_verify, problems)
    for model, state in models.items():
        have = registered.get(model, set())
        for number in sorted(state.numbers):
            path = version_file(model, number)
            if number not in have and registration_tags:
                problems.append(Problem(path, "number", f"registration tag {prefix}/{model}/v{number} is"
                                        " missing (`gitreg tags sync` creates it)", code="tag-missing"))
            stage = state.stages.get(number)
            if stage in ("staging", "production"):
                last = latest_stage.get((model, stage))
                if last is None:
                    problems.append(Problem(path, "stage", f"is {stage} but no {prefix}/{model}/{stage}/<n> tag"
                                            " records it (`gitreg tags sync` creates it)", code="tag-missing"))
                elif last[1].number != number:
                    problems.append(Problem(path, "stage", f"is {stage} but the latest tag"
                                            f" {prefix}/{model}/{stage}/{last[0]} moved v{last[1].number} there",
                                            code="tag-stale"))
    if commit is not None:
        _check_lost_versions(repo, commit, rev, prefix, models, reachable_numbers, problems)
    return len(refs)


def _unreachable_tags(repo: GitRepo, commit: str, prefix: str, refs: list[_Tag]) -> set[str]:
    """The refs among ``refs`` whose commit is not reachable from ``commit``.

    One ``git for-each-ref --no-merged`` answers for every tag.  Reachability never
    changes, so the tag targets found reachable are remembered with ``commit``: a
    later check of ``commit`` or of a descendant only asks about new targets.
    """
    key = hashlib.sha1(f"{_REACHABLE_FORMAT}\0{prefix}".encode()).hexdigest()
    cached = cache_get(repo, key)
    known: set[str] = set()
    if isinstance(cached, dict) and isinstance(cached.get("commit"), str):
        if cached["commit"] == commit or repo.is_ancestor(cached["commit"], commit):
            known = set(cached.get("targets") or ())
    unknown = [ref for ref in refs if ref.target not in known]
    if not unknown:
        if cached is None or cached.get("commit") != commit:
            cache_put(repo, key, {"commit": commit, "targets": sorted(known)})
        return set()
    patterns = [ref.name for ref in unknown] if len(unknown) <= 200 else [f"refs/tags/{prefix}/"]
    res = repo.run("for-each-ref", "--no-merged", commit, "--format=%(refname)", *patterns, check=False)
    unreachable = {line for line in res.stdout.decode("utf-8", "replace").splitlines() if line}
    if res.returncode == 0:
        reachable = known | {ref.target for ref in unknown if ref.name not in unreachable}
        cache_put(repo, key, {"commit": commit, "targets": sorted(reachable)})
    return unreachable


_REACHABLE_FORMAT = "tags-reachable-1"
_VERIFIED_FORMAT = "tags-verified-2"


def _verified_key(prefix: str) -> str:
    """The cache entry of the ``<ref> <tag oid>`` pairs already proven to point where they should (short
    digests of each, and one of the whole list when every tag was proven)."""
    return hashlib.sha1(f"{_VERIFIED_FORMAT}\0{prefix}".encode()).hexdigest()


def _verify_tag_targets(repo: GitRepo, prefix: str,
                        tags: list[tuple[_Tag, VersionTag | StageTag, StageTagMessage | None]],
                        problems: list[Problem]) -> None:
    """Each tag must point at a commit that made its change, relative to that commit's first parent.

    A registration tag ``v<N>``: the commit adds ``versions/<N>.yaml`` (its first parent
    does not have it).  A stage tag: at the commit its version is in the stage, at the
    first parent it was not.  (``gitreg tags sync`` picks exactly such commits for
    merges, squash and rebase merges.)  What each target commit changed comes from one
    ``git log``; a tag object never changes, so each ``ref oid`` pair proven once is
    remembered in the cache and not read again.
    """
    key = _verified_key(prefix)
    cached = cache_get(repo, key)
    cached = cached if isinstance(cached, dict) else {}
    whole = hashlib.sha1("\n".join(f"{ref.name} {ref.oid}" for ref, _p, _m in tags).encode()).hexdigest()
    if cached.get("all") == whole:
        return  # exactly these tags were all proven before
    known = set(cached.get("pairs") or ())
    keys = [_pair_key(ref) for ref, _p, _m in tags]
    current = set(keys)
    todo = [t for t, k in zip(tags, keys) if k not in known]
    changes = _first_parent_changes(repo, sorted({ref.target for ref, _p, _m in todo}))
    wanted = []
    for ref, parsed, message in todo:
        if message is not None:
            wanted += [oid for oid in changes.get(ref.target, {}).get(version_file(parsed.model, message.number), ())
                       if oid != ZERO_OID]
    blobs = dict(zip(wanted, repo.read_blobs(wanted))) if wanted else {}
    proven: set[str] = set()
    for ref, parsed, message in todo:
        name = ref.name[len("refs/tags/"):]
        number = parsed.number if isinstance(parsed, VersionTag) else message.number  # type: ignore[union-attr]
        path = version_file(parsed.model, number)
        change = changes.get(ref.target, {}).get(path)
        if isinstance(parsed, VersionTag):
            wrong = None if change is not None and change[0] == ZERO_OID and change[1] != ZERO_OID else \
                f"which does not add {path}"
        else:
            wrong = _stage_wrong(parsed, number, path, change, blobs)
        if wrong:
            problems.append(Problem(f"tag {name}", "", f"points at {ref.target[:12]}, {wrong}; tags are immutable and"
                                    " mark the commit that made their change: delete this one and let `gitreg tags"
                                    " sync` recreate it", code="tag-moved"))
        else:
            proven.add(_pair_key(ref))
    done = (known & current) | proven
    cache_put(repo, key, {"all": whole if done == current else None, "pairs": sorted(done)})


def _pair_key(ref: _Tag) -> str:
    """A short digest of ``<ref> <tag oid>`` (80 bits: the cache of 200,000 tags stays a few MB)."""
    return hashlib.sha1(f"{ref.name} {ref.oid}".encode()).hexdigest()[:20]


def _stage_wrong(tag: StageTag, number: int, path: str, change: tuple[str, str] | None,
                 blobs: dict[str, bytes | None]) -> str | None:
    if change is None:
        return f"which does not change {path} (v{number} did not enter {tag.stage} there)"
    old, new = change
    if new == ZERO_OID:
        return f"which deletes {path}"
    stage_at = stage_of(blobs.get(new), path)
    if stage_at != tag.stage:
        return f"where v{number} is {stage_at or 'unreadable'}, not {tag.stage}"
    if old != ZERO_OID and stage_of(blobs.get(old), path) == tag.stage:
        return f"but v{number} was already {tag.stage} before that commit (at its first parent)"
    return None


def _first_parent_changes(repo: GitRepo, commits: list[str]) -> dict[str, dict[str, tuple[str, str]]]:
    """Commit -> {path: (old blob, new blob)} of what each commit changed under ``.mcp/models`` against its
    first parent (a root commit: against nothing).  One ``git log`` for all of them."""
    if not commits:
        return {}
    args = ["log", "--no-walk=unsorted", "--stdin", "--raw", "-r", "--no-renames", "--no-abbrev",
            "--diff-merges=first-parent", "--format=@@%H", "--", MODELS_PATH]
    res = repo.run(*args, input="\n".join(commits).encode() + b"\n", check=False)
    if res.returncode != 0:  # e.g. a tag on a tree: ask about each commit on its own
        out: dict[str, dict[str, tuple[str, str]]] = {}
        for commit in commits if len(commits) > 1 else ():
            out.update(_first_parent_changes(repo, [commit]))
        return out
    changes: dict[str, dict[str, tuple[str, str]]] = {}
    files: dict[str, tuple[str, str]] = {}
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("@@"):
            files = changes.setdefault(line[2:].strip(), {})
        elif line.startswith(":"):
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) >= 5:
                files[path] = (parts[2], parts[3])
    return changes


# ---------------------------------------------------------------- reverts

def _check_lost_versions(repo: GitRepo, commit: str, rev: str, prefix: str, models: dict[str, _Model],
                         registered: dict[str, set[int]], problems: list[Problem]) -> None:
    """Registered versions (by their reachable tags) must be present, or deleted by gitreg; counters above them."""
    lost: list[tuple[str, int, str]] = []
    for model, numbers in sorted(registered.items()):
        state = models.get(model)
        present = state.numbers if state else frozenset()
        top = max(numbers)
        if state is not None and state.counter is not None and state.counter < top:
            problems.append(Problem(model_file(model), "counters.versions",
                                    f"is {state.counter} but {prefix}/{model}/v{top} registered v{top};"
                                    f" set it back to {top} (numbers are never reused; a revert or a commit from a"
                                    " stale index lowered it)", code="counter-lowered"))
        lost += [(model, n, f"{prefix}/{model}/v{n}") for n in sorted(numbers) if n not in present]
    if not lost:
        return
    # a manifest that is there but invalid is reported by the schema check, not here
    there = repo.read_blobs([f"{commit}:{version_file(m, n)}" for m, n, _t in lost])
    lost = [item for item, data in zip(lost, there) if data is None]
    if not lost:
        return
    deleted_by = _deletions(repo, commit, sorted({m for m, _n, _t in lost}))
    for model, number, tag in lost:
        path = version_file(model, number)
        found = deleted_by.get(path)
        if found is not None:
            sha, subject = found
            recorded = parse_delete_subject(subject)
            if recorded is not None and recorded.covers(model, number):
                continue
            how = (f"commit {sha[:12]} (\"{subject}\") removed it without gitreg's delete; restore it"
                   f" (`git checkout {sha[:12]}^ -- {path}`) and commit, or delete the version with"
                   f" `gitreg model version delete {model} {number}`")
        else:
            how = "no commit in its history removed it (was the tag made on another branch?)"
        problems.append(Problem(path, "", f"registration tag {tag} records v{number}, but the manifest is not at"
                                f" {rev}: {how}. gitreg's deletes read \"{format_delete_subject(model, number)}\"",
                                code="unrecorded-delete"))


def _deletions(repo: GitRepo, commit: str, models: list[str]) -> dict[str, tuple[str, str]]:
    """Path -> (commit, subject) of the newest commit in ``commit``'s history that deleted it (one git call)."""
    text = repo.out("log", "--diff-filter=D", "--no-renames", "--name-only", "--format=%x00%H%x1f%s", commit,
                    "--", *(model_path(m) for m in models))
    out: dict[str, tuple[str, str]] = {}
    for record in text.split("\0"):
        lines = record.strip("\n").splitlines()
        if not lines or "\x1f" not in lines[0]:
            continue
        sha, _, subject = lines[0].partition("\x1f")
        for path in lines[1:]:
            if path:
                out.setdefault(path, (sha, subject))
    return out
