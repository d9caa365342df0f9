"""File stamps: what the file system says changed, and the small JSON records that keep them.

A stamp is what changes whenever a file is written or replaced (size, modification and
change times, inode, device; the change time cannot be set back by a user).  Verified
copies and store objects keep a stamp taken when their bytes were hashed, so an unchanged
file need not be hashed again.  Records are written in one step (a reader never sees
half of one) and best effort: without a record the next use simply hashes again.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any


def stat_stamp(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def read_record(path: Path) -> Any:
    """The JSON record at ``path``, or None if there is none (or it does not parse)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def write_record(path: Path, record: Any) -> None:
    """Replace the record at ``path`` in one step; on failure leave none behind."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
