"""Progress bars for long transfers (rate and time left), for the CLI and, when asked, the API.

The store reports progress through a callable taking the number of bytes just moved
(:data:`gitreg.store.Progress`); :func:`transfer_bar` makes one that draws a rich bar on a
terminal's stderr and does nothing elsewhere (a pipe, a log file, CI), so output stays clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

Progress = Callable[[int], None]


def _noop(_: int) -> None:
    pass


@contextmanager
def transfer_bar(total: int, label: str, stream: IO[str] | None = None, force: bool = False,
                 enabled: bool = True) -> Iterator[Progress]:
    """A ``progress(n)`` callable drawing a bar of ``total`` bytes on ``stream`` (default stderr).

    Nothing is drawn unless ``enabled`` and ``stream`` is a terminal (``force``: draw anyway, as
    when the API is asked for a bar, e.g. in a notebook).
    """
    stream = stream if stream is not None else sys.stderr
    if not enabled or not (force or _is_terminal(stream)):
        yield _noop
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    console = Console(file=stream, force_terminal=force or None)
    with Bar(TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True), TransferSpeedColumn(),
             TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task(label, total=max(total, 1))
        yield lambda n: bar.update(task, advance=n)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def size_of(path: str) -> int:
    """Bytes in a local file, or in every file under a local folder (0 if it is neither)."""
    from pathlib import Path

    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return 0
