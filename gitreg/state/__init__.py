"""The registry's state at one commit, read from git objects (never the work tree).

- :mod:`.model`: :class:`ModelState`, a model's card, readable versions and stage holders (plain values);
- :mod:`.validation`: what a model folder must be, and the :class:`Problem` each finding is (reads and
  ``gitreg check`` apply the same rules);
- :mod:`.cache`: validated documents on disk under the git dir (the ``model-cache`` fast path and the
  check's entries);
- :mod:`.memo`: what this process read or wrote of a repository, owned by it (the ``state-memo`` fast path);
- :mod:`.snapshot`: :class:`Snapshot`, the registry at one commit, reading through the two above.
"""

from __future__ import annotations

from .memo import StateMemo, memo_of
from .model import ModelState, parse_version_spec, stage_claims, state_of
from .snapshot import Snapshot

__all__ = ["ModelState", "Snapshot", "StateMemo", "memo_of", "parse_version_spec", "stage_claims", "state_of"]
