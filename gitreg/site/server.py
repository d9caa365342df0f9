"""``gitreg ui``: the static site served on 127.0.0.1, rebuilt when the registry moves.

It answers only requests addressed to it by name: a ``Host`` header of ``127.0.0.1``, ``localhost``
or ``[::1]`` (or the address it was told to listen on) with its own port, so that a web page whose
domain name is made to point at 127.0.0.1 (DNS rebinding) cannot read the registry through the
visitor's browser. A ``Host`` without a port means port 80, as in HTTP. It never lists a folder.

With actions on (``gitreg ui``'s default), the version pages carry forms that change a stage or edit
descriptions and tags (:mod:`gitreg.site.actions`). A write is a POST to :data:`ACTION_PATH` only, and
is carried out only when all of these hold:

- the request names the server (the Host check above);
- it comes from one of the server's own pages: ``Origin`` is the server's origin (or, when a browser
  sends none, ``Referer`` is a page of it), and ``Sec-Fetch-Site``, when sent, says ``same-origin``;
- it carries the session's token (a random secret made when the server starts, put into the pages
  as they are served and never written to disk), in the ``token`` form field or the
  :data:`TOKEN_HEADER` header, compared in constant time.

Pages may not be framed by another site (no clicks tricked through an invisible frame).
"""

from __future__ import annotations

import hmac
import io
import ipaddress
import os
import secrets
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit

from ..errors import InvalidValueError
from .builder import BuildResult, build_site

if TYPE_CHECKING:
    from ..registry import Registry
    from .actions import Outcome, Panel

#: The names every server answers to, whatever address it listens on.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: Where the pages' forms send a write.
ACTION_PATH = "/_gitreg/act"
#: The header a script may send the token in (instead of the form field ``token``).
TOKEN_HEADER = "X-Gitreg-Token"
#: What the built pages hold where the server puts the session's token (autoescaped text never reads so).
TOKEN_SLOT = b'name="token" value=""'
MAX_FORM = 64 * 1024  # bytes of a form: descriptions and tags, never more
#: What the pages may load and do: their own scripts and styles only (no inline script, nothing from elsewhere),
#: forms that post back here, and no framing by another site.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
       " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def host_name(address: str) -> str:
    """``address`` as it appears in a Host header: lower case, an IPv6 address in brackets and compressed."""
    text = address.strip().lower()
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if ":" in inner:
        try:
            return f"[{ipaddress.IPv6Address(inner).compressed}]"
        except ValueError:
            return text
    return text


def parse_host(value: str) -> tuple[str, int | None] | None:
    """A Host header's name (as :func:`host_name` writes it) and port (None: none given), or None if it is
    not ``name[:port]`` (an IPv6 address unbracketed, a port that is not digits, nothing at all)."""
    text = value.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[: end + 1], text[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else None
    else:
        name, colon, port_text = text.partition(":")
        port = port_text if colon else None
    if not name:  # an unbracketed IPv6 address ("::1") reads as an empty name and a port
        return None
    if port is not None and not (port.isascii() and port.isdigit() and len(port) <= 5):
        return None
    return host_name(name), int(port) if port is not None else None


def answers_to(value: str, names: frozenset[str], port: int) -> bool:
    """Whether a Host header ``value`` addresses a server listening on ``port`` under one of ``names``."""
    parsed = parse_host(value)
    return parsed is not None and parsed[0] in names and (80 if parsed[1] is None else parsed[1]) == port


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[Any, ...], family: socket.AddressFamily,
                 handler: type[_Handler], directory: str, names: frozenset[str]) -> None:
        self.address_family = family
        self.directory = directory
        self.names = names
        self.token: str | None = None  # set by SiteServer when actions are on
        self.act: Callable[[dict[str, str]], tuple[int, bytes]] | None = None
        super().__init__(address, handler)

    def server_bind(self) -> None:  # the stdlib's also looks up the host's DNS name, which the site never uses
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def __init__(self, request: socket.socket, client_address: tuple[str, int], server: _Server) -> None:
        super().__init__(request, client_address, server, directory=server.directory)

    def log_message(self, format: str, *args: object) -> None:  # the stdlib's name
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a rebuilt page is seen on the next load
        self.send_header("X-Frame-Options", "DENY")  # no page of another site frames these (tricked clicks)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Referrer-Policy", "same-origin")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def parse_request(self) -> bool:
        """The request line and headers, then the guard: one Host header naming this server, a path."""
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or parse_host(hosts[0]) is None:
            return self._refuse(HTTPStatus.BAD_REQUEST, "bad request: give one Host header, name[:port]")
        if not answers_to(hosts[0], self.server.names, self.server.server_address[1]):
            return self._refuse(HTTPStatus.MISDIRECTED_REQUEST,
                                "misdirected request: this server answers only to its own host names")
        if not self.path.startswith("/"):
            return self._refuse(HTTPStatus.BAD_REQUEST, "bad request: the target must be a path")
        return True

    def _refuse(self, status: HTTPStatus, text: str) -> bool:
        body = f"{status.value} {text}\n".encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return False

    def send_head(self) -> io.BytesIO | BinaryIO | None:
        path = self.translate_path(self.path)
        if os.path.isdir(path) and not any(os.path.isfile(os.path.join(path, i)) for i in ("index.html", "index.htm")):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")  # a folder is never listed
            return None
        token = self.server.token
        if token is not None and os.path.isdir(path) and urlsplit(self.path).path.endswith("/"):
            path = os.path.join(path, "index.html")  # a folder's page gets its token as any page does
        if token is not None and path.endswith(".html") and os.path.isfile(path):
            try:
                with open(path, "rb") as fh:
                    page = fh.read()
            except OSError:
                self.send_error(HTTPStatus.NOT_FOUND, "File not found")
                return None
            return self._page(HTTPStatus.OK, page.replace(TOKEN_SLOT, TOKEN_SLOT[:-1] + token.encode() + b'"'))
        return super().send_head()

    def _page(self, status: HTTPStatus | int, body: bytes) -> io.BytesIO:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    # ------------------------------------------------------------ writes

    def do_POST(self) -> None:  # the stdlib's name
        act, token = self.server.act, self.server.token
        if act is None or token is None:
            self._refuse(HTTPStatus.NOT_IMPLEMENTED, "not implemented: this server is read-only")
            return
        if urlsplit(self.path).path != ACTION_PATH:
            self._refuse(HTTPStatus.METHOD_NOT_ALLOWED, f"method not allowed: pages change nothing; writes go to"
                                                        f" {ACTION_PATH}")
            return
        why = self._foreign()
        if why is not None:
            self._refuse(HTTPStatus.FORBIDDEN, f"forbidden: {why}")
            return
        form = self._form()
        if form is None:
            return
        given = form.get("token") or self.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
            self._refuse(HTTPStatus.FORBIDDEN, "forbidden: the request carries no valid token of this session;"
                                               " reload the page (a restarted `gitreg ui` has a new token)")
            return
        status, body = act(form)
        page = self._page(status, body)
        self.wfile.write(page.getvalue())

    def _own_origin(self, origin: str) -> bool:
        """Whether ``origin`` (``scheme://host[:port]`` and nothing more) is this server's."""
        parts = urlsplit(origin)
        if parts.scheme != "http" or not parts.netloc or parts.username is not None or parts.password is not None \
                or parts.path or parts.query or parts.fragment:
            return False
        return answers_to(parts.netloc, self.server.names, self.server.server_address[1])

    def _foreign(self) -> str | None:
        """Why the request is not from one of this server's own pages (None: it is)."""
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site.strip().lower() != "same-origin":
            return f"a request from another site (Sec-Fetch-Site: {site.strip()[:40]}) cannot change the registry"
        origins = self.headers.get_all("Origin") or []
        if len(origins) > 1:
            return "more than one Origin header"
        if origins:
            if not self._own_origin(origins[0].strip()):
                return "a page of another origin cannot change the registry (Origin is not this server)"
            return None
        referer = self.headers.get("Referer")
        if referer is None:
            return "the request says neither its Origin nor its Referer; send it from the ui's own pages"
        parts = urlsplit(referer.strip())
        if not self._own_origin(f"{parts.scheme}://{parts.netloc}"):
            return "a page of another origin cannot change the registry (Referer is not this server)"
        return None

    def _form(self) -> dict[str, str] | None:
        """The posted form's fields (one value each), or None when it is refused (already answered)."""
        kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported media type: send a form"
                                                            " (application/x-www-form-urlencoded)")
            return None
        length_text = self.headers.get("Content-Length") or ""
        if not (length_text.isascii() and length_text.isdigit()):
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "length required: give Content-Length")
            return None
        length = int(length_text)
        if length > MAX_FORM:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"too large: a form is at most {MAX_FORM} bytes")
            return None
        raw = self.rfile.read(length).decode("utf-8", "replace")
        form: dict[str, str] = {}
        try:
            fields = parse_qsl(raw, keep_blank_values=True, max_num_fields=64)
        except ValueError:
            self._refuse(HTTPStatus.BAD_REQUEST, "bad request: too many fields")
            return None
        for key, value in fields:
            if key in form:
                self._refuse(HTTPStatus.BAD_REQUEST, f"bad request: the field {key!r} is given twice")
                return None
            form[key] = value
        return form

    def list_directory(self, path: str | os.PathLike[str]) -> io.BytesIO | None:
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")  # never reached (send_head); never a listing
        return None


def _listen(host: str, port: int, directory: str) -> _Server:
    """A server bound to ``host`` (an address or a name) and ``port``, answering to the loopback names and
    ``host``."""
    names = frozenset(LOOPBACK_NAMES) | {host_name(host)}
    target = host.strip().strip("[]")
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(target or None, port, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)[0]
    except OSError as exc:
        raise InvalidValueError(f"cannot listen on {host!r}: {exc.strerror or exc}; give an address, or a name"
                                " this machine resolves") from None
    if ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]).is_unspecified:
        raise InvalidValueError(f"will not listen on {host!r}: that is every address of this machine, and the"
                                " site answers only to the name it is asked for by; give that name (or address),"
                                " or keep the default 127.0.0.1")
    try:
        return _Server(sockaddr, family, _Handler, directory, names)
    except OSError as exc:
        raise InvalidValueError(f"cannot listen on {host_name(host)}:{port}: {exc.strerror or exc}; choose another"
                                " port (0: any free port)") from None


class SiteServer:
    """Builds the site into ``out``, serves it, and rebuilds it whenever the registry's head or tags move.

    ``start()`` returns at once; ``stop()`` ends the server and the watcher. ``on_build`` is told of
    every rebuild (the CLI prints them; the core prints nothing).
    """

    def __init__(self, registry: Registry, out: str | Path, port: int = 0, interval: float = 1.0,
                 on_build: Callable[[BuildResult], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None, host: str = "127.0.0.1",
                 actions: bool = False, on_action: Callable[[Outcome], None] | None = None) -> None:
        self.registry = registry
        self.out = Path(out)
        self.host = host
        self.interval = interval
        self.on_build = on_build or (lambda _r: None)
        self.on_error = on_error or (lambda _e: None)
        self.on_action = on_action or (lambda _o: None)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one build, and one write, at a time
        self.httpd = _listen(host, port, str(self.out))  # first: a port in use fails before the build
        self.panel: Panel | None = None
        try:
            if actions:
                from .actions import panel

                self.panel = panel(registry)
                self.httpd.token = secrets.token_urlsafe(32)
                self.httpd.act = self._act
            self._state = self._where()
            self.first = build_site(registry, self.out, actions=self.panel)
        except BaseException:
            self.httpd.server_close()
            raise
        self._threads: list[threading.Thread] = []

    def _act(self, form: dict[str, str]) -> tuple[int, bytes]:
        """Carry out a page's action, rebuild what it changed, and answer with the outcome's page."""
        from .actions import Outcome, perform
        from .render import render

        with self._lock:
            try:
                outcome = perform(self.registry, form)
            except Exception as exc:  # not gitreg's own error (those are outcomes): said, never a dropped connection
                self.on_error(exc)
                outcome = Outcome(False, f"error: {type(exc).__name__}: {exc} (run the same change with the"
                                         " gitreg command line, with --traceback, to see more)", "index.html",
                                  status=500)
            try:
                built = self._rebuild()
            except Exception as exc:  # the write is done; the pages follow on the next check
                self.on_error(exc)
            else:
                if built is not None:
                    self.on_build(built)
        self.on_action(outcome)
        page = render("action.html", outcome=outcome, root="/", title="done" if outcome.ok else "refused")
        return outcome.status, page.encode("utf-8")

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{host_name(self.host)}:{self.port}/index.html"

    def _where(self) -> tuple[str | None, tuple[tuple[str, str], ...]]:
        repo = self.registry.repo
        prefix = self.registry.snapshot().config.tag_prefix
        return repo.resolve("HEAD"), tuple(sorted((r.name, r.oid) for r in repo.list_refs(f"refs/tags/{prefix}/")))

    def check(self) -> BuildResult | None:
        """Rebuild if the registry moved since the last build (None: it did not)."""
        with self._lock:
            return self._rebuild()

    def _rebuild(self) -> BuildResult | None:
        now = self._where()
        if now == self._state:
            return None
        result = build_site(self.registry, self.out, actions=self.panel)
        self._state = now
        return result

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = self.check()
            except Exception as exc:  # a bad commit must not kill the server; it is reported
                self.on_error(exc)
                continue
            if result is not None:
                self.on_build(result)

    def start(self) -> None:
        for target in (self.httpd.serve_forever, self._watch):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
