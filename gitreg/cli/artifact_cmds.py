"""``gitreg artifact add|get|remove|gc``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from enum import Enum
from typing import TYPE_CHECKING

import typer

from ..units import human_size
from .context import MODEL, VERSION_OPT, VERSION_REQ, client
from .flags import TO_FILE_HELP, choices_word, destination_and_format, one_format, output_option, to_option
from .output import FIELD, show
from .render import (
    LIMIT,
    OUTPUT_HELP,
    REASON,
    REVERSE,
    WIDE,
    ArtifactType,
    Order,
    OutputFormat,
    artifact_row,
    artifact_table,
    emit,
    format_label,
    kv,
    note,
    sort_by,
)

if TYPE_CHECKING:
    from ..progress import Progress

artifact_app = typer.Typer(rich_markup_mode=None, help="Store, link and fetch the artifacts of model versions.",
                           no_args_is_help=True)
PROGRESS_THRESHOLD = 32 * 1024 * 1024
GET_FORMATS = ("table", "json", "yaml")


def _bar(total: int, label: str) -> AbstractContextManager[Progress]:
    """A progress bar on a terminal's stderr for transfers above the threshold; none with -q or off a terminal."""
    from ..progress import transfer_bar
    from .logs import verbosity

    return transfer_bar(total, label, enabled=total >= PROGRESS_THRESHOLD and verbosity() >= 0)


@artifact_app.command("add")
def artifact_add(
    ctx: typer.Context,
    name: str = MODEL,
    version: str = VERSION_REQ,
    source: str = typer.Argument(..., help="Local file or folder to store, or a URI to link with --link.",
                                 metavar="PATH_OR_URI"),
    type: ArtifactType = typer.Option("data", "--type", case_sensitive=False, help="Artifact type."),
    artifact_name: str | None = typer.Option(None, "--name", "-n",
                                                help="Artifact name (default: the file name without extension)."),
    link: bool = typer.Option(False, "--link", help="Link the URI in place (hashed, not copied into the store)."),
    reason: str = REASON,
) -> None:
    """Store a file or folder in the artifact store and link it to a version."""
    base = source.rstrip("/").rsplit("/", 1)[-1]
    art = artifact_name or (base.split(".", 1)[0] if "." in base[1:] else base)
    from ..progress import size_of

    with _bar(0 if link else size_of(source), f"storing {base}") as progress:
        added = client(ctx).add_artifact(name, version, source, art, type=type.value, link=link, progress=progress,
                                         reason=reason)
    how = "linked in place" if added.external else "stored"
    note(f"{how} {added.name} v{added.version} ({added.type}, {human_size(added.size)}, sha256 {added.sha256[:12]})"
         f" on {name} {version}")


class ArtifactSort(str, Enum):
    name = "name"
    version = "version"
    type = "type"
    size = "size"
    created = "created"


_ARTIFACT_KEYS = {"name": lambda a: a.name, "version": lambda a: a.version, "type": lambda a: a.type,
                  "size": lambda a: a.size, "created": lambda a: a.created}


@artifact_app.command("list")
def artifact_list(
    ctx: typer.Context,
    name: str = MODEL,
    version: str | None = VERSION_OPT,
    type: ArtifactType | None = typer.Option(None, "--type", case_sensitive=False,
                                                help="Only artifacts of this type."),
    sort: ArtifactSort | None = sort_by("as linked"),
    reverse: bool = REVERSE,
    limit: int | None = LIMIT,
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o", help=OUTPUT_HELP),
    wide: bool = WIDE,
) -> None:
    """List the artifacts linked to a version; formats that run code when loaded are marked."""
    from .. import views

    found = client(ctx).list_artifacts(name, version, type.value if type is not None else None)
    owner = {id(a.link): a for a in found}
    links = Order(_ARTIFACT_KEYS, sort, reverse, limit).apply([a.link for a in found])
    emit([views.artifact(link, owner[id(link)].model, owner[id(link)].model_version) for link in links], output,
         artifact_table(links))


@artifact_app.command("get")
def artifact_get(
    ctx: typer.Context,
    name: str = MODEL,
    version: str = VERSION_REQ,
    artifact: str = typer.Argument(..., help="Artifact name.", metavar="ARTIFACT"),
    to: str | None = to_option(TO_FILE_HELP),
    artifact_version: int | None = typer.Option(None, "--artifact-version",
                                                   help="Artifact version (default: the highest)."),
    output: str | None = output_option(GET_FORMATS, OUTPUT_HELP + " (Was the destination before --to;"
                                       " -o PATH still works for now, with a warning.)"),
    fmt: str | None = typer.Option(None, "--format", metavar=choices_word(GET_FORMATS), hidden=True,
                                   help="Deprecated spelling of -o."),
    field: str | None = FIELD,
) -> None:
    """Show an artifact's link (-o for the format), or download it (hash verified) with --to PATH."""
    from .. import views

    dest, chosen = destination_and_format(to, output, GET_FORMATS, None)
    if fmt is not None:
        if fmt not in GET_FORMATS:
            from ..errors import InvalidValueError

            raise InvalidValueError(f"--format {fmt!r} is not one of {', '.join(GET_FORMATS)} (and is deprecated:"
                                    " use -o)")
        chosen = one_format(chosen, fmt, "--format", "table")
    shown_format = OutputFormat(chosen or "table")
    if dest is not None and (field is not None or chosen is not None):
        from ..errors import InvalidValueError

        what = "--field shows one value of the artifact's link" if field is not None else \
            f"-o {chosen} shows the artifact's link"
        raise InvalidValueError(f"{what}, --to PATH downloads it: give one")
    c = client(ctx)
    found = c.get_artifact(name, version, artifact, artifact_version)
    if dest is None:
        if shown_format != OutputFormat.table or field is not None:
            show(views.artifact(found.link, found.model, found.model_version), shown_format, field,
                 f"artifact {found.link.name} v{found.link.version} of {found.model} v{found.model_version}")
        else:
            data = artifact_row(found.link) | {"model": name, "model_version": found.model_version}
            shown = data | {"format": format_label(found.link.format, found.link.executes_code)}
            kv([(k, v) for k, v in shown.items()])
        return
    with _bar(found.link.size, f"fetching {artifact}") as progress:
        path = found.download(dest, progress)
    note(f"wrote {path} ({human_size(found.link.size)}, sha256 verified)")


@artifact_app.command("remove")
def artifact_remove(
    ctx: typer.Context,
    name: str = MODEL,
    version: str = VERSION_REQ,
    artifact: str = typer.Argument(..., help="Artifact name.", metavar="ARTIFACT"),
    artifact_version: int | None = typer.Option(None, "--artifact-version", help="Only this artifact version."),
    reason: str = REASON,
) -> None:
    """Unlink an artifact from a version (the stored bytes stay until `gitreg artifact gc`)."""
    removed = client(ctx).delete_artifact(name, version, artifact, artifact_version, reason=reason)
    note(f"unlinked {artifact} " + ", ".join(f"v{a.version}" for a in removed))


@artifact_app.command("gc")
def artifact_gc(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Really remove; without it, only show what would go."),
    grace_hours: float = typer.Option(1.0, "--grace-hours", min=0.0,
                                      help="Keep unreferenced objects younger than this (uploads in flight)."),
) -> None:
    """Remove store objects that no version manifest in the history links.

    Every branch, tag, reflog and the index count, so old versions stay loadable.
    The outputs of pipeline runs still running (on any machine) are kept, whatever their age.
    Never run it against a store that several registries share.
    """
    report = client(ctx).collect_garbage(dry_run=not yes, grace_seconds=grace_hours * 3600)
    verb = "would remove" if report.dry_run else "removed"
    for path in report.removed:
        typer.echo(f"{verb} {path}")
    for run in report.dead_runs:
        typer.echo(f"{verb} the marker of run {run} (its process died; its objects count as unreferenced)")
    note(f"{report.kept} object(s) linked by the history kept, {report.alive} written by"
         f" {len(report.live_runs)} running pipeline(s) kept, {report.young} younger than the grace period kept,"
         f" {verb} {len(report.removed)} ({human_size(report.freed)})"
         + ("; pass --yes to remove them" if report.dry_run and (report.removed or report.dead_runs) else ""))
