"""Artifacts as the pages show them: what each link's recorded summary says (see
:func:`gitreg.materializers.describe`), and every artifact of a model across its versions, with where
one version's differs from the version before.

A summary is read from a manifest, so it is treated as any JSON: a field of an unexpected type is
left out, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..values import value_text

if TYPE_CHECKING:
    from ..manifests import ArtifactLink, VersionManifest

MAX_CHIPS = 50


@dataclass(frozen=True)
class SummaryView:
    kind: str                              # "table", "array", "estimator", "sequence" or "other"
    headline: str                          # one line: "150 rows × 5 columns", "3 × 4 float64", ...
    chips: tuple[tuple[str, str], ...]     # (column, dtype) of a table; (parameter, value) of an estimator
    rows: int | None = None                # rows of a table or length of a sequence (for a bar)

    @property
    def text(self) -> str:
        """The whole summary as one line (what a comparison compares)."""
        return self.headline + ("; " + ", ".join(f"{k}: {v}" for k, v in self.chips) if self.chips else "")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def summary_view(summary: Mapping[str, Any] | None) -> SummaryView | None:
    if not isinstance(summary, Mapping) or not summary:
        return None
    cls = str(summary.get("class", ""))
    rows = _int(summary.get("rows"))
    if cls == "pandas.DataFrame":
        dtypes = summary.get("dtypes")
        chips = tuple((str(k), value_text(v)) for k, v in list(dtypes.items())[:MAX_CHIPS]) \
            if isinstance(dtypes, Mapping) else ()
        columns = _int(summary.get("columns"))
        return SummaryView("table", f"{rows if rows is not None else '?'} rows \u00d7"
                                    f" {columns if columns is not None else '?'} columns", chips, rows)
    if cls == "pandas.Series":
        return SummaryView("table", f"{rows if rows is not None else '?'} rows, {value_text(summary.get('dtype'))}"
                                    f" (series {value_text(summary.get('name'))})", (), rows)
    if cls == "numpy.ndarray":
        shape = summary.get("shape")
        dims = " \u00d7 ".join(str(n) for n in shape) if isinstance(shape, list) else "?"
        return SummaryView("array", f"{dims or 'scalar'} {value_text(summary.get('dtype'))}", (),
                           _int(shape[0]) if isinstance(shape, list) and shape else None)
    params = summary.get("params")
    if isinstance(params, Mapping):
        chips = tuple((str(k), value_text(v)) for k, v in list(params.items())[:MAX_CHIPS])
        return SummaryView("estimator", cls, chips)
    length = _int(summary.get("length"))
    if length is not None:
        return SummaryView("sequence", f"{cls or 'value'} of length {length}", (), length)
    return SummaryView("other", ", ".join(f"{k}: {value_text(v)}" for k, v in list(summary.items())[:MAX_CHIPS]), ())


@dataclass(frozen=True)
class ArtifactEntry:
    """One artifact link of one model version, with what changed since the version before that links the name."""

    number: int                    # the model version
    link: ArtifactLink
    summary: SummaryView | None
    change: str                    # "first", "same bytes", "changed", or "" when unknown
    differences: tuple[str, ...]   # what of the summary changed: "rows 120 -> 150", "dtype of b", ...
    size_share: float              # size as a share of the largest of this name (0..1), for a bar


@dataclass(frozen=True)
class ArtifactGroup:
    name: str
    entries: tuple[ArtifactEntry, ...]


def _differences(before: SummaryView | None, now: SummaryView | None) -> tuple[str, ...]:
    if before is None or now is None:
        return ()
    out = []
    if before.headline != now.headline:
        out.append(f"{before.headline} \u2192 {now.headline}")
    was, is_ = dict(before.chips), dict(now.chips)
    for key in sorted(set(was) | set(is_)):
        if key not in was:
            out.append(f"+ {key}: {is_[key]}")
        elif key not in is_:
            out.append(f"\u2212 {key}")
        elif was[key] != is_[key]:
            out.append(f"{key}: {was[key]} \u2192 {is_[key]}")
    return tuple(out)


def artifact_groups(versions: Sequence[VersionManifest]) -> list[ArtifactGroup]:
    """Every artifact of the model, by name, each with its links in version order."""
    by_name: dict[str, list[tuple[int, ArtifactLink]]] = {}
    for v in versions:
        for link in v.artifacts:
            by_name.setdefault(link.name, []).append((v.number, link))
    groups = []
    for name in sorted(by_name):
        links = by_name[name]
        largest = max((link.size for _, link in links), default=0) or 1
        entries = []
        previous: tuple[ArtifactLink, SummaryView | None] | None = None
        for number, link in links:
            view = summary_view(link.summary)
            diffs: tuple[str, ...] = ()
            if previous is None:
                change = "first"
            else:
                change = "same bytes" if previous[0].sha256 == link.sha256 else "changed"
                diffs = _differences(previous[1], view)
            entries.append(ArtifactEntry(number, link, view, change, diffs, link.size / largest))
            previous = (link, view)
        groups.append(ArtifactGroup(name, tuple(entries)))
    return groups


@dataclass(frozen=True)
class SummaryRow:
    """One artifact name across compared versions: its summary in each (None: no such link or no summary)."""

    name: str
    texts: tuple[str | None, ...]

    @property
    def differs(self) -> bool:
        return len(set(self.texts)) > 1


def summary_rows(versions: Sequence[VersionManifest]) -> list[SummaryRow]:
    """For a comparison: each artifact name with a recorded summary in any of ``versions``."""
    names = sorted({a.name for v in versions for a in v.artifacts if a.summary})
    rows = []
    for name in names:
        texts = []
        for v in versions:
            link = next((a for a in v.artifacts if a.name == name), None)
            view = summary_view(link.summary) if link is not None else None
            texts.append(view.text if view is not None else None)
        rows.append(SummaryRow(name, tuple(texts)))
    return rows
