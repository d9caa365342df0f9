"""Read an MLflow model registry (any registry URI MLflow's client takes: ``sqlite:///...``, a tracking
server's ``http(s)://...``, ``databricks``, ...) into an import :class:`~gitreg.importers.Plan`.

What maps to what (docs/how-to/importing.md):

- a registered model -> a gitreg model: its description; its key/value tags in each version's metadata
  under ``mlflow.model_tags`` (gitreg's model tags are names, not pairs); its name kept when gitreg's name
  grammar allows it, else mapped (:func:`~gitreg.importers.gitreg_name`);
- a model version -> a gitreg version with the same number (unless gitreg used it already): description,
  ``created`` and the commit's author date from ``creation_timestamp``, the commit's author from
  ``user_id``; its key/value tags losslessly in metadata under ``mlflow.tags``; ``run_id``, ``source``,
  ``status``, ``user_id``, the legacy ``current_stage`` under ``mlflow``; its artifacts (the download URI)
  linked in place as the external artifact ``model`` when gitreg can read them;
- the legacy stages Production / Staging / Archived -> gitreg's stages (several versions in Production or
  Staging: the newest keeps it, the others are archived, and the summary says so); the aliases
  ``production`` and ``staging`` -> those stages as well (an alias wins over a legacy stage of another
  version); every alias is also recorded on its version as ``mlflow.aliases`` (a list).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import ImportSourceError, InvalidValueError
from ..git.network import redact
from ..registry import Registry
from . import AliasState, Plan, SourceModel, SourceVersion, StageEvent, Step, Summary, Who, by_time, run_import

PAGE = 500
#: MLflow's legacy stage names -> gitreg's stages.
LEGACY_STAGES = {"Production": "production", "Staging": "staging", "Archived": "archived"}
STAGE_ALIASES = ("production", "staging")


def _time(ms: int | None) -> datetime:
    return datetime.fromtimestamp((ms or 0) / 1000, UTC)


def _who(user: str | None, ms: int | None) -> Who:
    user = (user or "").strip() or None
    email = user if user and "@" in user else ""
    return Who(user, email, _time(ms))


def _paged(call: Any, **kwargs: Any) -> Iterator[Any]:
    token = None
    while True:
        page = call(max_results=PAGE, page_token=token, **kwargs)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _quote(name: str) -> str:
    """``name`` as a string literal of MLflow's search filters."""
    if "'" not in name:
        return f"'{name}'"
    if '"' not in name:
        return f'"{name}"'
    raise InvalidValueError(f"MLflow model {name!r}: a name holding both kinds of quotes cannot be searched for")


def read_mlflow(registry_uri: str, tracking_uri: str | None = None) -> Plan:
    """The plan of an import of every model of the MLflow registry at ``registry_uri``."""
    try:
        import mlflow  # noqa: F401  (imported for its absence's sake: the error says what to install)
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise ImportSourceError("mlflow", redact(registry_uri),
                                "importing from MLflow needs the mlflow package: pip install mlflow") from None
    location = redact(registry_uri)
    if registry_uri.startswith("sqlite:///"):
        path = registry_uri[len("sqlite:///"):].split("?", 1)[0]
        if path not in ("", ":memory:") and not os.path.isfile(path):
            # MLflow would create an empty registry there (and its folders) and the import would find nothing
            raise ImportSourceError("mlflow", location,
                                    f"{location}: no such file {path!r}; give the path of the MLflow database"
                                    " (sqlite:////absolute/path/mlflow.db, or sqlite:///relative/path)")
    client = MlflowClient(tracking_uri=tracking_uri or registry_uri, registry_uri=registry_uri)
    try:
        return _read(client, location)
    except MlflowException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImportSourceError("mlflow", location, f"cannot read the MLflow registry at {location}: {first}; check"
                                " the URI (e.g. sqlite:///path/mlflow.db or http://host:5000) and that it is"
                                " reachable") from None


def _read(client: Any, location: str) -> Plan:
    models: list[SourceModel] = []
    stages: list[StageEvent] = []
    aliases: list[AliasState] = []
    notes: list[str] = []
    for rm in sorted(_paged(client.search_registered_models), key=lambda m: (m.creation_timestamp or 0, m.name)):
        name = rm.name
        model_tags = dict(rm.tags or {})
        versions = list(_paged(client.search_model_versions, filter_string=f"name={_quote(name)}"))
        alias_map = {alias: str(v) for alias, v in dict(getattr(rm, "aliases", None) or {}).items()}
        by_version: dict[str, list[str]] = {}
        for alias, v in sorted(alias_map.items()):
            by_version.setdefault(v, []).append(alias)
        read: list[SourceVersion] = []
        for mv in versions:
            number = str(mv.version)
            vid = f"{name}/{number}"
            try:
                uri = client.get_model_version_download_uri(name, number)
            except Exception:  # the source is not resolvable here: recorded, not linked
                uri = None
            info: dict[str, Any] = {"tags": dict(mv.tags or {}), "current_stage": mv.current_stage or "None",
                                    "status": mv.status, "source": redact(mv.source or "")}
            for key in ("run_id", "user_id", "run_link"):
                value = getattr(mv, key, None)
                if value:
                    info[key] = redact(str(value))
            if model_tags:
                info["model_tags"] = model_tags
            if by_version.get(number):
                info["aliases"] = by_version[number]
            read.append(SourceVersion(
                id=vid, number=int(number) if number.isdigit() else None, name=None,
                description=mv.description or None, tags=(), metadata={"mlflow": info},
                who=_who(mv.user_id, mv.creation_timestamp), source_uri=uri or mv.source or None,
                origin={"version": number}))
        if model_tags and not read:
            notes.append(f"{name}: has no versions, so its tags {model_tags} are not imported (gitreg keeps an MLflow"
                         " model's key/value tags in its versions' metadata)")
        models.append(SourceModel(name=name, description=rm.description or None, tags=(),
                                  who=Who(None, "", _time(rm.creation_timestamp)), versions=by_time(read)))
        stages.extend(_stage_events(name, versions, alias_map, notes))
        if alias_map:
            aliases.append(AliasState(name, "mlflow", {a: f"{name}/{v}" for a, v in alias_map.items()}))
    return Plan("mlflow", location, tuple(models), tuple(stages), tuple(aliases), tuple(notes))


def _stage_events(name: str, versions: list[Any], alias_map: Mapping[str, str], notes: list[str]) -> list[StageEvent]:
    """gitreg stage assignments for one model's legacy stages and stage aliases (see the module's docs)."""
    wanted: dict[str, str] = {}  # version -> gitreg stage
    when: dict[str, Any] = {}
    by_number = {str(mv.version): mv for mv in versions}
    for stage in ("archived", "staging", "production"):
        holders = sorted((mv for mv in versions if LEGACY_STAGES.get(mv.current_stage or "") == stage),
                         key=lambda mv: int(mv.version) if str(mv.version).isdigit() else 0)
        for mv in holders:
            wanted[str(mv.version)] = stage
            when[str(mv.version)] = mv
        if stage != "archived" and len(holders) > 1:
            keep = holders[-1]
            others = [str(mv.version) for mv in holders[:-1]]
            for number in others:
                wanted[number] = "archived"
            notes.append(f"{name}: versions {', '.join(others + [str(keep.version)])} were all in {stage.title()}"
                         f" in MLflow; gitreg keeps {stage} on the newest, {keep.version}, and archives the others")
    for stage in STAGE_ALIASES:
        holder = alias_map.get(stage)
        if holder is None or holder not in by_number:
            continue
        for other, held in list(wanted.items()):
            if held == stage and other != holder:
                wanted[other] = "archived"
                notes.append(f"{name}: the alias @{stage} names version {holder}, so version {other}, in"
                             f" {stage.title()} by its legacy stage, is archived")
        wanted[holder] = stage
        when[holder] = by_number[holder]
    events = []
    for number, stage in wanted.items():
        mv = when.get(number) or by_number[number]
        note = f"MLflow stage {mv.current_stage}" if LEGACY_STAGES.get(mv.current_stage or "") == stage \
            else f"MLflow alias @{stage}" if alias_map.get(stage) == number else f"MLflow: {stage} (see the summary)"
        who = _who(mv.user_id, mv.last_updated_timestamp)
        events.append(StageEvent(name, f"{name}/{number}", stage, who,
                                 f"{name}/{number} {stage} {mv.last_updated_timestamp}", note))
    # archived first at equal times, so that a version entering an exclusive stage is never demoted after it
    order = {"archived": 0, "staging": 1, "production": 2}
    return sorted(events, key=lambda e: (e.who.when, order[e.stage]))


def import_mlflow(registry: Registry, registry_uri: str, tracking_uri: str | None = None,
                  progress: Callable[[Step], None] | None = None, link_sources: bool = True) -> Summary:
    """Import every model of the MLflow registry at ``registry_uri``."""
    return run_import(registry, read_mlflow(registry_uri, tracking_uri), progress, link_sources)
