"""``gitreg site build`` and ``gitreg ui``: the registry as web pages."""

from __future__ import annotations

import typer

from .context import client
from .render import note

site_app = typer.Typer(rich_markup_mode=None,
                       help="Build the registry's static site (plain HTML, CSS and JS; no network needed).",
                       no_args_is_help=True)


@site_app.command("build")
def build(ctx: typer.Context,
          out: str = typer.Option("site", "-o", "--output", metavar="DIR", help="Folder to write the site into."),
          full: bool = typer.Option(False, "--full", help="Render every page again, not only what changed."),
          store_url: str | None = typer.Option(
              None, "--store-url", metavar="URL",
              help="Where readers of the site reach the artifact store (for download links), e.g."
                   " https://host/store; default: a local store's files (file://), or http(s) URIs as they are.")
          ) -> None:
    """Build a static site of the registry: models, versions, plots, stage timelines, runs, comparisons."""
    from ..site.builder import build_site

    result = build_site(client(ctx).registry, out, full=full, store_url=store_url)
    note(f"built {result.models} model(s) ({result.models_rendered} rendered, {result.pages_written} file(s) written)"
         f" in {result.seconds:.2f}s")
    typer.echo(str(result.index))


def ui(ctx: typer.Context,
       port: int = typer.Option(8765, "--port", "-p", help="Port to listen on (0: any free port)."),
       host: str = typer.Option("127.0.0.1", "--host", metavar="ADDR",
                                help="Address or host name to listen on (0.0.0.0 and :: are refused). The site"
                                     " answers only requests addressed to 127.0.0.1, localhost or [::1], or to"
                                     " ADDR when given, with its port (a Host header without a port means port"
                                     " 80); anything else gets 421, so a web page cannot reach it by DNS"
                                     " rebinding. No access control beyond that: another address shows the"
                                     " registry to everyone who can reach it."),
       out: str | None = typer.Option(None, "-o", "--output", metavar="DIR",
                                         help="Folder for the built site (default: a temporary folder)."),
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

    registry = client(ctx).registry
    folder = out or tempfile.mkdtemp(prefix="gitreg-ui-")
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
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)
