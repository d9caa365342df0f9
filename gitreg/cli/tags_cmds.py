"""``gitreg tags sync``."""

from __future__ import annotations

import typer

from .context import client
from .render import note

tags_app = typer.Typer(rich_markup_mode=None, help="Registration and stage tags: the registry's audit trail in git.",
                       no_args_is_help=True)


@tags_app.command("sync")
def tags_sync(
    ctx: typer.Context,
    push: bool = typer.Option(False, "--push", help="Push gitreg's tags the remote lacks (the registry's remote,"
                              " else origin)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Only list the tags that would be created."),
) -> None:
    """Create every missing registration and stage tag along the branch's first-parent history,
    on the commit that made the change (after squash or rebase merges of pull requests); a tag
    already there whose message disagrees with its commit is reported (exit 14), never kept silently."""
    report = client(ctx).sync_tags(push=push, dry_run=dry_run)
    verb = "would create" if dry_run else "created"
    for tag in report.created:
        typer.echo(f"{verb} {tag.name} -> {tag.commit[:12]} ({tag.subject})")
    if report.remote:
        note(f"pushed {len(report.pushed)} tag(s) to {report.remote}")
    for name in report.held_back:
        note(f"warning: not pushed: {name} tags a commit that is not on {report.remote}'s branch (a write that"
             " never reached it, or a commit not pushed yet); push the branch first, or delete the stray tag with"
             f" `git tag -d {name}`")
    for problem in report.problems:
        typer.echo(str(problem))
    done = "would be created" if dry_run else "created"
    summary = f"{len(report.created)} tag(s) {done}; {report.commits} registry commit(s) scanned"
    errors = [p for p in report.problems if p.severity == "error"]
    if errors:
        from ..errors import CheckFailedError

        raise CheckFailedError(f"{summary}; {len(errors)} tag(s) already there do not agree with the commit they"
                               " mark, and were left as they are (tags are immutable): delete each (`git tag -d"
                               " NAME`, and on the remote `git push origin :refs/tags/NAME`), then run"
                               " `gitreg tags sync` again")
    note(summary)
