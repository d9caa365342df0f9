"""What scripts see: one output dict per kind of object, the same wherever the object appears.

Every ``-o json`` and ``-o yaml`` of the CLI goes through these functions, so a version is
the same object in ``model version list`` (one per item), ``model version describe`` and a
comparison, an artifact the same in ``artifact list``, ``artifact get`` and a version's
``artifacts``, a run the same in ``run list`` and ``run describe``.  The rules, which the
JSON Schemas in ``schemas/output/`` spell out (``additionalProperties: false``, every key
required):

- every key of a shape is always present; a value that is not there is ``null`` (a text,
  a number, an object) or empty (a list, a mapping of names);
- internal bookkeeping of the manifests (``format``, the model's ``counters``) stays out;
- every timestamp is UTC in one form, ``2026-11-29T22:50:48.000Z``: RFC 3339 with exactly
  three fractional digits and ``Z``, whatever the source had (seconds in manifests and tag
  dates, milliseconds in run records, any offset in a hand edit), so that timestamps of any
  source compare correctly as strings.  Manifests on disk keep their own form.

No printing here, and nothing of the command line: :func:`field` picks one value out of an
output dict (``--field PATH``) and raises :class:`~gitreg.errors.FieldNotFoundError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import FieldNotFoundError, InvalidValueError

if TYPE_CHECKING:
    from .check import CheckReport
    from .compare import Comparison
    from .history import Event
    from .manifests import ArtifactLink, VersionManifest
    from .pipelines.runs import RunManifest
    from .state import ModelState

Json = dict[str, Any]

#: The one form of every timestamp in output (strftime, then milliseconds and ``Z``).
_SECONDS = "%Y-%m-%dT%H:%M:%S"
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))?")


def timestamp(value: str | None) -> str | None:
    """``value`` (an ISO 8601 / RFC 3339 date and time, any offset) as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC.

    Fractions beyond milliseconds are cut, not rounded (an order of events never flips); a
    time without an offset is taken as UTC (gitreg writes none such).  ``None`` stays ``None``;
    a text that is no date and time (only a hand edit can make one) is returned as written.
    """
    if value is None:
        return None
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return value
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour), int(minute),
                        min(int(second), 59),  # a leap second (:60) shows as :59
                        int((fraction or "0")[:6].ljust(6, "0")), tzinfo=UTC)
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            when = when - offset if sign == "+" else when + offset
    except (ValueError, OverflowError):  # no such day, or beyond the calendar
        return value
    return f"{when.strftime(_SECONDS)}.{when.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------- models and versions

def model(state: ModelState) -> Json:
    """A model: its card, the numbers of its versions, and which hold latest, staging and production."""
    card = state.model
    latest = state.latest()

    def holder(stage: str) -> int | None:
        held = state.held(stage)
        return held[0] if len(held) == 1 else None  # claimed twice: nobody holds it clearly (`gitreg check`)

    return {
        "name": card.name,
        "license": card.license,
        "description": card.description,
        "audience": card.audience,
        "use_cases": card.use_cases,
        "limitations": card.limitations,
        "trade_offs": card.trade_offs,
        "ethics": card.ethics,
        "tags": list(card.tags),
        "created": timestamp(card.created),
        "versions": [v.number for v in state.versions],
        "latest": latest.number if latest is not None else None,
        "staging": holder("staging"),
        "production": holder("production"),
    }


def version(v: VersionManifest) -> Json:
    """A model version with its metadata, every artifact link and the ids of its runs."""
    return {
        "model": v.model,
        "number": v.number,
        "name": v.name,
        "stage": v.stage,
        "description": v.description,
        "tags": list(v.tags),
        "created": timestamp(v.created),
        "metadata": metadata(v),
        "artifacts": [artifact(link, v.model, v.number) for link in v.artifacts],
        "runs": list(v.runs),
        "created_by_run": {"id": v.created_by_run, "status": v.run_status} if v.created_by_run else None,
    }


def metadata(v: VersionManifest) -> Json:
    """A version's metadata (``metadata show``), keys sorted at every level, as in the manifest."""
    return {key: _sorted(v.metadata[key]) for key in sorted(v.metadata)}


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted(v) for v in value]
    return value


def artifact(link: ArtifactLink, model_name: str, model_version: int) -> Json:
    """An artifact link of a model version; ``executes_code`` is true when loading it runs code (by its
    format, or as the link says)."""
    from .materializers import executes_code

    return {
        "name": link.name,
        "version": link.version,
        "type": link.type,
        "uri": link.uri,
        "sha256": link.sha256,
        "size": link.size,
        "format": link.format,
        "kind": link.kind,
        "external": link.external,
        "executes_code": executes_code(link.format) or bool(link.executes_code),
        "run": link.run,
        "step": link.step,
        "created": timestamp(link.created),
        "model": model_name,
        "model_version": model_version,
    }


# ---------------------------------------------------------------- runs

def run(r: RunManifest) -> Json:
    """A recorded pipeline run with every step (the same in ``run list`` and ``run describe``)."""
    return {
        "id": r.id,
        "pipeline": r.pipeline,
        "status": r.status,
        "started": timestamp(r.started),
        "ended": timestamp(r.ended),
        "parameters": r.parameters,
        "code": {"commit": r.code_commit, "dirty": r.code_dirty},
        "error": r.error,
        "models": [{"name": m, "version": n, "created": new} for m, n, new in r.models],
        "steps": [step(s) for s in r.steps],
    }


def step(s: Mapping[str, Any]) -> Json:
    """One step of a run: its model version, plain parameters, lineage inputs and outputs."""
    model_ref = s.get("model")
    return {
        "name": s["name"],
        "status": s["status"],
        "started": timestamp(s["started"]),
        "ended": timestamp(s["ended"]),
        "model": {"name": model_ref["name"], "version": model_ref["version"]} if model_ref else None,
        "parameters": dict(s.get("parameters") or {}),
        "inputs": {key: artifact_ref(ref) for key, ref in (s.get("inputs") or {}).items()},
        "outputs": [artifact_ref(ref) for ref in s.get("outputs") or ()],
        "error": s.get("error"),
    }


def artifact_ref(ref: Mapping[str, Any]) -> Json:
    """An artifact as a run's lineage records it (a step's input or output)."""
    return {
        "name": ref["name"],
        "version": ref.get("version"),
        "type": ref["type"],
        "uri": ref["uri"],
        "sha256": ref["sha256"],
        "model": ref.get("model"),
        "model_version": ref.get("model_version"),
        "step": ref.get("step"),
        "run": ref.get("run"),
        "tags": list(ref.get("tags") or ()),
    }


# ---------------------------------------------------------------- history, check, comparison

def event(e: Event) -> Json:
    """A registration or stage change, from its tag; who made it, from the commit the tag marks."""
    return {
        "when": timestamp(e.when),
        "event": e.kind,
        "model": e.model,
        "version": e.version,
        "from": e.from_stage,
        "to": e.to_stage,
        "by": e.by or None,
        "reason": e.reason or None,
        "demoted": list(e.demoted),
        "commit": e.commit,
        "tag": e.tag,
        "committer": e.committer or None,
        "signature": e.signature or None,
        "tag_mismatch": e.tag_mismatch or None,
    }


def check_report(report: CheckReport, base: str | None) -> Json:
    """What ``gitreg check`` found; ``accepted`` counts the findings accepted with ``--allow``."""
    from .check import approval

    return {
        "ok": report.ok,
        "commit": report.commit,
        "base": base,
        "models": report.models,
        "versions": report.versions,
        "tags": report.tags,
        "accepted": len(report.accepted),
        "problems": [{"path": p.path, "field": p.field or None, "line": p.line, "severity": p.severity,
                      "code": p.code, "accepted": p.accepted, "allow": approval(p.code), "message": p.message}
                     for p in report.problems],
    }


def comparison(c: Comparison, versions: Sequence[VersionManifest]) -> Json:
    """Versions side by side.  ``versions`` are the compared versions (whole, as :func:`version` shows
    them), in the comparison's order; every map in the rows is keyed by each compared version's number,
    so every row has every version: ``null`` (and ``present: false``) where a version lacks the key,
    ``deltas`` null for the first version and where either value is not a number; an artifact ``null``
    where the version has none of that name, its ``status`` (same bytes, changed, added) null in the
    first version."""
    labels = [str(col.number) for col in c.columns]
    by_number = {v.number: v for v in versions}
    missing = [col.number for col in c.columns if col.number not in by_number]
    if missing:
        raise ValueError(f"comparison(): the compared versions {missing} were not given")
    return {
        "model": c.model,
        "versions": [version(by_number[col.number]) for col in c.columns],
        "metadata": [{"key": row.key,
                      "values": {n: (value if present else None)
                                 for n, value, present in zip(labels, row.values, row.present)},
                      "present": dict(zip(labels, row.present)),
                      "deltas": dict(zip(labels, row.deltas)),
                      "differs": row.differs} for row in c.metadata],
        "artifacts": [{"name": row.name,
                       "versions": {n: _cell(cell) for n, cell in zip(labels, row.cells)},
                       "differs": row.differs} for row in c.artifacts],
    }


def _cell(cell: Any) -> Json | None:
    if cell is None:
        return None
    return {"version": cell.version, "sha256": cell.sha256, "size": cell.size, "format": cell.format,
            "executes_code": cell.executes_code, "status": cell.status or None}


# ---------------------------------------------------------------- one value

def field(data: Any, path: str, what: str = "the output") -> Any:
    """The value at the dotted ``path`` of an output dict: ``number``, ``metadata.accuracy``,
    ``artifacts.0.uri`` (a list takes an index from 0).

    A mapping key that itself holds dots (a metadata key ``train.lr``) is found too: the longest
    run of path parts that is a key wins.  Raises FieldNotFoundError (naming the field, what was
    missing and the top-level keys) when there is no such value, InvalidValueError for an empty part.
    """
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise InvalidValueError(f"--field {path!r}: give a dotted path such as number, metadata.accuracy"
                                f" or artifacts.0.uri (fields: {_keys(data)})")
    value, i = data, 0
    while i < len(parts):
        where = ".".join(parts[:i]) or None
        if isinstance(value, Mapping):
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if key in value:
                    value, i = value[key], j
                    break
            else:
                raise FieldNotFoundError(path, _keys(data), what, _missing(where, parts[i], value))
        elif isinstance(value, list):
            part = parts[i]
            if not (part.isascii() and part.isdigit()) or int(part) >= len(value):
                size = f"{len(value)} item(s)" + (f", 0 to {len(value) - 1}" if value else "")
                raise FieldNotFoundError(path, _keys(data), what, f"{where} is a list of {size}, no {part!r}")
            value, i = value[int(part)], i + 1
        else:
            shown = "null" if value is None else "a boolean" if isinstance(value, bool) else \
                "text" if isinstance(value, str) else "a number"
            raise FieldNotFoundError(path, _keys(data), what, f"{where} is {shown}, it has no {parts[i]!r}")
    return value


def _missing(where: str | None, part: str, mapping: Mapping[str, Any]) -> str:
    if where is None:
        return ""
    names = sorted(map(str, mapping))
    keys = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "") if names else "none"
    return f"{where} has no {part!r} (its keys: {keys})"


def _keys(data: Any) -> str:
    return ", ".join(map(str, data)) if isinstance(data, Mapping) else "none"
