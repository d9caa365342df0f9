"""`gitreg check`: validation and pull-request review, rendered as text, GitHub annotations or markdown."""

from __future__ import annotations

import os
from enum import Enum
from typing import TYPE_CHECKING

import typer

from .context import client
from .flags import deprecated, one_format, output_option
from .render import OutputFormat, emit, note

if TYPE_CHECKING:
    from ..check import CheckReport
    from ..compare import Promotion


class CheckFormat(str, Enum):
    """The output formats of ``check -o``: text for people, json/yaml for scripts, github annotations, markdown."""

    text = "text"
    json = "json"
    yaml = "yaml"
    github = "github"
    markdown = "markdown"


CHECK_FORMATS = tuple(f.value for f in CheckFormat)
OLD_FORMATS = ("text", "github", "markdown")  # what the deprecated --format took


def _annotation(value: str, property: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if property else value


def check_cmd(
    ctx: typer.Context,
    rev: str = typer.Option("HEAD", "--rev", help="Commit to check (default: HEAD)."),
    base: str | None = typer.Option(
        None, "--base", metavar="REF",
        help="Check what REV changes relative to REF (pull-request CI): registry.yaml, artifact links of"
             " registered versions (added, changed, removed, format flips, code-executing formats, URIs outside the"
             " store), deletions, reused numbers, legal stage moves, no rewritten history. Tags are not required"
             " (they follow the merge)."),
    allow: list[str] = typer.Option(
        [], "--allow", metavar="CODE",
        help="Accept findings with this code deliberately (repeatable, e.g. --allow link-added): they are still"
             " listed, as accepted, but do not fail the check. The codes are in docs/reference/findings.md."),
    allow_delete: bool = typer.Option(False, "--allow-delete", help="Accept the deletion findings (model-deleted,"
                                      " version-deleted, link-removed, run-deleted)."),
    verify_signatures: bool = typer.Option(False, "--verify-signatures", help="Every stage tag must carry a good"
                                           " gpg or ssh signature (git's signing configuration applies)."),
    staged: bool = typer.Option(False, "--staged", help="Check what the index would commit (for a pre-commit"
                                " hook), and that it deletes no version manifest and lowers no counter of HEAD;"
                                " tags are not required, they come with gitreg's writes or `tags sync`."),
    output: str | None = output_option(
        CHECK_FORMATS,
        help="Output format: text (default) for people; json/yaml for scripts; github: workflow annotations on the"
             " offending file and line, each saying the approval it needs, and (with --base, when"
             " $GITHUB_STEP_SUMMARY is set) a summary of the stage changes; markdown: findings and stage changes as"
             " a pull-request comment."),
    fmt: str | None = typer.Option(None, "--format", metavar="[text|github|markdown]", hidden=True,
                                   help="Deprecated spelling of -o text|github|markdown."),
) -> None:
    """Validate every manifest, the stage invariants and that tags tell the truth (or a change, with --base)."""
    from ..check import approval
    from ..errors import CheckFailedError, GitregError

    chosen = _check_format(output, fmt)
    c = client(ctx, readable=False)  # a registry that does not read is what the report is about
    report = c.check(rev, base, allow_delete, verify_signatures, staged, allow=allow)
    try:
        promotions = c.promotions(base, rev) if base is not None and report.commit is not None else []
    except GitregError:
        promotions = []  # one side does not read: the report's findings say why

    if chosen in (CheckFormat.json, CheckFormat.yaml):
        from .. import views

        emit(views.check_report(report, base), OutputFormat(chosen.value))
    elif chosen == CheckFormat.github:
        for p in report.problems:
            where = f"file={_annotation(p.path, True)},line={p.line}," if p.line else ""
            title = _annotation(f"gitreg check: {p.field}" if p.field else "gitreg check", True)
            level, needs = p.severity, approval(p.code)
            if p.accepted:
                level, said = "notice", f"accepted with `{needs}`"
            elif p.severity != "error":
                said = "no approval needed"
            elif needs:
                said = f"needs approval: a maintainer accepts it with `{needs}`"
            else:
                said = "must be fixed: this finding cannot be accepted"
            typer.echo(f"::{level} {where}title={title}::{_annotation(f'{p.message} [{p.code}; {said}]')}")
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file and base is not None:
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(_check_markdown(report, promotions) + "\n")
    elif chosen == CheckFormat.markdown:
        typer.echo(_check_markdown(report, promotions))
    else:
        for problem in report.problems:
            typer.echo(str(problem))
        if promotions:
            from .compare_cmds import CompareFormat, show_comparison

            for promotion in promotions:
                replaced = f" (replaces v{promotion.replaced})" if promotion.replaced is not None else ""
                typer.echo(f"\n{promotion.model} v{promotion.version}: {promotion.from_stage or 'new'} ->"
                           f" {promotion.to_stage}{replaced}")
                if promotion.comparison is not None:
                    show_comparison(promotion.comparison, CompareFormat.table)
    scope = f" changed since {base}" if base is not None else ""
    accepted = f", {len(report.accepted)} accepted" if report.accepted else ""
    summary = (f"checked {report.models} model(s), {report.versions} version(s), {report.tags} tag(s){scope}:"
               f" {len(report.errors)} error(s), {len(report.warnings)} warning(s){accepted}")
    if not report.ok:
        codes = sorted({p.code for p in report.errors if approval(p.code)})
        if codes and chosen == CheckFormat.text:
            note("to accept a finding deliberately: " + " ".join(f"--allow {c}" for c in codes))
        raise CheckFailedError(summary)
    note(summary)


def _check_format(output: str | None, fmt: str | None) -> CheckFormat:
    """``-o`` (``table``, the default of earlier releases, is ``text``), or the deprecated ``--format``."""
    from ..errors import InvalidValueError

    for flag, value, allowed in (("-o", output, CHECK_FORMATS), ("--format", fmt, OLD_FORMATS)):
        if value is not None and value not in allowed and not (flag == "-o" and value == "table"):
            raise InvalidValueError(f"{flag} {value!r} is not one of {', '.join(allowed)}")
    if output == "table":  # the default of earlier releases: says nothing that --format could contradict
        output = None
    if fmt == "text" and output is not None:  # likewise --format's default
        deprecated("--format text", "-o text")
        return CheckFormat(output)
    return CheckFormat(one_format(output, fmt, "--format", "text"))


def _check_markdown(report: CheckReport, promotions: list[Promotion]) -> str:
    """Findings and stage changes as markdown, for a pull request's step summary or comment."""
    from ..check import approval
    from ..compare import promotions_markdown

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")

    verdict = "passes" if report.ok else "fails"
    lines = [f"## gitreg check {verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s),"
             f" {len(report.accepted)} accepted", ""]
    if report.problems:
        lines += ["| finding | where | what | to accept |", "|---|---|---|---|"]
        for p in report.problems:
            where = f"{p.path}:{p.line}" if p.line else p.path
            state = "accepted" if p.accepted else p.severity
            needs = f"`{approval(p.code)}`" if approval(p.code) and p.severity == "error" else "-"
            lines.append(f"| `{p.code}` ({state}) | {cell(where)} | {cell(p.message)} | {needs} |")
        lines.append("")
    if promotions:
        lines.append(promotions_markdown(promotions))
    return "\n".join(lines)
