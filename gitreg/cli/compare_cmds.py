"""``gitreg model version compare`` and ``gitreg diff``: versions side by side."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING

import typer

from .context import MODEL, client
from .render import OutputFormat, Table, emit, table_text

if TYPE_CHECKING:
    from ..client import Client
    from ..compare import Comparison
    from ..manifests import VersionManifest


class CompareFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    markdown = "markdown"


OUT = typer.Option(CompareFormat.table, "-o", "--output",
                   help="Output format: a table for people, json/yaml for scripts, markdown for pull requests.")


def show_comparison(comparison: Comparison, output: CompareFormat, versions: Sequence[VersionManifest] = ()) -> None:
    """``versions``: the compared versions, whole (for json and yaml, which show each as `version describe` does)."""
    from ..values import delta_text

    if output == CompareFormat.markdown:
        typer.echo(comparison.to_markdown().rstrip())
        return
    if output != CompareFormat.table:
        from .. import views

        emit(views.comparison(comparison, versions), OutputFormat(output.value))
        return
    cols = comparison.columns
    table = Table(["", *(c.label for c in cols)], keep=("",), drop=())  # every version, always: wraps, never drops
    if comparison.stage_differs or not comparison.only_differences:
        table.add("stage", *(c.stage for c in cols))
    if comparison.runs_differ or not comparison.only_differences:
        table.add("runs", *(", ".join(c.runs) or "-" for c in cols))
    for row in comparison.metadata:
        cells = []
        for value, delta, present in zip(row.values, row.deltas, row.present):
            cell = " ".join(table_text(value).split()) if present else "-"
            cells.append(f"{cell} ({delta_text(delta)})" if delta is not None else cell)
        table.add(row.key, *cells)
    for art in comparison.artifacts:
        cells = [f"v{c.version} {c.sha256[:12]} {s}".rstrip() if c is not None else (s or "-")
                 for c, s in zip(art.cells, art.statuses)]
        table.add(f"artifact {art.name}", *cells)
    table.print()


def compare(ctx: typer.Context, name: str = MODEL,
            versions: list[str] = typer.Argument(..., help="Two or more versions (number, name, 'latest' or"
                                                 " stage); deltas are against the first.", metavar="V1 V2 [V...]"),
            output: CompareFormat = OUT) -> None:
    """Compare versions: metadata keys as rows (nested keys dotted), numeric deltas, artifacts by sha256."""
    c = client(ctx)
    _show(c, name, c.compare_model_versions(name, *versions), output)


def diff(ctx: typer.Context, name: str = MODEL,
         v1: str = typer.Argument(..., help="The version to compare against.", metavar="V1"),
         v2: str = typer.Argument(..., help="The version to compare.", metavar="V2"),
         output: CompareFormat = OUT) -> None:
    """Only what differs between two versions: metadata, artifacts (by sha256), stage and runs."""
    c = client(ctx)
    _show(c, name, c.compare_model_versions(name, v1, v2).differences(), output)


def _show(c: Client, name: str, comparison: Comparison, output: CompareFormat) -> None:
    versions: list[VersionManifest] = []
    if output in (CompareFormat.json, CompareFormat.yaml):
        versions = [c.get_model_version(name, col.number) for col in comparison.columns]
    show_comparison(comparison, output, versions)
