"""The command line owns logging: what libraries log is shown only when asked for.

gitreg's own problems reach the user as one ``error:`` line (see :mod:`gitreg.cli.app`)
and its warnings as ``warning:`` lines.  Storage backends (gcsfs, s3fs, adlfs, the cloud
SDKs, ...) log retries, fallbacks and tracebacks through :mod:`logging` and warn through
:mod:`warnings`; by default none of that is printed.

``configure(verbosity)``:

- ``< 0`` (quiet): gitreg's errors only, not even its warnings;
- ``0`` (default): gitreg's errors and warnings; every other logger and Python warning silenced;
- ``1`` (``-v``): also library warnings and info on stderr, each line prefixed by its logger;
- ``2`` or more (``-vv``): also debug records, gitreg's and the libraries'.
"""

from __future__ import annotations

import logging
import sys

SILENT = logging.CRITICAL + 1


class _LibraryHandler(logging.Handler):
    """Writes other loggers' records to the ``sys.stderr`` of the moment (or drops them: level SILENT)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except (OSError, ValueError):
            pass


def configure(verbosity: int) -> None:
    """Set what is logged for this invocation (idempotent: a later call replaces an earlier one)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _LibraryHandler)]:
        root.removeHandler(handler)
    handler = _LibraryHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    if verbosity <= 0:
        level = SILENT  # a handler on the root also keeps logging's last-resort printer quiet
    elif verbosity == 1:
        level = logging.INFO
    else:
        level = logging.DEBUG
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level if level != SILENT else logging.WARNING)
    logging.captureWarnings(True)  # library warnings go through "py.warnings", so through the levels above

    own = logging.getLogger("gitreg")
    own.setLevel(logging.ERROR if verbosity < 0 else logging.DEBUG if verbosity >= 2 else logging.WARNING)
