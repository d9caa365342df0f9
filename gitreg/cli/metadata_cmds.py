"""``gitreg metadata log|show``."""

from __future__ import annotations

import typer

from .context import MODEL, VERSION_OPT, client
from .render import OUTPUT_HELP, REASON, WIDE, Cell, OutputFormat, Table, emit

metadata_app = typer.Typer(rich_markup_mode=None, help="Log and show metadata of model versions.", no_args_is_help=True)


@metadata_app.command("log")
def metadata_log(
    ctx: typer.Context,
    name: str = MODEL,
    items: list[str] = typer.Argument(..., help="[VERSION] then KEY=VALUE pairs; values are JSON when they parse"
                                                " (0.97, true, [1,2], {\"a\":1}), text otherwise.",
                                      metavar="[VERSION] KEY=VALUE..."),
    reason: str = REASON,
) -> None:
    """Log metadata on a version (default: latest); merges into what is there."""
    from ..errors import InvalidValueError
    from ..filters import parse_value
    from ..manifests import check_json_text_depth

    version: str | None = None
    if items and "=" not in items[0]:
        version, items = items[0], items[1:]
    if not items:
        raise InvalidValueError("give at least one KEY=VALUE")
    metadata = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidValueError(f"{item!r} is not KEY=VALUE")
        metadata[key] = parse_value(check_json_text_depth(value, f"metadata.{key}"))
    v = client(ctx).log_metadata(name, version, metadata, reason=reason)
    typer.echo(f"Logged {', '.join(sorted(metadata))} on {name} v{v.number}", err=True)


@metadata_app.command("show")
def metadata_show(
    ctx: typer.Context,
    name: str = MODEL,
    version: str | None = VERSION_OPT,
    output: OutputFormat = typer.Option(OutputFormat.table, "-o", "--output", help=OUTPUT_HELP),
    wide: bool = WIDE,
) -> None:
    """Show the metadata of a version."""
    from .. import views

    v = client(ctx).get_model_version(name, version)
    table = Table(["KEY", "VALUE"], keep=("KEY",), drop=())
    for key in sorted(v.metadata):
        value = v.metadata[key]  # text wraps between words; any other value stays whole, floats short
        table.add(key, value if isinstance(value, str) else Cell([value]))
    emit(views.metadata(v), output, table)
