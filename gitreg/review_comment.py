"""gitreg's review as one pull-request (GitHub) or merge-request (GitLab) comment, updated in place.

The review (what ``gitreg check --base -o markdown`` renders: the findings and the stage
changes) is posted as a single comment whose first line is the hidden :data:`MARKER`.  Each push
finds that comment through the host's REST API and edits it; a comment is created only when there
is none yet, so a pull request never collects one comment per push.

A comment counts as gitreg's only when it starts with the marker *and* its author is the token's
own user (``github-actions[bot]`` for a workflow's ``GITHUB_TOKEN``, which cannot ask the API who
it is).  Anyone can post a comment containing the marker; such a comment is never edited (that
would hand its author a comment that reads as gitreg's and that they can rewrite at will), and it
does not stop gitreg's own comment from being found or created.

Only the standard library speaks HTTP here.  The token goes to the API's own origin only: a
redirect or a pagination link to another host is not followed, and plain ``http://`` is refused
except on the loopback interface.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .errors import AuthenticationError, InvalidValueError, RemoteError

#: The first line of gitreg's review comment (invisible in the rendered comment).
MARKER = "<!-- gitreg-review -->"
HOSTS = ("github", "gitlab")
Host = Literal["github", "gitlab"]
#: The user a GitHub workflow's ``GITHUB_TOKEN`` writes comments as.
GITHUB_ACTIONS_LOGIN = "github-actions[bot]"
#: The environment variable each host's token is read from (never a command-line argument).
TOKEN_VARIABLES: dict[str, str] = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}
#: The longest comment body each host accepts, in characters.
BODY_LIMITS: dict[str, int] = {"github": 65_536, "gitlab": 1_000_000}

_NAMES = {"github": "GitHub", "gitlab": "GitLab"}
_PER_PAGE = 100
_MAX_PAGES = 100  # 10,000 comments: a bound, not a limit anyone meets
_MAX_ANSWER = 16 * 1024 * 1024
_TIMEOUT = 30.0
_GITHUB_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_CUT = ("\n\n*(cut here: the review is longer than {host} accepts in a comment; the job's log and summary"
        " have all of it)*\n")


class ReviewHostError(RemoteError):
    """The host's API refused a request, or could not be reached (``status`` None)."""

    def __init__(self, api_url: str, message: str, status: int | None = None) -> None:
        super().__init__(api_url, message)
        self.api_url = api_url
        self.status = status


class ReviewHostAuthError(ReviewHostError, AuthenticationError):
    """The host refused the token (401), or the token may not do what was asked (403); or there is none."""

    exit_code = 16


@dataclass(frozen=True)
class ReviewTarget:
    """The pull request (GitHub: ``project`` is ``owner/name``) or merge request (GitLab: ``project`` is the
    numeric id or the ``group/name`` path, ``number`` the merge request's iid) that the comment is on."""

    host: Host
    api_url: str
    project: str
    number: int

    @property
    def label(self) -> str:
        return f"{self.project}#{self.number}" if self.host == "github" else f"{self.project}!{self.number}"


@dataclass(frozen=True)
class CommentResult:
    """What :func:`post_review_comment` did: ``created``, ``updated`` or ``unchanged`` (the body was the same)."""

    action: Literal["created", "updated", "unchanged"]
    comment_id: int
    url: str | None


def review_target(host: str, api_url: str | None, project: str | None, number: int | None,
                  env: Mapping[str, str]) -> ReviewTarget:
    """The target, with what is not given taken from the CI job's environment.

    GitHub Actions: ``GITHUB_API_URL``, ``GITHUB_REPOSITORY``, and the number from ``GITHUB_REF``
    (``refs/pull/N/merge``).  GitLab CI: ``CI_API_V4_URL``, ``CI_PROJECT_ID``, ``CI_MERGE_REQUEST_IID``.
    """
    if host not in HOSTS:
        raise InvalidValueError(f"unknown host {host!r}: one of {', '.join(HOSTS)}")
    name = _NAMES[host]
    if host == "github":
        api_url = api_url or env.get("GITHUB_API_URL") or "https://api.github.com"
        project = project or env.get("GITHUB_REPOSITORY")
        ref = re.fullmatch(r"refs/pull/([0-9]+)/(?:merge|head)", env.get("GITHUB_REF", ""))
        if number is None and ref:
            number = int(ref.group(1))
        what, where = "repository (owner/name)", "pull request"
    else:
        api_url = api_url or env.get("CI_API_V4_URL")
        project = project or env.get("CI_PROJECT_ID")
        if number is None and env.get("CI_MERGE_REQUEST_IID", "").isdigit():
            number = int(env["CI_MERGE_REQUEST_IID"])
        what, where = "project (id or group/name path)", "merge request"
    if not api_url:
        raise InvalidValueError(f"which {name} API? pass --api-url (e.g. https://gitlab.example.com/api/v4)")
    if not project:
        raise InvalidValueError(f"which {name} {what}? pass --project")
    if host == "github" and not _GITHUB_REPO.fullmatch(project):
        raise InvalidValueError(f"--project {project!r}: a GitHub repository is owner/name")
    if number is None:
        raise InvalidValueError(f"which {where}? pass --number")
    if number < 1:
        raise InvalidValueError(f"--number {number}: a {where} number is 1 or more")
    return ReviewTarget(host, _api_base(api_url), project, number)  # type: ignore[arg-type]


def token_from_environment(host: str, env: Mapping[str, str]) -> str:
    """The host's token from ``GITHUB_TOKEN`` / ``GITLAB_TOKEN``: only ever from the environment."""
    variable = TOKEN_VARIABLES[host]
    token = env.get(variable, "").strip()
    if not token:
        raise ReviewHostAuthError("", f"{variable} is not set: the token that posts the review comment is read"
                                      f" from the environment only (in a workflow: `env: {variable}: ...`)")
    return token


def comment_body(markdown: str, host: str, commit: str | None = None) -> str:
    """The comment: the marker line, the review, which commit it describes; cut to what the host accepts."""
    footer = f"\n\n<sub>gitreg review of commit `{commit}`, updated in place on each push.</sub>" if commit else ""
    body = f"{MARKER}\n{markdown.strip()}{footer}\n"
    limit = BODY_LIMITS[host]
    if len(body) <= limit:
        return body
    cut = _CUT.format(host=_NAMES[host])
    kept = body[:limit - len(cut)]
    return kept[:kept.rfind("\n")] + cut if "\n" in kept else kept + cut


def post_review_comment(target: ReviewTarget, token: str, markdown: str, *, author: str | None = None,
                        commit: str | None = None) -> CommentResult:
    """Create gitreg's review comment on the pull or merge request, or update the one there.

    ``author``: the login whose comments are gitreg's (default: the token's own user).  ``commit``: the
    commit the review describes, shown under it.
    """
    if commit is not None and not _COMMIT.fullmatch(commit):
        raise InvalidValueError(f"--commit {commit!r}: a commit id in lowercase hex")
    api = _Api(target, token)
    host: _HostApi = _GitHub(api, target) if target.host == "github" else _GitLab(api, target)
    body = comment_body(markdown, target.host, commit)
    me = author if author is not None else host.identity()
    ours = next((c for c in host.comments() if isinstance(c.get("id"), int) and host.is_ours(c, me)
                 and str(c.get("body", "")).startswith(MARKER)), None)
    if ours is None:
        made = host.create(body)
        return CommentResult("created", int(made["id"]), host.url(made))
    if ours.get("body") == body:
        return CommentResult("unchanged", int(ours["id"]), host.url(ours))
    edited = host.update(int(ours["id"]), body)
    return CommentResult("updated", int(ours["id"]), host.url(edited) or host.url(ours))


# ---------------------------------------------------------------- the hosts

class _HostApi(Protocol):
    def identity(self) -> str: ...
    def comments(self) -> Iterator[dict[str, Any]]: ...
    def is_ours(self, comment: dict[str, Any], me: str) -> bool: ...
    def create(self, body: str) -> dict[str, Any]: ...
    def update(self, comment_id: int, body: str) -> dict[str, Any]: ...
    def url(self, comment: dict[str, Any]) -> str | None: ...


class _GitHub:
    def __init__(self, api: _Api, target: ReviewTarget) -> None:
        self.api = api
        owner, name = target.project.split("/")
        self.repo = f"{target.api_url}/repos/{_segment(owner)}/{_segment(name)}"
        self.issue = f"{self.repo}/issues/{target.number}"

    def identity(self) -> str:
        try:
            user = self.api.call("GET", f"{self.api.target.api_url}/user", "asking who the token is")
        except ReviewHostAuthError as exc:
            if exc.status == 403:  # a workflow's GITHUB_TOKEN (an installation token) may not ask
                return GITHUB_ACTIONS_LOGIN
            raise
        return str(_field(self.api, user, "login"))

    def comments(self) -> Iterator[dict[str, Any]]:
        yield from self.api.pages(f"{self.issue}/comments?per_page={_PER_PAGE}",
                                  f"listing the comments of {self.api.target.label}")

    def is_ours(self, comment: dict[str, Any], me: str) -> bool:
        user = comment.get("user")
        return isinstance(user, dict) and str(user.get("login", "")).casefold() == me.casefold()

    def create(self, body: str) -> dict[str, Any]:
        return _object(self.api, self.api.call("POST", f"{self.issue}/comments",
                                               f"commenting on {self.api.target.label}", {"body": body}))

    def update(self, comment_id: int, body: str) -> dict[str, Any]:
        return _object(self.api, self.api.call("PATCH", f"{self.repo}/issues/comments/{comment_id}",
                                               f"updating comment {comment_id} on {self.api.target.label}",
                                               {"body": body}))

    def url(self, comment: dict[str, Any]) -> str | None:
        url = comment.get("html_url")
        return url if isinstance(url, str) else None


class _GitLab:
    def __init__(self, api: _Api, target: ReviewTarget) -> None:
        self.api = api
        self.notes = f"{target.api_url}/projects/{_segment(target.project)}/merge_requests/{target.number}/notes"

    def identity(self) -> str:
        user = self.api.call("GET", f"{self.api.target.api_url}/user", "asking who the token is")
        return str(_field(self.api, user, "username"))

    def comments(self) -> Iterator[dict[str, Any]]:
        yield from self.api.pages(f"{self.notes}?sort=asc&order_by=created_at&per_page={_PER_PAGE}",
                                  f"listing the notes of {self.api.target.label}")

    def is_ours(self, comment: dict[str, Any], me: str) -> bool:
        author = comment.get("author")
        return (not comment.get("system") and isinstance(author, dict)
                and str(author.get("username", "")).casefold() == me.casefold())

    def create(self, body: str) -> dict[str, Any]:
        return _object(self.api, self.api.call("POST", self.notes, f"commenting on {self.api.target.label}",
                                               {"body": body}))

    def update(self, comment_id: int, body: str) -> dict[str, Any]:
        return _object(self.api, self.api.call("PUT", f"{self.notes}/{comment_id}",
                                               f"updating note {comment_id} on {self.api.target.label}",
                                               {"body": body}))

    def url(self, comment: dict[str, Any]) -> str | None:
        return None  # a note's JSON carries no web address


# ---------------------------------------------------------------- HTTP

class _Api:
    """JSON over HTTP to one origin, with the token in each request's headers."""

    def __init__(self, target: ReviewTarget, token: str) -> None:
        self.target = target
        self.name = _NAMES[target.host]
        self.origin = _origin(target.api_url)
        self.opener = urllib.request.build_opener(_SameOriginRedirects(self.origin))
        auth = {"Authorization": f"Bearer {token}"} if target.host == "github" else {"PRIVATE-TOKEN": token}
        self.headers = {"Accept": "application/vnd.github+json" if target.host == "github" else "application/json",
                        "User-Agent": "gitreg-review-comment", **auth}
        if target.host == "github":
            self.headers["X-GitHub-Api-Version"] = "2022-11-28"

    def call(self, method: str, url: str, doing: str, payload: dict[str, Any] | None = None) -> Any:
        return self._send(method, url, doing, payload)[0]

    def pages(self, url: str, doing: str) -> Iterator[dict[str, Any]]:
        next_url: str | None = url
        for _ in range(_MAX_PAGES):
            if next_url is None:
                return
            data, headers = self._send("GET", next_url, doing, None)
            if not isinstance(data, list):
                raise self._error(f"{doing}: the answer is not a list; is --api-url the {self.name} API?")
            yield from (item for item in data if isinstance(item, dict))
            next_url = _next_page(next_url, headers)
        raise self._error(f"{doing}: more than {_MAX_PAGES * _PER_PAGE} comments; gave up looking for gitreg's")

    def _send(self, method: str, url: str, doing: str,
              payload: dict[str, Any] | None) -> tuple[Any, Mapping[str, str]]:
        if _origin(url) != self.origin:
            raise self._error(f"{doing}: {self.name} pointed to {_origin(url)}, another host than {self.origin};"
                              " not followed (the token is sent to the API's own host only)")
        data = json.dumps(payload).encode() if payload is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=_TIMEOUT) as answer:
                raw, got = answer.read(_MAX_ANSWER + 1), answer.headers
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, doing) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise self._error(f"could not reach {self.name} at {self.target.api_url} ({reason}) while {doing};"
                              " check --api-url and the network") from None
        if len(raw) > _MAX_ANSWER:
            raise self._error(f"{doing}: the answer is larger than {_MAX_ANSWER} bytes")
        try:
            return json.loads(raw) if raw.strip() else None, {k.lower(): v for k, v in got.items()}
        except ValueError:
            raise self._error(f"{doing}: the answer is not JSON; is --api-url the {self.name} API"
                              f" ({self.target.api_url})?") from None

    def _error(self, message: str, status: int | None = None) -> ReviewHostError:
        return ReviewHostError(self.target.api_url, message, status)

    def _http_error(self, exc: urllib.error.HTTPError, doing: str) -> ReviewHostError:
        said = _said(exc)
        status = exc.code
        head = f"{self.name} answered {status} while {doing}{f' ({said})' if said else ''}"
        variable = TOKEN_VARIABLES[self.target.host]
        if status == 401:
            return ReviewHostAuthError(self.target.api_url, f"{head}: {variable} is not a valid token (expired,"
                                                            " revoked, or for another host)", status)
        if status == 403 and exc.headers.get("x-ratelimit-remaining") != "0":
            needs = ("`permissions: pull-requests: write` on the job (a pull request from a fork gets a read-only"
                     " token: skip the comment there)" if self.target.host == "github"
                     else "the `api` scope and at least the Reporter role on the project")
            return ReviewHostAuthError(self.target.api_url, f"{head}: the token may not do this; it needs {needs}",
                                       status)
        if status == 404:
            where = "repository or pull request" if self.target.host == "github" else "project or merge request"
            return self._error(f"{head}: no such {where} ({self.target.label}) at {self.target.api_url}, or the"
                               " token cannot see it; check --project and --number", status)
        if status in (403, 429):
            return self._error(f"{head}: rate-limited; try again later", status)
        if 300 <= status < 400:
            return self._error(f"{head}: a redirect to {exc.headers.get('location', '?')}, not followed (the token"
                               " is sent to the API's own host only)", status)
        return self._error(head, status)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the API's origin (it carries the token); else the 3xx is an error."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        if _origin(newurl) != self.origin:
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _api_base(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidValueError(f"--api-url {url!r}: an https:// address")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidValueError(f"--api-url {url!r}: plain http would send the token in clear; use https://"
                                " (http is accepted on the loopback interface only)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidValueError(f"--api-url {url!r}: an address with no query, fragment or credentials")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _next_page(url: str, headers: Mapping[str, str]) -> str | None:
    """The next page's address: the ``Link`` header's ``rel="next"`` (both hosts), else GitLab's ``X-Next-Page``."""
    for link in re.finditer(r'<([^>]*)>([^,<]*)', headers.get("link", "")):
        params = (p.strip().partition("=") for p in link.group(2).split(";"))
        if any(k.strip().lower() == "rel" and "next" in v.strip().strip('"').split() for k, _, v in params):
            return urllib.parse.urljoin(url, str(link.group(1)))
    page = headers.get("x-next-page", "").strip()
    if page.isdigit():
        parts = urllib.parse.urlsplit(url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "page"] + [("page", page)]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    return None


def _said(exc: urllib.error.HTTPError) -> str:
    """The host's own message from an error answer, on one short line."""
    try:
        data = json.loads(exc.read(64 * 1024) or b"null")
    except (ValueError, OSError):
        return ""
    said = data.get("message") or data.get("error") if isinstance(data, dict) else None
    text = " ".join(str(said).split()) if said else ""
    return text[:200] + ("..." if len(text) > 200 else "")


def _object(api: _Api, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise api._error(f"{api.name} answered without the comment's id; is --api-url the {api.name} API?")
    return data


def _field(api: _Api, data: Any, key: str) -> Any:
    if not isinstance(data, dict) or not data.get(key):
        raise api._error(f"{api.name} did not say who the token is (no {key!r}); is --api-url the {api.name} API?")
    return data[key]


__all__ = ["BODY_LIMITS", "GITHUB_ACTIONS_LOGIN", "HOSTS", "MARKER", "TOKEN_VARIABLES", "CommentResult",
           "ReviewHostAuthError", "ReviewHostError", "ReviewTarget", "comment_body", "post_review_comment",
           "review_target", "token_from_environment"]
