"""The static site: pages, links, escaping, determinism, incremental rebuilds, `site build`, `ui`, notebooks."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import gitreg
from gitreg import Client
from gitreg.cli.app import main
from gitreg.site.builder import build_site
from gitreg.site.server import SiteServer

EVIL = '<script>alert("x")</script>'


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("href", "src"):
            if values.get(key):
                self.links.append(values[key] or "")
        if tag == "script":
            self.scripts.append(values.get("src") or "")


def links_of(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text())
    return parser


def make_registry(client: Client, tmp: Path) -> Client:
    (tmp / "w.bin").write_bytes(b"weights")
    (tmp / "d.csv").write_text("a\n1\n")
    client.create_model("iris", description="Classifies iris flowers.", license="MIT", tags=["demo"])
    for i, acc in enumerate([0.8, 0.9, 0.85], start=1):
        client.create_model_version("iris", metadata={"accuracy": acc, "params": {"depth": i}})
        client.add_artifact("iris", i, str(tmp / "d.csv"), "data")
    client.save_artifact("iris", 2, {1, 2}, "model", type="model")  # a set: pickled
    client.update_model_version("iris", 2, stage="production", reason="best so far")
    client.create_model_version("other", metadata={"loss": 1.5})
    return client


def test_build_writes_every_page_and_every_link_resolves(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    out = tmp_path / "site"
    result = build_site(client.registry, out)
    assert result.models == 2 and result.models_rendered == 2
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert pages == ["index.html", "models/iris/artifacts.html", "models/iris/compare.html", "models/iris/index.html",
                     "models/iris/v1.html", "models/iris/v2.html", "models/iris/v3.html", "models/other/artifacts.html",
                     "models/other/compare.html", "models/other/index.html", "models/other/v1.html"]
    for page in out.rglob("*.html"):
        for link in links_of(page).links:
            parts = urlsplit(link)
            if parts.scheme == "file":
                assert Path(parts.path).is_file(), (page, link)  # a download link into the local store
                continue
            assert not parts.scheme and not link.startswith("//"), f"{page}: {link} leaves the site"
            target = (page.parent / parts.path).resolve()
            assert target.is_file(), f"{page}: broken link {link}"
    index = (out / "index.html").read_text()
    assert 'href="models/iris/index.html"' in index and "Classifies iris flowers." in index
    model = (out / "models" / "iris" / "index.html").read_text()
    figures = model.split('<figure class="plot"')[1:]
    assert len(figures) == 2  # accuracy and params.depth: every numeric key can be plotted
    assert all(f.count('<circle class="pt"') == 3 for f in figures)  # one point per version
    assert "best so far" in model and "stage-production" in model
    version = (out / "models" / "iris" / "v2.html").read_text()
    assert "runs code on load" in version  # the pickled object
    assert "compare.html?v=1&amp;v=2" in version


def test_build_is_deterministic(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    build_site(client.registry, a)
    build_site(client.registry, b, full=True)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_no_page_needs_the_network(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    out = tmp_path / "site"
    build_site(client.registry, out)
    for page in out.rglob("*"):
        if page.suffix in (".html", ".css", ".js"):
            text = page.read_text()
            assert not re.search(r"(src|href)=\"(https?:)?//", text), page
            assert "@import" not in text and "url(http" not in text, page


def test_manifest_text_is_escaped_everywhere(client: Client, tmp_path: Path, capsys) -> None:
    client.create_model("evil", description=EVIL, limitations=EVIL, tags=["t"])
    client.create_model_version("evil", description=EVIL, metadata={EVIL: 1.0, "k": EVIL})
    client.create_model_version("evil", metadata={EVIL: 2.0, "k": "ok"})
    client.update_model_version("evil", 2, stage="staging", reason=EVIL)
    out = tmp_path / "site"
    build_site(client.registry, out)
    for page in out.rglob("*.html"):
        text = page.read_text()
        assert "<script>alert" not in text, page
        assert all(src for src in links_of(page).scripts), f"{page}: an inline script"
    model = (out / "models" / "evil" / "index.html").read_text()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in model
    html = client.compare_model_versions("evil", 1, 2)._repr_html_()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_full_rebuild_rewrites_only_pages_whose_bytes_differ(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    out = tmp_path / "site"
    build_site(client.registry, out)
    page, other = out / "models" / "iris" / "v2.html", out / "models" / "iris" / "v1.html"
    good = page.read_bytes()
    page.write_bytes(good.replace(b"<main>", b"<MAIN>"))  # same size, other bytes
    other.write_bytes(other.read_bytes() + b"<!-- edited -->")  # another size
    untouched = (out / "models" / "iris" / "index.html").stat().st_mtime_ns
    again = build_site(client.registry, out, full=True)
    assert again.pages_written == 2
    assert page.read_bytes() == good and b"edited" not in other.read_bytes()
    assert (out / "models" / "iris" / "index.html").stat().st_mtime_ns == untouched
    assert not list(out.rglob("*.tmp"))


def test_incremental_index_matches_a_fresh_build(client: Client, tmp_path: Path) -> None:
    """The index keeps unchanged models' rows from the last build; it must read as a fresh build's."""
    make_registry(client, tmp_path)
    client.create_model_version("third", metadata={"loss": 2.0})
    out = tmp_path / "site"
    build_site(client.registry, out)

    def same_as_fresh(name: str) -> str:
        fresh = build_site(client.registry, tmp_path / name, full=True).out
        index = (out / "index.html").read_text()
        assert index == (fresh / "index.html").read_text()
        return index

    client.update_model("other", description="Now described.")
    client.create_model_version("iris", metadata={"accuracy": 0.97})
    assert build_site(client.registry, out).models_rendered == 2
    index = same_as_fresh("fresh1")
    assert "Now described." in index and 'href="models/iris/v4.html">v4</a>' in index and "3 model(s)" in index
    client.delete_model("other")
    build_site(client.registry, out)
    index = same_as_fresh("fresh2")
    assert "models/other/" not in index and "models/third/" in index and "2 model(s)" in index


def test_incremental_rebuild_renders_only_what_changed(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    out = tmp_path / "site"
    build_site(client.registry, out)
    again = build_site(client.registry, out)
    assert (again.models_rendered, again.pages_written) == (0, 0)
    client.log_metadata("iris", 3, {"accuracy": 0.95})
    moved = build_site(client.registry, out)
    assert moved.models_rendered == 1
    assert "0.95" in (out / "models" / "iris" / "v3.html").read_text()
    client.update_model_version("other", 1, stage="staging", reason="tagged move")  # a new stage tag
    assert build_site(client.registry, out).models_rendered == 1
    assert "tagged move" in (out / "models" / "other" / "index.html").read_text()
    client.delete_model_version("iris", 3)
    build_site(client.registry, out)
    assert not (out / "models" / "iris" / "v3.html").exists()
    client.delete_model("other")
    build_site(client.registry, out)
    assert not (out / "models" / "other").exists()
    assert 'href="models/other/' not in (out / "index.html").read_text()


def test_run_pages_show_lineage(client: Client, tmp_path: Path) -> None:
    from gitreg import Model, pipeline, step

    @step
    def load() -> list:
        return [1, 2, 3]

    @step(model=Model("lineage"))
    def train(rows: list) -> dict:
        gitreg.log_model_metadata({"rows": len(rows)})
        return {"n": len(rows)}

    @pipeline(repo=client.root)
    def training():
        train(load())

    training()
    (run,) = client.list_runs()
    out = tmp_path / "site"
    build_site(client.registry, out)
    page = (out / "runs" / f"{run.id}.html").read_text()
    assert "training" in page and "load" in page and "train" in page
    assert 'href="../models/lineage/v1.html"' in page
    assert f'href="../../runs/{run.id}.html"' in (out / "models" / "lineage" / "v1.html").read_text()


def test_cli_site_build(client: Client, tmp_path: Path, capsys) -> None:
    make_registry(client, tmp_path)
    assert main(["site", "build", "--to", str(tmp_path / "s")]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "s" / "index.html")
    assert "built 2 model(s)" in captured.err


def test_cli_site_build_outside_a_registry(hermetic: Path, capsys) -> None:
    assert main(["site", "build"]) != 0
    err = capsys.readouterr().err
    assert "gitreg init" in err and "Traceback" not in err


def test_server_serves_and_rebuilds_when_the_branch_moves(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    builds = []
    server = SiteServer(client.registry, tmp_path / "ui", port=0, interval=0.1, on_build=builds.append)
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        body = urllib.request.urlopen(server.url, timeout=10).read().decode()
        assert "iris" in body and "new_model" not in body
        client.create_model_version("new_model")
        deadline = time.monotonic() + 10
        while not builds and time.monotonic() < deadline:
            time.sleep(0.05)
        assert builds and builds[0].models_rendered == 1
        body = urllib.request.urlopen(server.url, timeout=10).read().decode()
        assert "new_model" in body
    finally:
        server.stop()


def test_cli_ui_prints_the_url_and_stops_cleanly_on_ctrl_c(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "gitreg", "ui", "--port", "0"], cwd=client.root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/index\.html", line)
        assert url, line
        assert "iris" in urllib.request.urlopen(url.group(0), timeout=10).read().decode()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_notebook_html(client: Client, tmp_path: Path) -> None:
    make_registry(client, tmp_path)
    versions = client.list_model_versions("iris")
    table = versions._repr_html_()
    assert table.count("<tr data-version=") == 3 and "params.depth" in table
    assert "<table" in client.get_model_version("iris", 2)._repr_html_()
    model_html = gitreg.Model("iris", 2, repo=client.root)._repr_html_()
    assert "Classifies iris flowers." in model_html and "v2" in model_html
    before = len(client.list_model_versions("iris"))
    assert "new version" in gitreg.Model("iris", repo=client.root)._repr_html_()
    assert len(client.list_model_versions("iris")) == before  # showing it created nothing
    compare = client.compare_model_versions("iris", 1, 2)._repr_html_()
    assert "(+0.1)" in compare and "<table" in compare


def test_dir_lists_the_public_api() -> None:
    names = dir(gitreg)
    for name in ("Client", "Model", "ModelStages", "pipeline", "step", "log_model_metadata", "__version__"):
        assert name in names
