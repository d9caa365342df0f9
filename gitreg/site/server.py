"""``gitreg ui``: the static site served on 127.0.0.1, rebuilt when the registry moves.

It answers only requests addressed to it by name: a ``Host`` header of ``127.0.0.1``, ``localhost``
or ``[::1]`` (or the address it was told to listen on) with its own port, so that a web page whose
domain name is made to point at 127.0.0.1 (DNS rebinding) cannot read the registry through the
visitor's browser. A ``Host`` without a port means port 80, as in HTTP. It never lists a folder.
"""

from __future__ import annotations

import io
import ipaddress
import os
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import InvalidValueError
from .builder import BuildResult, build_site

if TYPE_CHECKING:
    from ..registry import Registry

#: The names every server answers to, whatever address it listens on.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


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
        return super().send_head()

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
                 on_error: Callable[[Exception], None] | None = None, host: str = "127.0.0.1") -> None:
        self.registry = registry
        self.out = Path(out)
        self.host = host
        self.interval = interval
        self.on_build = on_build or (lambda _r: None)
        self.on_error = on_error or (lambda _e: None)
        self._stop = threading.Event()
        self.httpd = _listen(host, port, str(self.out))  # first: a port in use fails before the build
        try:
            self._state = self._where()
            self.first = build_site(registry, self.out)
        except BaseException:
            self.httpd.server_close()
            raise
        self._threads: list[threading.Thread] = []

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
        now = self._where()
        if now == self._state:
            return None
        result = build_site(self.registry, self.out)
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
