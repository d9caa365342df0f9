"""The audit trail of a model: every registration and stage change, from gitreg's tags.

One ``git for-each-ref`` over ``<prefix>/<model>/`` answers it, so the cost does not
grow with the rest of the repository.  Each event says when, who, from -> to, the
reason, the commit and the tag, exactly as ``git tag -l``/``git show`` would.

Who is the author of the commit the tag marks (and its committer, when another
person), read from the commit objects in one exchange, never only the tag's ``by:``
text; where the tag's text disagrees with its commit the event says so
(:mod:`gitreg.provenance`).  A signed commit's signature is shown as git judges it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .git import GitRepo
from .layout import version_number
from .provenance import TagClaim, disagreements, read_commits, signatures
from .tagnames import StageTag, VersionTag, parse_stage_message, parse_tag, parse_version_message


@dataclass(frozen=True)
class Event:
    when: str                 # ISO 8601, the tag's date
    kind: str                 # "registered" or "stage"
    model: str
    version: int
    from_stage: str | None    # None for a registration
    to_stage: str             # "none" for a registration
    by: str
    reason: str
    commit: str
    tag: str
    demoted: tuple[int, ...] = ()
    seq: int = 0              # the stage tag's sequence number (0 for registrations)
    committer: str = ""       # who committed the change, when not its author
    signature: str = ""       # the commit's signature: "verified", "unverified", or "" (unsigned)
    tag_mismatch: str = ""    # what the tag's message says that its commit does not ("" when they agree)

    def to_dict(self) -> dict[str, object]:
        return {"when": self.when, "event": self.kind, "model": self.model, "version": self.version,
                "from": self.from_stage, "to": self.to_stage, "by": self.by, "reason": self.reason,
                "demoted": list(self.demoted), "commit": self.commit, "tag": self.tag,
                "committer": self.committer, "signature": self.signature, "tag_mismatch": self.tag_mismatch}


def model_history(repo: GitRepo, prefix: str, model: str, version: int | None = None,
                  registration_tags: bool = True, commit: str | None = None) -> list[Event]:
    """Registrations and stage changes of ``model`` (of one version, and the moves that demoted it).

    ``registration_tags`` False (a registry that tags stage changes only): registrations come from
    the commits in ``commit``'s history that added the version manifests."""
    events: list[Event] = []
    claims: dict[int, TagClaim] = {}  # event index -> what its tag's message says
    for ref in repo.list_refs(f"refs/tags/{prefix}/{model}/"):
        if ref.type != "tag":
            continue  # lightweight: no message, no who or why (`gitreg check` warns)
        parsed = parse_tag(prefix, ref.name)
        tag = ref.name[len("refs/tags/"):]
        if isinstance(parsed, VersionTag) and parsed.model == model:
            registered = parse_version_message(ref.subject + "\n\n" + ref.body)
            by, reason = (registered.by, registered.reason) if registered is not None else ("", "")
            if registered is not None:
                claims[len(events)] = TagClaim(model, parsed.number, None, None, by, reason)
            events.append(Event(ref.date, "registered", model, parsed.number, None, "none",
                                by or ref.tagger, reason, ref.target, tag))
        elif isinstance(parsed, StageTag) and parsed.model == model:
            msg = parse_stage_message(ref.subject + "\n\n" + ref.body)
            if msg is None:
                continue
            claims[len(events)] = TagClaim(model, msg.number, msg.stage, msg.previous_stage, msg.by, msg.reason)
            events.append(Event(ref.date, "stage", model, msg.number, msg.previous_stage, msg.stage,
                                msg.by or ref.tagger, msg.reason, ref.target, tag, msg.demoted, parsed.seq))
    events = _from_commits(repo, events, claims)
    if not registration_tags and commit is not None:
        known = {e.version for e in events if e.kind == "registered"}
        events += registrations_from_log(repo, commit, f".mcp/models/{model}/versions", model, known)
    if version is not None:
        events = [e for e in events if e.version == version or version in e.demoted]
    return _ordered(repo, events)


def registrations_from_log(repo: GitRepo, rev: str, versions_path: str, model: str,
                           known: set[int]) -> list[Event]:
    """Registrations of ``model`` that no tag records (a registry with ``registration_tags: false``),
    read from the commits that added its version manifests: when, who and why as the commit says."""
    events = []
    for added in repo.added_by(rev, versions_path):
        commit, date, author, message = added.commit, added.date, added.author, added.message
        for path in added.paths:
            number = version_number(path)
            if number is None or number in known:
                continue
            found = parse_version_message(message)
            # who: the commit's author (the commit's own text is no other witness)
            events.append(Event(date, "registered", model, number, None, "none", author,
                                found.reason if found is not None else "", commit, ""))
    return events


def _from_commits(repo: GitRepo, events: list[Event], claims: dict[int, TagClaim]) -> list[Event]:
    """``events`` (from tags) with who made each change read from its commit, and what the tag's text says
    that the commit does not."""
    facts = read_commits(repo, [e.commit for e in events])
    signed = signatures(repo, list(facts.values()))
    out = []
    for i, e in enumerate(events):
        made = facts.get(e.commit)
        if made is None:  # not a commit here (e.g. a tag on a tree): the tag's word is all there is
            out.append(e)
            continue
        claim = claims.get(i)
        mismatch = "; ".join(disagreements(claim, made)) if claim is not None else ""
        committer = made.committer if made.committer != made.author else ""
        out.append(replace(e, by=made.author, committer=committer, signature=signed.get(e.commit, ""),
                           tag_mismatch=mismatch))
    return out


def _ordered(repo: GitRepo, events: list[Event]) -> list[Event]:
    """By date; events within one second are put in commit order (topological), then by counters."""
    def key(e: Event) -> tuple[str, int, int, int]:
        return (e.when, 0 if e.kind == "registered" else 1, e.version if e.kind == "registered" else e.seq,
                e.version)

    events.sort(key=key)
    tied: set[str] = set()
    for a, b in zip(events, events[1:]):
        if a.when == b.when and a.commit != b.commit:
            tied.update((a.commit, b.commit))
    if not tied:
        return events
    position = {c: i for i, c in enumerate(repo.rev_list("--topo-order", "--reverse", *sorted(tied)))}
    return sorted(events, key=lambda e: (e.when, position.get(e.commit, -1), *key(e)[1:]))
