"""The root ``gitreg`` command, global options and the one place errors become exit codes."""

from __future__ import annotations

import logging
import os
import sys
from enum import Enum
from typing import List, Optional

import typer

from .render import OUTPUT_HELP, OutputFormat, emit, kv, note

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


class Settings:
    def __init__(self, repo: Optional[str], traceback: bool, refresh: bool = False) -> None:
        self.repo = repo
        self.traceback = traceback
        self.refresh = refresh


def client(ctx: typer.Context):
    """The Client for this invocation (imported lazily to keep --help fast)."""
    from ..client import Client

    settings: Settings = ctx.find_root().obj
    return Client(settings.repo if settings else None, refresh=bool(settings and settings.refresh))


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
    from ..store import parse_store_options

    store_options = parse_store_options(store_option)
    c = Client.init(path, store=store, tag_prefix=tag_prefix, remote=remote,
                    store_options=store_options)
    config = c.registry.config
    shared = f", pushed to {config.remote}" if config.remote else ""
    note(f"Initialised a gitreg registry in {c.root} (store: {config.store}, tags: {config.tag_prefix}/...{shared})")


class CheckFormat(str, Enum):
    text = "text"
    github = "github"
    markdown = "markdown"


def _annotation(value: str, property: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if property else value


@app.command("check")
def check_cmd(
    ctx: typer.Context,
    rev: str = typer.Option("HEAD", "--rev", help="Commit to check (default: HEAD)."),
    base: Optional[str] = typer.Option(
        None, "--base", metavar="REF",
        help="Check what REV changes relative to REF (pull-request CI): registry.yaml, artifact links of"
             " registered versions (added, changed, removed, format flips, code-executing formats, URIs outside the"
             " store), deletions, reused numbers, legal stage moves, no rewritten history. Tags are not required"
             " (they follow the merge)."),
    allow: List[str] = typer.Option(
        [], "--allow", metavar="CODE",
        help="Accept findings with this code deliberately (repeatable, e.g. --allow link-added): they are still"
             " listed, as accepted, but do not fail the check. The codes are in the README."),
    allow_delete: bool = typer.Option(False, "--allow-delete", help="Accept the deletion findings (model-deleted,"
                                      " version-deleted, link-removed, run-deleted)."),
    verify_signatures: bool = typer.Option(False, "--verify-signatures", help="Every stage tag must carry a good"
                                           " gpg or ssh signature (git's signing configuration applies)."),
    staged: bool = typer.Option(False, "--staged", help="Check what the index would commit (for a pre-commit"
                                " hook), and that it deletes no version manifest and lowers no counter of HEAD;"
                                " tags are not required, they come with gitreg's writes or `tags sync`."),
    output: OutputFormat = typer.Option(OutputFormat.table, "-o", "--output", help=OUTPUT_HELP),
    fmt: CheckFormat = typer.Option(CheckFormat.text, "--format", help="text; github: workflow annotations"
                                    " on the offending file and line, each saying the approval it needs, and (with"
                                    " --base, when $GITHUB_STEP_SUMMARY is set) a summary of the stage changes;"
                                    " markdown: findings and stage changes as a pull-request comment."),
) -> None:
    """Validate every manifest, the stage invariants and that tags tell the truth (or a change, with --base)."""
    from ..check import approval
    from ..errors import CheckFailedError

    c = client(ctx)
    report = c.check(rev, base, allow_delete, verify_signatures, staged, allow=allow)
    promotions = c.promotions(base, rev) if base is not None and report.commit is not None else []
    data = {
        "ok": report.ok, "commit": report.commit, "base": base, "models": report.models,
        "versions": report.versions, "tags": report.tags, "accepted": len(report.accepted),
        "problems": [{"path": p.path, "field": p.field, "line": p.line, "severity": p.severity, "code": p.code,
                      "accepted": p.accepted, "allow": approval(p.code), "message": p.message}
                     for p in report.problems],
    }
    if output != OutputFormat.table:
        emit(data, output)
    elif fmt == CheckFormat.github:
        for p in report.problems:
            where = f"file={_annotation(p.path, True)},line={p.line}," if p.line else ""
            title = _annotation(f"gitreg check: {p.field}" if p.field else "gitreg check", True)
            level, needs = p.severity, approval(p.code)
            if p.accepted:
                level, said = "notice", f"accepted with `{needs}`"
            elif p.severity != "error":
                said = "no approval needed"
            elif needs:
                said = f"needs approval: a maintainer accepts it with `{needs}`"
            else:
                said = "must be fixed: this finding cannot be accepted"
            typer.echo(f"::{level} {where}title={title}::{_annotation(f'{p.message} [{p.code}; {said}]')}")
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file and base is not None:
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(_check_markdown(report, promotions) + "\n")
    elif fmt == CheckFormat.markdown:
        typer.echo(_check_markdown(report, promotions))
    else:
        for problem in report.problems:
            typer.echo(str(problem))
        if promotions:
            from .compare_cmds import CompareFormat, show_comparison

            for p in promotions:
                replaced = f" (replaces v{p.replaced})" if p.replaced is not None else ""
                typer.echo(f"\n{p.model} v{p.version}: {p.from_stage or 'new'} -> {p.to_stage}{replaced}")
                if p.comparison is not None:
                    show_comparison(p.comparison, CompareFormat.table)
    scope = f" changed since {base}" if base is not None else ""
    accepted = f", {len(report.accepted)} accepted" if report.accepted else ""
    summary = (f"checked {report.models} model(s), {report.versions} version(s), {report.tags} tag(s){scope}:"
               f" {len(report.errors)} error(s), {len(report.warnings)} warning(s){accepted}")
    if not report.ok:
        codes = sorted({p.code for p in report.errors if approval(p.code)})
        if codes and output == OutputFormat.table and fmt == CheckFormat.text:
            note("to accept a finding deliberately: " + " ".join(f"--allow {c}" for c in codes))
        raise CheckFailedError(summary)
    note(summary)


def _check_markdown(report, promotions) -> str:
    """Findings and stage changes as markdown, for a pull request's step summary or comment."""
    from ..check import approval
    from ..compare import promotions_markdown

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")

    verdict = "passes" if report.ok else "fails"
    lines = [f"## gitreg check {verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s),"
             f" {len(report.accepted)} accepted", ""]
    if report.problems:
        lines += ["| finding | where | what | to accept |", "|---|---|---|---|"]
        for p in report.problems:
            where = f"{p.path}:{p.line}" if p.line else p.path
            state = "accepted" if p.accepted else p.severity
            needs = f"`{approval(p.code)}`" if approval(p.code) and p.severity == "error" else "-"
            lines.append(f"| `{p.code}` ({state}) | {cell(where)} | {cell(p.message)} | {needs} |")
        lines.append("")
    if promotions:
        lines.append(promotions_markdown(promotions))
    return "\n".join(lines)


def _register_groups() -> None:
    from . import artifact_cmds, compare_cmds, metadata_cmds, model_cmds, run_cmds, site_cmds, tags_cmds

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


__all__ = ["app", "main", "run", "client", "kv"]
