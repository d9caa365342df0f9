"""The reference pages that are generated from the code itself, so they cannot drift from it.

- The command line: every command of ``gitreg --help``'s tree (hidden aliases aside) with its usage line,
  its help, its arguments and every option, from the typer/click command objects and the CLI's own help
  conventions (:mod:`gitreg.cli.usage`).
- The finding codes of ``gitreg check``, from :data:`gitreg.check.findings.FINDINGS`.
- The exit codes, from the error hierarchy (:mod:`gitreg.errors`) and the CLI's entry point.

A page asks for a part of the reference with a placeholder on a line of its own:

- ``<!-- gitreg-cli: model version -->`` renders the command ``gitreg model version`` and each of its
  subcommands that is not itself a group (``<!-- gitreg-cli: -->`` is ``gitreg`` and its top-level
  commands). A group's subgroups need placeholders of their own: :func:`coverage_problems` says which
  commands no placeholder renders (a new group nobody documented), and the hook fails the build then.
- ``<!-- gitreg-findings -->`` and ``<!-- gitreg-exit-codes -->`` render the two tables.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"^<!--\s*gitreg-(cli|findings|exit-codes)(?::\s*([a-z_ -]*?))?\s*-->\s*$", re.M)


@dataclass(frozen=True)
class Entry:
    """One command of the CLI: its words after ``gitreg``, the command object and its click context."""

    path: tuple[str, ...]
    command: Any
    ctx: Any

    @property
    def name(self) -> str:
        return " ".join(("gitreg", *self.path))

    @property
    def is_group(self) -> bool:
        return getattr(self.command, "commands", None) is not None


def commands() -> list[Entry]:
    """Every command ``gitreg --help`` leads to, groups included and hidden aliases left out, depth first."""
    import typer

    from gitreg.cli.app import app

    root = typer.main.get_command(app)
    found: list[Entry] = []

    def walk(command: Any, path: tuple[str, ...], parent: Any) -> None:
        ctx = command.make_context(path[-1] if path else "gitreg", [], parent=parent, resilient_parsing=True)
        found.append(Entry(path, command, ctx))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            if not sub.hidden:
                walk(sub, (*path, name), ctx)

    walk(root, (), None)
    return found


def rendered_by(path: tuple[str, ...], entries: list[Entry]) -> list[Entry]:
    """The entries a ``gitreg-cli`` placeholder for ``path`` renders: that command and its leaf subcommands."""
    own = [e for e in entries if e.path == path]
    if not own:
        raise LookupError(f"`<!-- gitreg-cli: {' '.join(path)} -->`: gitreg has no command "
                          f"`{' '.join(('gitreg', *path))}`")
    children = [e for e in entries if len(e.path) == len(path) + 1 and e.path[:len(path)] == path
                and not e.is_group]
    return own + children


def placeholders(markdown: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The (kind, command path) of each placeholder in a page's Markdown."""
    for m in PLACEHOLDER.finditer(markdown):
        yield m.group(1), tuple((m.group(2) or "").split())


def coverage_problems(pages: dict[str, str]) -> list[str]:
    """What is wrong with the placeholders of all pages together: a command rendered nowhere, or twice,
    or a placeholder naming no command. Empty when the reference covers the whole CLI exactly once."""
    entries = commands()
    problems: list[str] = []
    where: dict[tuple[str, ...], list[str]] = {}
    for page, text in sorted(pages.items()):
        for kind, path in placeholders(text):
            if kind != "cli":
                continue
            try:
                for entry in rendered_by(path, entries):
                    where.setdefault(entry.path, []).append(page)
            except LookupError as exc:
                problems.append(f"{page}: {exc}")
    for entry in entries:
        pages_of = where.get(entry.path, [])
        if not pages_of:
            group = entry.path if entry.is_group else entry.path[:-1]
            problems.append(f"`{entry.name}` has no reference entry: add `<!-- gitreg-cli: {' '.join(group)} -->`"
                            " to a page of docs/reference/cli/ (and the page to mkdocs.yml's nav)")
        elif len(pages_of) > 1:
            problems.append(f"`{entry.name}` is rendered more than once: {', '.join(pages_of)}")
    return problems


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def render_command(entry: Entry, level: int = 2) -> str:
    """One command's reference: a heading, its usage line, its help, its arguments and options as tables."""
    from gitreg.cli.usage import value_word

    command, ctx = entry.command, entry.ctx
    usage = " ".join([entry.name, *command.collect_usage_pieces(ctx)])
    level = "#" * level
    lines = [f"{level} `{entry.name}`", "", "```text", usage, "```", ""]
    help_text = inspect.cleandoc(command.help or "")
    if help_text:
        lines += [help_text.replace("\b\n", ""), ""]
    arguments: list[str] = []
    options: list[str] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if param.param_type_name == "argument":
            required = "yes" if param.required else "no"
            nargs = ", one or more" if param.nargs == -1 else ""
            help_of = getattr(param, "help", None) or ""
            arguments.append(f"| `{param.metavar or str(param.name).upper()}` | {required}{nargs} | "
                             f"{_cell(help_of)} |")
        elif param.param_type_name == "option" and record is not None:
            spellings = sorted([*param.opts, *param.secondary_opts], key=lambda o: (len(o) - len(o.lstrip("-")), o))
            value = value_word(param)
            options.append(f"| {', '.join(_code(s) for s in spellings)} | {_code(value)} | {_cell(record[1])} |")
    if arguments:
        lines += ["| argument | required | meaning |", "|---|---|---|", *arguments, ""]
    if options:
        lines += ["| option | value | meaning |", "|---|---|---|", *options, ""]
    if entry.is_group:
        subs = [f"`{name}`" for name, sub in command.commands.items() if not sub.hidden]
        lines += [f"Commands: {', '.join(subs)}.", ""]
    return "\n".join(lines)


def render_cli(path: tuple[str, ...]) -> str:
    """The Markdown of a ``gitreg-cli`` placeholder for ``path``."""
    entries = rendered_by(path, commands())
    return "\n".join(render_command(e, 2 if e.path == path else 3) for e in entries)


def render_findings() -> str:
    """The table of ``gitreg check``'s finding codes, from :data:`gitreg.check.findings.FINDINGS`."""
    from gitreg.check.findings import DELETE_CODES, FINDINGS

    rows = ["| code | what it means | to accept it |", "|---|---|---|"]
    for code, finding in FINDINGS.items():
        if finding.warning:
            accept = "a warning: fails nothing, nothing to accept"
        elif not finding.acceptable:
            accept = "cannot be accepted: fix it"
        else:
            accept = f"`--allow {code}`" + (" or `--allow-delete`" if code in DELETE_CODES else "")
        rows.append(f"| `{code}` | {_cell(finding.meaning)} | {accept} |")
    return "\n".join(rows) + "\n"


def exit_codes() -> list[tuple[int, str, str]]:
    """(exit code, error class, what it means) for every class of the error hierarchy, by code."""
    from gitreg import errors

    found: list[tuple[int, str, str]] = []
    seen: set[type] = set()
    stack = [errors.GitregError]
    while stack:
        cls = stack.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        own = cls.__dict__.get("__doc__")
        doc = inspect.cleandoc(own) if own else f"a kind of `{cls.__mro__[1].__name__}`"
        if cls.__module__ == errors.__name__:
            found.append((cls.exit_code, cls.__name__, " ".join(doc.split("\n\n", 1)[0].split())))
        stack.extend(cls.__subclasses__())
    return sorted(found)


def render_exit_codes() -> str:
    """The table of exit codes: 0, the usage errors' 2, and each error class's code."""
    rows = [(0, "", "success"),
            (2, "(a usage error)", "a bad value, a missing argument, an unknown command or option: one `error:` line,"
                                   " then the line that says where help is"),
            *((code, f"`{name}`", _cell(doc)) for code, name, doc in exit_codes()),
            (141, "", "stdout was closed early (piped into `head`): the rest of the output is dropped quietly")]
    table = ["| exit code | error class (`gitreg.errors`) | what it means |", "|---:|---|---|"]
    table += [f"| {code} | {name} | {doc} |" for code, name, doc in sorted(rows, key=lambda r: r[0])]
    return "\n".join(table) + "\n"


def render(kind: str, path: tuple[str, ...]) -> str:
    if kind == "cli":
        return render_cli(path)
    if kind == "findings":
        return render_findings()
    return render_exit_codes()


def expand(markdown: str) -> str:
    """A page's Markdown with each placeholder replaced by what it stands for."""
    return PLACEHOLDER.sub(lambda m: render(m.group(1), tuple((m.group(2) or "").split())), markdown)
