"""The registry as a static site (``gitreg site build``) and a local server for it (``gitreg ui``).

Everything is rendered from git objects by Jinja2 templates shipped in this package,
with autoescaping on: manifest text (model cards, metadata keys and values) is data,
never markup.  Plots are inline SVG; the pages need no network and no build step.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_site", "BuildResult"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import builder

        return getattr(builder, name)
    raise AttributeError(name)
