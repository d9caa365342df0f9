"""How much the command line says on stderr: gitreg's log records and its own notes.

``configure(verbosity)``: -1 errors only (``-q``: no notes, no warnings), 0 the default (notes and
warnings), 1 (``-v``) informational records too, 2 (``-vv``) debug records.
"""

from __future__ import annotations

import logging
import sys

_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
_verbosity = 0


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when a record comes (not the stream of the first call)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except (OSError, ValueError):
            pass


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "warning: " if record.levelno == logging.WARNING else (
            "error: " if record.levelno >= logging.ERROR else "")
        return prefix + record.getMessage()


def configure(verbosity: int) -> None:
    """Set how much gitreg reports on stderr (see the module's docstring); safe to call again."""
    global _verbosity
    _verbosity = max(-1, min(2, verbosity))
    log = logging.getLogger("gitreg")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Format())
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(_LEVELS[_verbosity])


def verbosity() -> int:
    return _verbosity
