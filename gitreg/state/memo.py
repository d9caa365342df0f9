"""What one repository's reads and writes in this process remember: the ``state-memo`` fast path.

Models read or written, by the tree id of their folder (immutable, so never stale): the next snapshot
of an unchanged model, or of the one a write just made, needs no parsing at all; and registry.yaml by
blob id.  The memo is an object owned by the repository (:func:`memo_of`), not a module's global: two
repositories in one process never see each other's models, and dropping the repository drops it.
With the fast path's reference selected nothing is remembered and every read parses.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..fastpaths import fast

if TYPE_CHECKING:
    from ..git import GitRepo
    from ..manifests import RegistryConfig
    from .model import ModelState

MEMO_KEY = "state"  # the memo's key among the repository's memos


@dataclass(frozen=True)
class Loaded:
    """A model folder read or written by this process."""

    docs: dict[str, Any]   # the validated documents (model, versions, warnings, stages, unreadable)
    state: ModelState
    depth: int             # how many deltas its cache entry on disk stands on (0: a whole entry)


class StateMemo:
    """The models (by tree id) and registry.yaml (by blob id) one repository read or wrote in this process,
    and the tree of each model it knows last (the state a successor is built from)."""

    MAX_MODELS = 64
    MAX_CONFIGS = 16

    def __init__(self) -> None:
        self.configs: dict[str, RegistryConfig] = {}
        self.loaded: OrderedDict[str, Loaded] = OrderedDict()
        self.latest: dict[str, str] = {}  # model name -> the tree id of it read or written last

    def clear(self) -> None:
        self.configs.clear()
        self.loaded.clear()
        self.latest.clear()

    def config(self, blob: str) -> RegistryConfig | None:
        return self.configs.get(blob) if fast("state-memo") else None

    def keep_config(self, blob: str, config: RegistryConfig) -> None:
        if not fast("state-memo"):
            return
        if len(self.configs) >= self.MAX_CONFIGS:
            self.configs.clear()
        self.configs[blob] = config

    def get(self, tree: str | None) -> Loaded | None:
        """The model read or written at folder ``tree`` (None: not remembered, or the fast path is off)."""
        return self.loaded.get(tree) if tree is not None and fast("state-memo") else None

    def last_known(self, name: str) -> tuple[str, Loaded] | None:
        """(tree id, what was read) of the last state of model ``name`` this process knows."""
        tree = self.latest.get(name) if fast("state-memo") else None
        known = self.loaded.get(tree) if tree is not None else None
        return (tree, known) if tree is not None and known is not None and known.state.name == name else None

    def seen(self, name: str, tree: str) -> None:
        """Model ``name`` was read at ``tree`` again (an unchanged model)."""
        self.latest[name] = tree

    def remember(self, tree: str, docs: dict[str, Any], state: ModelState, depth: int = 0) -> ModelState:
        """Remember ``state`` (read or written at folder ``tree``); returns it."""
        if not fast("state-memo"):
            return state
        self.loaded[tree] = Loaded(docs, state, depth)
        self.loaded.move_to_end(tree)
        self.latest[state.name] = tree
        while len(self.loaded) > self.MAX_MODELS:
            self.loaded.popitem(last=False)
        return state


def memo_of(repo: GitRepo) -> StateMemo:
    """The repository's memo (made on first use)."""
    memo = repo.memos.get(MEMO_KEY)
    if not isinstance(memo, StateMemo):
        memo = repo.memos[MEMO_KEY] = StateMemo()
    return memo
