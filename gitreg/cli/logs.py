"""How much the command line says on stderr: gitreg's log records and its own notes.

``configure(verbosity)``: -1 errors only (``-q``: no notes, no warnings), 0 the default (notes and
warnings), 1 (``-v``) informational records too, 2 (``-vv``) debug records.
"""

from __future__ import annotations

import sys

_verbosity = 0


def configure(verbosity: int) -> None:
    """Set how much gitreg reports on stderr (see the module's docstring); safe to call again.

    The logging module is set up now if it is loaded, else by :func:`install` when a command
    first reaches the core (so that --help never imports it).
    """
    global _verbosity
    _verbosity = max(-1, min(2, verbosity))
    if "logging" in sys.modules:
        install()


def install() -> None:
    """Route the ``gitreg`` logger's records to stderr at the configured level."""
    import logging

    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
    log = logging.getLogger("gitreg")
    if not any(getattr(h, "gitreg_cli", False) for h in log.handlers):
        handler = _handler(logging)
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(levels[_verbosity])


def _handler(logging):  # noqa: ANN001, ANN202 - the module, imported late
    class StderrHandler(logging.Handler):
        """Writes to whatever ``sys.stderr`` is when a record comes (not the stream of the first call)."""

        gitreg_cli = True

        def emit(self, record: logging.LogRecord) -> None:
            level = record.levelno
            prefix = "warning: " if level == logging.WARNING else ("error: " if level >= logging.ERROR else "")
            try:
                sys.stderr.write(prefix + record.getMessage() + "\n")
            except (OSError, ValueError):
                pass

    return StderrHandler()


def verbosity() -> int:
    return _verbosity
