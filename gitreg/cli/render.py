"""Rendering for the CLI: aligned tables for people, JSON/YAML for scripts."""

from __future__ import annotations

import json
import math
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


class Cell(tuple[str, ...]):
    """A table cell made of values that are never split (``key=value`` pairs, names): lines break only between
    them; ``sep`` joins them on a line."""

    sep: str = " "

    def __new__(cls, values: Iterable[Any], sep: str = " ") -> Cell:
        cell = super().__new__(cls, (table_text(v) for v in values))
        cell.sep = sep
        return cell


_wide = False


def set_wide(value: bool) -> bool:
    """The --wide option's callback: every column, however narrow the terminal."""
    global _wide
    _wide = bool(value)
    return value


WIDE = typer.Option(False, "--wide", callback=set_wide,
                    help="On a terminal, show every column of the table even when it is wider than the terminal"
                         " (by default the least important columns are left out, and a note says which).")

GAP = 2  # spaces between columns


class Table:
    """Rows for people: fitted to the terminal, plain aligned columns when piped; no value is ever cut.

    ``keep``: columns a user copies from (ids, run names, numbers): never wrapped. Text in the other columns
    wraps between words, a :class:`Cell` between its values. When even that does not fit, the columns of
    ``drop`` (default: the ones not kept, last first) are left out in that order until it fits, and a note on
    stderr says which and that --wide shows them; what still does not fit is wider than the terminal (which
    wraps the lines), never cut.
    """

    def __init__(self, columns: Sequence[str], keep: Iterable[str] = (), drop: Iterable[str] | None = None) -> None:
        self.columns = list(columns)
        self.keep = set(keep)
        self.drop = list(drop) if drop is not None else [c for c in reversed(self.columns) if c not in self.keep]
        self.rows: list[list[Cell]] = []
        self.dropped: list[str] = []

    def add(self, *values: Any) -> None:
        row = []
        for column, value in zip(self.columns, values):
            if isinstance(value, Cell):
                row.append(value)
            elif value is None:
                row.append(Cell(()))
            elif column in self.keep:
                row.append(Cell([value]))
            else:
                row.append(Cell(table_text(value).split()))
        self.rows.append(row)

    def lines(self) -> list[str]:
        """Plain aligned columns (piped): every column, each row on one line."""
        table = [list(self.columns)] + [[c.sep.join(c) for c in row] for row in self.rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(self.columns))]
        return [(" " * GAP).join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in table]

    def print(self) -> None:
        if not self.rows:
            typer.echo("(none)")
            return
        if sys.stdout.isatty():
            import shutil

            typer.echo("\n".join(self.fitted(shutil.get_terminal_size((80, 24)).columns, wide=_wide)))
            if self.dropped:
                note(f"note: not shown for want of width: {', '.join(self.dropped)} (--wide shows every column)")
            return
        typer.echo("\n".join(self.lines()))

    def print_rich(self, file: Any = None, width: int | None = None, wide: bool | None = None) -> None:
        """The table fitted to ``width`` (default: the terminal's) written to ``file`` (default: stdout);
        ``wide``: every column (default: as --wide says)."""
        import shutil

        every = _wide if wide is None else wide
        text = "\n".join(self.fitted(width or shutil.get_terminal_size((80, 24)).columns, wide=every))
        (file or sys.stdout).write(text + "\n")

    def fitted(self, width: int, wide: bool = False) -> list[str]:
        """The table's lines for a terminal ``width`` columns wide (see the class); ``dropped`` says what was left
        out."""
        shown = list(range(len(self.columns)))
        least = [max([len(self.columns[i]), *(max(map(len, r[i]), default=0) for r in self.rows)])
                 for i in shown]
        most = [max([len(self.columns[i]), *(len(r[i].sep.join(r[i])) for r in self.rows)]) for i in shown]

        def need(cols: list[int]) -> int:
            return sum(least[i] for i in cols) + GAP * (len(cols) - 1)

        self.dropped = []
        if not wide:
            for name in self.drop:
                if need(shown) <= width:
                    break
                if name in self.columns and self.columns.index(name) in shown:
                    shown.remove(self.columns.index(name))
                    self.dropped.append(name)
        widths = {i: least[i] for i in shown}
        spare = width - need(shown)
        wanting = sorted((i for i in shown if most[i] > widths[i]), key=lambda i: most[i] - widths[i])
        for n, i in enumerate(wanting):  # the least needy first, each at most a fair share of what is left
            give = min(most[i] - widths[i], max(0, spare) // (len(wanting) - n))
            widths[i] += give
            spare -= give
        out = [self._line([self.columns[i] for i in shown], [widths[i] for i in shown])]
        out.append("─" * min(width, need(shown) + sum(widths[i] - least[i] for i in shown)))
        for row in self.rows:
            wrapped = [_wrap(row[i], widths[i]) for i in shown]
            for k in range(max(len(w) for w in wrapped)):
                out.append(self._line([w[k] if k < len(w) else "" for w in wrapped], [widths[i] for i in shown]))
        return out

    @staticmethod
    def _line(values: list[str], widths: list[int]) -> str:
        return (" " * GAP).join(v.ljust(w) for v, w in zip(values, widths)).rstrip()


def _wrap(cell: Cell, width: int) -> list[str]:
    """``cell``'s values in lines at most ``width`` long, broken only between values (a longer value: a line of
    its own, whole)."""
    lines: list[str] = []
    for value in cell:
        if lines and len(lines[-1]) + len(cell.sep) + len(value) <= width:
            lines[-1] += cell.sep + value
        else:
            lines.append(value)
    return lines or [""]


def short_float(value: float) -> str:
    """A float for people: the shortest text that reads back as the same float, if it has at most 6 significant
    digits; else rounded to 6 (0.8200000000000001 -> 0.82). JSON and YAML output keep the exact value."""
    text = repr(value)
    if not math.isfinite(value):
        return text
    digits = text.split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    return text if len(digits) <= 6 else repr(float(f"{value:.6g}"))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(short_float(value)) if math.isfinite(value) else value
    if isinstance(value, Mapping):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def table_text(value: Any) -> str:
    """A value in a table: floats as :func:`short_float` says (inside objects and lists too), objects and lists
    as compact JSON, anything else as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return short_float(value)
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(_rounded(value), separators=(",", ":"), default=str)
    return str(value)


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


def metadata_cell(metadata: Mapping[str, Any], first: str | None = None) -> Cell:
    """Every key of ``metadata`` as ``key=value`` (sorted; ``first``, a top-level key, before the others): one
    value each, never split."""
    keys = sorted(metadata)
    if first is not None and first in metadata:
        keys = [first] + [k for k in keys if k != first]
    return Cell(f"{key}={table_text(metadata[key])}" for key in keys)


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

