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
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .errors import InvalidValueError
from .names import is_valid_name
from .stages import STORED_STAGES
from .git import ZERO_OID, GitRepo
from .state import (
    MODELS_PATH, REGISTRY_PATH, Problem, cache_get, cache_put, load_checked, model_file, model_path,
    prefetch_model_trees, read_model_tree, version_file,
)
from .transitions import stage_of
from .tagnames import (
    StageTag, StageTagMessage, format_delete_subject, parse_delete_subject, parse_stage_message,
    parse_tag,
)


_T = TypeVar("_T")


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
    if commit is None:
        return CheckReport(None, 0, 0, 0, (Problem(rev, "", "no such commit; is anything committed yet?",
                                                   code="no-such-revision"),))
    listing = _show_ref(repo) if tags else b""
    slot, inputs = _report_key(repo, commit, is_commit, rev, tags, listing)
    found = _remembered_report(repo, slot, inputs)
    if found is None:
        repo.complete_clone()  # every file is read: a blob-less clone gets all it lacks in one request
        text = listing.decode("utf-8", "replace")
        del listing  # held once, as text
        found = _check_at(repo, commit, is_commit, rev, tags, text)
        del text
        cache_put(repo, slot, {"inputs": inputs, "prefix": found[0], "report": [
            found[1].models, found[1].versions, found[1].tags, [dataclasses.asdict(p) for p in found[1].problems]]})
    else:
        del listing
    prefix, report = found
    if any(p.code == "not-a-registry" for p in report.problems):
        return CheckReport(commit, 0, 0, 0, report.problems)
    problems = list(report.problems)
    n_tags = report.tags
    if verify_signatures:
        n_tags = max(n_tags, _verify_signatures(repo, prefix, problems))
    return CheckReport(commit, report.models, report.versions, n_tags, tuple(accept(problems, allowed)))


_REPORT_FORMAT = "check-report-1"


def _report_key(repo: GitRepo, commit: str, is_commit: bool, rev: str, tags: bool,
                listing: bytes) -> tuple[str, str]:
    """(cache slot, digest of every input) of the check of ``commit``.

    What a check finds depends only on git objects named by ids (the commit or tree checked; tag objects,
    their targets and what those commits changed), on the history of ``commit`` (reachability, deletions;
    a shallow clone's boundary and grafts are part of the input), and on the tags (``listing``: every tag,
    its object and target).  The slot is one per revision as written, so the cache holds one report per
    revision checked; the entry carries the digest of its inputs and is used only when that matches.
    """
    from . import __version__

    digest = hashlib.sha256(f"{_REPORT_FORMAT}\0{__version__}\0{commit}\0{is_commit}\0{rev}\0{tags}\0".encode())
    for extra in ("shallow", "info/grafts"):
        try:
            digest.update(extra.encode() + b"\0" + (repo.common_dir / extra).read_bytes() + b"\0")
        except OSError:
            pass
    digest.update(listing)
    slot = hashlib.sha1(f"{_REPORT_FORMAT}\0{rev}\0{tags}".encode()).hexdigest()
    return slot, digest.hexdigest()


def _remembered_report(repo: GitRepo, slot: str, inputs: str) -> tuple[str, CheckReport] | None:
    """The (tag prefix, report) remembered for exactly ``inputs``, or None."""
    cached = cache_get(repo, slot)
    if not isinstance(cached, dict) or cached.get("inputs") != inputs:
        return None
    try:
        models, versions, n_tags, found = cached["report"]
        problems = tuple(Problem(**p) for p in found)
        prefix = cached["prefix"]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(isinstance(n, int) for n in (models, versions, n_tags)) or not isinstance(prefix, str):
        return None
    return prefix, CheckReport(None, models, versions, n_tags, problems)


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
    current: dict[str, _Model] = {}
    n_versions = 0
    models_tree = repo.read_tree(f"{commit}:{MODELS_PATH}")
    entries = list(models_tree[1]) if models_tree else []
    folders = [(e.name, e.oid) for e in entries if e.is_tree and is_valid_name(e.name)]
    tag_commit = commit if is_commit else None
    scan_tags = (lambda: _scan_tags(repo, tag_commit, rev, prefix, listing)) if tags else None
    summaries, scan = _model_summaries(repo, folders, scan_tags)  # the tags are read while workers validate
    del scan_tags
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
    if scan is not None:
        _match_tags(repo, tag_commit, rev, prefix, scan, current, problems,
                    registration_tags=config.get("registration_tags", True) if config else True)
        n_tags = scan.count
    return prefix, CheckReport(commit, len(current), n_versions, n_tags, tuple(with_lines(repo, commit, problems)))


@dataclass(frozen=True)
class _Model:
    """What the tag checks need of a model folder."""

    counter: int | None                  # model.yaml's counters.versions, None when the folder has errors
    numbers: frozenset[int]              # the version manifests that validated
    stages: dict[int, str]               # those of them in an exclusive stage


_SUMMARY_FORMAT = "check-models-1"
_PREFETCH = 100  # model folders whose trees and manifests are asked for in one exchange


def _model_summaries(repo: GitRepo, folders: list[tuple[str, str]],
                     meanwhile: Callable[[], _T] | None = None) -> tuple[dict[str, dict[str, Any]], _T | None]:
    """Model name -> what checking its folder found: problems, counter, valid numbers and exclusive stages.

    A folder's result depends only on its name and its tree (immutable), so results are kept in one
    compact cache entry for the whole registry; only folders not in it are read and validated, in
    batches (trees and manifests of many models per exchange with git).  Full documents are never
    held for more than one batch.  Many folders are validated by worker processes, and ``meanwhile`` (if
    given) runs here while they do; its result is returned with the summaries.
    """
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
    batches = [todo[first:first + _PREFETCH] for first in range(0, len(todo), _PREFETCH)]
    workers = _workers(len(batches))
    result = None
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers, _start_worker, (repo,)) as pool:
            parts = pool.imap(_summarize_in_worker, batches)
            result = meanwhile() if meanwhile is not None else None
            for names, summaries in parts:
                for (name, oid), summary in zip(names, summaries):
                    out[name] = fresh[f"{name}/{oid}"] = summary
    else:
        for batch in batches:
            for (name, oid), summary in zip(batch, _summarize(repo, batch)):
                out[name] = fresh[f"{name}/{oid}"] = summary
        result = meanwhile() if meanwhile is not None else None
    if todo or len(fresh) != len(known):
        cache_put(repo, key, fresh)
    return out, result


#: Model folders to validate before the work is shared by processes (one per core, at most four).
_PARALLEL_MIN_FOLDERS = 1000


def _workers(batches: int) -> int:
    """How many processes validate ``batches`` batches of model folders (1: this one)."""
    import multiprocessing
    import os
    import threading

    if batches * _PREFETCH < _PARALLEL_MIN_FOLDERS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.active_count() > 1:  # forking copies no other thread, but would copy the locks they hold
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 4, batches))


_WORKER_REPO: GitRepo | None = None


def _start_worker(repo: GitRepo) -> None:
    """In a forked worker: its own reader of the repository (the parent's pipes stay the parent's)."""
    global _WORKER_REPO
    _WORKER_REPO = type(repo)(repo.root, repo.git_dir, repo.common_dir, repo.bare)


def _summarize_in_worker(batch: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    assert _WORKER_REPO is not None
    return batch, _summarize(_WORKER_REPO, batch)


def _summarize(repo: GitRepo, batch: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """What checking each ``(name, tree)`` folder of ``batch`` finds (their trees and manifests are asked
    for in three exchanges with git)."""
    from .stages import EXCLUSIVE_STAGES

    prefetch_model_trees(repo, [oid for _n, oid in batch])
    out = []
    for name, oid in batch:
        found: list[Problem] = []
        model_doc, docs, count = read_model_tree(repo, name, oid, found)
        valid = model_doc is not None and not any(p.severity == "error" for p in found)
        out.append({
            "problems": [dataclasses.asdict(p) for p in found],
            "counter": model_doc["counters"]["versions"] if valid else None,
            "numbers": [d["number"] for d in docs],
            "stages": {str(d["number"]): d["stage"] for d in docs if d["stage"] in EXCLUSIVE_STAGES},
            "count": count,
        })
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
#
# A registry may hold hundreds of thousands of tags, so they are streamed: one ``git show-ref -d`` lists
# them (git reads peeled targets from packed-refs without opening each tag), each line is cut with string
# operations, and what is kept is per model (the numbers registered, the latest stage tags), not per tag.

_TAG_CHUNK = 8192  # tags whose target commits are read with one ``git log`` when they must be verified


def _show_ref(repo: GitRepo) -> bytes:
    """``git show-ref -d --tags``: every tag, its object and (annotated) the object it peels to."""
    return repo.run("show-ref", "-d", "--tags", check=False).stdout


def _tags_under(listing: str, base: str) -> Iterator[tuple[str, str, str | None]]:
    """``(ref, object, peeled target)`` of each tag in ``listing`` under ``base``; the target is None for a
    lightweight tag (no ``^{}`` line follows it).  One regular expression walks the text (in C, not a
    Python step per line): a tag line under ``base``, and the peeled line of that same ref if it follows."""
    pattern = _TAG_LINES.get(base)
    if pattern is None:
        pattern = _TAG_LINES[base] = re.compile(
            r"^([0-9a-f]+) (" + re.escape(base) + r"[^\n]*)(?:\n|\Z)(?:([0-9a-f]+) \2\^\{\}(?:\n|\Z))?", re.M)
    for found in pattern.finditer(listing):
        oid, ref, target = found.groups()
        if not ref.endswith("^{}"):  # a peeled line without its tag line before it: nothing to report
            yield ref, oid, target


_TAG_LINES: dict[str, "re.Pattern[str]"] = {}


def _is_count(text: str) -> bool:
    """``[1-9][0-9]*``."""
    return text[:1] in _NONZERO and text.isascii() and text.isdigit()


_NONZERO = frozenset("123456789")
_STORED_STAGES = frozenset(STORED_STAGES)


def _split_tag(rest: str) -> tuple[str, str | None, int] | None:
    """What :func:`parse_tag` finds in a tag name after ``<prefix>/``, without a regex or an object per tag:
    ``(model, None, N)`` for ``<model>/v<N>``, ``(model, stage, seq)`` for ``<model>/<stage>/<seq>``."""
    model, _, tail = rest.partition("/")
    if not model or not tail:
        return None
    if tail[0] == "v" and _is_count(tail[1:]):
        return model, None, int(tail[1:])
    stage, _, seq = tail.partition("/")
    if stage in _STORED_STAGES and _is_count(seq):
        return model, stage, int(seq)
    return None


def _stage_messages(repo: GitRepo, base: str) -> dict[str, tuple[str, str]]:
    """Ref -> (subject, body) of every stage tag under ``base`` (one ``for-each-ref``)."""
    from .stages import STORED_STAGES

    patterns = [f"{base}*/{stage}/*" for stage in STORED_STAGES]
    fmt = "%(refname)%00%(contents:subject)%00%(contents:body)%00%00"
    text = repo.run("for-each-ref", f"--format={fmt}", *patterns).stdout.decode("utf-8", "replace")
    messages: dict[str, tuple[str, str]] = {}
    for record in text.split("\0\0\n"):
        parts = record.lstrip("\n").split("\0")
        if len(parts) >= 3:
            messages[parts[0]] = (parts[1], parts[2].strip("\n"))
    return messages


@dataclass(frozen=True)
class _TagScan:
    """What the tags say, before they are held against the manifests."""

    count: int                                                  # tags under the prefix
    problems: list[Problem]                                     # findings about the tags themselves
    registered: dict[str, set[int]]                             # model -> numbers with a registration tag
    outside: dict[str, set[int]]                                # those whose tag is outside the checked history
    latest_stage: dict[tuple[str, str], tuple[int, StageTagMessage]]  # (model, stage) -> its latest tag


def _scan_tags(repo: GitRepo, commit: str | None, rev: str, prefix: str, text: str) -> _TagScan:
    """Every tag under ``prefix`` in ``text`` (the output of :func:`_show_ref`): its name, kind, message,
    whether the checked history holds it, and whether it marks the commit that made its change."""
    base = f"refs/tags/{prefix}/"
    problems: list[Problem] = []
    unreachable = _unreachable_tags(repo, commit, prefix, text, base) if commit else set()
    messages = _stage_messages(repo, base)
    verifier = _TargetVerifier(repo, prefix)
    registered: dict[str, set[int]] = {}           # model -> numbers with a registration tag
    outside: dict[str, set[int]] = {}              # those of them whose tag is outside the checked history
    latest_stage: dict[tuple[str, str], tuple[int, StageTagMessage]] = {}
    n_refs = 0
    for ref, oid, target in _tags_under(text, base):
        n_refs += 1
        tag_name = ref[len("refs/tags/"):]
        parsed = _split_tag(ref[len(base):])
        if parsed is None:
            problems.append(Problem(f"tag {tag_name}", "", "not a gitreg tag name (ignored)", "warning",
                                    code="tag-name"))
            continue
        if target is None:
            problems.append(Problem(f"tag {tag_name}", "", "lightweight tag: gitreg's tags are annotated, so this"
                                    " one carries no message and is not counted", "warning", code="tag-lightweight"))
            continue
        if ref in unreachable:
            problems.append(Problem(f"tag {tag_name}", "", f"points at {target[:12]}, which is not in the history"
                                    f" of {rev}: a tag made on another branch, or {rev} is behind (check the"
                                    " registry branch after fetching and merging it)", code="tag-unreachable"))
        model, stage, n = parsed
        message = None
        if stage is None:
            registered.setdefault(model, set()).add(n)
            if ref in unreachable:
                outside.setdefault(model, set()).add(n)
        else:
            subject, body = messages.get(ref, ("", ""))
            message = parse_stage_message(subject + "\n\n" + body)
            if message is None or message.stage != stage or message.model != model:
                problems.append(Problem(f"tag {tag_name}", "", f"message does not read '<model> v<N> ->"
                                        f" {stage}'", code="tag-message"))
                continue
            key = (model, stage)
            if key not in latest_stage or latest_stage[key][0] < n:
                latest_stage[key] = (n, message)
        verifier.add(ref, oid, target, model, stage, message.number if message is not None else n)
    problems.extend(verifier.finish())
    return _TagScan(n_refs, problems, registered, outside, latest_stage)


def _match_tags(repo: GitRepo, commit: str | None, rev: str, prefix: str, scan: _TagScan,
                models: dict[str, _Model], problems: list[Problem], registration_tags: bool = True) -> None:
    """The tags held against the manifests: every version registered and every stage held has its tag, the
    latest stage tag agrees, and no version with a reachable registration tag has disappeared."""
    problems.extend(scan.problems)
    registered, latest_stage = scan.registered, scan.latest_stage
    for model, state in models.items():
        have = registered.get(model, set())
        for number in sorted(state.numbers):
            path = version_file(model, number)
            if number not in have and registration_tags:
                problems.append(Problem(path, "number", f"registration tag {prefix}/{model}/v{number} is"
                                        " missing (`gitreg tags sync` creates it)", code="tag-missing"))
            held = state.stages.get(number)
            if held in ("staging", "production"):
                last = latest_stage.get((model, held))
                if last is None:
                    problems.append(Problem(path, "stage", f"is {held} but no {prefix}/{model}/{held}/<n> tag"
                                            " records it (`gitreg tags sync` creates it)", code="tag-missing"))
                elif last[1].number != number:
                    problems.append(Problem(path, "stage", f"is {held} but the latest tag"
                                            f" {prefix}/{model}/{held}/{last[0]} moved v{last[1].number} there",
                                            code="tag-stale"))
    if commit is not None:
        outside = scan.outside
        reachable = {m: numbers - outside[m] if m in outside else numbers for m, numbers in registered.items()}
        _check_lost_versions(repo, commit, rev, prefix, models, {m: n for m, n in reachable.items() if n}, problems)


def _unreachable_tags(repo: GitRepo, commit: str, prefix: str, listing: str, base: str) -> set[str]:
    """The refs under ``base`` in ``listing`` whose commit is not reachable from ``commit``.

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
    unknown: list[tuple[str, str]] = []  # the first 201 (ref, target) whose target is not known to be reachable
    n_unknown = 0
    for ref, oid, target in _tags_under(listing, base):
        if (target or oid) not in known:
            n_unknown += 1
            if len(unknown) <= 200:
                unknown.append((ref, target or oid))
    if not n_unknown:
        if cached is None or cached.get("commit") != commit:
            cache_put(repo, key, {"commit": commit, "targets": sorted(known)})
        return set()
    patterns = [ref for ref, _target in unknown] if n_unknown <= 200 else [base]
    res = repo.run("for-each-ref", "--no-merged", commit, "--format=%(refname)", *patterns, check=False)
    unreachable = {line for line in res.stdout.decode("utf-8", "replace").splitlines() if line}
    if res.returncode == 0:
        if n_unknown <= 200:  # the few new ones are at hand: no second pass over every tag
            known.update(target for ref, target in unknown if ref not in unreachable)
        else:
            known.update(target or oid for ref, oid, target in _tags_under(listing, base) if ref not in unreachable)
        cache_put(repo, key, {"commit": commit, "targets": sorted(known)})
    return unreachable


_REACHABLE_FORMAT = "tags-reachable-1"
_VERIFIED_FORMAT = "tags-verified-2"


def _verified_key(prefix: str) -> str:
    """The cache entry of the ``<ref> <tag oid>`` pairs already proven to point where they should (short
    digests of each, and one of the whole list when every tag was proven)."""
    return hashlib.sha1(f"{_VERIFIED_FORMAT}\0{prefix}".encode()).hexdigest()


class _TargetVerifier:
    """Each tag must point at a commit that made its change, relative to that commit's first parent.

    A registration tag ``v<N>``: the commit adds ``versions/<N>.yaml`` (its first parent
    does not have it).  A stage tag: at the commit its version is in the stage, at the
    first parent it was not.  (``gitreg tags sync`` picks exactly such commits for
    merges, squash and rebase merges.)  What the target commits changed comes from one
    ``git log`` per chunk of tags; a tag object never changes, so each ``ref oid`` pair
    proven once is remembered in the cache and not read again.
    """

    def __init__(self, repo: GitRepo, prefix: str) -> None:
        self.repo = repo
        self.key = _verified_key(prefix)
        cached = cache_get(repo, self.key)
        cached = cached if isinstance(cached, dict) else {}
        self.cached_whole = cached.get("all")
        pairs = cached.get("pairs")
        self.known: set[str] = set(pairs) if isinstance(pairs, list) else set()
        self.whole = hashlib.sha1()
        self.count = 0
        self.done: list[str] = []     # pair keys of the tags added that are proven
        self.pending: list[tuple[str, str, str, str, str | None, int]] = []
        self.verified = False         # whether any tag was read from git this time
        self.problems: list[Problem] = []

    def add(self, ref: str, oid: str, target: str, model: str, stage: str | None, number: int) -> None:
        """A tag to verify: registration (``stage`` None) of ``number``, or a stage tag moving ``number``."""
        pair = f"{ref} {oid}"
        self.whole.update(("\n" + pair if self.count else pair).encode())
        self.count += 1
        key = hashlib.sha1(pair.encode()).hexdigest()[:20]  # 80 bits: the cache of 200,000 tags stays a few MB
        if key in self.known:
            self.done.append(key)
            return
        self.pending.append((key, ref, target, model, stage, number))
        if len(self.pending) >= _TAG_CHUNK:
            self._verify()

    def _verify(self) -> None:
        todo, self.pending = self.pending, []
        self.verified = True
        # only the folders of these tags' models: a commit that touched every model is not read whole each time
        changes = _first_parent_changes(self.repo, sorted({target for _k, _r, target, _m, _s, _n in todo}),
                                        sorted({model_path(model) for _k, _r, _t, model, _s, _n in todo}))
        wanted = []
        for _key, _ref, target, model, stage, number in todo:
            if stage is not None:
                wanted += [oid for oid in changes.get(target, {}).get(version_file(model, number), ())
                           if oid != ZERO_OID]
        blobs = dict(zip(wanted, self.repo.read_blobs(wanted))) if wanted else {}
        for key, ref, target, model, stage, number in todo:
            path = version_file(model, number)
            change = changes.get(target, {}).get(path)
            if stage is None:
                wrong = None if change is not None and change[0] == ZERO_OID and change[1] != ZERO_OID else \
                    f"which does not add {path}"
            else:
                wrong = _stage_wrong(stage, number, path, change, blobs)
            if wrong:
                self.problems.append(Problem(f"tag {ref[len('refs/tags/'):]}", "", f"points at {target[:12]},"
                                             f" {wrong}; tags are immutable and mark the commit that made their"
                                             " change: delete this one and let `gitreg tags sync` recreate it",
                                             code="tag-moved"))
            else:
                self.done.append(key)

    def finish(self) -> list[Problem]:
        """Verify what is left; remember what is proven; the tag-moved findings, in the order of the tags."""
        if self.pending:
            self._verify()
        whole = self.whole.hexdigest()
        complete = len(self.done) == self.count
        if self.verified or len(self.done) != len(self.known) or (self.cached_whole == whole) != complete:
            cache_put(self.repo, self.key, {"all": whole if complete else None, "pairs": sorted(self.done)})
        return self.problems


def _stage_wrong(stage: str, number: int, path: str, change: tuple[str, str] | None,
                 blobs: dict[str, bytes | None]) -> str | None:
    if change is None:
        return f"which does not change {path} (v{number} did not enter {stage} there)"
    old, new = change
    if new == ZERO_OID:
        return f"which deletes {path}"
    stage_at = stage_of(blobs.get(new), path)
    if stage_at != stage:
        return f"where v{number} is {stage_at or 'unreadable'}, not {stage}"
    if old != ZERO_OID and stage_of(blobs.get(old), path) == stage:
        return f"but v{number} was already {stage} before that commit (at its first parent)"
    return None


def _first_parent_changes(repo: GitRepo, commits: list[str],
                          paths: list[str] | None = None) -> dict[str, dict[str, tuple[str, str]]]:
    """Commit -> {path: (old blob, new blob)} of what each commit changed under ``paths`` (default
    ``.mcp/models``) against its first parent (a root commit: against nothing).  One ``git log`` for all."""
    if not commits:
        return {}
    args = ["log", "--no-walk=unsorted", "--stdin", "--raw", "-r", "--no-renames", "--no-abbrev",
            "--diff-merges=first-parent", "--format=@@%H"]
    # commits, then the paths to look at (one per line after "--": no limit on how many)
    request = "\n".join([*commits, "--", *(paths or [MODELS_PATH])]).encode() + b"\n"
    res = repo.run(*args, input=request, check=False)
    if res.returncode != 0:  # e.g. a tag on a tree: ask about each commit on its own
        out: dict[str, dict[str, tuple[str, str]]] = {}
        for commit in commits if len(commits) > 1 else ():
            out.update(_first_parent_changes(repo, [commit], paths))
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
