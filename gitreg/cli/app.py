"""The root ``gitreg`` command, global options and the one place errors become exit codes."""

from __future__ import annotations

import logging
import os
import sys
from typing import List, Optional

import typer

from .context import Settings
from .render import note

app = typer.Typer(
    rich_markup_mode=None,  # plain help and one-line usage errors; and rich is not imported on start-up
    name="gitreg",
    help="A model registry whose database is a git repository: models, numbered versions, "
         "stages, metadata and artifact links as YAML under .mcp/, every change a commit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"gitreg {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    repo: Optional[str] = typer.Option(
        None, "--repo", "-C", envvar="GITREG_REPO", metavar="PATH",
        help="Registry to use: a folder in a git repository, or a git URL (https://..., file://..., git@host:...)"
             " worked on through a cached clone (default: the git repository around the current folder).",
    ),
    refresh: bool = typer.Option(False, "--refresh", help="With a URL: fetch now, whatever the freshness window"
                                 " ($GITREG_FRESHNESS seconds, default 5) says."),
    traceback: bool = typer.Option(False, "--traceback", help="Show a Python traceback on errors (for bug reports)."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Show gitreg's version and exit."),
) -> None:
    ctx.obj = Settings(repo, traceback, refresh)


@app.command("init")
def init_cmd(
    path: str = typer.Argument(".", help="Folder of the repository (created and git-initialised if needed)."),
    store: Optional[str] = typer.Option(
        None, "--store", metavar="URI",
        help="fsspec URI of the artifact store, e.g. s3://bucket/prefix (default: .gitreg/store, ignored by git).",
    ),
    tag_prefix: str = typer.Option("models", "--tag-prefix", help="First component of every tag gitreg creates."),
    remote: Optional[str] = typer.Option(None, "--remote", metavar="NAME",
                                         help="Git remote (e.g. origin) that every write pushes to."),
    store_option: List[str] = typer.Option(
        [], "--store-option", metavar="KEY=VALUE",
        help="Option of the store's backend (repeatable; a.b=v nests, true/3/null are JSON), e.g."
             " endpoint_url=http://127.0.0.1:4443 or token=anon. Written to registry.yaml, so never a secret:"
             " keys that look like one are refused (credentials come from the backend's environment variables)."),
) -> None:
    """Create a registry: .mcp/registry.yaml in one commit."""
    from ..client import Client
    from ..store_options import parse_store_options

    store_options = parse_store_options(store_option)
    c = Client.init(path, store=store, tag_prefix=tag_prefix, remote=remote,
                    store_options=store_options)
    config = c.registry.config
    shared = f", pushed to {config.remote}" if config.remote else ""
    note(f"Initialised a gitreg registry in {c.root} (store: {config.store}, tags: {config.tag_prefix}/...{shared})")


def _register_groups() -> None:
    from . import artifact_cmds, check_cmds, compare_cmds, metadata_cmds, model_cmds, run_cmds, site_cmds, tags_cmds

    app.command("check")(check_cmds.check_cmd)
    app.add_typer(model_cmds.model_app, name="model")
    app.add_typer(metadata_cmds.metadata_app, name="metadata")
    app.add_typer(artifact_cmds.artifact_app, name="artifact")
    app.add_typer(tags_cmds.tags_app, name="tags")
    app.add_typer(run_cmds.run_app, name="run")
    model_cmds.version_app.command("compare")(compare_cmds.compare)
    app.command("diff")(compare_cmds.diff)
    app.add_typer(site_cmds.site_app, name="site")
    app.command("ui")(site_cmds.ui)


_register_groups()


def main(argv: Optional[list[str]] = None) -> int:
    """Console entry point: run the app, map errors to one line and an exit code.

    Usage errors, --help and aborts are handled by typer itself (standalone
    mode ends in SystemExit); gitreg's own errors propagate to here.
    """
    from ..errors import GitregError

    args = list(sys.argv[1:] if argv is None else argv)
    show_tb = "--traceback" in args
    log = logging.getLogger("gitreg")
    if not log.handlers:  # the core reports what went wrong after a write succeeded as warnings
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    from .logs import configure

    configure(0)  # library logs and warnings stay quiet unless asked for
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="gitreg", standalone_mode=True)
    except GitregError as exc:
        if show_tb:
            raise
        note(f"error: {exc}")
        return exc.exit_code
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        note(str(exc.code))
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return 0


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when a record comes (not the stream of the first call)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except (OSError, ValueError):
            pass


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run"]
