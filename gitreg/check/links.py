"""Findings about the artifact links of one version manifest that its schema cannot express: a format gitreg
does not know, and trusted types gitreg never trusts.

Both are errors of ``gitreg check`` (and so of ``check --base``), never of reads: a version with such a link
stays readable, and only a load of that link fails (with the same reason).
"""

from __future__ import annotations

from typing import Any

from ..state.validation import Problem


def link_findings(doc: dict[str, Any], path: str) -> list[Problem]:
    """The findings about the links of the schema-valid version document ``doc`` (in the file ``path``)."""
    from ..materializers import known_formats, refused_type

    known = known_formats()
    problems: list[Problem] = []
    for i, link in enumerate(doc.get("artifacts") or ()):
        fmt = link.get("format")
        label = f"artifact {link.get('name')} v{link.get('version')}"
        if fmt not in known:
            problems.append(Problem(path, f"artifacts.{i}.format", f"{label}: unknown format {fmt!r}, so no load"
                                    f" can read it; known: {', '.join(known)}", code="unknown-format"))
        for j, name in enumerate(link.get("trusted_types") or ()):
            why = refused_type(name)
            if why:
                problems.append(Problem(path, f"artifacts.{i}.trusted_types.{j}", f"{label}: {name!r} is never"
                                        f" trusted ({why}); every load of this link is refused: remove it",
                                        code="trusted-type-refused"))
    return problems
