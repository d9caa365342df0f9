"""Walking a folder of the repository for its files, as fast as Python lists folders (os.scandir)."""

from __future__ import annotations

import os
from collections.abc import Iterator


def files_under(folder: str, rel: str) -> Iterator[tuple[str, str]]:
    """(``rel/...`` path, full path) of every file under ``folder`` (anything but a folder; symbolic links
    are not followed), ``rel`` standing for ``folder``; nothing if it is not a folder."""
    stack = [(folder, rel)]
    while stack:
        here, name = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, f"{name}/{entry.name}"))
            else:
                yield f"{name}/{entry.name}", entry.path
