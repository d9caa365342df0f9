"""The mkdocs hook (``hooks:`` in mkdocs.yml) that fills the generated reference into the pages.

It fails the build (a :class:`mkdocs.exceptions.PluginError`, whatever ``--strict`` says) when a command of
the CLI has no generated entry on any page, or one entry on two pages, or a placeholder names no command:
see :mod:`docsgen.reference`. A command the generator cannot render fails the build the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the checkout's gitreg and docsgen, whichever folder mkdocs runs in
    sys.path.insert(0, str(ROOT))

from docsgen import reference  # noqa: E402


def on_files(files: Any, config: Any) -> Any:
    pages = {f.src_uri: Path(f.abs_src_path).read_text(encoding="utf-8")
             for f in files.documentation_pages() if f.abs_src_path}
    problems = reference.coverage_problems(pages)
    if problems:
        raise PluginError("the command-line reference does not cover the CLI:\n" + "\n".join(problems))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    try:
        return reference.expand(markdown)
    except Exception as exc:  # any failure to render is a failed build, naming the page
        raise PluginError(f"{page.file.src_uri}: the generated reference failed: {exc!r}") from exc
