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

The package:

- :mod:`.run`: :func:`check`, the registry at one revision;
- :mod:`.findings`: the finding codes, the report, the line of each finding;
- :mod:`.report_cache`: the report remembered under the digest of its inputs;
- :mod:`.workers`: model folders validated in batches, by forked workers when there are many;
- :mod:`.tags`: tags listed, parsed, scanned and held against the manifests; their signatures;
- :mod:`.tag_targets`: each tag points at the commit that made its change;
- :mod:`.reverts`: registered versions that disappeared without gitreg's delete.
"""

from __future__ import annotations

from .findings import DELETE_CODES, FINDINGS, CheckReport, Finding, accept, allowed_codes, approval, locate, with_lines
from .run import check

__all__ = ["DELETE_CODES", "FINDINGS", "CheckReport", "Finding", "accept", "allowed_codes", "approval", "check",
           "locate", "with_lines"]
