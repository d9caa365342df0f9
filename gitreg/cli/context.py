"""What every command shares: the global options and the Client they select."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ..client import Client


class Settings:
    """``verbosity``: -1 with -q (errors only), 0 by default, 1 with -v, 2 with -vv."""

    def __init__(self, repo: str | None, traceback: bool, refresh: bool = False, verbosity: int = 0) -> None:
        self.repo = repo
        self.traceback = traceback
        self.refresh = refresh
        self.verbosity = verbosity


def client(ctx: typer.Context, readable: bool = True) -> Client:
    """The Client for this invocation (imported lazily to keep --help fast); ``readable=False``: also for a
    repository whose checked-out registry does not read (``gitreg check``)."""
    from ..client import Client
    from .logs import install

    install()  # the core logs what went wrong after a write succeeded as warnings
    settings: Settings = ctx.find_root().obj
    return Client(settings.repo if settings else None, refresh=bool(settings and settings.refresh),
                  readable=readable)


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of a model name: the registry's models starting with what is typed."""
    from ..client import Client
    from ..errors import GitregError

    settings = ctx.find_root().obj
    repo = settings.repo if isinstance(settings, Settings) else ctx.find_root().params.get("repo")
    try:
        return [n for n in Client(repo).registry.snapshot().model_names() if n.startswith(incomplete)]
    except GitregError:
        return []


# The arguments most commands take, declared once (typer accepts one declaration as the default of many).
MODEL = typer.Argument(..., help="Model name.", metavar="NAME", autocompletion=complete_model)
VERSION_OPT = typer.Argument(None, help="Version: a number, a name, 'latest' or a stage (default: latest).",
                             metavar="[VERSION]")
VERSION_REQ = typer.Argument(..., help="Version: a number, a name, 'latest' or a stage.", metavar="VERSION")
