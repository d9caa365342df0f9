"""What ``gitreg ui`` does when a person acts on a page: ordinary gitreg writes through the client.

Each action is one call of the same client function the command line makes (a stage change is
``update_model_version`` or, proposed, ``propose_model_version_stage``), so the commit, its tags and
the journal are the ones the CLI writes and ``gitreg check`` and ``git log`` see them alike. A
description or tag edit proposed for review is the same operation written as the one commit of a
new branch (``Registry.propose``), as a stage proposal is.

A failed write becomes an :class:`Outcome` carrying the one line the CLI prints for it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import GitregError, InvalidValueError

if TYPE_CHECKING:
    from ..registry import Proposal, Registry

#: The actions a page can ask for, by the ``action`` field of its form.
ACTIONS = ("stage", "version", "model")
#: How a change is made: a pull-request branch, or a commit on the registry branch.
HOW = ("propose", "commit")


@dataclass(frozen=True)
class Outcome:
    """What an action did, for the page that answers it."""

    ok: bool
    message: str                      # one line: what happened, or the CLI's error line
    back: str                         # the page to go back to, from the site's root
    proposal: Proposal | None = None
    pull_request: str | None = None   # where the host opens a pull request for the proposal's branch
    status: int = 200                 # the HTTP status of the answer


@dataclass(frozen=True)
class Panel:
    """What the version pages' action forms need to know of the registry."""

    remote: str | None   # the git remote writes push to (None: a local registry)
    target: str          # the branch proposals are meant to merge into

    @property
    def default_how(self) -> str:
        return "propose" if self.remote is not None else "commit"


def panel(registry: Registry) -> Panel:
    remote = registry.remote
    if remote is not None:
        return Panel(remote.name, remote.branch)
    head = registry.repo.head_ref() or "refs/heads/main"
    return Panel(None, head.rpartition("/")[2] if head.startswith("refs/heads/") else head)


# scheme://[user[:password]@]host[:port]/path, or scp's [user@]host:path (no port there: "host:1234/x" is a path)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?(?P<host>[A-Za-z0-9.-]+)(?::\d+)?/(?P<path>.+)$")
_SCP = re.compile(r"^(?:[^@/:]*@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")


def pull_request_url(remote_url: str, branch: str, target: str) -> str | None:
    """The page of a GitHub or GitLab host that opens a pull (merge) request from ``branch`` into ``target``,
    or None when ``remote_url`` is not on such a host (a bare folder, another host).

    Credentials in the URL are never carried over; ``git@host:owner/repo.git``, ``ssh://git@host/owner/repo``
    and ``https://host/owner/repo.git`` read alike.
    """
    text = remote_url.strip()
    match = (_URL if "://" in text else _SCP).match(text)
    if match is None or text.startswith(("file:", "/", ".")):
        return None
    host = match.group("host").lower()
    path = match.group("path").strip("/")
    path = path[:-4] if path.endswith(".git") else path
    if not path or ".." in path.split("/") or not re.fullmatch(r"[A-Za-z0-9._~/-]+", path):
        return None
    first = host.split(".")[0]
    if first.startswith("github") or host.endswith(".github.com"):
        return f"https://{host}/{path}/compare/{quote(target, safe='')}...{quote(branch, safe='')}?expand=1"
    if first.startswith("gitlab"):
        return (f"https://{host}/{path}/-/merge_requests/new?merge_request%5Bsource_branch%5D={quote(branch, safe='')}"
                f"&merge_request%5Btarget_branch%5D={quote(target, safe='')}")
    return None


def _tags(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", text.strip()) if t]


def _field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if value is None:
        raise InvalidValueError(f"the form has no field {name!r}; reload the page and try again")
    return value


def perform(registry: Registry, form: Mapping[str, str]) -> Outcome:
    """Carry out the action ``form`` asks for (its fields as the version page's forms send them)."""
    from ..names import validate_name

    model = form.get("model", "")
    number = form.get("version", "")
    back = "index.html"
    try:
        model = validate_name("model", model)
        back = f"models/{model}/index.html"
        if number:
            if not (number.isascii() and number.isdigit()):
                raise InvalidValueError(f"version {number!r} is not a number")
            back = f"models/{model}/v{int(number)}.html"
        action = form.get("action", "")
        how = form.get("how", "commit")
        if action not in ACTIONS:
            raise InvalidValueError(f"unknown action {action!r}; expected one of: {', '.join(ACTIONS)}")
        if how not in HOW:
            raise InvalidValueError(f"unknown way {how!r}; expected one of: {', '.join(HOW)}")
        if action in ("stage", "version") and not number:
            raise InvalidValueError("the form names no version; reload the page and try again")
        return _act(registry, action, how, model, int(number or 0), form, back)
    except GitregError as exc:  # the line the command line prints for the same failure
        return Outcome(False, f"error: {exc.cli_message or exc}", back, status=409)


def _act(registry: Registry, action: str, how: str, model: str, number: int, form: Mapping[str, str],
         back: str) -> Outcome:
    from ..client import Client

    client = Client(registry=registry)
    reason = form.get("reason", "").strip()
    if action == "stage":
        stage = _field(form, "stage")
        force = form.get("force") == "on"
        if how == "propose":
            return _proposed(registry, client.propose_model_version_stage(model, number, stage, force=force,
                                                                          reason=reason), back)
        before = client.get_model_version(model, number)
        after = client.update_model_version(model, number, stage=stage, force=force, reason=reason)
        if before.stage == after.stage:
            return Outcome(True, f"{model} v{number} is already {after.stage}: nothing to do", back)
        return Outcome(True, f"{model} v{number}: {before.stage} -> {after.stage}", back)
    description = _field(form, "description").replace("\r\n", "\n")
    wanted = _tags(form.get("tags", ""))
    if action == "version":
        current = client.get_model_version(model, number)
        add = [t for t in wanted if t not in current.tags]
        remove = [t for t in current.tags if t not in wanted]
        text: str | None = description if description != (current.description or "") else None
        if how == "propose":
            return _proposed(registry, _propose_edit(registry, model, number, text, add, remove, reason), back)
        client.update_model_version(model, number, description=text, add_tags=add, remove_tags=remove, reason=reason)
        return Outcome(True, f"Updated {model} v{number}", back)
    card = client.get_model(model)
    add = [t for t in wanted if t not in card.tags]
    remove = [t for t in card.tags if t not in wanted]
    text = description if description != (card.description or "") else None
    if how == "propose":
        return _proposed(registry, _propose_edit(registry, model, None, text, add, remove, reason), back)
    client.update_model(model, description=text, add_tags=add, remove_tags=remove, reason=reason)
    return Outcome(True, f"Updated model {model}", back)


def _propose_edit(registry: Registry, model: str, number: int | None, description: str | None, add: list[str],
                  remove: list[str], reason: str) -> Proposal:
    """A description or tag edit as the one commit of a branch ``gitreg/update/<model>[-v<N>]-<digest>``
    (the digest of what changes: the same edit proposed twice is one branch)."""
    from .. import operations as ops

    digest = hashlib.sha256(repr((description, sorted(add), sorted(remove))).encode()).hexdigest()[:8]
    where = f"{model}-v{number}" if number is not None else model
    if number is None:
        card = {"description": description} if description is not None else None
        return registry.propose(lambda s: ops.update_model(s, model, card, add, remove, reason),
                                lambda _r: f"gitreg/update/{where}-{digest}", scope=model)
    return registry.propose(lambda s: ops.update_version(s, model, number, description=description, add_tags=add,
                                                         remove_tags=remove, reason=reason),
                            lambda _r: f"gitreg/update/{where}-{digest}", scope=model)


def _proposed(registry: Registry, proposal: Proposal, back: str) -> Outcome:
    subject = proposal.message.splitlines()[0]
    link = None
    if proposal.remote is not None and registry.remote is not None:
        link = pull_request_url(registry.remote.url, proposal.branch, proposal.target)
        where = f"pushed to {proposal.remote}"
    else:
        where = f"not pushed: `git push -u origin {proposal.branch}`"
    return Outcome(True, f"Proposed {subject} on branch {proposal.branch} ({where}); open a pull request into"
                         f" {proposal.target}", back, proposal=proposal, pull_request=link)
