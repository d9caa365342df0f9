"""Rendering for the CLI: aligned tables for people, JSON/YAML for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

import typer

from ..units import human_size

if TYPE_CHECKING:
    from ..manifests import ArtifactLink


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


OUTPUT_HELP = "Output format: a table for people, or json/yaml for scripts."


# What help shows as choices ([none|staging|production|archived]); the core checks them again. Spelled
# here, not imported from gitreg.stages / gitreg.manifests, to keep those off --help's imports
# (tests/test_cli_conventions.py keeps them equal).
class Stage(str, Enum):
    none = "none"
    staging = "staging"
    production = "production"
    archived = "archived"


class StageFilter(str, Enum):
    """A stage, or ``latest``."""

    none = "none"
    staging = "staging"
    production = "production"
    archived = "archived"
    latest = "latest"


class ArtifactType(str, Enum):
    data = "data"
    model = "model"
    deployment = "deployment"
    service = "service"


STAGES = tuple(stage.value for stage in Stage)
ARTIFACT_TYPES = tuple(kind.value for kind in ArtifactType)


def emit(data: Any, fmt: OutputFormat, table: Table | None = None) -> None:
    if fmt in (OutputFormat.json, OutputFormat.yaml):
        from .output import structured

        structured(data, fmt.value)  # a list is a JSON array, and a YAML sequence of the same objects
    elif table is not None:
        table.print()
    else:
        typer.echo(json.dumps(data, indent=2, default=str))


class Table:
    """Rows for people: a rich table fitted to the terminal, plain aligned columns when piped.

    ``keep``: columns a user copies from (ids, run names, numbers); they are never shortened or
    wrapped, the others wrap to make room.
    """

    def __init__(self, columns: Sequence[str], keep: Iterable[str] = ()) -> None:
        self.columns = list(columns)
        self.keep = set(keep)
        self.rows: list[list[str]] = []

    def add(self, *values: Any) -> None:
        self.rows.append(["" if v is None else str(v) for v in values])

    def lines(self) -> list[str]:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(v)) for w, v in zip(widths, row)]
        def fmt(row: list[str]) -> str:
            return "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()

        return [fmt(self.columns)] + [fmt(r) for r in self.rows]

    def print(self) -> None:
        if not self.rows:
            typer.echo("(none)")
            return
        if sys.stdout.isatty():
            self.print_rich()
            return
        typer.echo("\n".join(self.lines()))

    def print_rich(self, file: Any = None, width: int | None = None) -> None:
        """The table through rich, as wide as the terminal (or ``width``).

        Kept columns get their full width; the others wrap into what is left, down to a few
        characters each. If even that does not fit, the table is wider than the terminal
        (which wraps the lines) rather than cut.
        """
        from rich import box
        from rich.console import Console
        from rich.table import Table as RichTable

        table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold")
        needed = 3 * (len(self.columns) - 1)  # padding on both sides of each column divider, and the divider
        for i, column in enumerate(self.columns):
            if column in self.keep:
                longest = max([len(column), *(len(r[i]) for r in self.rows)])
                table.add_column(column, no_wrap=True, min_width=longest, overflow="ignore")
                needed += longest
            else:
                least = min(max([len(column), *(len(r[i]) for r in self.rows)]), 8)
                table.add_column(column, overflow="fold", min_width=least)
                needed += least
        for row in self.rows:
            table.add_row(*row)
        console = Console(file=file or sys.stdout, width=width, highlight=False, soft_wrap=False)
        if console.width < needed:
            console = Console(file=file or sys.stdout, width=needed, highlight=False, soft_wrap=False)
        console.print(table)


class Order:
    """``--sort KEY [--reverse] [--limit N]`` for a listing: ``keys`` maps each KEY to how to read it."""

    def __init__(self, keys: Mapping[str, Any], sort: Any, reverse: bool, limit: int | None) -> None:
        self.keys, self.reverse, self.limit = keys, reverse, limit
        self.sort = getattr(sort, "value", sort)

    def apply(self, items: Sequence[Any]) -> list[Any]:
        out = list(items)
        if self.sort is not None:
            read = self.keys[self.sort]
            # missing values last whichever way; mixed types by their text
            present = [i for i in out if read(i) is not None]
            missing = [i for i in out if read(i) is None]
            try:
                present.sort(key=read, reverse=self.reverse)
            except TypeError:
                present.sort(key=lambda i: str(read(i)), reverse=self.reverse)
            out = present + missing
        elif self.reverse:
            out.reverse()
        return out[: self.limit] if self.limit is not None else out


def sort_by(default_order: str) -> Any:
    return typer.Option(None, "--sort", case_sensitive=False, help=f"Sort by this column (default: {default_order}).")


REVERSE = typer.Option(False, "--reverse", help="Reverse the order.")
LIMIT = typer.Option(None, "--limit", min=1, metavar="N", help="Show only the first N (after sorting).")


def kv(pairs: Iterable[tuple[str, Any]]) -> None:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        typer.echo(f"{key.ljust(width)}  {'' if value is None else value}")


REASON = typer.Option("", "--reason", "-m",
                      help="Why: recorded in the commit message (and in the tag, if one is made).")


def note(text: str) -> None:
    """A line for people on stderr (what was done, a warning); -q silences it, errors never go through here."""
    from .logs import verbosity

    if verbosity() >= 0:
        typer.echo(text, err=True)


def short_metadata(metadata: Mapping[str, Any], limit: int = 60) -> str:
    parts = []
    for key in sorted(metadata):
        value = metadata[key]
        text = json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else str(value)
        parts.append(f"{key}={text}")
    out = " ".join(parts)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def format_label(fmt: str, flagged: bool = False) -> str:
    """An artifact's format, marked when loading it runs code (by format, or as its link says)."""
    from ..materializers import CODE_MARK, executes_code

    return f"{fmt} [{CODE_MARK}]" if executes_code(fmt) or flagged else fmt


def artifact_table(links: Iterable[Any]) -> Table:
    """Artifact links as a table; formats that run code on load are marked."""
    table = Table(["NAME", "VERSION", "TYPE", "FORMAT", "SIZE", "SHA256", "URI"], keep=("NAME", "VERSION", "SHA256"))
    for a in links:
        table.add(a.name, a.version, a.type, format_label(a.format, a.executes_code), human_size(a.size),
                  a.sha256[:12], a.uri + (" (linked)" if a.external else ""))
    return table


def artifact_row(link: ArtifactLink) -> dict[str, Any]:
    """An artifact link for scripts: ``executes_code`` always present, decided by the format."""
    from ..materializers import executes_code

    return link.to_dict() | {"executes_code": executes_code(link.format) or bool(link.executes_code)}

