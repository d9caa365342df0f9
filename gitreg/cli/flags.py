"""One meaning per flag: ``-o/--output`` is always the output format, ``--to PATH`` always a destination.

The spellings of earlier releases keep working for one release, each with a one-line deprecation warning
on stderr: ``-o PATH`` for a destination (``artifact get``, ``site build``, ``ui``), and ``--format`` for
the output format (``artifact get``, ``check``). A combination that says two different things (``check
-o json --format markdown``, ``--to a -o b``) is a usage error: one line, exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from .render import note

#: Every word ``-o`` takes somewhere: a value of ``-o`` that is one of these is a format, never a path.
FORMAT_WORDS = ("table", "text", "json", "yaml", "markdown", "github")

TO_FILE_HELP = "Download the artifact (hash verified) to this path: a file, or a folder for a folder artifact."


def choices_word(formats: Sequence[str]) -> str:
    """``[table|json|yaml]``: the value word of ``-o`` in help."""
    return "[" + "|".join(formats) + "]"


def output_option(formats: Sequence[str], help: str) -> Any:
    """``-o/--output FORMAT`` for a command whose -o value is read by :func:`destination_and_format` (a value that
    is not a format name is the deprecated destination)."""
    return typer.Option(None, "-o", "--output", metavar=choices_word(formats), help=help,
                        autocompletion=lambda incomplete: [f for f in formats if f.startswith(incomplete)])


def to_option(help: str, default: str | None = None) -> Any:
    return typer.Option(default, "--to", metavar="PATH", help=help)


def deprecated(old: str, new: str) -> None:
    """The one-line deprecation warning of an old spelling (stderr; -q silences it)."""
    note(f"warning: {old} is deprecated; use {new} (the old spelling stops working in the next release)")


def _usage(text: str) -> None:
    from ..errors import InvalidValueError

    raise InvalidValueError(text)


def destination_and_format(to: str | None, output: str | None, formats: Sequence[str],
                           default: str | None) -> tuple[str | None, str | None]:
    """(destination, format) from ``--to`` and ``-o``: ``-o`` with a format name is that format; ``-o`` with
    anything else is the destination of earlier releases (warned about). ``default``: the format when none
    is given."""
    if output is None:
        return to, default
    if output in formats:
        return to, output
    if output.lower() in FORMAT_WORDS:
        allowed = f"one of {', '.join(formats)}" if formats else "and this command has none"
        _usage(f"-o is the output format, {allowed}: {output!r} is not one here"
               + ("" if to is not None else f" (a file or folder of that name: --to ./{output})"))
    if to is not None:
        _usage(f"-o {output} and --to {to} both name a destination; give --to only (-o is the output format)")
    note(f"warning: -o PATH is deprecated for the destination; use --to {output} (-o is the output format)")
    return output, default


def one_format(output: str | None, old: str | None, old_flag: str, default: str) -> str:
    """The output format from ``-o`` and the deprecated ``old_flag`` (``--format``): either alone, or both saying
    the same thing (else a usage error)."""
    if old is None:
        return output if output is not None else default
    if output is not None and output != old:
        _usage(f"-o {output} and {old_flag} {old} ask for two different output formats; give -o only"
               f" ({old_flag} is its deprecated spelling)")
    deprecated(f"{old_flag} {old}", f"-o {old}")
    return old
