"""The Jinja2 environment shared by the site and by notebooks' ``_repr_html_`` (:mod:`gitreg.notebook`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..units import human_size

if TYPE_CHECKING:
    import jinja2

    from ..manifests import VersionManifest

TEMPLATES = Path(__file__).parent / "templates"
ASSETS = Path(__file__).parent / "assets"


@cache
def environment() -> jinja2.Environment:
    import jinja2

    from ..materializers import CODE_MARK, executes_code
    from ..values import delta_text, flatten, is_number, value_text
    from .artifact_view import summary_view

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every page and fragment: manifest text is never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates ship in the package: compiled once per process, never re-checked
    )
    env.filters.update(delta=delta_text, value=value_text, size=human_size, flatten=flatten)
    env.globals.update(is_number=is_number, executes_code=executes_code, CODE_MARK=CODE_MARK,
                       summary_view=summary_view)
    return env


@cache
def compiled(name: str) -> jinja2.Template:
    """The template ``name``, compiled once per process."""
    return environment().get_template(name)


def render(name: str, **context: Any) -> str:
    return compiled(name).render(**context)


def metadata_keys(versions: Iterable[VersionManifest]) -> list[str]:
    from ..values import flatten

    keys: set[str] = set()
    for v in versions:
        keys.update(flatten(v.metadata))
    return sorted(keys)
