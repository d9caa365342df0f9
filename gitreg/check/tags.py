"""The tags held against the manifests: listed and parsed as a stream, scanned (names, kinds, messages,
reachability), matched with what the manifests say, and their signatures verified.

A registry may hold hundreds of thousands of tags, so they are streamed: one ``git show-ref -d`` lists
them (git reads peeled targets from packed-refs without opening each tag), each line is cut with string
operations, and what is kept is per model (the numbers registered, the latest stage tags), not per tag.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..layout import version_file
from ..stages import STORED_STAGES
from ..state.cache import cache_get, cache_put
from ..state.validation import Problem
from ..tagnames import StageTag, StageTagMessage, parse_stage_message, parse_tag
from .folders import ModelFolder
from .reverts import check_lost_versions
from .tag_targets import TargetVerifier

if TYPE_CHECKING:
    from ..git import GitRepo


def show_ref(repo: GitRepo) -> bytes:
    """``git show-ref -d --tags``: every tag, its object and (annotated) the object it peels to."""
    return repo.run("show-ref", "-d", "--tags", check=False).stdout


def tags_under(listing: str, base: str) -> Iterator[tuple[str, str, str | None]]:
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


_TAG_LINES: dict[str, re.Pattern[str]] = {}


def _is_count(text: str) -> bool:
    """``[1-9][0-9]*``."""
    return text[:1] in _NONZERO and text.isascii() and text.isdigit()


_NONZERO = frozenset("123456789")
_STORED_STAGES = frozenset(STORED_STAGES)


def split_tag(rest: str) -> tuple[str, str | None, int] | None:
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
class TagScan:
    """What the tags say, before they are held against the manifests."""

    count: int                                                  # tags under the prefix
    problems: list[Problem]                                     # findings about the tags themselves
    registered: dict[str, set[int]]                             # model -> numbers with a registration tag
    outside: dict[str, set[int]]                                # those whose tag is outside the checked history
    latest_stage: dict[tuple[str, str], tuple[int, StageTagMessage]]  # (model, stage) -> its latest tag


def scan_tags(repo: GitRepo, commit: str | None, rev: str, prefix: str, text: str) -> TagScan:
    """Every tag under ``prefix`` in ``text`` (the output of :func:`show_ref`): its name, kind, message,
    whether the checked history holds it, and whether it marks the commit that made its change."""
    base = f"refs/tags/{prefix}/"
    problems: list[Problem] = []
    unreachable = _unreachable_tags(repo, commit, prefix, text, base) if commit else set()
    messages = _stage_messages(repo, base)
    verifier = TargetVerifier(repo, prefix)
    registered: dict[str, set[int]] = {}           # model -> numbers with a registration tag
    outside: dict[str, set[int]] = {}              # those of them whose tag is outside the checked history
    latest_stage: dict[tuple[str, str], tuple[int, StageTagMessage]] = {}
    n_refs = 0
    for ref, oid, target in tags_under(text, base):
        n_refs += 1
        tag_name = ref[len("refs/tags/"):]
        parsed = split_tag(ref[len(base):])
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
    return TagScan(n_refs, problems, registered, outside, latest_stage)


def match_tags(repo: GitRepo, commit: str | None, rev: str, prefix: str, scan: TagScan,
               models: dict[str, ModelFolder], problems: list[Problem], registration_tags: bool = True) -> None:
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
        check_lost_versions(repo, commit, rev, prefix, models, {m: n for m, n in reachable.items() if n}, problems)


def _unreachable_tags(repo: GitRepo, commit: str, prefix: str, listing: str, base: str) -> set[str]:
    """The refs under ``base`` in ``listing`` whose commit is not reachable from ``commit``.

    One ``git for-each-ref --no-merged`` answers for every tag.  Reachability never
    changes, so the tag targets found reachable are remembered with ``commit``: a
    later check of ``commit`` or of a descendant only asks about new targets.
    """
    key = hashlib.sha1(f"{_REACHABLE_FORMAT}\0{prefix}".encode()).hexdigest()
    cached = cache_get(repo, key)
    known: set[str] = set()
    if isinstance(cached, dict) and isinstance(cached.get("commit"), str) \
            and (cached["commit"] == commit or repo.is_ancestor(cached["commit"], commit)):
        known = set(cached.get("targets") or ())
    unknown: list[tuple[str, str]] = []  # the first 201 (ref, target) whose target is not known to be reachable
    n_unknown = 0
    for ref, oid, target in tags_under(listing, base):
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
            known.update(target or oid for ref, oid, target in tags_under(listing, base) if ref not in unreachable)
        cache_put(repo, key, {"commit": commit, "targets": sorted(known)})
    return unreachable


_REACHABLE_FORMAT = "tags-reachable-1"


def check_signatures(repo: GitRepo, prefix: str, problems: list[Problem]) -> int:
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
