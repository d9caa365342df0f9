"""The documentation site: its generated reference covers the whole command line, and it builds strictly.

The command-line reference is generated from the CLI when the site is built (docsgen/reference.py, through
the mkdocs hook docsgen/hooks.py): a page holds ``<!-- gitreg-cli: GROUP -->`` and gets that group's
usage, help, arguments and options. These tests check that every command and every option of the CLI
lands on exactly one page, that a command no page renders fails the build, and that the whole site
builds with ``mkdocs build --strict`` (when mkdocs is installed: the ``docs`` extra, which the README's
test command and .ci/run install).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT))  # docsgen lives beside gitreg in the checkout, not in the installed wheel
from docsgen import reference  # noqa: E402

sys.path.remove(str(ROOT))

HAS_MKDOCS = all(importlib.util.find_spec(name) is not None
                 for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers"))
# Skipped without the docs extra, except under CI=true, whose test command installs it: there it fails.
needs_mkdocs = pytest.mark.skipif(not HAS_MKDOCS and not os.environ.get("CI"),
                                  reason="mkdocs is not installed (pip install -e '.[docs]')")


def _pages() -> dict[str, str]:
    return {str(p.relative_to(DOCS)): p.read_text() for p in DOCS.rglob("*.md")}


def _cli() -> dict[str, list[str]]:
    """Every command `gitreg --help` leads to (hidden aliases aside), with its option names (hidden ones aside): walked
    here, independently of the generator, so that a command or option the generator skips is caught."""
    import typer

    from gitreg.cli.app import app

    found: dict[str, list[str]] = {}

    def walk(command, path: list[str]) -> None:
        found[" ".join(["gitreg", *path])] = [name for p in command.params if p.param_type_name == "option"
                                              and not getattr(p, "hidden", False)  # deprecated spellings
                                              for name in [*p.opts, *p.secondary_opts]]
        for name, sub in (getattr(command, "commands", None) or {}).items():
            if not sub.hidden:
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def _rendered() -> dict[str, str]:
    """The generated reference of every page, split into one section per command heading."""
    sections: dict[str, str] = {}
    for text in _pages().values():
        expanded = "\n".join(reference.render(kind, path) for kind, path in reference.placeholders(text)
                              if kind == "cli")
        for part in re.split(r"^(?=#{2,4} `gitreg)", expanded, flags=re.M)[1:]:
            name = re.match(r"#{2,4} `([^`]+)`", part).group(1)
            assert name not in sections, f"{name} rendered twice"
            sections[name] = part
    return sections


def test_every_command_has_one_entry_with_every_option() -> None:
    cli = _cli()
    sections = _rendered()
    assert sorted(sections) == sorted(cli), "commands missing from the reference, or rendered but gone"
    missing = [f"{command}: {name}" for command, options in cli.items() for name in options
               if f"`{name}`" not in sections[command]]
    assert not missing, "options missing from the generated reference:\n" + "\n".join(missing)
    assert reference.coverage_problems(_pages()) == []


def test_an_entry_shows_the_usage_line_the_help_and_the_option_help() -> None:
    entry = _rendered()["gitreg model version list"]
    assert "gitreg model version list [OPTIONS] NAME" in entry
    assert "List a model's versions, oldest first." in entry
    row = next(line for line in entry.splitlines() if line.startswith("| `-s`, `--stage`"))
    assert "none|staging|production|archived|latest" in row and "Only versions in this stage" in row


def test_a_group_no_page_renders_is_a_problem_naming_its_commands() -> None:
    pages = _pages()
    [page] = [name for name, text in pages.items() if "<!-- gitreg-cli: run -->" in text]
    pages[page] = pages[page].replace("<!-- gitreg-cli: run -->", "")
    problems = reference.coverage_problems(pages)
    assert len(problems) == 1 + len([c for c in _cli() if c.startswith("gitreg run ")])
    assert all("<!-- gitreg-cli: run -->" in p for p in problems), problems
    assert any(p.startswith("`gitreg run list` has no reference entry") for p in problems)


def test_a_command_rendered_twice_or_a_placeholder_naming_no_command_is_a_problem() -> None:
    pages = _pages()
    pages["extra.md"] = "# Extra\n\n<!-- gitreg-cli: tags -->\n\n<!-- gitreg-cli: model frobnicate -->\n"
    problems = reference.coverage_problems(pages)
    assert any("`gitreg tags sync` is rendered more than once" in p for p in problems), problems
    assert any(p.startswith("extra.md:") and "no command `gitreg model frobnicate`" in p for p in problems)


def test_the_exit_code_table_has_every_error_class_with_its_code() -> None:
    from gitreg import errors

    table = reference.render_exit_codes()
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.GitregError)]
    assert len(classes) > 15
    for cls in classes:
        assert re.search(rf"^\| {cls.exit_code} \| `{cls.__name__}` \| \S", table, re.M), cls.__name__


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    [command] = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv") and "pytest" in line]
    ci_lines = (ROOT / ".ci/run").read_text().splitlines()
    assert command in ci_lines
    assert "'.[test,docs]'" in command  # the docs extra: the strict build below runs in CI


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config),
                           "-d", str(site)], capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@needs_mkdocs
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    proc = _mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "site/reference/cli/model-version.html").read_text()
    assert "gitreg model version list" in page and "--sort-metadata" in page
    api = (tmp_path / "site/reference/python.html").read_text()
    assert "update_model_version" in api and "list_model_versions" in api
    codes = (tmp_path / "site/reference/findings.html").read_text()
    assert "promotes-unreviewed" in codes
    assert (tmp_path / "site/index.html").is_file() and (tmp_path / "site/model-page.png").is_file()


@needs_mkdocs
def test_a_site_that_leaves_out_a_command_fails_to_build(tmp_path: Path) -> None:
    """A small site with the hook and every group but `site`: the build fails, naming what is missing."""
    docs = tmp_path / "docs"
    docs.mkdir()
    import sys

    sys.path.insert(0, str(ROOT))
    from docsgen.reference import commands

    # every group the CLI has (what a placeholder renders: a group and its leaf commands), but `site`
    groups = ["", *(" ".join(e.path) for e in commands() if e.is_group and e.path and e.path != ("site",))]
    (docs / "index.md").write_text("# CLI\n\n" + "\n\n".join(f"<!-- gitreg-cli: {g} -->" for g in groups) + "\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        site_name: t
        docs_dir: docs
        hooks:
          - {ROOT / 'docsgen/hooks.py'}
        """))
    proc = _mkdocs(config, tmp_path / "site")
    assert proc.returncode != 0
    assert "`gitreg site build` has no reference entry" in proc.stdout + proc.stderr
    (docs / "index.md").write_text((docs / "index.md").read_text() + "\n<!-- gitreg-cli: site -->\n")
    shutil.rmtree(tmp_path / "site", ignore_errors=True)
    proc = _mkdocs(config, tmp_path / "site")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gitreg site build" in (tmp_path / "site/index.html").read_text()


def test_the_readme_links_to_pages_that_exist() -> None:
    """The README is read on the git host, outside the site: its relative links must name files of the checkout
    (the site's own links are checked by the strict build)."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(((?!https?:|#)[^)#\s]+)", readme)
    assert any(link.startswith("docs/") for link in links)
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
