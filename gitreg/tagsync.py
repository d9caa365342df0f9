"""``gitreg tags sync``: create the registration and stage tags that history lacks.

A pull request merged by squash or rebase carries no tags, and a crash between a
commit and its tag leaves one missing.  This walks the registry branch's
first-parent history, finds each commit that registered a version or moved one
to a stage (from the manifests, so any merge style works), and creates each
missing tag on the commit that introduced the change, with the message format
gitreg's own writes use and the date of that commit.  Idempotent.

A tag that is already there for a change is held against the commit it marks
(:class:`gitreg.check.tag_targets.TargetVerifier`: the commit made that change, and the
tag's ``by:``, ``reason:`` and previous stage agree with it, see :mod:`gitreg.provenance`).
One that does not (say, pre-made by someone who may push tags but not the branch) is
reported in :attr:`SyncReport.problems`, never counted as the change's tag, and never
moved or deleted: tags are immutable.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import GitError
from .git import GitRepo, RefInfo
from .registry import Registry
from .remote import Remote
from .state.validation import Problem
from .tagnames import (
    StageTag,
    StageTagMessage,
    VersionTag,
    format_stage_message,
    format_stage_tag,
    format_version_message,
    format_version_tag,
    parse_stage_message,
    parse_tag,
    parse_version_message,
)
from .transitions import Transition, branch_changes, commit_change, details, message_block, transitions


@dataclass(frozen=True)
class NewTag:
    name: str
    commit: str
    subject: str


@dataclass(frozen=True)
class SyncReport:
    created: tuple[NewTag, ...]
    pushed: tuple[str, ...]
    commits: int          # commits of the branch that changed .mcp/models
    remote: str | None    # where tags were pushed
    held_back: tuple[str, ...] = ()  # local tags not pushed: their commits are not on the remote's branch
    problems: tuple[Problem, ...] = ()  # tags there already for a change that do not tell its truth (kept as they are)


@dataclass(frozen=True)
class _CommitInfo:
    author: str
    date: str
    message: str


class _Tags:
    """gitreg's existing tags, indexed for "is this transition tagged already?"."""

    def __init__(self, repo: GitRepo, prefix: str) -> None:
        self.versions: set[tuple[str, int]] = set()
        self.stages: dict[tuple[str, str], dict[int, tuple[str, int | None]]] = {}
        self.refs: dict[str, RefInfo] = {}  # tag name -> its ref, for the tags there before this sync
        for ref in repo.list_refs(f"refs/tags/{prefix}/"):
            parsed = parse_tag(prefix, ref.name)
            if isinstance(parsed, VersionTag):
                self.versions.add((parsed.model, parsed.number))
                self.refs[parsed.name] = ref
            elif isinstance(parsed, StageTag):
                message = parse_stage_message(ref.subject + "\n\n" + ref.body)
                number = message.number if message is not None else None
                self.stages.setdefault((parsed.model, parsed.stage), {})[parsed.seq] = (ref.target, number)
                self.refs[parsed.name] = ref

    def has_stage(self, t: Transition, commits: set[str]) -> bool:
        held = self.stages.get((t.model, t.stage), {})
        return any(number == t.version and target in commits for target, number in held.values())

    def stage_tags(self, prefix: str, t: Transition, commits: set[str]) -> list[str]:
        """The names of the tags there before this sync that record ``t`` on one of ``commits``."""
        held = self.stages.get((t.model, t.stage), {})
        return [format_stage_tag(prefix, t.model, t.stage, seq) for seq, (target, number) in sorted(held.items())
                if number == t.version and target in commits]

    def next_seq(self, t: Transition, counter: int | None) -> int:
        held = self.stages.setdefault((t.model, t.stage), {})
        if counter is not None and counter not in held:
            return counter
        return max([*held, counter or 0]) + 1


def _parents(repo: GitRepo, commit: str) -> list[str]:
    obj = repo.read_object(commit)
    if obj is None:
        raise GitError(f"commit {commit} is missing; run `git fsck`")
    return [line[7:] for line in obj[2].decode("utf-8", "replace").splitlines()
            if line.startswith("parent ")]


def _info(repo: GitRepo, commit: str) -> _CommitInfo:
    text = repo.out("show", "-s", "--format=%an <%ae>%x00%cI%x00%B", commit)
    author, date, message = (text.split("\0", 2) + ["", ""])[:3]
    return _CommitInfo(author, date, message)


def _introduced_by(repo: GitRepo, t: Transition, commit: str, side: list[str]) -> tuple[str, Transition]:
    """For a merge: the newest merged-in commit that made the transition itself (and the transition as that
    commit made it, from its own first parent), else the merge."""
    for candidate in side:
        parents = _parents(repo, candidate)
        found = transitions(repo, [commit_change(repo, candidate, parents[0] if parents else None)])
        made = next((other for other in found[candidate] if other.key == t.key), None)
        if made is not None:
            return candidate, made
    return commit, t


def _message(t: Transition, name: str, info: _CommitInfo) -> str:
    if t.kind == "registered":
        block = message_block(info.message, f"{t.model} v{t.version} registered")
        found = parse_version_message(block) if block else None
        by = found.by if found is not None and found.by else info.author
        return format_version_message(t.model, t.version, name, by, found.reason if found is not None else "")
    block = message_block(info.message, f"{t.model} v{t.version} -> {t.stage}")
    parsed = parse_stage_message(block) if block else None
    by = parsed.by if parsed is not None and parsed.by else info.author
    if parsed is not None:
        reason = parsed.reason
    else:  # e.g. a squash merge titled by its pull request
        reason = info.message.strip().splitlines()[0] if info.message.strip() else ""
    return format_stage_message(StageTagMessage(
        model=t.model, number=t.version, stage=t.stage, previous_stage=t.previous_stage,
        demoted=t.demoted, by=by, reason=reason))


def _push_remote(registry: Registry) -> Remote:
    if registry.remote is not None:
        return registry.remote
    return registry.remote_named("origin", "--push needs a remote: name one with `remote:` in"
                                           " .mcp/registry.yaml, or add origin")


def sync_tags(registry: Registry, push: bool = False, dry_run: bool = False) -> SyncReport:
    """Create every missing registration and stage tag along the branch's first-parent history."""
    repo = registry.repo
    config = registry.snapshot().config
    prefix = config.tag_prefix
    remote = _push_remote(registry) if push or registry.remote is not None else None
    if remote is not None:
        remote.fetch(prefix)  # tags made elsewhere must not be made twice
    branch = repo.head_ref()
    if branch is None:
        raise GitError("HEAD is detached; check out the registry branch, then retry")
    tags = _Tags(repo, prefix)
    changes = branch_changes(repo, branch)
    created: list[NewTag] = []
    kept: list[tuple[str, Transition, str]] = []  # (tag, change, commit): tags there already, held against
    # the commits they mark below
    with repo.write_lock():
        found = transitions(repo, changes)
        for change in changes:
            commit, parents = change.commit, change.parents
            side: list[str] | None = None
            for t in found[change.commit]:
                if t.kind == "registered" and (not config.registration_tags or (t.model, t.version) in tags.versions):
                    if config.registration_tags:
                        kept.append((format_version_tag(prefix, t.model, t.version), t, commit))
                    continue  # tagged already, or this registry tags stage changes only
                if side is None:
                    side = [c for c in repo.rev_list(commit, "--not", parents[0]) if c != commit] \
                        if len(parents) > 1 else []
                if t.kind == "stage" and tags.has_stage(t, {commit, *side}):
                    kept += [(name, t, commit) for name in tags.stage_tags(prefix, t, {commit, *side})]
                    continue
                target, made = _introduced_by(repo, t, commit, side) if side else (commit, t)
                info = _info(repo, target)
                name, counter = details(repo, t)
                message = _message(made, name, info)
                if t.kind == "registered":
                    tag = format_version_tag(prefix, t.model, t.version)
                    tags.versions.add((t.model, t.version))
                else:
                    seq = tags.next_seq(t, counter)
                    tag = format_stage_tag(prefix, t.model, t.stage, seq)
                    tags.stages[(t.model, t.stage)][seq] = (target, t.version)
                if dry_run or repo.create_tag(tag, target, message, date=info.date):
                    created.append(NewTag(tag, target, message.splitlines()[0]))
    problems = _untrue(repo, prefix, tags, kept)
    pushed: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    if push and remote is not None and not dry_run:
        ours = set(repo.ref_names(f"refs/tags/{prefix}/"))
        missing = ours - remote.remote_refs(f"refs/tags/{prefix}/*")
        # Only tags of commits the remote's branch holds are published: a tag left by a
        # write that never reached the remote would announce a change that never happened.
        on_branch = set(repo.ref_names(f"refs/tags/{prefix}/", merged=remote.tracking_ref)) \
            if missing and repo.commit_of(remote.tracking_ref) else set()
        publish = sorted(missing & on_branch)
        if publish:
            remote.push_refs(publish, "pushing tags")
        pushed = tuple(m[len("refs/tags/"):] for m in publish)
        held = tuple(sorted(m[len("refs/tags/"):] for m in missing - on_branch))
    return SyncReport(tuple(created), pushed, len(changes), remote.name if push and remote else None, held,
                      tuple(problems))


def _untrue(repo: GitRepo, prefix: str, tags: _Tags, kept: list[tuple[str, Transition, str]]) -> list[Problem]:
    """The findings about the tags there already for the branch's changes: each must mark the commit that
    made its change, and its message must agree with that commit (what ``gitreg check`` proves of every
    tag).  What was proven once is remembered by tag object, so a sync reads only tags it has not seen; a
    tag on the commit whose change this sync found is judged against that change, one on a merged-in commit
    (a merge commit's pull request) as ``gitreg check`` judges it."""
    from .check.tag_targets import TagWords, TargetVerifier, pair_key, proven_pairs, remember_proven

    known = proven_pairs(repo, prefix)
    direct: list[tuple[RefInfo, Transition]] = []
    merged_in: list[tuple[RefInfo, Transition]] = []
    seen: set[str] = set()
    problems: list[Problem] = []
    for name, t, commit in kept:
        ref = tags.refs.get(name)
        if ref is not None and ref.type != "tag" and name not in seen:
            seen.add(name)  # `gitreg check` does not count a lightweight tag either: the change stays untagged
            problems.append(Problem(f"tag {name}", "", f"is a lightweight tag, so {t.model} v{t.version}'s change has"
                                    " no annotated tag recording who and why (and `gitreg check` does not count it);"
                                    f" tags are never moved: delete it (`git tag -d {name}`, and on the remote)"
                                    " and run `gitreg tags sync` again", code="tag-missing"))
            continue
        if ref is None or name in seen or pair_key(ref.name, ref.oid) in known:
            continue  # made by this sync, or proven already
        seen.add(name)
        (direct if ref.target == commit else merged_in).append((ref, t))
    words = TagWords(repo, [(ref.oid, ref.target) for ref, _t in direct])
    proven: list[str] = []
    for ref, t in direct:
        stage = None if t.kind == "registered" else t.stage
        found = words.problem(f"tag {ref.name[len('refs/tags/'):]}", ref.oid, ref.target, t.model, stage, t.version,
                              t.previous_stage if stage is not None else None)
        if found is None:
            proven.append(pair_key(ref.name, ref.oid))
        else:
            problems.append(found)
    remember_proven(repo, prefix, proven)
    if merged_in:
        verifier = TargetVerifier(repo, prefix, partial=True)
        for ref, t in merged_in:
            verifier.add(ref.name, ref.oid, ref.target, t.model, None if t.kind == "registered" else t.stage,
                         t.version)
        problems += verifier.finish()
    return sorted(problems, key=lambda p: p.path)
