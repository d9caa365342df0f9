"""``gitreg ui``: the static site served on 127.0.0.1, rebuilt when the registry moves."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .builder import BuildResult, build_site

if TYPE_CHECKING:
    from ..registry import Registry


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a rebuilt page is seen on the next load
        super().end_headers()


class SiteServer:
    """Builds the site into ``out``, serves it, and rebuilds it whenever the registry's head or tags move.

    ``start()`` returns at once; ``stop()`` ends the server and the watcher. ``on_build`` is told of
    every rebuild (the CLI prints them; the core prints nothing).
    """

    def __init__(self, registry: "Registry", out: str | Path, port: int = 0, interval: float = 1.0,
                 on_build: Callable[[BuildResult], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.registry = registry
        self.out = Path(out)
        self.interval = interval
        self.on_build = on_build or (lambda _r: None)
        self.on_error = on_error or (lambda _e: None)
        self._stop = threading.Event()
        self._state = self._where()
        self.first = build_site(registry, self.out)
        handler = functools.partial(_Quiet, directory=str(self.out))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/index.html"

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
            except Exception as exc:  # noqa: BLE001 - a bad commit must not kill the server; it is reported
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
