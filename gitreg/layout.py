"""The registry's paths under ``.mcp/``: how each is spelled, and the one grammar every path must match.

Every reader goes through :func:`classify` (or the helpers built on it), so that no file can stand in
for another: a version number is ``[1-9][0-9]*`` in ASCII, a name is what :mod:`gitreg.names` allows,
and anything else under ``.mcp/`` is reported by ``gitreg check`` and never read as anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .attributes import ATTRIBUTES_PATH
from .names import is_valid_name

MCP = ".mcp"
REGISTRY_PATH = f"{MCP}/registry.yaml"
MODELS_PATH = f"{MCP}/models"
NAMES_PATH = f"{MCP}/names"
RUNS_PATH = f"{MCP}/runs"

MODEL_FILE = "model.yaml"
STAGES_FILE = "stages.yaml"
VERSIONS_DIR = "versions"

#: A version manifest's file name: the number in ASCII digits, no leading zero.
_VERSION_NAME = re.compile(r"([1-9][0-9]{0,17})\.yaml")
#: A run manifest's file name (the run id is a name).
_YAML_NAME = re.compile(r"(.+)\.yaml")


def model_path(model: str) -> str:
    return f"{MODELS_PATH}/{model}"


def model_file(model: str) -> str:
    return f"{MODELS_PATH}/{model}/{MODEL_FILE}"


def stages_file(model: str) -> str:
    return f"{MODELS_PATH}/{model}/{STAGES_FILE}"


def version_file(model: str, number: int) -> str:
    return f"{MODELS_PATH}/{model}/{VERSIONS_DIR}/{number}.yaml"


def name_claim_file(model: str) -> str:
    """The file that claims ``model``'s name whatever its case (format 2): ``names/<lower-case name>.yaml``."""
    return f"{NAMES_PATH}/{model.lower()}.yaml"


def version_file_number(name: str) -> int | None:
    """The number a file called ``name`` in a ``versions/`` folder is the manifest of; None if the name is
    not exactly ``<number>.yaml`` in ASCII (``03.yaml``, ``٣.yaml``, ``3.YAML``, ``3.yaml `` are not)."""
    match = _VERSION_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def version_number(path: str) -> int | None:
    """The number of the version manifest at ``path`` (``.../versions/<n>.yaml``), None for any other file."""
    found = classify(path)
    return found.number if found is not None and found.kind == "version" else None


@dataclass(frozen=True)
class RegistryPath:
    """What a path under ``.mcp/`` is, by the grammar: ``kind`` is one of registry, attributes, model,
    stages, version, run; ``model`` and ``number`` are set where the kind has them."""

    kind: str  # registry, attributes, model, stages, version, run, claim
    model: str | None = None
    number: int | None = None
    run: str | None = None


_FIXED = {REGISTRY_PATH: RegistryPath("registry"), ATTRIBUTES_PATH: RegistryPath("attributes")}


def classify(path: str) -> RegistryPath | None:
    """What the file at ``path`` (relative to the repository's top, ``/``-separated) is in the registry,
    or None when the grammar has no place for it (then it is never read, and ``gitreg check`` says so)."""
    fixed = _FIXED.get(path)
    if fixed is not None:
        return fixed
    parts = path.split("/")
    if len(parts) == 3 and parts[:2] == [MCP, "names"]:
        match = _YAML_NAME.fullmatch(parts[2])
        if match and match.group(1) == match.group(1).lower() and is_valid_name(match.group(1)):
            return RegistryPath("claim", model=match.group(1))
        return None
    if len(parts) == 3 and parts[:2] == [MCP, "runs"]:
        match = _YAML_NAME.fullmatch(parts[2])
        if match and is_valid_name(match.group(1)):
            return RegistryPath("run", run=match.group(1))
        return None
    if len(parts) < 4 or parts[:2] != [MCP, "models"] or not is_valid_name(parts[2]):
        return None
    model = parts[2]
    if len(parts) == 4 and parts[3] == MODEL_FILE:
        return RegistryPath("model", model)
    if len(parts) == 4 and parts[3] == STAGES_FILE:
        return RegistryPath("stages", model)
    if len(parts) == 5 and parts[3] == VERSIONS_DIR:
        number = version_file_number(parts[4])
        if number is not None:
            return RegistryPath("version", model, number)
    return None


def grammar_problem(path: str, mode: str) -> str | None:
    """Why the tree entry at ``path`` with git ``mode`` (e.g. ``100644``) has no place under ``.mcp/``, or
    None when it is a registry file.  Only regular files count: a link, an executable or a submodule at a
    registry path is a problem too (git would check it out as something else than the bytes reviewed)."""
    found = classify(path)
    if found is None:
        return _why_not(path)
    if mode != "100644":
        kinds = {"120000": "a symbolic link", "160000": "a submodule", "100755": "an executable file",
                 "040000": "a folder"}
        return f"{kinds.get(mode, f'an entry of mode {mode}')}; registry files are plain files"
    return None


def _why_not(path: str) -> str:
    parts = path.split("/")
    last = parts[-1]
    if not last.isascii() or any(not p.isascii() for p in parts):
        return "a name with characters outside ASCII; registry paths are ASCII only"
    if last != last.strip():
        return "a name with leading or trailing white space"
    if len(parts) >= 3 and parts[1] == "models" and not is_valid_name(parts[2]):
        return "under a folder that is not a valid model name (letters, digits, '.', '_', '-'; no device names)"
    if len(parts) == 5 and parts[3] == VERSIONS_DIR:
        return "version manifests are named <number>.yaml (ASCII digits, no leading zero)"
    if last.startswith("."):
        return "a dot file; the only one the registry has is .mcp/.gitattributes"
    return ("no place in the registry (.mcp/ holds registry.yaml, .gitattributes, runs/<id>.yaml,"
            " names/<lower-case model>.yaml and models/<model>/{model.yaml,stages.yaml,versions/<number>.yaml})")
