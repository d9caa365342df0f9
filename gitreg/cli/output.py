"""Output for scripts: ``-o json|yaml`` of the shapes in :mod:`gitreg.views`, and ``--field PATH``."""

from __future__ import annotations

import json
from typing import Any

import typer

FIELD_HELP = ("Print only this value of the json output: a dotted path such as number, metadata.accuracy or"
              " artifacts.0.uri; text as it is, anything else as JSON (exit 4 if there is no such value).")
FIELD = typer.Option(None, "--field", metavar="PATH", help=FIELD_HELP)


def structured(data: Any, fmt: str) -> None:
    """``data`` (a view, or a list of views) as JSON or as YAML of the same shape."""
    fmt = getattr(fmt, "value", fmt)
    if fmt == "yaml":
        from ..manifests import dump_yaml

        typer.echo(dump_yaml(data).decode().rstrip())
    else:
        typer.echo(json.dumps(data, indent=2, default=str))


def value_text(value: Any) -> str:
    """One value for a shell: text as it is, anything else (numbers, true, null, objects) as JSON."""
    return value if isinstance(value, str) else json.dumps(value, indent=2)


def show(data: Any, fmt: str, field: str | None, what: str) -> None:
    """A describe command's json/yaml output, or only the value at ``field``."""
    fmt = getattr(fmt, "value", fmt)
    if field is None:
        structured(data, fmt)
        return
    from ..errors import InvalidValueError
    from ..views import field as pick

    if fmt != "table":
        raise InvalidValueError(f"--field prints one value by itself (text as it is, anything else as JSON):"
                                f" leave out -o {fmt}, or use -o {fmt} without --field for the whole object")
    typer.echo(value_text(pick(data, field, what)))
