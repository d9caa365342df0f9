"""Each tag must point at the commit that made the change its name records: what the target commits
changed, read in chunks with one ``git log`` each, and the tags proven remembered by tag object.

Remembering them is the ``tag-proofs`` fast path (see :mod:`gitreg.fastpaths`): with its reference
selected, every check proves every tag."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, NamedTuple

from ..git import ZERO_OID
from ..layout import MODELS_PATH, model_path, version_file
from ..state.cache import cache_get, cache_put
from ..state.validation import Problem
from ..transitions import stage_of

if TYPE_CHECKING:
    from ..git import GitRepo

_TAG_CHUNK = 8192  # tags whose target commits are read with one ``git log`` when they must be verified
_FEW_MODELS = 16  # a target commit of tags of more models than this (in one chunk) is read for those only
_VERIFIED_FORMAT = "tags-verified-3"  # 3: a proven tag's message also agrees with its commit


def verified_key(prefix: str) -> str:
    """The cache entry of the ``<ref> <tag oid>`` pairs already proven to point where they should (short
    digests of each, and one of the whole list when every tag was proven)."""
    return hashlib.sha1(f"{_VERIFIED_FORMAT}\0{prefix}".encode()).hexdigest()


def pair_key(ref: str, oid: str) -> str:
    """How a proven ``<ref> <tag oid>`` pair is remembered (80 bits: the cache of 200,000 tags stays a few MB)."""
    return hashlib.sha1(f"{ref} {oid}".encode()).hexdigest()[:20]


def proven_pairs(repo: GitRepo, prefix: str) -> set[str]:
    """The pair keys (:func:`pair_key`) of the tags proven already."""
    cached = cache_get(repo, verified_key(prefix), "tag-proofs")
    pairs = cached.get("pairs") if isinstance(cached, dict) else None
    return set(pairs) if isinstance(pairs, list) else set()


def remember_proven(repo: GitRepo, prefix: str, keys: list[str]) -> None:
    """Add ``keys`` (tags proven by a caller that checked some of them, e.g. ``tags sync``) to what is proven."""
    cached = cache_get(repo, verified_key(prefix), "tag-proofs")
    cached = cached if isinstance(cached, dict) else {}
    listed = cached.get("pairs")
    pairs: list[Any] = listed if isinstance(listed, list) else []
    if set(keys) - set(pairs):
        cache_put(repo, verified_key(prefix), {"all": cached.get("all"), "pairs": sorted(set(pairs) | set(keys))},
                  "tag-proofs")


class _Pending(NamedTuple):
    """A tag waiting to be verified (see :meth:`TargetVerifier.add`)."""

    key: str  # its pair_key
    ref: str
    target: str  # the commit it points at
    model: str
    stage: str | None  # None: a registration tag
    number: int
    oid: str  # the tag object


class TargetVerifier:
    """Each tag must point at a commit that made its change, relative to that commit's first parent.

    A registration tag ``v<N>``: the commit adds ``versions/<N>.yaml`` (its first parent
    does not have it).  A stage tag: at the commit its version is in the stage, at the
    first parent it was not.  (``gitreg tags sync`` picks exactly such commits for
    merges, squash and rebase merges.)  And the tag's message agrees with that commit
    (:mod:`gitreg.provenance`: who, why, the stage it came from), so that no tag's free
    text stands in for the history.  What the target commits changed comes from one
    ``git log`` per chunk of tags; a tag object never changes, so each ``ref oid`` pair
    proven once is remembered in the cache and not read again.
    """

    def __init__(self, repo: GitRepo, prefix: str, partial: bool = False) -> None:
        self.repo = repo
        self.partial = partial        # some of the tags only (tags sync): what is proven is added to the cache
        self.prefix = prefix
        self.key = verified_key(prefix)
        cached = cache_get(repo, self.key, "tag-proofs")
        cached = cached if isinstance(cached, dict) else {}
        self.cached_whole = cached.get("all")
        pairs = cached.get("pairs")
        self.known: set[str] = set(pairs) if isinstance(pairs, list) else set()
        self.whole = hashlib.sha1()
        self.count = 0
        self.done: list[str] = []     # pair keys of the tags added that are proven
        self.pending: list[_Pending] = []
        self.verified = False         # whether any tag was read from git this time
        self.problems: list[Problem] = []
        self.wide: set[str] = set()   # commits that changed many manifests: read for given model folders only

    def add(self, ref: str, oid: str, target: str, model: str, stage: str | None, number: int) -> None:
        """A tag to verify: registration (``stage`` None) of ``number``, or a stage tag moving ``number``."""
        pair = f"{ref} {oid}"
        self.whole.update(("\n" + pair if self.count else pair).encode())
        self.count += 1
        key = pair_key(ref, oid)
        if key in self.known:
            self.done.append(key)
            return
        self.pending.append(_Pending(key, ref, target, model, stage, number, oid))
        if len(self.pending) >= _TAG_CHUNK:
            self._verify()

    def _verify(self) -> None:
        todo, self.pending = self.pending, []
        self.verified = True
        models: dict[str, set[str]] = {}  # target commit -> the model folders its tags here are about
        for pending in todo:
            models.setdefault(pending.target, set()).add(model_path(pending.model))
        # A commit most tags of this chunk point at (an import of every model) is read for these tags' model
        # folders only, not whole each time. Any other commit is read without a folder list: git then walks
        # only the subtrees it changed, where matching each of its entries against thousands of folders
        # would cost more with every commit of the history (70 ms per commit at 10,000 models).
        wide = sorted(c for c, folders in models.items() if len(folders) > _FEW_MODELS or c in self.wide)
        narrow = sorted(c for c in models if c not in wide)
        wanted = {version_file(pending.model, pending.number) for pending in todo}
        changes = _first_parent_changes(self.repo, wide, sorted(set().union(*(models[c] for c in wide))))
        if narrow:
            listed: dict[str, int] = {}
            changes.update(_first_parent_changes(self.repo, narrow, keep=wanted, listed=listed))
            # a big change (an import): from now on read for the model folders asked about only
            self.wide.update(c for c, count in listed.items() if count > _FEW_MODELS * 64)
        manifests: list[str] = []  # the blobs the stage tags' versions had before their commits
        for pending in todo:
            if pending.stage is not None:
                before_after = changes.get(pending.target, {}).get(version_file(pending.model, pending.number), ())
                manifests += [oid for oid in before_after if oid != ZERO_OID]
        blobs = dict(zip(manifests, self.repo.read_blobs(manifests))) if manifests else {}
        words = TagWords(self.repo, [(pending.oid, pending.target) for pending in todo])
        for key, ref, target, model, stage, number, oid in todo:
            path = version_file(model, number)
            change = changes.get(target, {}).get(path)
            if stage is None:
                wrong = None if change is not None and change[0] == ZERO_OID and change[1] != ZERO_OID else \
                    f"which does not add {path}"
            else:
                wrong = _stage_wrong(stage, number, path, change, blobs)
            tag = f"tag {ref[len('refs/tags/'):]}"
            if wrong:
                self.problems.append(Problem(tag, "", f"points at {target[:12]}, {wrong}; tags are immutable and"
                                             " mark the commit that made their change: delete this one and let"
                                             " `gitreg tags sync` recreate it", code="tag-moved"))
                continue
            previous = None
            if stage is not None and change is not None:
                previous = "none" if change[0] == ZERO_OID else stage_of(blobs.get(change[0]), path) or "none"
            found = words.problem(tag, oid, target, model, stage, number, previous)
            if found is not None:
                self.problems.append(found)
            else:
                self.done.append(key)

    def finish(self) -> list[Problem]:
        """Verify what is left; remember what is proven; the tag-moved findings, in the order of the tags."""
        if self.pending:
            self._verify()
        if self.partial:  # some tags only: add what is proven, forget nothing
            remember_proven(self.repo, self.prefix, self.done)
            return self.problems
        whole = self.whole.hexdigest()
        complete = len(self.done) == self.count
        if self.verified or len(self.done) != len(self.known) or (self.cached_whole == whole) != complete:
            cache_put(self.repo, self.key, {"all": whole if complete else None, "pairs": sorted(self.done)},
                      "tag-proofs")
        return self.problems


class TagWords:
    """The messages of many tags and the commits they mark, read in one exchange each, held against each
    other (:func:`gitreg.provenance.disagreements`).  ``tags``: (tag object, target commit) pairs."""

    def __init__(self, repo: GitRepo, tags: list[tuple[str, str]]) -> None:
        from ..provenance import read_commits, read_tag_messages

        self.messages = read_tag_messages(repo, [oid for oid, _target in tags])
        self.commits = read_commits(repo, [target for _oid, target in tags])

    def problem(self, tag: str, oid: str, target: str, model: str, stage: str | None, number: int,
                previous: str | None) -> Problem | None:
        """The finding for a tag (already known to point at a commit that made its change), or None.
        ``previous``: the stage the version had at that commit's first parent (stage tags)."""
        from ..provenance import claim_of, disagreements

        message = self.messages.get(oid)
        facts = self.commits.get(target)
        if message is None or facts is None:
            return None  # not an annotated tag of a commit: reported elsewhere
        claim = claim_of(message, stage)
        if claim is None or claim.model != model or claim.number != number or claim.stage != stage:
            kind = f"'{model} v{number} registered'" if stage is None else f"'{model} v{number} -> {stage}'"
            return Problem(tag, "", f"message does not read {kind}", code="tag-message")
        said = disagreements(claim, facts, previous)
        if not said:
            return None
        return Problem(tag, "", "; ".join(said) + ": a tag's text is no record of who made a change or why; delete"
                       " this tag (here and on the remote) and let `gitreg tags sync` recreate it from the commit",
                       code="tag-mismatch")


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


def _first_parent_changes(repo: GitRepo, commits: list[str], paths: list[str] | None = None,
                          keep: set[str] | None = None,
                          listed: dict[str, int] | None = None) -> dict[str, dict[str, tuple[str, str]]]:
    """Commit -> {path: (old blob, new blob)} of what each commit changed under ``paths`` (default
    ``.mcp/models``) against its first parent (a root commit: against nothing).  One ``git log`` for all.
    ``keep``: only these paths are kept of what git lists (the rest is not held in memory); ``listed``
    receives how many files git listed for each commit."""
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
            out.update(_first_parent_changes(repo, [commit], paths, keep, listed))
        return out
    changes: dict[str, dict[str, tuple[str, str]]] = {}
    files: dict[str, tuple[str, str]] = {}
    commit = ""
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("@@"):
            commit = line[2:].strip()
            files = changes.setdefault(commit, {})
        elif line.startswith(":"):
            if listed is not None:
                listed[commit] = listed.get(commit, 0) + 1
            meta, _, path = line.partition("\t")
            if keep is not None and path not in keep:
                continue
            parts = meta.split()
            if len(parts) >= 5:
                files[path] = (parts[2], parts[3])
    return changes
