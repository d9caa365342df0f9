"""``Model``: a model version as pipeline code declares it (ZenML's semantics)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .manifests import CARD_FIELDS, MetadataValue, VersionManifest
from .names import validate_name
from .stages import ModelStages
from .state import parse_version_spec

if TYPE_CHECKING:
    from .artifacts import ArtifactVersion
    from .client import Client
    from .manifests import ArtifactLink
    from .pipelines.runs import Output, PendingStep, Slot


class BoundRun(Protocol):
    """What a model version bound to a running pipeline needs of the run (the run is built on ``Model``, in
    :mod:`gitreg.pipelines.decorators`; this module does not import it)."""

    client: Client
    current_step: PendingStep | None

    def save_output(self, value: Any, name: str, artifact_type: str | None, slot: Slot | None,
                    step: PendingStep | None) -> Output: ...


class Model:
    """A model and one of its versions, resolved lazily on first use.

    ``version``: None creates a new version on first use (and this object then
    always means it); an int or digit string is a number, and so is ``"v3"``
    (or ``"V3"``: version 3, as listings show it; it must exist, and ``v`` and
    digits is never created as a version name); ``"latest"`` the highest number;
    ``"staging"``/``"production"`` the version in that stage; any other string
    a version name, fetched or created on first use.

    A missing model is created on first use, as in ZenML, whatever its name; the command line
    (and ``Client.create_model_version(..., refuse_near_names=True)``) refuses one whose name is
    one edit from an existing model's instead.
    """

    def __init__(self, name: str, version: object = None, license: str | None = None,
                 description: str | None = None, audience: str | None = None,
                 use_cases: str | None = None, limitations: str | None = None,
                 trade_offs: str | None = None, ethics: str | None = None,
                 tags: Iterable[str] | None = None, *, repo: str | os.PathLike[str] | None = None) -> None:
        self.name = validate_name("model", name)
        if version is not None and parse_version_spec(version)[0] == "name":
            from .pipelines.steps import check_template, is_template

            if is_template(version):  # ZenML's {date}, {time}, ...: filled when a run starts (or on first use)
                check_template(str(version).strip())
            else:
                validate_name("version", str(version).strip())  # reject nonsense now, resolve on first use
        self.requested_version = version.value if isinstance(version, ModelStages) else version
        self.license, self.audience, self.use_cases = license, audience, use_cases
        self.limitations, self.trade_offs, self.ethics = limitations, trade_offs, ethics
        self._description = description
        self._tags = list(tags or ())
        self._repo = repo
        self._client: Client | None = None
        self._number: int | None = None
        self._run: BoundRun | None = None  # set while a pipeline run uses this model version
        self._slot: Slot | None = None

    # ------------------------------------------------------------ inside a pipeline run

    def _bind(self, run: BoundRun, slot: Slot) -> None:
        self._run, self._slot, self._client = run, slot, run.client
        self._number = slot.number

    def _settle(self) -> None:
        """The run was recorded (or failed to be): from now on this object is its version, read from the registry."""
        if self._slot is not None:
            self._number = self._slot.number
        self._run = self._slot = None

    def _pending(self) -> bool:
        return self._slot is not None and self._slot.number is None

    def _pending_error(self, what: str) -> Exception:
        from .errors import PipelineError

        return PipelineError(f"{self.name}: the new version of this run is not registered yet;"
                             f" {what} once its step has started")

    # ------------------------------------------------------------ resolution

    @property
    def client(self) -> Client:
        if self._client is None:
            from .client import Client

            self._client = Client(self._repo)
        return self._client

    def _card(self) -> dict[str, Any]:
        values = {k: getattr(self, k, None) for k in CARD_FIELDS if k != "description"}
        return values | {"description": self._description}

    def _manifest(self) -> VersionManifest:
        client = self.client
        if self._pending():
            raise self._pending_error("read it")
        if self._number is not None:
            return client.get_model_version(self.name, self._number)
        spec = self.requested_version
        # As in ZenML, a version this object creates gets its description and tags too (the model gets them
        # when it is created by this call).
        if spec is None:
            found = client.create_model_version(self.name, description=self._description, tags=self._tags,
                                                model_card=self._card(), model_tags=self._tags)
        elif parse_version_spec(spec)[0] == "name":
            from .pipelines.steps import fill_placeholders

            name = fill_placeholders(str(spec).strip())  # outside a run: {date} and {time} of first use
            found = client.get_or_create_model_version(self.name, name, model_card=self._card(),
                                                       model_tags=self._tags, description=self._description,
                                                       tags=self._tags)
            warn_config_mismatch(self.name, self._description, self._tags, found)
        else:
            found = client.get_model_version(self.name, spec)
            warn_config_mismatch(self.name, self._description, self._tags, found)
        self._number = found.number
        return found

    # ------------------------------------------------------------ properties

    def _committed(self, what: str) -> int:
        """The version number, for operations that need the version to be in the registry already."""
        if self._pending():
            raise self._pending_error(what)
        return self._manifest().number

    @property
    def number(self) -> int | None:
        """The version number (None inside a run for the version the run creates: it is numbered when recorded)."""
        if self._pending():
            return None
        return self._manifest().number

    @property
    def version(self) -> str | None:
        """The version's name (its number as text unless it was named)."""
        if self._pending():
            return self._slot.version_name  # type: ignore[union-attr]  # _pending(): there is a slot
        return self._manifest().name

    @property
    def stage(self) -> str:
        if self._pending():
            return "none"
        return self._manifest().stage

    @property
    def version_description(self) -> str | None:
        return self._manifest().description

    @property
    def version_tags(self) -> list[str]:
        return list(self._manifest().tags)

    @property
    def description(self) -> str | None:
        if self._number is None and self._description is not None:
            return self._description
        return self.client.get_model(self.name).description

    @property
    def tags(self) -> list[str]:
        return list(self.client.get_model(self.name).tags)

    @property
    def latest_version_name(self) -> str | None:
        """The name of the model's highest-numbered version in the registry (None: it has none yet).

        Reads the model only: it never registers the version this object would create."""
        latest = self.client.get_model_state(self.name).latest()
        return latest.name if latest is not None else None

    @property
    def latest_version_id(self) -> int | None:
        """The number of the model's highest-numbered version (gitreg's version id is its number)."""
        latest = self.client.get_model_state(self.name).latest()
        return latest.number if latest is not None else None

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        if self._slot is not None:
            from .manifests import merge_metadata

            base = {} if self._pending() else dict(self._manifest().metadata)
            merged = merge_metadata(base, self._slot.metadata)
            return {k: MetadataValue(k, v) for k, v in merged.items()}
        return self._manifest().run_metadata

    @property
    def manifest(self) -> VersionManifest:
        return self._manifest()

    # ------------------------------------------------------------ actions

    def set_stage(self, stage: object, force: bool = False, reason: str = "") -> tuple[int, ...]:
        """Move this version to ``stage``; returns the numbers of the versions ``force=True`` moved from that stage
        to ``archived`` in the same commit (empty when none was)."""
        number = self._committed("set its stage")
        updated = self.client.update_model_version(self.name, number, stage=stage, force=force, reason=reason)
        return updated.archived_versions

    def log_metadata(self, metadata: Mapping[str, Any]) -> None:
        if self._slot is not None:  # recorded with the run
            from .pipelines.runs import log_to_slot

            log_to_slot(self._slot, metadata)
            return
        self.client.log_metadata(self.name, self.number, metadata)

    def save_artifact(self, data: Any, name: str, type: str | None = None, *,
                      is_model_artifact: bool = False, is_deployment_artifact: bool = False) -> ArtifactLink:
        if is_model_artifact:
            type = "model"
        elif is_deployment_artifact:
            type = "deployment"
        if self._run is not None:  # stored now, linked when the run is recorded
            validate_name("artifact", name)
            return self._run.save_output(data, name, type, self._slot, self._run.current_step).link
        return self.client.save_artifact(self.name, self.number, data, name, type)

    def link_artifact(self, uri: str, name: str, type: str = "data", copy: bool = False) -> ArtifactLink:
        return self.client.link_artifact(self.name, self._committed("link artifacts to it"), uri, name, type=type,
                                         copy=copy)

    def get_artifact(self, name: str, version: int | None = None, type: str | None = None) -> ArtifactVersion:
        if self._slot is not None and version is None:  # saved earlier in this run (linked when it is recorded)?
            pending = [o.link for o in self._slot.links
                       if o.link.name == name and (type is None or o.link.type == type)]
            if pending:
                from .artifacts import ArtifactVersion

                return ArtifactVersion(pending[-1], self.name, self._committed("read its artifacts"),
                                       self.client.registry)
        return self.client.get_artifact(self.name, self._committed("read its artifacts from the registry"), name,
                                        version, type)

    def get_model_artifact(self, name: str, version: int | None = None) -> ArtifactVersion:
        return self.get_artifact(name, version, "model")

    def get_data_artifact(self, name: str, version: int | None = None) -> ArtifactVersion:
        return self.get_artifact(name, version, "data")

    def get_deployment_artifact(self, name: str, version: int | None = None) -> ArtifactVersion:
        return self.get_artifact(name, version, "deployment")

    def load_artifact(self, name: str, version: int | None = None) -> Any:
        if self._slot is not None and version is None:  # saved earlier in this run?
            pending = [o.link for o in self._slot.links if o.link.name == name]
            if pending:
                from .artifacts import load

                return load(self.client.registry, pending[-1])
        return self.get_artifact(name, version).load()

    def delete_artifact(self, name: str, version: int | None = None, only_link: bool = True,
                        delete_metadata: bool = True, delete_from_artifact_store: bool = False) -> None:
        """Unlink version ``version`` of artifact ``name`` (None: its highest on this model version), as ZenML.

        ``only_link=False, delete_from_artifact_store=True`` also removes the bytes from the store
        unless another link in the history uses them (see :meth:`Client.delete_artifact`).
        """
        number = self._committed("unlink its artifacts")
        if version is None:
            version = self.client.get_artifact(self.name, number, name).number
        self.client.delete_artifact(self.name, number, name, version,
                                    only_link=only_link, delete_metadata=delete_metadata,
                                    delete_from_artifact_store=delete_from_artifact_store)

    def delete_all_artifacts(self, only_link: bool = True, delete_from_artifact_store: bool = False) -> None:
        """Unlink every artifact of this model version (one commit); flags as in :meth:`delete_artifact`."""
        self.client.delete_all_artifacts(self.name, self._committed("unlink its artifacts"), only_link=only_link,
                                         delete_from_artifact_store=delete_from_artifact_store)

    def __repr__(self) -> str:
        pinned = f"v{self._number}" if self._number is not None else repr(self.requested_version)
        return f"Model({self.name!r}, {pinned})"

    def _repr_html_(self) -> str:
        """The model card and this version as HTML tables (Jupyter); never creates a version."""
        import html

        from .errors import GitregError
        from .notebook import model_html, version_html

        spec = self._number if self._number is not None else self.requested_version
        try:
            state = self.client.get_model_state(self.name)
            if spec is None:
                return model_html(state) + f"<p>{html.escape(repr(self))}: a new version, made on first use</p>"
            return model_html(state) + version_html(state.resolve(spec))
        except GitregError as exc:
            return f"<p>{html.escape(repr(self))}: {html.escape(str(exc))}</p>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return (self.name, self.requested_version, self._number) == (
            other.name, other.requested_version, other._number)

    __hash__ = None  # type: ignore[assignment]  # mutable: resolves on first use


def warn_config_mismatch(model: str, description: str | None, tags: Iterable[str],
                         existing: VersionManifest) -> str | None:
    """Warn (and return the warning) when a Model's description or tags differ from those of the existing
    version it resolved to, as ZenML does when a step runs again on an existing version: the version keeps
    its own, and the warning gives the command that changes them."""
    wanted = list(dict.fromkeys(tags))
    added = [t for t in wanted if t not in existing.tags]
    removed = [t for t in existing.tags if t not in wanted] if wanted else []
    differs = description is not None and description != existing.description
    if not (differs or added or removed):
        return None
    import logging
    import shlex

    what = [f"description {existing.description!r} (this Model says {description!r})"] if differs else []
    if added or removed:
        what.append(f"tags {list(existing.tags)} (this Model says {wanted})")
    command = f"gitreg model version update {model} {existing.number}"
    if differs and description is not None:
        command += f" --description {shlex.quote(description)}"
    command += "".join(f" --tag {t}" for t in added) + "".join(f" --remove-tag {t}" for t in removed)
    message = (f"Model({model!r}, version={existing.name!r}) is the existing version {existing.number}, whose "
               f"{' and '.join(what)} differ from this Model's configuration; the version keeps its own. To update"
               f" it, run `{command}` (or Client.update_model_version)")
    logging.getLogger("gitreg").warning("%s", message)
    return message
