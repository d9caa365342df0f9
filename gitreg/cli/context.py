"""What every command shares: the global options and the Client they select."""

from __future__ import annotations

from typing import Optional

import typer


class Settings:
    """``verbosity``: -1 with -q (errors only), 0 by default, 1 with -v, 2 with -vv."""

    def __init__(self, repo: Optional[str], traceback: bool, refresh: bool = False, verbosity: int = 0) -> None:
        self.repo = repo
        self.traceback = traceback
        self.refresh = refresh
        self.verbosity = verbosity


def client(ctx: typer.Context):
    """The Client for this invocation (imported lazily to keep --help fast)."""
    from ..client import Client

    settings: Settings = ctx.find_root().obj
    return Client(settings.repo if settings else None, refresh=bool(settings and settings.refresh))
