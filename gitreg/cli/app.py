"""The root ``gitreg`` command, global options and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from .context import Settings
from .render import note
from .usage import Command, Group, conventional

app = typer.Typer(
    cls=Group,  # help, usage lines and value conversion in gitreg's conventions (see .usage)
    rich_markup_mode=None,  # plain help and one-line usage errors; and rich is not imported on start-up
    name="gitreg",
    help="A model registry whose database is a git repository: models, numbered versions, "
         "stages, metadata and artifact links as YAML under .mcp/, every change a commit.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from ..version import __version__

        typer.echo(f"gitreg {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    repo: str | None = typer.Option(
        None, "--repo", "-C", envvar="GITREG_REPO", metavar="PATH",
        help="Registry to use: a folder in a git repository, or a git URL (https://..., file://..., git@host:...)"
             " worked on through a cached clone (default: the git repository around the current folder).",
    ),
    refresh: bool = typer.Option(False, "--refresh", help="With a URL: fetch now, whatever the freshness window"
                                 " ($GITREG_FRESHNESS seconds, default 5) says."),
    traceback: bool = typer.Option(False, "--traceback", help="Show a Python traceback on errors (for bug reports)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, show_default=False,
                                help="Say more on stderr: -v what gitreg is doing, -vv debugging detail."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Errors only on stderr: no notes, warnings or progress bars."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Show gitreg's version and exit."),
) -> None:
    from .logs import configure

    settings = Settings(repo, traceback, refresh, verbosity=-1 if quiet else min(verbose, 2))
    configure(settings.verbosity)
    ctx.obj = settings


@app.command("init", cls=Command)
def init_cmd(
    ctx: typer.Context,
    path: str = typer.Argument(".", help="Folder of the repository (created and git-initialised if needed;"
                               " inside -C's folder when given), or a git URL of an empty repository to create"
                               " the registry on (its first commit is pushed there)."),
    store: str | None = typer.Option(
        None, "--store", metavar="URI",
        help="fsspec URI of the artifact store, e.g. s3://bucket/prefix (default: .gitreg/store, ignored by git).",
    ),
    tag_prefix: str = typer.Option("models", "--tag-prefix", help="First component of every tag gitreg creates."),
    remote: str | None = typer.Option(None, "--remote", metavar="NAME",
                                      help="Git remote (e.g. origin) that every write pushes to."),
    store_option: list[str] = typer.Option(
        [], "--store-option", metavar="KEY=VALUE",
        help="Option of the store's backend (repeatable; a.b=v nests, true/3/null are JSON), e.g."
             " endpoint_url=http://127.0.0.1:4443 or token=anon. Written to registry.yaml, so never a secret:"
             " keys that look like one are refused (credentials come from the backend's environment variables)."),
) -> None:
    """Create a registry: .mcp/registry.yaml in one commit."""
    from ..client import Client, init_location
    from ..errors import AlreadyExistsError
    from ..store_options import parse_store_options
    from .logs import install

    install()
    store_options = parse_store_options(store_option)
    try:
        settings: Settings = ctx.find_root().obj
        target = init_location(settings.repo if settings else None, path)
        c = Client.init(target, store=store, tag_prefix=tag_prefix, remote=remote, store_options=store_options)
    except AlreadyExistsError as exc:
        if exc.hint:
            raise
        raise AlreadyExistsError(exc.what, exc.name, cli_hint="it is ready to use (`gitreg model list` shows what"
                                 " it holds); nothing to initialise") from None
    config = c.registry.config
    shared = f", pushed to {config.remote}" if config.remote else ""
    note(f"Initialised a gitreg registry in {c.registry.location} (store: {config.store},"
         f" tags: {config.tag_prefix}/...{shared})")
    if store is None or _inside(c.root, store):
        note(local_store_note(config.store))  # the default, or another folder inside the repository


def _inside(root: str, store: str) -> bool:
    """Whether ``store`` (as given to init) is a folder inside the repository at ``root``."""
    if "://" in store:
        return False
    top = os.path.realpath(root)
    path = os.path.realpath(os.path.join(top, os.path.expanduser(store)))
    return path == top or path.startswith(top + os.sep)


def local_store_note(store: str) -> str:
    """What ``init`` says when it chose the default store: where the bytes go, and how to share them."""
    return (f"note: artifacts are stored in {store}, a folder on this machine that git ignores (other clones get no"
            " bytes); to share them, set `store:` in .mcp/registry.yaml to a shared URI (s3://BUCKET/PREFIX, gs://,"
            " az://, a network folder) and commit it before storing any artifact, or use `gitreg init --store URI`")


def _register_groups() -> None:
    from . import (
        artifact_cmds,
        check_cmds,
        compare_cmds,
        import_cmds,
        metadata_cmds,
        migrate_cmds,
        model_cmds,
        review_cmds,
        run_cmds,
        site_cmds,
        tags_cmds,
    )

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
    app.command("migrate")(migrate_cmds.migrate_cmd)
    app.add_typer(review_cmds.review_app, name="review")
    app.add_typer(import_cmds.import_app, name="import")
    conventional(app)  # every command and group above: gitreg's Command and Group


_register_groups()


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, map errors to one line and an exit code.

    gitreg's own errors and click's usage errors (a bad value, a missing argument, an unknown
    command or option) alike become ``error: ...`` on stderr; usage errors add the line that
    says where help is, and exit 2.
    """
    from ..errors import GitregError
    from .logs import configure
    from .usage import is_usage_error, usage_message

    args = list(sys.argv[1:] if argv is None else argv)
    show_tb = "--traceback" in args
    configure(0)  # the core's warnings shown, libraries quiet; -v/-q change it
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="gitreg", standalone_mode=False)
    except GitregError as exc:
        if show_tb:
            raise
        _error(exc.cli_message or str(exc))
        return exc.exit_code
    except typer.Exit as exc:  # typer returns it as the result in this mode; should it let one through
        return exc.exit_code
    except typer.Abort:
        _error_line("Aborted.")
        return 1
    except typer.TyperException as exc:  # the click errors typer raises are TyperExceptions
        if is_usage_error(exc):
            _error(usage_message(exc))
            ctx = getattr(exc, "ctx", None)
            path = ctx.command_path if ctx is not None and ctx.command_path else _command_path(command, args)
            _error_line(f"Try '{path} --help' for help.")
            return 2
        _error(exc.format_message())
        return exc.exit_code
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        _error(str(exc.code))
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a writer or a server met the operating system: one line, what to do next
        if show_tb:
            raise
        from .oserrors import local_file_error

        error = local_file_error(exc)
        _error(error.message)
        return error.exit_code
    return result if isinstance(result, int) else 0


def _command_path(command: Any, args: list[str]) -> str:
    """``gitreg model version list`` for the words of ``args`` that name commands (when click does not say)."""
    words = ["gitreg"]
    for arg in args:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            if arg.startswith("-") or not words[1:]:
                continue  # a global option (or its value) before the first command
            break
        words.append(arg)
        command = sub
    return " ".join(words)


def _error_line(text: str) -> None:
    typer.echo(text, err=True)


def _error(text: str) -> None:
    """``error: ...`` on stderr, whatever -q says."""
    _error_line(f"error: {text}")


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run"]
