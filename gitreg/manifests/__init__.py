"""Manifests: frozen dataclasses, JSON Schema validation, deterministic YAML.

Every manifest read from git or written to git passes :func:`validate` against
its schema in ``schemas/``.  YAML is dumped with a fixed key order and one
style per value so that diffs stay minimal.

Modules: ``yaml_io`` (parse and dump, the limits on hostile input), ``schemas``
(the JSON Schemas and validation), ``compiled`` (the fast proofs of validity
tried before jsonschema), ``metadata`` (logged values), ``models`` (the
dataclasses, and manifests loaded and dumped through them).
"""

from __future__ import annotations

from .metadata import MetadataValue, check_json_text_depth, check_json_value, merge_metadata
from .models import (
    ARTIFACT_TYPES,
    CARD_FIELDS,
    FORMAT_VERSION,
    REGISTRY_FORMAT,
    SCHEMA_KINDS,
    ArtifactLink,
    Counters,
    ModelManifest,
    NameClaim,
    RegistryConfig,
    StageHolders,
    UpdatedVersion,
    VersionManifest,
    dump,
    load_model_doc,
    load_registry,
    load_version_doc,
    newer_format,
    now,
    now_precise,
)
from .schemas import load_schema, prepare, schema_dir, schema_problems, validate
from .yaml_io import MAX_MANIFEST_BYTES, MAX_METADATA_DEPTH, MAX_NESTING, dump_yaml, parse_yaml, within_limit

__all__ = [
    "ARTIFACT_TYPES", "CARD_FIELDS", "FORMAT_VERSION", "MAX_MANIFEST_BYTES", "MAX_METADATA_DEPTH", "MAX_NESTING",
    "REGISTRY_FORMAT", "SCHEMA_KINDS", "ArtifactLink", "Counters", "MetadataValue", "ModelManifest", "RegistryConfig",
    "NameClaim", "StageHolders", "UpdatedVersion", "newer_format",
    "VersionManifest", "check_json_text_depth", "check_json_value", "dump", "dump_yaml", "load_model_doc",
    "load_registry", "load_schema", "load_version_doc", "merge_metadata", "now", "now_precise",
    "parse_yaml", "prepare", "schema_dir", "schema_problems", "validate", "within_limit",
]
