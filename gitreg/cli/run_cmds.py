"""``gitreg run list|describe``: recorded pipeline runs."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import typer

from .context import client
from .output import FIELD, show
from .render import LIMIT, OUTPUT_HELP, REVERSE, WIDE, Cell, Order, OutputFormat, Table, emit, kv, sort_by

run_app = typer.Typer(rich_markup_mode=None, help="Recorded pipeline runs: list them, describe one.",
                      no_args_is_help=True)
OUT = typer.Option(OutputFormat.table, "-o", "--output", help=OUTPUT_HELP)


def run_rows(runs: list[Any]) -> tuple[list[dict[str, Any]], Table]:
    from .. import views

    table = Table(["RUN", "PIPELINE", "STATUS", "STARTED", "ENDED", "MODELS", "STEPS"],
                  keep=("RUN", "PIPELINE", "STATUS", "STARTED"))
    rows = []
    for r in runs:
        models = Cell((f"{m} v{v}{' (new)' if new else ''}" for m, v, new in r.models), ", ")
        table.add(r.id, r.pipeline, r.status, r.started, r.ended, models or "-", len(r.steps))
        rows.append(views.run(r))
    return rows, table


class RunSort(str, Enum):
    started = "started"
    ended = "ended"
    pipeline = "pipeline"
    status = "status"
    id = "id"


_RUN_KEYS = {"started": lambda r: r.started, "ended": lambda r: r.ended, "pipeline": lambda r: r.pipeline,
             "status": lambda r: r.status, "id": lambda r: r.id}


@run_app.command("list")
def run_list(ctx: typer.Context,
             pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="Only runs of this pipeline."),
             sort: RunSort | None = sort_by("started"), reverse: bool = REVERSE,
             limit: int | None = LIMIT, output: OutputFormat = OUT, wide: bool = WIDE) -> None:
    """List recorded pipeline runs, oldest first."""
    runs = Order(_RUN_KEYS, sort, reverse, limit).apply(client(ctx).list_runs(pipeline=pipeline))
    rows, table = run_rows(runs)
    emit(rows, output, table)


def _ref(ref: dict[str, Any]) -> str:
    where = f" of {ref['model']} v{ref['model_version']}" if ref.get("model") else ""
    version = f" v{ref['version']}" if ref.get("version") else ""
    origin = f" from step {ref['step']}" if ref.get("step") else ""
    return f"{ref['name']}{version} ({ref['type']}{where}){origin}"


@run_app.command("describe")
def run_describe(ctx: typer.Context, run_id: str = typer.Argument(..., metavar="ID", help="Run id."),
                 output: OutputFormat = OUT, field: str | None = FIELD) -> None:
    """Show one run: status, parameters, code commit, models, and each step's inputs and outputs."""
    run = client(ctx).get_run(run_id)
    if output != OutputFormat.table or field is not None:
        from .. import views

        show(views.run(run), output, field, f"run {run.id}")
        return
    code = f"{run.code_commit or 'unknown'}{' (dirty work tree)' if run.code_dirty else ''}"
    kv([("run", run.id), ("pipeline", run.pipeline), ("status", run.status), ("started", run.started),
        ("ended", run.ended), ("code", code), ("parameters", json.dumps(run.parameters, sort_keys=True)),
        ("models", ", ".join(f"{m} v{v}{' (created)' if new else ''}" for m, v, new in run.models) or "-")]
       + ([("error", run.error)] if run.error else []))
    for step in run.steps:
        model = f", {step['model']['name']} v{step['model']['version']}" if step.get("model") else ""
        typer.echo(f"\nstep {step['name']}: {step['status']}{model}")
        for key, value in (step.get("parameters") or {}).items():
            typer.echo(f"  param  {key} = {json.dumps(value)}")
        for key, ref in (step.get("inputs") or {}).items():
            typer.echo(f"  input  {key} <- {_ref(ref)}")
        for ref in step.get("outputs") or []:
            typer.echo(f"  output {_ref(ref)}")
        if step.get("error"):
            typer.echo(f"  error  {step['error']}")
