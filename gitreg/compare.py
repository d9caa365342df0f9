"""Versions side by side: metadata, artifacts, stage and runs, and what a promotion changes.

Pure functions over manifests: :func:`compare_versions` takes versions and returns a
:class:`Comparison` (metadata keys as rows, nested keys flattened with dots, numeric
deltas against the first version, artifacts by name compared by sha256).
:func:`promotion_summaries` finds the stage changes between two commits and compares
each promoted version with the one it replaces; :func:`promotions_markdown` renders
them for a pull request's step summary or comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import GitregError
from .manifests import VersionManifest
from .values import canonical, delta_text, flatten, is_number, value_text

if TYPE_CHECKING:
    from .git import GitRepo

SAME = "same bytes"
CHANGED = "changed"
ADDED = "added"      # the first version has no artifact of that name
MISSING = "missing"  # this version has none, the first one has


@dataclass(frozen=True)
class Column:
    """One compared version."""

    model: str
    number: int
    name: str
    stage: str
    created: str
    runs: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"v{self.number}" if self.name == str(self.number) else f"v{self.number} ({self.name})"


@dataclass(frozen=True)
class MetadataRow:
    """One flattened metadata key: its value in each version (``present`` False: the version lacks it)."""

    key: str
    values: tuple[Any, ...]
    present: tuple[bool, ...]
    deltas: tuple[float | int | None, ...]  # against the first version, when both values are numbers

    @property
    def differs(self) -> bool:
        first = (self.present[0], canonical(self.values[0]))
        return any((p, canonical(v)) != first for p, v in zip(self.present[1:], self.values[1:]))

    @property
    def numeric(self) -> bool:
        return any(p and is_number(v) for p, v in zip(self.present, self.values))

    def texts(self) -> tuple[str, ...]:
        return tuple(value_text(v) if p else "" for v, p in zip(self.values, self.present))


@dataclass(frozen=True)
class ArtifactCell:
    """The newest artifact of one name on one version."""

    version: int
    sha256: str
    size: int
    format: str
    executes_code: bool
    status: str  # SAME, CHANGED, ADDED (relative to the first version); "" in the first column


@dataclass(frozen=True)
class ArtifactRow:
    name: str
    cells: tuple[ArtifactCell | None, ...]

    @property
    def statuses(self) -> tuple[str, ...]:
        first = self.cells[0]
        out = []
        for cell in self.cells:
            if cell is None:
                out.append(MISSING if first is not None else "")
            else:
                out.append(cell.status)
        return tuple(out)

    @property
    def differs(self) -> bool:
        return any(s in (CHANGED, ADDED, MISSING) for s in self.statuses[1:])


@dataclass(frozen=True)
class Comparison:
    """Two or more versions of one model side by side."""

    model: str
    columns: tuple[Column, ...]
    metadata: tuple[MetadataRow, ...]
    artifacts: tuple[ArtifactRow, ...]
    only_differences: bool = False  # made by differences(): equal stage and runs rows are left out too

    @property
    def stage_differs(self) -> bool:
        return len({c.stage for c in self.columns}) > 1

    @property
    def runs_differ(self) -> bool:
        return len({c.runs for c in self.columns}) > 1

    def differences(self) -> Comparison:
        """Only the metadata keys and artifacts whose values differ between the versions."""
        return Comparison(self.model, self.columns, tuple(r for r in self.metadata if r.differs),
                          tuple(r for r in self.artifacts if r.differs), only_differences=True)

    def to_dict(self) -> dict[str, Any]:
        labels = [str(c.number) for c in self.columns]
        return {
            "model": self.model,
            "versions": [{"number": c.number, "name": c.name, "stage": c.stage, "created": c.created,
                          "runs": list(c.runs)} for c in self.columns],
            "metadata": [{"key": r.key,
                          "values": {n: v for n, v, p in zip(labels, r.values, r.present) if p},
                          "deltas": {n: d for n, d in zip(labels[1:], r.deltas[1:]) if d is not None},
                          "differs": r.differs} for r in self.metadata],
            "artifacts": [{"name": r.name,
                           "versions": {n: ({"version": c.version, "sha256": c.sha256, "size": c.size,
                                             "format": c.format, "executes_code": c.executes_code,
                                             "status": c.status} if c is not None else None)
                                        for n, c in zip(labels, r.cells)},
                           "differs": r.differs} for r in self.artifacts],
        }

    def to_markdown(self) -> str:
        return comparison_markdown(self)

    def _repr_html_(self) -> str:
        from .notebook import comparison_html

        return comparison_html(self)


# ---------------------------------------------------------------- values

def _delta(first: Any, value: Any, present: bool, first_present: bool) -> float | int | None:
    if not (present and first_present and is_number(first) and is_number(value)):
        return None
    delta = value - first
    return round(delta, 12) if isinstance(delta, float) else delta  # 0.91 - 0.9 is not 0.01 in floating point


# ---------------------------------------------------------------- comparing

def column(version: VersionManifest) -> Column:
    return Column(version.model, version.number, version.name, version.stage, version.created, tuple(version.runs))


def compare_versions(versions: Sequence[VersionManifest]) -> Comparison:
    """Compare versions of one model, the first one being the reference for deltas and bytes."""
    from .errors import InvalidValueError

    if len(versions) < 2:
        raise InvalidValueError("a comparison needs at least two versions: give two or more")
    models = {v.model for v in versions}
    if len(models) > 1:
        raise InvalidValueError(f"versions of different models cannot be compared: {', '.join(sorted(models))}")
    flat = [flatten(v.metadata) for v in versions]
    keys = sorted(set().union(*flat))
    rows = []
    for key in keys:
        present = tuple(key in f for f in flat)
        values = tuple(f.get(key) for f in flat)
        deltas = tuple(_delta(values[0], v, p, present[0]) for v, p in zip(values, present))
        rows.append(MetadataRow(key, values, present, (None,) + deltas[1:]))
    newest = [_newest_by_name(v) for v in versions]
    names = sorted(set().union(*newest))
    artifacts = []
    from .materializers import executes_code

    for name in names:
        first = newest[0].get(name)
        cells: list[ArtifactCell | None] = []
        for links in newest:
            link = links.get(name)
            if link is None:
                cells.append(None)
                continue
            status = "" if not cells else ADDED if first is None else SAME if link.sha256 == first.sha256 else CHANGED
            cells.append(ArtifactCell(link.version, link.sha256, link.size, link.format,
                                      executes_code(link.format) or link.executes_code, status))
        artifacts.append(ArtifactRow(name, tuple(cells)))
    return Comparison(versions[0].model, tuple(column(v) for v in versions), tuple(rows), tuple(artifacts))


def _newest_by_name(version: VersionManifest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for link in version.artifacts:
        if link.name not in out or link.version > out[link.name].version:
            out[link.name] = link
    return out


# ---------------------------------------------------------------- promotions

@dataclass(frozen=True)
class Promotion:
    """A stage change between two commits: ``version`` moved ``from_stage`` -> ``to_stage``.

    ``replaced`` is the version that held ``to_stage`` at the base commit (None: nobody did);
    ``comparison`` compares it (first column) with the promoted version, or is None.
    """

    model: str
    version: int
    from_stage: str | None  # None: the version is new in the range
    to_stage: str
    replaced: int | None
    comparison: Comparison | None


def promotion_summaries(repo: GitRepo, base_commit: str, head_commit: str) -> list[Promotion]:
    """Every stage change ``head_commit`` makes relative to ``base_commit``, with its comparison.

    Models are compared by their tree ids first, so unchanged models cost nothing.
    A version whose stage differs between the commits (or that is new and not in stage
    ``none``) is a promotion; it is compared with the version that held the same stage
    at the base (as that version reads at the head, if it still exists there).
    """
    from .layout import model_path
    from .stages import EXCLUSIVE_STAGES
    from .state import Snapshot

    base, head = Snapshot(repo, base_commit), Snapshot(repo, head_commit)
    out: list[Promotion] = []
    for name in head.model_names():
        head_tree = repo.resolve(f"{head_commit}:{model_path(name)}")
        base_tree = repo.resolve(f"{base_commit}:{model_path(name)}")
        if head_tree == base_tree:
            continue
        try:
            after = head.model(name)
            before = base.model(name) if base_tree is not None else None
        except GitregError:
            continue  # a model that does not read: the check reports why, there is nothing to compare
        if after is None:
            continue
        for version in after.versions:
            old = before.by_number(version.number) if before is not None else None
            old_stage = old.stage if old is not None else None
            if version.stage == (old_stage or "none"):
                continue
            holder = None
            if before is not None and version.stage in EXCLUSIVE_STAGES:
                holders = [v for v in before.in_stage(version.stage) if v.number != version.number]
                holder = holders[-1] if holders else None
            comparison = None
            if holder is not None:
                reference = after.by_number(holder.number) or holder
                comparison = compare_versions([reference, version])
            out.append(Promotion(name, version.number, old_stage, version.stage,
                                 holder.number if holder is not None else None, comparison))
    return out


# ---------------------------------------------------------------- markdown

def _md(text: str) -> str:
    """A table cell: pipes and newlines escaped, HTML-looking text neutralised."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
            .replace("<", "&lt;").replace(">", "&gt;"))


def comparison_markdown(comparison: Comparison, heading: str | None = None) -> str:
    cols = comparison.columns
    lines = [heading] if heading else []
    lines.append("| | " + " | ".join(_md(c.label) for c in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    if comparison.stage_differs or not comparison.only_differences:
        lines.append("| **stage** | " + " | ".join(_md(c.stage) for c in cols) + " |")
    if comparison.runs_differ or not comparison.only_differences:
        lines.append("| **runs** | " + " | ".join(_md(", ".join(c.runs) or "-") for c in cols) + " |")
    for row in comparison.metadata:
        cells = []
        for text, delta, present in zip(row.texts(), row.deltas, row.present):
            cell = _md(text) if present else "-"
            if delta is not None:
                cell += f" ({delta_text(delta)})"
            cells.append(cell)
        lines.append(f"| `{_md(row.key)}` | " + " | ".join(cells) + " |")
    for art in comparison.artifacts:
        cells = []
        for found, status in zip(art.cells, art.statuses):
            if found is None:
                cells.append(status or "-")
            else:
                cells.append(f"v{found.version} `{found.sha256[:12]}` {status}".rstrip())
        lines.append(f"| artifact `{_md(art.name)}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def promotions_markdown(promotions: Iterable[Promotion]) -> str:
    """A pull-request summary: one section per stage change, with the comparison it implies."""
    promotions = list(promotions)
    lines = ["## gitreg: stage changes", ""]
    if not promotions:
        return "\n".join(lines + ["No stage changes in this range.", ""])
    for p in promotions:
        move = f"{p.from_stage or 'new'} -> {p.to_stage}"
        lines.append(f"### {_md(p.model)} v{p.version}: {move}")
        lines.append("")
        if p.comparison is None:
            lines.append(f"No version was in {p.to_stage} before: nothing to compare with.")
            lines.append("")
            continue
        lines.append(f"Replaces v{p.replaced} in {p.to_stage}.")
        lines.append("")
        lines.append(comparison_markdown(p.comparison))
    return "\n".join(lines)
