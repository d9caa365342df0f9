"""Notebook display: registry objects as HTML tables in Jupyter (``_repr_html_``), drawn with the site's templates.

This module sits above the manifests and the site's renderer, so that neither depends on the other: a
manifest is plain data, and what Jupyter shows of it is added here.  A comparison or a model's view (in
higher modules) calls the functions below; nothing here imports them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from .manifests import VersionManifest
from .site.render import ASSETS, environment, metadata_keys

if TYPE_CHECKING:
    from .state import ModelState


def _fragment(macro: str, *args: Any) -> str:
    module = environment().get_template("macros.html").module
    style = (ASSETS / "notebook.css").read_text()
    return f'<div class="gitreg"><style>{style}</style>{getattr(module, macro)(*args)}</div>'


def comparison_html(comparison: object) -> str:
    """A :class:`gitreg.compare.Comparison` as one table (typed loosely: the comparison sits above this module)."""
    return _fragment("compare_table", comparison)


def versions_html(versions: Sequence[VersionManifest]) -> str:
    keys = metadata_keys(versions)
    return _fragment("versions_table", list(versions), keys, keys, None)


def version_html(version: VersionManifest) -> str:
    return _fragment("version_detail", version, [(a, None) for a in version.artifacts])


def model_html(state: ModelState) -> str:
    return _fragment("model_summary", state, metadata_keys(state.versions))


class ShownVersion(VersionManifest):
    """A version manifest that displays as a table in Jupyter (the same values: a manifest is equal to it)."""

    def _repr_html_(self) -> str:
        return version_html(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionManifest):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(VersionManifest))

    def __hash__(self) -> int:
        return VersionManifest.__hash__(self)


def shown(version: VersionManifest) -> ShownVersion:
    """``version`` as a :class:`ShownVersion`."""
    if isinstance(version, ShownVersion):
        return version
    return ShownVersion(**{f.name: getattr(version, f.name) for f in fields(version)})


class VersionList(list[VersionManifest]):
    """A list of versions that displays as one table in Jupyter."""

    def _repr_html_(self) -> str:
        return versions_html(self)
