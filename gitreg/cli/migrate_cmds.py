"""``gitreg migrate``."""

from __future__ import annotations

import typer

from .context import client
from .render import note


def migrate_cmd(ctx: typer.Context) -> None:
    """Upgrade the registry to the format this gitreg writes, in one commit of its own.

    Format 2 records each model's exclusive stages in .mcp/models/<model>/stages.yaml, one line
    each, so that git turns two concurrent promotions into a merge conflict. Every write does this
    first when needed; run it yourself to review the upgrade on its own (e.g. in a pull request)."""
    done = client(ctx).migrate()
    if done is None:
        note("the registry is in the current format already; nothing to do")
        return
    if done.before < done.after:
        typer.echo(f"migrated the registry from format {done.before} to {done.after}:"
                   f" {len(done.models)} model(s) given a stages.yaml")
    else:
        typer.echo(f"completed the registry's format {done.after} files: {len(done.models)} model(s) given a"
                   " stages.yaml")
    for name, why in done.skipped:
        note(f"warning: {name}: no stages.yaml yet: {why}")
