"""``gitreg review comment``: gitreg's review as one pull-request or merge-request comment, updated in place."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path

import typer

from .render import note

review_app = typer.Typer(rich_markup_mode=None, help="Show gitreg's review where reviewers read: on the pull request"
                         " (GitHub) or merge request (GitLab).", no_args_is_help=True)


class ReviewHost(str, Enum):
    github = "github"
    gitlab = "gitlab"


@review_app.command("comment")
def review_comment(
    host: ReviewHost = typer.Option(..., "--host", help="The git host whose REST API takes the comment."),
    body_file: str = typer.Option(
        ..., "--body-file", metavar="FILE",
        help="The review in markdown, as `gitreg check --base REF -o markdown` writes it (- for stdin)."),
    api_url: str | None = typer.Option(
        None, "--api-url", metavar="URL",
        help="The host's REST API (default: $GITHUB_API_URL or https://api.github.com; GitLab: $CI_API_V4_URL)."
             " https only, except on 127.0.0.1/localhost."),
    project: str | None = typer.Option(
        None, "--project", metavar="PROJECT",
        help="GitHub: the repository, owner/name (default: $GITHUB_REPOSITORY); GitLab: the project's id or"
             " group/name path (default: $CI_PROJECT_ID)."),
    number: int | None = typer.Option(
        None, "--number", metavar="N",
        help="The pull request's number (default: from $GITHUB_REF, refs/pull/N/merge) or the merge request's iid"
             " (default: $CI_MERGE_REQUEST_IID)."),
    author: str | None = typer.Option(
        None, "--author", metavar="LOGIN",
        help="Whose comment is gitreg's (default: the token's own user; a workflow's GITHUB_TOKEN is"
             " github-actions[bot]). Set it when the token is a GitHub App's, e.g. my-app[bot]."),
    commit: str | None = typer.Option(None, "--commit", metavar="SHA",
                                      help="The commit the review describes, shown under it."),
) -> None:
    """Post the review as one comment, and update that same comment on every later run (found by a hidden
    marker, among the comments of the token's own user only); the token comes from $GITHUB_TOKEN or
    $GITLAB_TOKEN, never from the command line."""
    from ..errors import GitregError
    from ..review_comment import post_review_comment, review_target, token_from_environment

    target = review_target(host.value, api_url, project, number, os.environ)
    token = token_from_environment(host.value, os.environ)
    try:
        markdown = sys.stdin.read() if body_file == "-" else Path(body_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GitregError(f"cannot read the review from {body_file}: {getattr(exc, 'strerror', None) or exc}"
                          " (write it first, e.g. `gitreg check --base REF -o markdown > FILE`)") from None
    result = post_review_comment(target, token, markdown, author=author, commit=commit)
    note(f"{result.action} gitreg's review comment on {target.label}")
    typer.echo(result.url or f"{target.label} note {result.comment_id}")
