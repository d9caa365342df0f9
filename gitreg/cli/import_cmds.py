"""``gitreg import mlflow`` and ``gitreg import gto``: another registry's history, as gitreg commits."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from .context import client
from .render import note

if TYPE_CHECKING:
    from ..importers import Step, Summary

import_app = typer.Typer(rich_markup_mode=None, no_args_is_help=True,
                         help="Import an MLflow registry or a GTO repository with its history (authors, times,"
                              " order); a second run imports only what is new.")

NO_LINK = typer.Option(False, "--no-link", help="Do not link each version's artifacts in place (external links"
                                                " are hashed now: every byte is read once).")
PROGRESS = typer.Option(None, "--progress/--no-progress", help="A progress bar on stderr (default: when it is a"
                                                               " terminal).")


@contextmanager
def _bar(show: bool | None) -> Iterator[Callable[[Step], None] | None]:
    if not (show if show is not None else sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=Console(file=sys.stderr, force_terminal=show),
                  transient=True) as bar:
        task = bar.add_task("", total=None)

        def step(s: Step) -> None:
            bar.update(task, total=s.total, completed=s.done, description=s.what)
        yield step


def _summary(s: Summary) -> None:
    typer.echo(f"imported from {s.source} {s.location}:")
    typer.echo(f"  models created:    {len(s.models_created)}")
    typer.echo(f"  versions imported: {len(s.versions_imported)}"
               + (f" ({s.versions_skipped} imported before, skipped)" if s.versions_skipped else ""))
    typer.echo(f"  stage changes:     {len(s.stage_changes)}")
    if s.alias_changes:
        typer.echo(f"  alias records:     {len(s.alias_changes)}")
    for original, name in sorted(s.renamed.items()):
        typer.echo(f"  renamed: {original!r} -> {name} (gitreg's names are letters, digits, '.', '_', '-')")
    for model, source, number in s.renumbered:
        typer.echo(f"  renumbered: {source} -> {model} v{number}")
    for model, number, uri, why in s.unlinked:
        typer.echo(f"  not linked: {model} v{number}: {uri}: {why}")
    for line in s.notes:
        typer.echo(f"  note: {line}")
    if not s.changed:
        note("nothing new to import")


@import_app.command("mlflow")
def import_mlflow_cmd(
    ctx: typer.Context,
    registry_uri: str = typer.Option(..., "--registry-uri", help="MLflow's registry URI: sqlite:///path/mlflow.db,"
                                                                 " http://host:5000, databricks, ..."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow's tracking URI, to resolve"
                                                                         " runs:/ sources (default: the registry"
                                                                         " URI)."),
    no_link: bool = NO_LINK,
    progress: bool | None = PROGRESS,
) -> None:
    """Import every model and version of an MLflow registry, in their original order, as gitreg commits
    authored by the original user at the original time (see docs/how-to/importing.md)."""
    from ..importers.mlflow import import_mlflow

    registry = client(ctx).registry
    with _bar(progress) as step:
        summary = import_mlflow(registry, registry_uri, tracking_uri, step, link_sources=not no_link)
    _summary(summary)


@import_app.command("gto")
def import_gto_cmd(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="The GTO repository (a folder; a bare repository too)."),
    no_link: bool = NO_LINK,
    progress: bool | None = PROGRESS,
) -> None:
    """Import every artifact, version and stage assignment of a GTO repository (its git tags and
    artifacts.yaml), in their original order, as gitreg commits authored by the taggers at the tags' times."""
    from ..importers.gto import import_gto

    registry = client(ctx).registry
    with _bar(progress) as step:
        summary = import_gto(registry, path, step, link_sources=not no_link)
    _summary(summary)
