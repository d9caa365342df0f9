"""``gitreg model ...`` and ``gitreg model version ...``."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from .context import MODEL, VERSION_OPT, VERSION_REQ, client
from .output import FIELD, show
from .render import (
    LIMIT,
    OUTPUT_HELP,
    REASON,
    REVERSE,
    WIDE,
    Cell,
    Order,
    OutputFormat,
    Stage,
    StageFilter,
    Table,
    artifact_table,
    emit,
    kv,
    metadata_cell,
    note,
    sort_by,
    table_text,
)

if TYPE_CHECKING:
    from ..history import Event
    from ..manifests import VersionManifest
    from ..registry import Proposal
    from ..state import ModelState

T = TypeVar("T")

model_app = typer.Typer(rich_markup_mode=None, help="Register, list, describe, update and delete models.",
                        no_args_is_help=True)
version_app = typer.Typer(rich_markup_mode=None, help="List, inspect, promote and delete model versions.",
                          no_args_is_help=True)
model_app.add_typer(version_app, name="version")

OUT = typer.Option(OutputFormat.table, "-o", "--output", help=OUTPUT_HELP)


# Long forms of gitreg beside ZenML's spellings (-l, -d, -a, -u, --tradeoffs, -e/--ethical).
LICENSE = typer.Option(None, "--license", "-l", help="License of the model, e.g. Apache-2.0.")
DESCRIPTION = typer.Option(None, "--description", "-d", help="What the model does.")
AUDIENCE = typer.Option(None, "--audience", "-a", help="Who the model is for.")
USE_CASES = typer.Option(None, "--use-cases", "-u", help="What it may be used for.")
LIMITATIONS = typer.Option(None, "--limitations", help="Known limitations.")
TRADE_OFFS = typer.Option(None, "--trade-offs", "--tradeoffs", help="Trade-offs made.")
ETHICS = typer.Option(None, "--ethics", "--ethical", "-e", help="Ethical considerations.")


def _one_name(positional: str | None, option: str | None) -> str:
    from ..errors import InvalidValueError

    if positional is not None and option is not None and positional != option:
        raise InvalidValueError(f"two model names given ({positional!r} and --name {option!r}): give one")
    name = positional if positional is not None else option
    if name is None:
        raise InvalidValueError("give the model's name: `gitreg model register NAME` or `-n NAME`")
    return name


NEW_MODEL = typer.Option(False, "--new-model", help="Create the model even though its name is one edit (a letter"
                         " added, dropped, changed or two swapped) from an existing model's: without it, such a"
                         " name is refused as a likely typo (`did you mean ...?`).")


def _command_line(ctx: typer.Context, *extra: str) -> str:
    """The command line of this invocation as given (its options and arguments from the command line,
    not the environment or defaults), with ``extra`` words added: a command to copy and run."""
    import shlex

    chain = []
    level: Any = ctx
    while level is not None:
        chain.append(level)
        level = level.parent
    words: list[str] = []
    for level in reversed(chain):
        words.append(level.info_name or "gitreg")
        for param in level.command.params:
            source = level.get_parameter_source(param.name) if param.name in level.params else None
            if getattr(source, "name", None) != "COMMANDLINE":  # click's enum; its module differs between typers
                continue
            value = level.params[param.name]
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            values = [getattr(v, "value", v) for v in values if v is not None]
            if getattr(param, "param_type_name", "") != "option":
                words += [str(v) for v in values]
                continue
            opt = max(param.opts, key=len)
            if getattr(param, "count", False):
                words += [opt] * int(value or 0)
            elif getattr(param, "is_flag", False):
                words += [opt] if value else list(param.secondary_opts[:1])
            else:
                for v in values:
                    words += [opt, str(v)]
    return shlex.join(words + list(extra))


def _guarded(ctx: typer.Context, create: Callable[..., T]) -> T:
    """Run ``create(refuse_near_names=...)``: refused, unless --new-model was given, when it would create a model
    one edit from an existing one's name; the error then names the exact command that creates it anyway."""
    from ..errors import NearModelNameError

    new_model = ctx.params.get("new_model", False)
    try:
        return create(refuse_near_names=not new_model)
    except NearModelNameError as exc:
        raise NearModelNameError(exc.model, exc.suggestions, _command_line(ctx, "--new-model")) from None


def _confirm(what: str, yes: bool) -> None:
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        from ..errors import InvalidValueError

        raise InvalidValueError(f"refusing to {what} without confirmation; pass --yes")
    typer.confirm(f"Really {what}?", abort=True)


# ---------------------------------------------------------------- models

class ModelSort(str, Enum):
    name = "name"
    versions = "versions"
    latest = "latest"
    created = "created"


_MODEL_KEYS = {"name": lambda s: s.name, "versions": lambda s: len(s.versions), "created": lambda s: s.model.created,
               "latest": lambda s: s.latest().number if s.latest() else None}


@model_app.command("list")
def model_list(ctx: typer.Context,
               tag: list[str] = typer.Option([], "--tag", "-t", metavar="TAG",
                                             help="Only models with this tag (repeatable)."),
               sort: ModelSort | None = sort_by("name"), reverse: bool = REVERSE,
               limit: int | None = LIMIT, output: OutputFormat = OUT, wide: bool = WIDE) -> None:
    """List models with their latest version and the versions in staging and production."""
    from .. import views

    readable, broken = client(ctx).list_readable_model_states()
    states = Order(_MODEL_KEYS, sort, reverse, limit).apply([s for s in readable if set(tag) <= set(s.model.tags)])
    rows = []
    table = Table(["MODEL", "VERSIONS", "LATEST", "STAGING", "PRODUCTION", "TAGS", "DESCRIPTION"],
                  keep=("MODEL", "VERSIONS", "LATEST", "STAGING", "PRODUCTION"))
    for s in states:
        latest = s.latest()
        rows.append(views.model(s))
        table.add(s.name, len(s.versions), latest.number if latest else "-", _held(s, "staging"),
                  _held(s, "production"), Cell(s.model.tags, ","), s.model.description or "")
    emit(rows, output, table)
    for s in states:
        for conflict in s.stage_conflicts():
            note(f"warning: {s.name}: {_conflict_text(s, conflict)}")
    if broken:
        from ..errors import UnreadableModelsError

        for problem in broken:
            note(f"warning: not listed: {problem}")
        raise UnreadableModelsError([str(p) for p in broken])


@model_app.command("register")
def model_register(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Model name (or -n/--name).", metavar="NAME"),
    name_option: str | None = typer.Option(None, "--name", "-n", help="Model name, ZenML's spelling."),
    license: str | None = LICENSE,
    description: str | None = DESCRIPTION,
    audience: str | None = AUDIENCE,
    use_cases: str | None = USE_CASES,
    limitations: str | None = LIMITATIONS,
    trade_offs: str | None = TRADE_OFFS,
    ethics: str | None = ETHICS,
    tag: list[str] = typer.Option([], "--tag", "-t", metavar="TAG", help="Tag for the model (repeatable)."),
    reason: str = REASON,
    new_model: bool = NEW_MODEL,
) -> None:
    """Register a new model with its card (one commit): `register NAME` or `register -n NAME`.

    A name one edit from an existing model's (`chrun` beside `churn`) is refused as a likely typo unless
    --new-model is given."""
    name = _one_name(name, name_option)
    model = _guarded(ctx, lambda **guard: client(ctx).create_model(
        name, license=license, description=description, audience=audience, use_cases=use_cases,
        limitations=limitations, trade_offs=trade_offs, ethics=ethics, tags=tag, reason=reason, **guard))
    note(f"Registered model {model.name}")


@model_app.command("describe")
def model_describe(ctx: typer.Context, name: str = MODEL, output: OutputFormat = OUT,
                   field: str | None = FIELD) -> None:
    """Show a model's card and a summary of its versions."""
    state = client(ctx).get_model_state(name)
    if output != OutputFormat.table or field is not None:
        from .. import views

        show(views.model(state), output, field, f"model {name}")
        return
    card = state.model
    latest = state.latest()
    kv([("name", card.name), ("license", card.license), ("description", card.description),
        ("audience", card.audience), ("use cases", card.use_cases), ("limitations", card.limitations),
        ("trade-offs", card.trade_offs), ("ethics", card.ethics), ("tags", ", ".join(card.tags)),
        ("created", card.created), ("versions", len(state.versions)),
        ("latest", latest.number if latest else "-"),
        ("staging", _held(state, "staging")), ("production", _held(state, "production"))])
    for conflict in state.stage_conflicts():
        note(f"warning: {_conflict_text(state, conflict)}")


def _held(state: ModelState, stage: str) -> str:
    """Who holds ``stage``, for a table: a number, "-", or the claimants of a conflict."""
    held = state.held(stage)
    if len(held) > 1 or stage in state.stage_conflicts():
        return "conflict: " + ",".join(map(str, held))
    return str(held[0]) if held else "-"


def _conflict_text(state: ModelState, stage: str) -> str:
    from ..errors import AmbiguousStageError

    error = AmbiguousStageError(state.name, stage, *state.stage_conflicts()[stage])
    return error.cli_message or error.message


@model_app.command("update")
def model_update(
    ctx: typer.Context,
    name: str = MODEL,
    license: str | None = LICENSE,
    description: str | None = DESCRIPTION,
    audience: str | None = AUDIENCE,
    use_cases: str | None = USE_CASES,
    limitations: str | None = LIMITATIONS,
    trade_offs: str | None = TRADE_OFFS,
    ethics: str | None = ETHICS,
    tag: list[str] = typer.Option([], "--tag", "-t", metavar="TAG", help="Tag to add (repeatable)."),
    remove_tag: list[str] = typer.Option([], "--remove-tag", "-r", metavar="TAG", help="Tag to remove (repeatable)."),
    new_name: str | None = typer.Option(None, "--name", "-n", help="New name: refused, gitreg does not rename"
                                           " models (their tags are immutable); see docs/how-to/zenml.md."),
    reason: str = REASON,
) -> None:
    """Change a model's card or tags (one commit; nothing if nothing changes)."""
    client(ctx).update_model(name, name=new_name, license=license, description=description, audience=audience,
                             use_cases=use_cases, limitations=limitations, trade_offs=trade_offs, ethics=ethics,
                             add_tags=tag, remove_tags=remove_tag, reason=reason)
    note(f"Updated model {name}")


@model_app.command("delete")
def model_delete(ctx: typer.Context, name: str = MODEL,
                 yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
                 reason: str = REASON) -> None:
    """Delete a model and all its version manifests (history and tags stay in git)."""
    c = client(ctx)
    c.get_model(name)
    _confirm(f"delete model {name} and all its versions", yes)
    c.delete_model(name, reason=reason)
    note(f"Deleted model {name}; its history remains in git (git log -- .mcp/models/{name})")


# ---------------------------------------------------------------- versions

class VersionSort(str, Enum):
    number = "number"
    name = "name"
    stage = "stage"
    created = "created"
    artifacts = "artifacts"


_VERSION_KEYS = {"number": lambda v: v.number, "name": lambda v: v.name, "stage": lambda v: v.stage,
                 "created": lambda v: v.created, "artifacts": lambda v: len(v.artifacts)}


@version_app.command("list")
def version_list(
    ctx: typer.Context,
    name: str = MODEL,
    stage: StageFilter | None = typer.Option(None, "--stage", "-s", case_sensitive=False,
                                                help="Only versions in this stage (or the latest version)."),
    tag: list[str] = typer.Option([], "--tag", "-t", metavar="TAG", help="Only versions with this tag (repeatable)."),
    metadata: list[str] = typer.Option([], "--metadata", metavar="KEY:OP:VALUE",
                                       help="Filter KEY:OP:VALUE, OP one of eq ne gt gte lt lte contains"
                                            " (repeatable)."),
    sort: VersionSort | None = sort_by("number"),
    sort_metadata: str | None = typer.Option(None, "--sort-metadata", metavar="KEY",
                                                help="Sort by this metadata key (dotted for nested keys, e.g."
                                                     " metrics.accuracy); versions without it come last."),
    reverse: bool = REVERSE,
    limit: int | None = LIMIT,
    output: OutputFormat = OUT,
    columns: str | None = typer.Option(
        None, "--columns", metavar="COL,...",
        help="The table's columns, in this order: any of VERSION, NAME, STAGE, CREATED, RUN, TAGS, ARTIFACTS,"
             " METADATA, and metadata.KEY for a column of one metadata key (dotted for nested keys); e.g."
             " --columns version,stage,metadata.f1. The METADATA column shows every key (--sort-metadata's first)."),
    wide: bool = WIDE,
) -> None:
    """List a model's versions, oldest first."""
    from .. import views
    from ..filters import parse_condition
    from ..manifests import check_json_text_depth

    for m in metadata:  # bound the JSON value before it is parsed
        check_json_text_depth(m.split(":", 2)[-1], f"metadata.{m.partition(':')[0]}")
    conditions = [parse_condition(m) for m in metadata]
    versions = client(ctx).list_model_versions(name, stage=stage.value if stage else None, tags=tag or None,
                                               metadata=conditions)
    keys = dict(_VERSION_KEYS)
    order_by: str | None = sort.value if sort is not None else None
    if sort_metadata is not None:
        from ..errors import InvalidValueError

        if sort is not None:
            raise InvalidValueError("give --sort or --sort-metadata, not both")
        keys["metadata"] = lambda v: _metadata_value(v.metadata, sort_metadata)
        order_by = "metadata"
    versions = Order(keys, order_by, reverse, limit).apply(versions)
    table = _version_table(versions, columns, sort_metadata)
    if columns is not None and output != OutputFormat.table:
        from ..errors import InvalidValueError

        raise InvalidValueError(f"--columns picks the table's columns; -o {output.value} shows every field")
    emit([views.version(v) for v in versions], output, table)


VERSION_COLUMNS = ("VERSION", "NAME", "STAGE", "CREATED", "RUN", "TAGS", "ARTIFACTS", "METADATA")


def _version_table(versions: list[VersionManifest], columns: str | None, first_key: str | None) -> Table:
    """The table of ``version list``: ``columns`` as --columns gives them (default: all but metadata.KEY ones)."""
    from ..errors import InvalidValueError

    names = [c.strip() for c in columns.split(",") if c.strip()] if columns is not None else list(VERSION_COLUMNS)
    heads = []
    for name in names:
        if name.lower().startswith("metadata.") and len(name) > len("metadata."):
            heads.append(name[len("metadata."):])
        elif name.upper() in VERSION_COLUMNS:
            heads.append(name.upper())
        else:
            raise InvalidValueError(f"--columns: no column {name!r}; choose from {', '.join(VERSION_COLUMNS)}"
                                    " or metadata.KEY")
    if not heads:
        raise InvalidValueError("--columns: give at least one column")
    keep = {"VERSION", "NAME", "STAGE", "CREATED", "RUN", "ARTIFACTS"} | {h for h in heads if h not in VERSION_COLUMNS}
    table = Table(heads, keep=keep, drop=[h for h in ("TAGS", "ARTIFACTS", "RUN", "CREATED", "NAME") if h in heads])
    for v in versions:  # RUN: how the pipeline run that created the version went (running, completed, failed)
        cells = {"VERSION": v.number, "NAME": v.name, "STAGE": v.stage, "CREATED": v.created,
                 "RUN": v.run_status or "", "TAGS": Cell(v.tags, ","), "ARTIFACTS": len(v.artifacts),
                 "METADATA": metadata_cell(v.metadata, first_key)}
        table.add(*(cells[h] if h in VERSION_COLUMNS else _shown(_metadata_path(v.metadata, h)) for h in heads))
    return table


def _shown(value: Any) -> Any:
    return "-" if value is _MISSING else value


_MISSING = object()


def _metadata_path(metadata: Any, key: str) -> Any:
    """The value at a dotted ``key`` of ``metadata`` (a top-level key with dots in it first), or ``_MISSING``."""
    from collections.abc import Mapping

    if isinstance(metadata, Mapping) and key in metadata:
        return metadata[key]
    value = metadata
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _metadata_value(metadata: Any, key: str) -> Any:
    from collections.abc import Mapping

    value = metadata
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None


@version_app.command("create")
def version_create(
    ctx: typer.Context,
    name: str = MODEL,
    version_name: str | None = typer.Option(None, "--name", help="Name of the version (default: its number)."),
    description: str | None = typer.Option(None, "--description", help="Description of the version."),
    tag: list[str] = typer.Option([], "--tag", "-t", metavar="TAG", help="Tag for the version (repeatable)."),
    reason: str = REASON,
    new_model: bool = NEW_MODEL,
) -> None:
    """Register the next version of a model (the model is created if it does not exist).

    A missing model whose name is one edit from an existing model's (`chrun` beside `churn`) is not created
    unless --new-model is given: a typo must not start a new model."""
    v = _guarded(ctx, lambda **guard: client(ctx).create_model_version(
        name, name=version_name, description=description, tags=tag, reason=reason, **guard))
    typer.echo(v.number)
    note(f"Registered {name} v{v.number}" + (f" ({v.name})" if v.name != str(v.number) else ""))


@version_app.command("describe")
def version_describe(ctx: typer.Context, name: str = MODEL, version: str | None = VERSION_OPT,
                     output: OutputFormat = OUT, field: str | None = FIELD, wide: bool = WIDE) -> None:
    """Show one version: stage, metadata, artifacts and runs."""
    v = client(ctx).get_model_version(name, version)
    if output != OutputFormat.table or field is not None:
        from .. import views

        show(views.version(v), output, field, f"{name} v{v.number}")
        return
    kv([("model", v.model), ("version", v.number), ("name", v.name), ("stage", v.stage),
        ("description", v.description), ("tags", ", ".join(v.tags)), ("created", v.created),
        ("runs", ", ".join(v.runs) or "-")])
    if v.metadata:
        typer.echo("\nmetadata:")
        for key in sorted(v.metadata):
            value = v.metadata[key]
            typer.echo(f"  {key}: {table_text(value)}")
    if v.artifacts:
        typer.echo("\nartifacts:")
        artifact_table(v.artifacts).print()


def _artifacts_of(ctx: typer.Context, name: str, version: str | None, type: str, output: OutputFormat) -> None:
    from .. import views

    v = client(ctx).get_model_version(name, version)
    links = list(v.links(type=type))
    emit([views.artifact(a, v.model, v.number) for a in links], output, artifact_table(links))


@version_app.command("runs")
def version_runs(ctx: typer.Context, name: str = MODEL, version: str | None = VERSION_OPT,
                 output: OutputFormat = OUT, wide: bool = WIDE) -> None:
    """List the pipeline runs that used or produced a version."""
    from .run_cmds import run_rows

    runs = client(ctx).list_runs(name, version)
    rows, table = run_rows(runs)
    emit(rows, output, table)


MODEL_VERSION_OPT = typer.Option(None, "--model-version", "--model_version", "-v", "--version",
                                 help="Version: a number, a name, 'latest' or a stage (default: latest).")


def _artifact_listing(kind: str, version_option: Any, doc: str) -> Callable[..., None]:
    """A `<kind>_artifacts NAME` command; the version is ``version_option`` (positional, or ZenML's -v)."""
    def command(ctx: typer.Context, name: str = MODEL, version: str | None = version_option,
                output: OutputFormat = OUT, wide: bool = WIDE) -> None:
        _artifacts_of(ctx, name, version, kind, output)

    command.__doc__ = doc
    return command


for _kind in ("data", "model", "deployment"):
    for _app, _option, _doc in (
            (version_app, VERSION_OPT, f"List the {_kind} artifacts linked to a version."),
            (model_app, MODEL_VERSION_OPT, f"List the {_kind} artifacts of a model version (ZenML's `model"
                                           f" {_kind}_artifacts NAME -v V`).")):
        _app.command(f"{_kind}_artifacts")(_artifact_listing(_kind, _option, _doc))
        _app.command(f"{_kind}-artifacts", hidden=True)(_artifact_listing(_kind, _option, _doc))


@model_app.command("runs")
def model_runs(ctx: typer.Context, name: str = MODEL, version: str | None = MODEL_VERSION_OPT,
               output: OutputFormat = OUT, wide: bool = WIDE) -> None:
    """List the pipeline runs of a model version (ZenML's `model runs NAME -v V`)."""
    version_runs(ctx, name, version, output)


@version_app.command("update")
def version_update(
    ctx: typer.Context,
    name: str = MODEL,
    version: str = VERSION_REQ,
    stage: Stage | None = typer.Option(None, "--stage", "-s", case_sensitive=False, help="New stage."),
    force: bool = typer.Option(False, "--force", "-f",
                               help="Take an exclusive stage from the version holding it (it is archived)."),
    new_name: str | None = typer.Option(None, "--name", help="New name of the version."),
    description: str | None = typer.Option(None, "--description", help="New description."),
    tag: list[str] = typer.Option([], "--tag", "-t", metavar="TAG", help="Tag to add (repeatable)."),
    remove_tag: list[str] = typer.Option([], "--remove-tag", metavar="TAG", help="Tag to remove (repeatable)."),
    reason: str = REASON,
    propose: bool = typer.Option(False, "--propose", help="Do not change the registry branch: put the stage change"
                                 " on a new branch gitreg/promote/<model>-v<N>-<stage> (pushed if there is a"
                                 " remote) to be reviewed and merged as a pull request."),
) -> None:
    """Promote a version to a stage, rename it, describe or tag it (one commit)."""
    c = client(ctx)
    new_stage = stage.value if stage is not None else None
    if propose:
        from ..errors import InvalidValueError

        if new_stage is None or new_name is not None or description is not None or tag or remove_tag:
            raise InvalidValueError("--propose proposes a stage change: give --stage (and only --force/--reason)")
        _render_proposal(c.propose_model_version_stage(name, version, new_stage, force=force, reason=reason))
        return
    before = c.get_model_version(name, version)
    after = c.update_model_version(name, before.number, stage=new_stage, force=force, name=new_name,
                                   description=description, add_tags=tag, remove_tags=remove_tag, reason=reason)
    if new_stage is not None and before.stage == after.stage and after.archived_versions:
        note(f"{name} v{after.number} holds {after.stage} alone now")  # a stage claimed twice, repaired
    elif new_stage is not None and before.stage == after.stage:
        note(f"{name} v{after.number} is already {after.stage}: nothing to do")
    elif new_stage is not None:
        note(f"{name} v{after.number}: {before.stage} -> {after.stage}")
    else:
        note(f"Updated {name} v{after.number}")
    for number in after.archived_versions:  # --force took the stage from them
        note(f"moved {name} version {number} from {after.stage} to archived")


def _render_proposal(p: Proposal) -> None:
    subject = p.message.splitlines()[0]
    typer.echo(p.branch)
    note(f"Proposed {subject} on branch {p.branch} (commit {p.commit[:12]}, based on {p.target} at {p.base[:12]}).")
    note("Your current branch and work tree are unchanged.")
    if p.remote:
        note(f"Pushed to {p.remote}. Next: open a pull request from {p.branch} into {p.target}.")
    else:
        note(f"Next: push it (`git push -u origin {p.branch}`) and open a pull request into {p.target}.")
    note(f"CI checks it with `gitreg check --base origin/{p.target}`; after the merge, `gitreg tags sync --push`"
         " on the main branch creates the stage tag.")


@version_app.command("delete")
def version_delete(ctx: typer.Context, name: str = MODEL, version: str = VERSION_REQ,
                   yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
                   reason: str = REASON) -> None:
    """Delete a version's manifest (its number is never reused; history stays in git)."""
    c = client(ctx)
    v = c.get_model_version(name, version)
    _confirm(f"delete {name} v{v.number}", yes)
    c.delete_model_version(name, v.number, reason=reason)
    note(f"Deleted {name} v{v.number}")


def person(identity: str) -> str:
    """Who, short enough for a table: the name of ``Name <email>``, else the email's local part."""
    name, _, email = identity.partition("<")
    name = name.strip()
    if name:
        return name
    return email.rstrip(">").strip().split("@")[0] or identity.strip()


def _who(e: Event) -> Cell:
    """Who made a change (its commit's author, by name), marked with its signature and where the tag says
    otherwise; each part whole."""
    parts = [person(e.by)]
    if e.committer and person(e.committer) != parts[0]:
        parts.append(f"(committed by {person(e.committer)})")
    if e.signature:
        parts.append(f"[signature {e.signature}]")
    if e.tag_mismatch:
        parts.append(f"[the tag disagrees: {e.tag_mismatch}]")
    return Cell(parts)


@version_app.command("history")
def version_history(ctx: typer.Context, name: str = MODEL,
                    version: str | None = typer.Argument(
                        None, help="Only this version (a number, a name or a stage).", metavar="[VERSION]"),
                    output: OutputFormat = OUT, wide: bool = WIDE) -> None:
    """Every registration and stage change, oldest first: when, who, from -> to, why, commit and tag."""
    from .. import views

    events = client(ctx).version_history(name, version)
    table = Table(["WHEN", "VERSION", "CHANGE", "BY", "REASON", "COMMIT", "TAG"],
                  keep=("WHEN", "VERSION", "COMMIT", "TAG"), drop=("REASON", "TAG", "BY"))
    for e in events:
        change = ["registered" if e.kind == "registered" else f"{e.from_stage} -> {e.to_stage}"]
        if e.demoted:
            change.append("(archived " + ", ".join(f"v{n}" for n in e.demoted) + ")")
        table.add(e.when, e.version, Cell(change), _who(e), e.reason, e.commit[:12], e.tag)
    emit([views.event(e) for e in events], output, table)
