"""MLflow's model-registry store over a gitreg registry (the ``gitreg`` registry URI scheme).

Every write is one ordinary gitreg write (:meth:`gitreg.registry.Registry.transact` over the functions of
:mod:`gitreg.operations`): a commit, tagged where gitreg tags (registrations, stage changes), so history,
review and ``gitreg check`` see MLflow's changes as any others.  Reads come from the branch head's snapshot.
What MLflow has and gitreg does not (prompts, webhooks, renames) raises MlflowException with the reason;
docs/how-to/mlflow.md lists every difference and the error a caller gets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS,
    get_canonical_stage,
)
from mlflow.exceptions import MlflowException
from mlflow.prompt.constants import IS_PROMPT_TAG_KEY
from mlflow.prompt.registry_utils import add_prompt_filter_string
from mlflow.protos.databricks_pb2 import (
    FEATURE_DISABLED,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils
from mlflow.utils.validation import (
    _validate_alias_name,
    _validate_alias_name_reserved,
    _validate_model_name,
    _validate_model_version,
    _validate_model_version_tag,
    _validate_registered_model_tag,
)

from ... import operations as ops
from ...client import Client
from ...errors import (
    AlreadyExistsError,
    AmbiguousStageError,
    ConcurrentWriteError,
    GitregError,
    InvalidNameError,
    InvalidValueError,
    ManifestError,
    NotARegistryError,
    NotFoundError,
    RemoteError,
    StageConflictError,
)
from ...names import is_valid_name
from ...registry import Change
from ...state import ModelState, Snapshot
from .naming import folder_candidates, registry_location

T = TypeVar("T")

#: gitreg's stored stages and MLflow's spellings of them.
_TO_MLFLOW = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
_FROM_MLFLOW = {v: k for k, v in _TO_MLFLOW.items()}
#: Where a version's MLflow-only facts (source, run, logged model) live: a key of its metadata.
MLFLOW_METADATA = "mlflow"
_LINEAGE_KEYS = ("source", "storage_location", "run_id", "run_link", "model_id")
_DEFAULT_VERSION_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]


def _millis(stamp: str) -> int:
    """A manifest's UTC time (``2026-01-02T03:04:05Z``, maybe with milliseconds) in MLflow's milliseconds."""
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def _model_missing(name: str) -> MlflowException:
    return MlflowException(f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST)


def _version_missing(name: str, version: object) -> MlflowException:
    return MlflowException(f"Model Version (name={name}, version={version}) not found", RESOURCE_DOES_NOT_EXIST)


def _unsupported(what: str, why: str) -> NoReturn:
    raise MlflowException(f"{what} is not supported by a gitreg registry: {why}", FEATURE_DISABLED)


def _code_of(error: GitregError) -> int:
    if isinstance(error, NotFoundError):
        return int(RESOURCE_DOES_NOT_EXIST)
    if isinstance(error, AlreadyExistsError):
        return int(RESOURCE_ALREADY_EXISTS)
    if isinstance(error, (InvalidNameError, InvalidValueError, StageConflictError, NotARegistryError)):
        return int(INVALID_PARAMETER_VALUE)
    if isinstance(error, (AmbiguousStageError, ManifestError)):
        return int(INVALID_STATE)
    if isinstance(error, (ConcurrentWriteError, RemoteError)):
        return int(TEMPORARILY_UNAVAILABLE)
    return int(INTERNAL_ERROR)


def _split_tags(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], dict[str, str]]:
    """MLflow's key/value tags as gitreg keeps them: a key that is a gitreg name with an empty value is a
    plain tag, any other pair a key/value tag (``tag_values``)."""
    plain: list[str] = []
    values: dict[str, str] = {}
    for key, value in pairs:
        if value == "" and is_valid_name(key):
            plain.append(key)
            values.pop(key, None)
        else:
            values[key] = "" if value is None else str(value)
            if key in plain:
                plain.remove(key)
    return plain, values


def _tag_pairs(tags: Iterable[str], values: Any) -> list[tuple[str, str]]:
    return sorted([*((t, "") for t in tags), *dict(values).items()])


class GitregRegistryStore(AbstractStore):
    """``MlflowClient(registry_uri="gitreg:///PATH")`` (or ``gitreg+https://HOST/REPO.git``)."""

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        if store_uri is None:
            raise MlflowException("a gitreg registry store needs a registry URI (gitreg:///ABSOLUTE/PATH)",
                                  INVALID_PARAMETER_VALUE)
        try:
            self.location = registry_location(store_uri)
        except ValueError as exc:
            raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from None
        self.store_uri = store_uri
        self.tracking_uri = tracking_uri
        self._lock = threading.RLock()  # MLflow's server calls a store from many threads; a Client is one
        with self._errors():
            self.client = Client(self.location)

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """gitreg's errors as MLflow's (the error code MLflow's clients and server act on, gitreg's words)."""
        try:
            with self._lock:
                yield
        except GitregError as exc:
            raise MlflowException(str(exc), _code_of(exc)) from exc

    def _snapshot(self) -> Snapshot:
        return self.client.registry.snapshot()

    def _find(self, snap: Snapshot, name: str) -> ModelState | None:
        """The model MLflow calls ``name`` (see :mod:`.naming`), or None."""
        _validate_model_name(name)
        for folder in folder_candidates(name):
            state = snap.model(folder)
            if state is not None and state.model.shown_name == name:
                return state
        return None

    def _require(self, snap: Snapshot, name: str) -> ModelState:
        state = self._find(snap, name)
        if state is None:
            raise _model_missing(name)
        return state

    def _write(self, name: str, build: Callable[[Snapshot, ModelState], Change | None]) -> Any:
        """One gitreg transaction on the model MLflow calls ``name`` (found again on every attempt)."""
        def run(snap: Snapshot) -> Change | None:
            return build(snap, self._require(snap, name))

        with self._errors():
            return self.client.registry.transact(run).result

    def _number(self, state: ModelState, name: str, version: object) -> int:
        number = _validate_model_version(version)
        if state.by_number(number) is None:
            raise _version_missing(name, version)
        return int(number)

    # ------------------------------------------------------------ entities

    def _version_entity(self, state: ModelState, number: int) -> ModelVersion:
        v = state.by_number(number)
        if v is None:
            raise _version_missing(state.model.shown_name, number)
        lineage = v.metadata.get(MLFLOW_METADATA)
        facts = lineage if isinstance(lineage, dict) else {}
        aliases = list(v.aliases)
        if v.stage in ("production", "staging"):
            aliases.append(v.stage)
        model_link = next(v.links(type="model"), None)
        source = facts.get("source") or (model_link.uri if model_link is not None else "")
        created = _millis(v.created)
        return ModelVersion(
            name=state.model.shown_name, version=str(v.number), creation_timestamp=created,
            last_updated_timestamp=created, description=v.description, user_id="",
            current_stage=_TO_MLFLOW[v.stage], source=source, run_id=facts.get("run_id"),
            tags=[ModelVersionTag(k, val) for k, val in _tag_pairs(v.tags, v.tag_values)],
            run_link=facts.get("run_link"), aliases=sorted(aliases), model_id=facts.get("model_id"))

    def _model_entity(self, state: ModelState) -> RegisteredModel:
        model = state.model
        latest: dict[str, int] = {}
        for v in state.versions:
            latest[v.stage] = max(latest.get(v.stage, 0), v.number)
        aliases = dict(state.aliases())
        for stage in ("production", "staging"):
            held = state.held(stage)
            if len(held) == 1:
                aliases[stage] = held[0]
        created = _millis(model.created)
        updated = max([created, *(_millis(v.created) for v in state.versions)])
        return RegisteredModel(
            name=model.shown_name, creation_timestamp=created, last_updated_timestamp=updated,
            description=model.description,
            latest_versions=[self._version_entity(state, n) for _s, n in sorted(latest.items())],
            tags=[RegisteredModelTag(k, val) for k, val in _tag_pairs(model.tags, model.tag_values)],
            aliases=[RegisteredModelAlias(a, str(n)) for a, n in sorted(aliases.items())])

    def _all_models(self) -> list[ModelState]:
        states, _broken = self.client.registry.snapshot().readable_models()  # an unreadable model is not listed
        return states

    # ------------------------------------------------------------ registered models

    def create_registered_model(self, name: str, tags: list[RegisteredModelTag] | None = None,
                                description: str | None = None, deployment_job_id: str | None = None
                                ) -> RegisteredModel:
        _validate_model_name(name)
        pairs = [(t.key, t.value) for t in tags or []]
        for key, value in pairs:
            _validate_registered_model_tag(key, value)
        if any(key == IS_PROMPT_TAG_KEY for key, _v in pairs):
            _unsupported("A prompt", "gitreg keeps models and their versions, not prompts")
        if deployment_job_id:
            _unsupported("A deployment job", "gitreg has no deployment jobs")
        plain, values = _split_tags(pairs)

        def build(snap: Snapshot) -> Change:
            names = {n.casefold(): n for n in snap.model_names()}
            for folder in folder_candidates(name):
                state = snap.model(folder)
                if state is not None and state.model.shown_name == name:
                    raise MlflowException(f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS)
                if state is None and names.get(folder.casefold(), folder) == folder:
                    return ops.create_model(snap, folder, {"description": description}, plain,
                                            display_name=name, tag_values=values)
            raise MlflowException(f"Registered Model (name={name}) cannot be created: the folders gitreg would keep"
                                  f" it in ({', '.join(folder_candidates(name))}) hold other models",
                                  RESOURCE_ALREADY_EXISTS)

        with self._errors():
            self.client.registry.transact(build)
            return self._model_entity(self._require(self._snapshot(), name))

    def update_registered_model(self, name: str, description: str | None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        if deployment_job_id:
            _unsupported("A deployment job", "gitreg has no deployment jobs")
        self._write(name, lambda snap, state: ops.update_model(snap, state.name, {"description": description}))
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> NoReturn:
        _validate_model_name(new_name)
        with self._errors():
            self._require(self._snapshot(), name)
        raise MlflowException(
            f"gitreg does not rename models ({name!r} -> {new_name!r}): the name is in every tag of the model's"
            " history, and tags are immutable. Register a new model under the new name instead.",
            INVALID_PARAMETER_VALUE)

    def delete_registered_model(self, name: str) -> None:
        self._write(name, lambda snap, state: ops.delete_model(snap, state.name))

    def search_registered_models(self, filter_string: str | None = None, max_results: int | None = None,
                                 order_by: list[str] | None = None, page_token: str | None = None
                                 ) -> PagedList[RegisteredModel]:
        limit = _max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        with self._errors():
            models = [self._model_entity(s) for s in self._all_models()]
        found = SearchModelUtils.filter(models, add_prompt_filter_string(filter_string, is_prompt=False))
        return _page(SearchModelUtils.sort(found, order_by), page_token, limit)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._errors():
            return self._model_entity(self._require(self._snapshot(), name))

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        wanted = [get_canonical_stage(s) for s in stages] if stages else list(ALL_STAGES)
        with self._errors():
            state = self._require(self._snapshot(), name)
            out = []
            for stage in wanted:
                numbers = [v.number for v in state.versions if _TO_MLFLOW[v.stage] == stage]
                if numbers:
                    out.append(self._version_entity(state, max(numbers)))
            return out

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        _validate_registered_model_tag(tag.key, tag.value)
        if tag.key == IS_PROMPT_TAG_KEY:
            _unsupported("A prompt", "gitreg keeps models and their versions, not prompts")
        plain, values = _split_tags([(tag.key, tag.value)])
        self._write(name, lambda snap, state: ops.update_model(snap, state.name, add_tags=plain, tag_values=values))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._write(name, lambda snap, state: ops.update_model(snap, state.name, remove_tags=[key],
                                                               remove_tag_values=[key]))

    # ------------------------------------------------------------ model versions

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: list[ModelVersionTag] | None = None, run_link: str | None = None,
                             description: str | None = None, local_model_path: str | None = None,
                             model_id: str | None = None) -> ModelVersion:
        _validate_model_name(name)
        pairs = [(t.key, t.value) for t in tags or []]
        for key, value in pairs:
            _validate_model_version_tag(key, value)
        storage, run_id = self._storage_location(source, run_id, model_id)
        lineage = {k: v for k, v in dict(source=source, storage_location=storage if storage != source else None,
                                         run_id=run_id, run_link=run_link, model_id=model_id).items() if v}
        plain, values = _split_tags(pairs)
        number: int = self._write(name, lambda snap, state: ops.register_version(
            snap, state.name, description=description, tags=plain, tag_values=values,
            metadata={MLFLOW_METADATA: lineage})).number
        return self.get_model_version(name, number)

    def _storage_location(self, source: str, run_id: str | None, model_id: str | None) -> tuple[str, str | None]:
        """Where the artifacts of ``source`` are (a ``models:/`` URI resolved as MLflow's own stores do)."""
        from mlflow.store.artifact.utils.models import _parse_model_uri
        from mlflow.tracking.client import MlflowClient

        storage = source
        if source.startswith("models:/"):
            parsed = _parse_model_uri(source)
            try:
                if parsed.model_id is not None:
                    logged = MlflowClient(tracking_uri=self.tracking_uri).get_logged_model(parsed.model_id)
                    storage, run_id = logged.artifact_location, run_id or logged.source_run_id
                else:
                    storage = self.get_model_version_download_uri(str(parsed.name), parsed.version)
            except MlflowException:
                raise
            except Exception as exc:  # MLflow's tracking store, whatever it raises
                raise MlflowException(f"Unable to fetch model from model URI source artifact location"
                                      f" '{source}': {exc}", INVALID_PARAMETER_VALUE) from exc
        if not run_id and model_id:
            run_id = MlflowClient(tracking_uri=self.tracking_uri).get_logged_model(model_id).source_run_id
        return storage, run_id

    def update_model_version(self, name: str, version: object, description: str | None) -> ModelVersion:
        self._write(name, lambda snap, state: ops.update_version(
            snap, state.name, self._number(state, name, version), description=description))
        return self.get_model_version(name, version)

    def transition_model_version_stage(self, name: str, version: object, stage: str,
                                       archive_existing_versions: bool) -> ModelVersion:
        canonical = get_canonical_stage(stage)
        if archive_existing_versions and canonical not in DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS:
            raise MlflowException(f"Model version transition cannot archive existing model versions because"
                                  f" '{stage}' is not an Active stage. Valid stages are"
                                  f" {DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS}", INVALID_PARAMETER_VALUE)

        def build(snap: Snapshot, state: ModelState) -> Change | None:
            try:
                return ops.update_version(snap, state.name, self._number(state, name, version),
                                          stage=_FROM_MLFLOW[canonical], force=archive_existing_versions)
            except StageConflictError as exc:
                raise MlflowException(
                    f"Registered Model (name={name}): version {exc.holder} is in {canonical}, and in gitreg"
                    f" {canonical} holds one version at a time; pass archive_existing_versions=True to move"
                    f" version {exc.wanted} there and archive version {exc.holder}", INVALID_PARAMETER_VALUE) from exc

        self._write(name, build)
        return self.get_model_version(name, version)

    def delete_model_version(self, name: str, version: object) -> None:
        self._write(name, lambda snap, state: ops.delete_version(snap, state.name,
                                                                 self._number(state, name, version)))

    def get_model_version(self, name: str, version: object) -> ModelVersion:
        with self._errors():
            state = self._require(self._snapshot(), name)
            return self._version_entity(state, self._number(state, name, version))

    def get_model_version_download_uri(self, name: str, version: object) -> str:
        mv = self.get_model_version(name, version)
        with self._errors():
            state = self._require(self._snapshot(), name)
            v = state.by_number(int(mv.version))
        lineage = v.metadata.get(MLFLOW_METADATA) if v is not None else None
        facts = lineage if isinstance(lineage, dict) else {}
        return str(facts.get("storage_location") or mv.source)

    def search_model_versions(self, filter_string: str | None = None, max_results: int | None = None,
                              order_by: list[str] | None = None, page_token: str | None = None
                              ) -> PagedList[ModelVersion]:
        limit = _max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        with self._errors():
            versions = [self._version_entity(s, v.number) for s in self._all_models() for v in s.versions]
        found = SearchModelVersionUtils.filter(versions, add_prompt_filter_string(filter_string, is_prompt=False))
        return _page(SearchModelVersionUtils.sort(found, order_by or _DEFAULT_VERSION_ORDER), page_token, limit)

    def set_model_version_tag(self, name: str, version: object, tag: ModelVersionTag) -> None:
        _validate_model_version_tag(tag.key, tag.value)
        plain, values = _split_tags([(tag.key, tag.value)])
        self._write(name, lambda snap, state: ops.update_version(
            snap, state.name, self._number(state, name, version), add_tags=plain, tag_values=values))

    def delete_model_version_tag(self, name: str, version: object, key: str) -> None:
        self._write(name, lambda snap, state: ops.update_version(
            snap, state.name, self._number(state, name, version), remove_tags=[key], remove_tag_values=[key]))

    # ------------------------------------------------------------ aliases

    def set_registered_model_alias(self, name: str, alias: str, version: object) -> None:
        _validate_alias_name(alias)
        _validate_alias_name_reserved(alias)
        # MLflow moves an alias wherever it pointed: force (for production/staging, the holder is archived)
        self._write(name, lambda snap, state: ops.set_alias(snap, state.name, alias,
                                                            self._number(state, name, version), force=True))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        _validate_alias_name(alias)
        self._write(name, lambda snap, state: ops.delete_alias(snap, state.name, alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        _validate_alias_name(alias)
        with self._errors():
            state = self._require(self._snapshot(), name)
            if alias.lower() == "latest":
                top = state.latest()
                if top is None:
                    raise _version_missing(name, "latest")
                return self._version_entity(state, top.number)
            number = state.holder(alias)  # an alias claimed twice (a hand edit): AmbiguousStageError, INVALID_STATE
            if number is None:
                raise MlflowException(f"Registered model alias {alias} not found.", INVALID_PARAMETER_VALUE)
            return self._version_entity(state, number)

    # ------------------------------------------------------------ what gitreg has no equal for

    def create_prompt(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("A prompt", "gitreg keeps models and their versions, not prompts")

    def create_prompt_version(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("A prompt", "gitreg keeps models and their versions, not prompts")

    def create_webhook(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("A webhook", "a gitreg registry is a git repository; use your git host's webhooks")

    def get_webhook(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("A webhook", "a gitreg registry is a git repository; use your git host's webhooks")

    def update_webhook(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("A webhook", "a gitreg registry is a git repository; use your git host's webhooks")

    def delete_webhook(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("A webhook", "a gitreg registry is a git repository; use your git host's webhooks")

    def test_webhook(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("A webhook", "a gitreg registry is a git repository; use your git host's webhooks")

    def list_webhooks(self, *args: Any, **kwargs: Any) -> PagedList[Any]:
        return PagedList([], None)

    def list_webhooks_by_event(self, *args: Any, **kwargs: Any) -> PagedList[Any]:
        return PagedList([], None)


def _max_results(value: object, threshold: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise MlflowException(f"Invalid value for max_results. It must be a positive integer, but got {value}",
                              INVALID_PARAMETER_VALUE)
    if value > threshold:
        raise MlflowException(f"Invalid value for request parameter max_results. It must be at most {threshold},"
                              f" but got value {value}", INVALID_PARAMETER_VALUE)
    return value


def _page(items: list[T], page_token: str | None, limit: int) -> PagedList[T]:
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + limit
    return PagedList(items[start:end], SearchUtils.create_page_token(end) if end < len(items) else None)

