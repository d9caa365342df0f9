"""Who made a registry change, read from the commit that made it, and whether a tag's words agree.

A tag's message (``by:``, ``reason:``, ``previous-stage:``) is free text that anyone who can push a
tag can write; the commit a tag marks is what the registry branch's history vouches for.  So the
audit trail's "who" is the commit's author (and its committer, when another person), and a tag
whose text says something its commit does not is reported, never believed.

What "agrees" means, so that every tag gitreg makes passes (direct writes, ``--propose`` then a merge
commit, a squash merge, a rebase merge, ``gitreg tags sync``):

- ``by:`` is empty, or is the commit's author, or its committer, or the ``by:`` line of the commit
  message's own block for this change (a squash merge lists the squashed commits' messages; a tag
  made after it names the original promoter from there);
- ``reason:`` equals the ``reason:`` of that block, when the commit message has one (without a
  block, e.g. a squash merge titled by its pull request, the reason is not checked);
- ``previous-stage:`` (stage tags) is the stage the version had at the commit's first parent.

Pure parsing plus two reads: commit objects through the repository's object reader (one pipelined
exchange, no process per commit) and, only for commits that carry a signature, git's verdict on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .tagnames import parse_stage_message, parse_version_message

if TYPE_CHECKING:
    from .git import GitRepo


@dataclass(frozen=True)
class CommitFacts:
    """What a commit object says about who made it."""

    commit: str
    author: str       # ``Name <email>``
    committer: str    # ``Name <email>``
    message: str
    signed: bool      # carries a signature (gpgsig header); whether it verifies is git's to say


@dataclass(frozen=True)
class TagClaim:
    """What a registration or stage tag's message says about its change."""

    model: str
    number: int
    stage: str | None             # None: a registration tag
    previous_stage: str | None    # None: a registration tag
    by: str
    reason: str

    @property
    def subject(self) -> str:
        """The first line gitreg writes for this change (in the tag and in the commit)."""
        if self.stage is None:
            return f"{self.model} v{self.number} registered"
        return f"{self.model} v{self.number} -> {self.stage}"


_SIGNATURE_HEADERS = (b"gpgsig", b"gpgsig-sha256")
_SIGNATURE_STARTS = ("-----BEGIN PGP SIGNATURE-----", "-----BEGIN SSH SIGNATURE-----",
                     "-----BEGIN SIGNED MESSAGE-----")


def _person(value: bytes) -> str:
    """``Name <email>`` of an ``author``/``committer``/``tagger`` header value (date and zone dropped)."""
    text = value.decode("utf-8", "replace")
    end = text.rfind(">")
    return text[:end + 1] if end >= 0 else text.rsplit(" ", 2)[0]


def parse_commit(oid: str, data: bytes) -> CommitFacts:
    """The facts of a raw commit object."""
    head, _sep, message = data.partition(b"\n\n")
    fields: dict[bytes, bytes] = {}
    signed = False
    for line in head.split(b"\n"):
        if line.startswith(b" "):
            continue  # the continuation of a multi-line header (a signature)
        key, _sp, value = line.partition(b" ")
        if key in _SIGNATURE_HEADERS:
            signed = True
        fields.setdefault(key, value)
    return CommitFacts(oid, _person(fields.get(b"author", b"")), _person(fields.get(b"committer", b"")),
                       message.decode("utf-8", "replace"), signed)


def tag_message(data: bytes) -> str:
    """The message of a raw annotated tag object, without a signature appended to it."""
    message = data.partition(b"\n\n")[2].decode("utf-8", "replace")
    lines = message.splitlines()
    for i, line in enumerate(lines):
        if line.strip() in _SIGNATURE_STARTS:
            return "\n".join(lines[:i]) + "\n"
    return message


_MANY = 256  # objects read by one ``git cat-file --batch`` of their own rather than the shared reader


def _objects(repo: GitRepo, oids: list[str], kind: str) -> dict[str, bytes]:
    """The content of each of ``oids`` that is an object of type ``kind``.  A few come from the repository's
    object reader; many (a cold check of every tag) from one ``git cat-file --batch`` whose whole answer is
    read at once and cut by the sizes git gives, with no exchange per object."""
    if len(oids) < _MANY:
        return {oid: answer[2] for oid, answer in zip(oids, repo.reader.ask(oids))
                if answer is not None and answer[1] == kind}
    res = repo.run("cat-file", "--batch", input="".join(oid + "\n" for oid in oids).encode(), check=False)
    data, at, out = res.stdout, 0, {}
    for oid in oids:
        end = data.find(b"\n", at)
        if end < 0:
            break
        header = data[at:end].split(b" ")
        at = end + 1
        if len(header) != 3:
            continue  # "<oid> missing"
        size = int(header[2])
        if header[1].decode() == kind:
            out[oid] = data[at:at + size]
        at += size + 1
    return out


def read_commits(repo: GitRepo, commits: Sequence[str]) -> dict[str, CommitFacts]:
    """The facts of each of ``commits`` that exists and is a commit (one exchange with git)."""
    wanted = list(dict.fromkeys(commits))
    return {oid: parse_commit(oid, data) for oid, data in _objects(repo, wanted, "commit").items()}


def read_tag_messages(repo: GitRepo, objects: Sequence[str]) -> dict[str, str]:
    """The message of each annotated tag object in ``objects`` (one exchange with git)."""
    wanted = list(dict.fromkeys(objects))
    return {oid: tag_message(data) for oid, data in _objects(repo, wanted, "tag").items()}


def claim_of(message: str, stage: str | None) -> TagClaim | None:
    """What a tag message claims (``stage`` None: a registration tag); None if it is not gitreg's format."""
    if stage is None:
        registered = parse_version_message(message)
        if registered is None:
            return None
        return TagClaim(registered.model, registered.number, None, None, registered.by, registered.reason)
    moved = parse_stage_message(message)
    if moved is None:
        return None
    return TagClaim(moved.model, moved.number, moved.stage, moved.previous_stage, moved.by, moved.reason)


def _same(a: str, b: str) -> bool:
    return a == b or " ".join(a.split()) == " ".join(b.split())


def recorded(claim: TagClaim, facts: CommitFacts) -> TagClaim | None:
    """What the commit message itself records for the claimed change (its block), or None."""
    subject = claim.subject
    if subject not in facts.message:  # most commits record no block: no line-by-line look
        return None
    from .transitions import message_block

    block = message_block(facts.message, subject)
    return claim_of(block, claim.stage) if block is not None else None


def vouched(claim: TagClaim, facts: CommitFacts, block: TagClaim | None = None) -> bool:
    """Whether the commit vouches for the tag's ``by:`` (see the module's docstring); ``block``: what
    :func:`recorded` found, when already known."""
    if not claim.by.strip() or _same(claim.by, facts.author) or _same(claim.by, facts.committer):
        return True
    block = block if block is not None else recorded(claim, facts)
    return block is not None and bool(block.by.strip()) and _same(block.by, claim.by)


def disagreements(claim: TagClaim, facts: CommitFacts, previous_stage: str | None = None) -> list[str]:
    """What the tag's message says that its commit does not, one phrase each (empty: they agree).

    ``previous_stage``: the stage the version had at the commit's first parent, when known."""
    said: list[str] = []
    block = recorded(claim, facts)
    if not vouched(claim, facts, block):
        who = facts.author if _same(facts.author, facts.committer) else \
            f"{facts.author} (committed by {facts.committer})"
        said.append(f"its message says by: {claim.by}, but commit {facts.commit[:12]} was made by {who}")
    if block is not None and not _same(block.reason, claim.reason):
        said.append(f"its message says reason: {claim.reason!r}, but the commit records {block.reason!r}")
    if previous_stage is not None and claim.previous_stage is not None and claim.previous_stage != previous_stage:
        said.append(f"its message says v{claim.number} came from {claim.previous_stage}, but before that commit"
                    f" it was {previous_stage}")
    return said


def signatures(repo: GitRepo, facts: Sequence[CommitFacts]) -> dict[str, str]:
    """Commit -> ``verified`` or ``unverified`` for the signed ones among ``facts`` (unsigned are not asked
    about): one ``git log``, git's own verdict with its gpg/ssh configuration; ``unverified`` when the
    signature is bad, by a key git does not trust, or git cannot check it (no gpg, no allowed signers)."""
    signed = [f.commit for f in facts if f.signed]
    if not signed:
        return {}
    request = "\n".join(dict.fromkeys(signed)).encode() + b"\n"
    res = repo.run("log", "--no-walk=unsorted", "--stdin", "--format=%H %G?", input=request, check=False)
    out = {commit: "unverified" for commit in signed}
    if res.returncode == 0:
        for line in res.stdout.decode("utf-8", "replace").splitlines():
            commit, _sp, verdict = line.partition(" ")
            if commit in out and verdict.strip() == "G":  # good, by a key git trusts (U: a key it does not know)
                out[commit] = "verified"
    return out
