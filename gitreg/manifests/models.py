"""The manifests as frozen dataclasses, and whole manifest files read and written through them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from ..tagnames import validate_tag_prefix
from .metadata import MetadataValue, _copy_json, _sorted_deep
from .schemas import validate
from .yaml_io import dump_yaml, parse_yaml, within_limit

FORMAT_VERSION = 1  # of model, version and run manifests
#: The registry's layout (registry.yaml ``format``): 2 added each model's stages.yaml (see gitreg.migrate).
REGISTRY_FORMAT = 2
SCHEMA_KINDS = ("registry", "model", "stages", "claim", "version")
ARTIFACT_TYPES = ("data", "model", "deployment", "service")
CARD_FIELDS = ("license", "description", "audience", "use_cases", "limitations", "trade_offs", "ethics")


def now() -> str:
    """UTC timestamp as stored in manifests (second precision, Z suffix)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_precise() -> str:
    """UTC timestamp with milliseconds, for run and step times (runs often start within a second)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- dataclasses

@dataclass(frozen=True)
class RegistryConfig:
    store: str
    tag_prefix: str = "models"
    options: Mapping[str, Any] = field(default_factory=dict)
    format: int = REGISTRY_FORMAT
    remote: str | None = None  # git remote that writes push to (e.g. "origin")
    registration_tags: bool = True  # False: only stage changes are tagged (lighter remotes at scale)

    def __post_init__(self) -> None:
        validate_tag_prefix(self.tag_prefix)  # else every tag, so every write, would fail

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RegistryConfig:
        return cls(store=doc["store"], tag_prefix=doc["tag_prefix"],
                   options=MappingProxyType(dict(doc.get("options") or {})), format=doc["format"],
                   remote=doc.get("remote"), registration_tags=doc.get("registration_tags", True))

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "store": self.store, "tag_prefix": self.tag_prefix}
        if self.remote:
            doc["remote"] = self.remote
        if not self.registration_tags:
            doc["registration_tags"] = False
        if self.options:
            doc["options"] = _sorted_deep(dict(self.options))
        return doc


@dataclass(frozen=True)
class Counters:
    versions: int = 0
    staging: int = 0
    production: int = 0
    archived: int = 0
    none: int = 0

    def stage_count(self, stage: str) -> int:
        return int(getattr(self, stage))

    def to_dict(self) -> dict[str, int]:
        doc = {"versions": self.versions, "staging": self.staging,
               "production": self.production, "archived": self.archived}
        if self.none:
            doc["none"] = self.none
        return doc


@dataclass(frozen=True)
class NameClaim:
    """``names/<lower-case name>.yaml``: which model holds a name, whatever its case (format 2)."""

    model: str

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model}


@dataclass(frozen=True)
class StageHolders:
    """A model's stages.yaml: the version holding each exclusive stage and alias (None: nobody)."""

    production: int | None = None
    staging: int | None = None
    aliases: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def holder(self, stage: str) -> int | None:
        """Who holds the exclusive stage or alias ``stage``."""
        if stage == "production":
            return self.production
        if stage == "staging":
            return self.staging
        return self.aliases.get(stage)

    def with_holder(self, stage: str, number: int | None) -> StageHolders:
        if stage == "production":
            return replace(self, production=number)
        if stage == "staging":
            return replace(self, staging=number)
        aliases = {k: v for k, v in self.aliases.items() if k != stage}
        if number is not None:
            aliases[stage] = number
        return replace(self, aliases=MappingProxyType(dict(sorted(aliases.items()))))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> StageHolders:
        return cls(production=doc.get("production"), staging=doc.get("staging"),
                   aliases=MappingProxyType(dict(sorted((doc.get("aliases") or {}).items()))))

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"production": self.production, "staging": self.staging}
        if self.aliases:
            doc["aliases"] = dict(sorted(self.aliases.items()))
        return doc


@dataclass(frozen=True)
class ModelManifest:
    name: str
    created: str
    license: str | None = None
    description: str | None = None
    audience: str | None = None
    use_cases: str | None = None
    limitations: str | None = None
    trade_offs: str | None = None
    ethics: str | None = None
    tags: tuple[str, ...] = ()
    counters: Counters = field(default_factory=Counters)
    format: int = FORMAT_VERSION
    # the name as another registry's users spell it (MLflow's ``My Model``), when the folder name cannot be it
    display_name: str | None = None
    # key/value tags (MLflow's), key -> text; a tag without a value is one of ``tags``; written when there are any
    tag_values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ModelManifest:
        return cls(
            name=doc["name"], created=doc["created"],
            **{k: doc.get(k) for k in CARD_FIELDS},
            tags=tuple(doc.get("tags") or ()),
            counters=Counters(**doc["counters"]), format=doc["format"],
            display_name=doc.get("display_name"), tag_values=_tag_values(doc),
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "name": self.name}
        if self.display_name is not None:
            doc["display_name"] = self.display_name
        for key in CARD_FIELDS:
            value = getattr(self, key)
            if value is not None:
                doc[key] = value
        doc["tags"] = list(self.tags)
        if self.tag_values:
            doc["tag_values"] = dict(sorted(self.tag_values.items()))
        doc["created"] = self.created
        doc["counters"] = self.counters.to_dict()
        return doc

    @property
    def shown_name(self) -> str:
        """The name to show: ``display_name`` when the model has one, else its (folder) name."""
        return self.display_name if self.display_name is not None else self.name

    def card(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in CARD_FIELDS} | {"tags": list(self.tags)}


def _tag_values(doc: Mapping[str, Any]) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted((doc.get("tag_values") or {}).items())))


@dataclass(frozen=True)
class ArtifactLink:
    name: str
    version: int
    type: str
    uri: str
    sha256: str
    size: int
    format: str
    kind: str = "file"
    external: bool = False
    run: str | None = None
    step: str | None = None
    created: str | None = None
    executes_code: bool = False  # the format runs code when loaded (pickle and kin)
    # types a load must trust beyond the format's own (skops: a forest's Tree, a user's estimator class):
    # dotted names, sorted and without duplicates, recorded at save; written only when there are any
    trusted_types: tuple[str, ...] = ()
    # what a person wants to see of the saved object (rows, columns and dtypes, shape, estimator parameters),
    # recorded at save by its materializer (gitreg.materializers.describe); written only when there is one
    summary: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.trusted_types:
            normal = tuple(sorted(set(self.trusted_types)))
            if normal != self.trusted_types:
                object.__setattr__(self, "trusted_types", normal)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ArtifactLink:
        return cls(name=doc["name"], version=doc["version"], type=doc["type"], uri=doc["uri"],
                   sha256=doc["sha256"], size=doc["size"], format=doc["format"], kind=doc["kind"],
                   external=doc["external"], run=doc.get("run"), step=doc.get("step"),
                   created=doc.get("created"), executes_code=bool(doc.get("executes_code", False)),
                   trusted_types=tuple(doc.get("trusted_types") or ()), summary=doc.get("summary"))

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for key in _LINK_KEYS:
            value = getattr(self, key)
            if key == "executes_code":
                if value:
                    doc[key] = True
            elif key == "trusted_types":
                if value:
                    doc[key] = list(value)
            elif key == "summary":
                if value:
                    doc[key] = dict(value)
            elif value is not None or key not in ("run", "step", "created"):
                doc[key] = value
        return doc


_LINK_KEYS = ("name", "version", "type", "uri", "sha256", "size", "format", "kind", "external",
              "executes_code", "trusted_types", "summary", "run", "step", "created")


@dataclass(frozen=True)
class VersionManifest:
    model: str
    number: int
    name: str
    created: str
    stage: str = "none"
    description: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    artifacts: tuple[ArtifactLink, ...] = ()
    runs: tuple[str, ...] = ()
    format: int = FORMAT_VERSION
    created_by_run: str | None = None  # the pipeline run that registered this version, if one did
    run_status: str | None = None      # that run's status: running, completed or failed
    # the aliases (named exclusive pointers, see StageHolders) this version holds, sorted; the model's
    # stages.yaml names the same holder, so that deleting a version and pointing an alias at it conflict in git
    aliases: tuple[str, ...] = ()
    # key/value tags (MLflow's), as on ModelManifest
    tag_values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> VersionManifest:
        return cls(
            model=doc["model"], number=doc["number"], name=doc["name"], created=doc["created"],
            stage=doc["stage"], description=doc.get("description"),
            tags=tuple(doc.get("tags") or ()),
            metadata=MappingProxyType(_copy_json(doc.get("metadata") or {})),  # never shares the documents' dicts
            artifacts=tuple(ArtifactLink.from_dict(a) for a in doc.get("artifacts") or ()),
            runs=tuple(doc.get("runs") or ()), format=doc["format"],
            created_by_run=(doc.get("created_by_run") or {}).get("id"),
            run_status=(doc.get("created_by_run") or {}).get("status"),
            aliases=tuple(sorted(doc.get("aliases") or ())), tag_values=_tag_values(doc),
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": self.format, "model": self.model, "number": self.number,
                               "name": self.name, "stage": self.stage}
        if self.aliases:
            doc["aliases"] = sorted(self.aliases)
        if self.description is not None:
            doc["description"] = self.description
        doc["tags"] = list(self.tags)
        if self.tag_values:
            doc["tag_values"] = dict(sorted(self.tag_values.items()))
        doc["created"] = self.created
        doc["metadata"] = _sorted_deep(dict(self.metadata))
        doc["artifacts"] = [a.to_dict() for a in self.artifacts]
        doc["runs"] = list(self.runs)
        if self.created_by_run is not None:
            doc["created_by_run"] = {"id": self.created_by_run, "status": self.run_status}
        return doc

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        return {k: MetadataValue(k, v) for k, v in self.metadata.items()}

    def links(self, name: str | None = None, type: str | None = None) -> Iterator[ArtifactLink]:
        for link in self.artifacts:
            if (name is None or link.name == name) and (type is None or link.type == type):
                yield link


@dataclass(frozen=True, eq=False)
class UpdatedVersion(VersionManifest):
    """A version as an update wrote it (what ``Client.update_model_version`` returns), with what the same commit did
    to others: ``archived_versions``, the numbers of the versions it moved from the exclusive stage this one took
    to ``archived`` (``force=True``); empty when it moved none.

    A :class:`VersionManifest` in every other way, and equal to the manifest of the same fields: the extra field
    is about the change, not the version (it is never written to the manifest)."""

    archived_versions: tuple[int, ...] = ()

    @classmethod
    def of(cls, version: VersionManifest, archived_versions: tuple[int, ...] = ()) -> UpdatedVersion:
        return cls(**{f.name: getattr(version, f.name) for f in fields(VersionManifest)},
                   archived_versions=tuple(archived_versions))

    def as_manifest(self) -> VersionManifest:
        """The version alone, a plain :class:`VersionManifest`."""
        return VersionManifest(**{f.name: getattr(self, f.name) for f in fields(VersionManifest)})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UpdatedVersion):
            return (self.as_manifest(), self.archived_versions) == (other.as_manifest(), other.archived_versions)
        if isinstance(other, VersionManifest):
            return self.as_manifest() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.as_manifest())

# ---------------------------------------------------------------- load / dump

def newer_format(doc: Any) -> int | None:
    """The ``format`` of a registry.yaml document when it is newer than this gitreg reads, else None."""
    value = doc.get("format") if isinstance(doc, dict) else None
    return value if type(value) is int and value > REGISTRY_FORMAT else None


def load_registry(data: bytes, path: str) -> RegistryConfig:
    doc = parse_yaml(data, path)
    newer = newer_format(doc)
    if newer is not None:
        from ..errors import FormatTooNewError

        raise FormatTooNewError(path, newer, REGISTRY_FORMAT)
    validate("registry", doc, path)
    return RegistryConfig.from_dict(doc)


def load_model_doc(data: bytes, path: str) -> dict[str, Any]:
    doc = parse_yaml(data, path)
    validate("model", doc, path)
    return doc


def load_version_doc(data: bytes, path: str) -> dict[str, Any]:
    doc = parse_yaml(data, path)
    validate("version", doc, path)
    return doc


def dump(kind: str, manifest: RegistryConfig | ModelManifest | NameClaim | StageHolders | VersionManifest,
         path: str) -> bytes:
    """Validate and serialise a manifest; refuse to write anything invalid."""
    doc = manifest.to_dict()
    plain = json.loads(json.dumps(doc))
    validate(kind, plain, path)
    return within_limit(dump_yaml(doc), path)
