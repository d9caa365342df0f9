"""Small fakes of GitHub's and GitLab's REST APIs for pull-request comments, on 127.0.0.1.

Each serves the comments of one pull request (GitHub: ``/repos/OWNER/NAME/issues/N/comments``,
``PATCH /repos/OWNER/NAME/issues/comments/ID``) or merge request (GitLab, under ``/api/v4``:
``/projects/ID/merge_requests/IID/notes``, ``PUT .../notes/ID``), and ``GET /user``.  Tokens map
to users; a token may be read-only (writes answer 403), and a GitHub token may be an installation
token (``GET /user`` answers 403, as a workflow's ``GITHUB_TOKEN`` does).  Lists are paginated
by ``per_page`` (capped by ``page_cap``) and ``page``, with a ``Link`` header (both hosts) and
GitLab's ``X-Next-Page``; ``link_base`` makes the links point elsewhere.  Like the real hosts, a
token with write access may edit anyone's comment: not hijacking one is the client's job.  ``fail``
answers every request of a method with an error status, ``redirect`` every request with a 301.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class User:
    login: str
    id: int
    write: bool = True
    installation: bool = False  # GitHub: GET /user answers 403
    type: str = "User"


@dataclass
class FakeHost:
    kind: str  # github | gitlab
    project: str = "acme/registry"
    number: int = 7
    tokens: dict[str, User] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    page_cap: int = 100
    link_base: str | None = None
    link_header: bool = True  # False: GitLab's X-Next-Page only
    fail: dict[str, int] = field(default_factory=dict)  # method -> status to answer every such request with
    redirect: str | None = None  # answer every request with a 301 to this address + the path asked for
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _next_id: int = 1000

    # ---------------------------------------------------------------- set-up

    def add(self, user: User, body: str, system: bool = False) -> dict[str, Any]:
        self._next_id += 1
        if self.kind == "github":
            comment = {"id": self._next_id, "body": body, "user": {"login": user.login, "id": user.id,
                                                                   "type": user.type},
                       "html_url": f"https://github.example/{self.project}/pull/{self.number}#c{self._next_id}"}
        else:
            comment = {"id": self._next_id, "body": body, "system": system,
                       "author": {"id": user.id, "username": user.login}}
        self.comments.append(comment)
        return comment

    def author(self, comment: dict[str, Any]) -> str:
        return str(comment["user"]["login"] if self.kind == "github" else comment["author"]["username"])

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.requests if m in ("POST", "PATCH", "PUT")]

    # ---------------------------------------------------------------- routes

    def prefix(self) -> str:
        if self.kind == "github":
            return f"/repos/{self.project}/issues"
        return f"/api/v4/projects/{urllib.parse.quote(self.project, safe='')}/merge_requests/{self.number}/notes"

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               body: bytes, base: str) -> tuple[int, Any, dict[str, str]]:
        self.requests.append((method, raw_path, headers))
        if method in self.fail:
            return self.fail[method], {"message": f"injected {self.fail[method]}"}, {}
        if self.redirect is not None:
            return 301, {"message": "Moved Permanently"}, {"Location": self.redirect + raw_path}
        user = self._user(headers)
        if user is None:
            return 401, {"message": "Bad credentials" if self.kind == "github" else "401 Unauthorized"}, {}
        path, _, query = raw_path.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        root = "" if self.kind == "github" else "/api/v4"
        if path == f"{root}/user" and method == "GET":
            if user.installation:
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 200, ({"login": user.login, "id": user.id} if self.kind == "github"
                         else {"id": user.id, "username": user.login}), {}
        listing = f"{self.prefix()}/{self.number}/comments" if self.kind == "github" else self.prefix()
        one = f"{self.prefix()}/comments/" if self.kind == "github" else f"{self.prefix()}/"
        if path == listing and method == "GET":
            return self._page(path, params, base)
        if path == listing and method == "POST":
            if not user.write:
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 201, self.add(user, json.loads(body)["body"]), {}
        if path.startswith(one) and path[len(one):].isdigit() and method == ("PATCH" if self.kind == "github"
                                                                             else "PUT"):
            if not user.write:
                return 403, {"message": "Resource not accessible by integration"}, {}
            found = next((c for c in self.comments if c["id"] == int(path[len(one):])), None)
            if found is None:
                return 404, {"message": "Not Found"}, {}
            found["body"] = json.loads(body)["body"]
            return 200, found, {}
        return 404, {"message": "Not Found" if self.kind == "github" else "404 Not found"}, {}

    def _user(self, headers: dict[str, str]) -> User | None:
        if self.kind == "github":
            auth = headers.get("authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        else:
            token = headers.get("private-token")
        return self.tokens.get(token) if token else None

    def _page(self, path: str, params: dict[str, str], base: str) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(params.get("per_page", "20")), self.page_cap)
        page = int(params.get("page", "1"))
        items = self.comments if self.kind == "github" or params.get("sort") == "asc" else self.comments[::-1]
        chunk = items[(page - 1) * per_page: page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(items):
            query = urllib.parse.urlencode({**params, "page": str(page + 1)})
            if self.link_header or self.kind == "github":
                headers["Link"] = f'<{self.link_base or base}{path}?{query}>; rel="next"'
            if self.kind == "gitlab":
                headers["X-Next-Page"] = str(page + 1)
        elif self.kind == "gitlab":
            headers["X-Next-Page"] = ""
        return 200, chunk, headers


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        with self.server.lock:
            status, data, extra = self.server.fake.handle(self.command, self.path, headers, body, base)
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PATCH = do_PUT = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeHost) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.lock = threading.Lock()


class Serving:
    """``with Serving(fake) as url:`` the fake's API on 127.0.0.1 (GitLab's with the ``/api/v4`` suffix)."""

    def __init__(self, fake: FakeHost) -> None:
        self.server = _Server(fake)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.port = self.server.server_address[1]
        suffix = "/api/v4" if fake.kind == "gitlab" else ""
        self.url = f"http://127.0.0.1:{self.port}{suffix}"

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
