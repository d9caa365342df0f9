"""``gitreg site build`` and ``gitreg ui``: the registry as web pages."""

from __future__ import annotations

from pathlib import Path

import typer

from .context import client
from .flags import destination_and_format, to_option
from .render import note

OLD_DIR = typer.Option(None, "-o", "--output", metavar="DIR", hidden=True,
                       help="Deprecated spelling of --to (-o is the output format in every other command).")

site_app = typer.Typer(rich_markup_mode=None,
                       help="Build the registry's static site (plain HTML, CSS and JS; no network needed).",
                       no_args_is_help=True)


@site_app.command("build")
def build(ctx: typer.Context,
          to: str | None = to_option("Folder to write the site into (default: a folder of this registry's own in"
                                     " gitreg's cache, ~/.cache/gitreg/sites/..., never the work tree; its"
                                     " index.html is printed)."),
          out: str | None = OLD_DIR,
          full: bool = typer.Option(False, "--full", help="Render every page again, not only what changed."),
          store_url: str | None = typer.Option(
              None, "--store-url", metavar="URL",
              help="Where readers of the site reach the artifact store (for download links), e.g."
                   " https://host/store; default: a local store's files (file://), or http(s) URIs as they are.")
          ) -> None:
    """Build a static site of the registry: models, versions, plots, stage timelines, runs, comparisons."""
    from ..site.builder import build_site

    registry = client(ctx).registry
    folder = _folder(to, out) or default_site_folder(registry.location)
    result = build_site(registry, folder, full=full, store_url=store_url)
    note(f"built {result.models} model(s) ({result.models_rendered} rendered, {result.pages_written} file(s) written)"
         f" in {result.seconds:.2f}s")
    typer.echo(str(result.index))


def ui(ctx: typer.Context,
       port: int = typer.Option(8765, "--port", "-p", min=0, max=65535,
                                help="Port to listen on, 0 to 65535 (0: any free port)."),
       host: str = typer.Option("127.0.0.1", "--host", metavar="ADDR",
                                help="Address or host name to listen on (0.0.0.0 and :: are refused). The site"
                                     " answers only requests addressed to 127.0.0.1, localhost or [::1], or to"
                                     " ADDR when given, with its port (a Host header without a port means port"
                                     " 80); anything else gets 421, so a web page cannot reach it by DNS"
                                     " rebinding. No access control beyond that: another address shows the"
                                     " registry to everyone who can reach it."),
       to: str | None = to_option("Folder for the built site (default: a temporary folder, removed on exit)."),
       out: str | None = OLD_DIR,
       interval: float = typer.Option(1.0, "--interval", help="Seconds between checks for registry changes."),
       read_only: bool = typer.Option(False, "--read-only",
                                      help="Serve the pages without their forms (no stage changes or edits from"
                                           " the browser).")
       ) -> None:
    """Serve the registry's site on 127.0.0.1 (or --host), rebuilt when the registry branch moves; Ctrl-C stops it."""
    import shutil
    import tempfile
    import threading

    from ..site.server import SiteServer

    chosen = _folder(to, out)
    registry = client(ctx).registry
    folder = chosen or tempfile.mkdtemp(prefix="gitreg-ui-")
    stopped = threading.Event()
    try:
        server = SiteServer(registry, folder, port=port, interval=interval, host=host,
                            on_build=lambda r: note(f"rebuilt: {r.models_rendered} model(s) changed"
                                                    f" at {(r.commit or '')[:12]}"),
                            on_error=lambda e: note(f"error: {e} (the previous pages are still served)"),
                            actions=not read_only, on_action=lambda o: note(o.message))
        server.start()
        typer.echo(f"gitreg ui: serving {registry.location} at {server.url}  (Ctrl-C stops)")
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            note("stopping")
        finally:
            server.stop()
    finally:
        if chosen is None:
            shutil.rmtree(folder, ignore_errors=True)


def _folder(to: str | None, old: str | None) -> str | None:
    """``--to DIR``, or the deprecated ``-o DIR`` (a format name there is a usage error: these commands have none)."""
    folder, _ = destination_and_format(to, old, (), None)
    return folder


def default_site_folder(location: str) -> Path:
    """Where ``site build`` writes without --to: a folder of this registry's own under gitreg's cache (outside
    any work tree, and the same every time, so that a rebuild renders only what changed)."""
    import hashlib
    import re

    from ..remote import cache_root

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", location.rstrip("/").rsplit("/", 1)[-1]).strip("-.") or "registry"
    digest = hashlib.sha256(location.encode("utf-8")).hexdigest()[:12]
    return cache_root() / "sites" / f"{stem}-{digest}"
