"""The command line owns logging: how much gitreg says on stderr, and what libraries say (nothing
unless asked for).

gitreg's own problems reach the user as one ``error:`` line (see :mod:`gitreg.cli.app`) and its
warnings as ``warning:`` lines.  Storage backends (gcsfs, s3fs, adlfs, the cloud SDKs, ...) log
retries, fallbacks and tracebacks through :mod:`logging` and warn through :mod:`warnings`; by
default none of that is printed.

``configure(verbosity)``:

- ``-1`` (``-q``): gitreg's errors only: no notes, no warnings;
- ``0`` (default): gitreg's errors, warnings and notes; every other logger and Python warning silenced;
- ``1`` (``-v``): also gitreg's informational records, and library warnings and info, each line
  prefixed by its logger;
- ``2`` (``-vv``): also debug records, gitreg's and the libraries'.

The logging module is set up when a command first reaches the core (:func:`install`), so that
``--help`` never imports it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

_verbosity = 0


def configure(verbosity: int) -> None:
    """Set how much is reported (see the module's docstring); safe to call again."""
    global _verbosity
    import warnings

    _verbosity = max(-1, min(2, verbosity))
    if _verbosity <= 0:
        warnings.simplefilter("ignore")  # libraries' deprecation notices and the like are not the user's business
    else:
        warnings.resetwarnings()
    if "logging" in sys.modules or _verbosity > 0:
        install()


def verbosity() -> int:
    return _verbosity


def install() -> None:
    """Set up logging for the configured verbosity (idempotent: a later call replaces an earlier one)."""
    import logging

    silent = logging.CRITICAL + 1
    own = logging.getLogger("gitreg")
    for handler in [h for h in own.handlers if getattr(h, "gitreg_cli", False)]:
        own.removeHandler(handler)
    own.addHandler(_handler(own_records=True))
    own.propagate = False
    own.setLevel({-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}[_verbosity])

    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "gitreg_cli", False)]:
        root.removeHandler(handler)
    libraries = _handler(own_records=False)
    libraries.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    level = silent if _verbosity <= 0 else logging.INFO if _verbosity == 1 else logging.DEBUG
    libraries.setLevel(level)  # a handler on the root also keeps logging's last-resort printer quiet
    root.addHandler(libraries)
    root.setLevel(level if level != silent else logging.WARNING)
    logging.captureWarnings(True)  # library warnings go through "py.warnings", so through the levels above


def _handler(own_records: bool) -> logging.Handler:
    import logging

    class StderrHandler(logging.Handler):
        """Writes to whatever ``sys.stderr`` is when a record comes (not the stream of the first call)."""

        gitreg_cli = True

        def emit(self, record: logging.LogRecord) -> None:
            if own_records:
                level = record.levelno
                prefix = "warning: " if level == logging.WARNING else ("error: " if level >= logging.ERROR else "")
                text = prefix + record.getMessage()
            else:  # a library's record, with its traceback when it carries one
                text = self.format(record)
            try:
                sys.stderr.write(text + "\n")
            except (OSError, ValueError):
                pass

    return StderrHandler()
