"""Build the static site: one folder of HTML, CSS and JS, the same bytes for the same registry.

Layout of the output::

    index.html                      models, stages, latest version, tags, search
    models/<model>/index.html       card, versions table, plots, stage timeline
    models/<model>/v<N>.html        one version: metadata, artifacts, runs, history
    models/<model>/compare.html     versions side by side (?v=1&v=3 picks columns)
    runs/<id>.html                  one pipeline run and its lineage
    assets/                         site.css, site.js

A rebuild renders again only the models whose tree or tags changed (and the runs
whose files changed); what it knows is kept in ``.gitreg-site.json`` in the output,
with each model's row of the index page, so an unchanged model's manifests are not read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .render import ASSETS, TEMPLATES, compiled, render

if TYPE_CHECKING:
    from ..git import Added, GitRepo, RefInfo
    from ..manifests import ArtifactLink, VersionManifest
    from ..registry import Registry
    from ..state import ModelState
    from .actions import Panel

STATE_FILE = ".gitreg-site.json"
SITE_ASSETS = ("site.css", "site.js", "favicon.svg")
PLOT_W, PLOT_H, PAD = 640, 220, 36
DEFAULT_COLUMNS = 4  # metadata columns shown in a versions table until the reader picks others


@dataclass(frozen=True)
class BuildResult:
    out: Path
    commit: str | None
    models: int
    models_rendered: int
    runs_rendered: int
    pages_written: int
    seconds: float

    @property
    def index(self) -> Path:
        return self.out / "index.html"


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    number: int
    text: str
    label: bool = True  # its version is written under the axis (not every one when there are many)


@dataclass(frozen=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class Plot:
    """One numeric metadata key across versions, laid out for an inline SVG: the left margin is as wide as
    the longest tick label, so no label is clipped."""

    key: str
    points: tuple[Point, ...]
    line: str
    low: str
    high: str
    ticks: tuple[Tick, ...] = ()
    left: int = PAD
    width: int = PLOT_W
    height: int = PLOT_H

    @property
    def bottom(self) -> int:
        return self.height - PAD

    @property
    def right(self) -> int:
        return self.width - 16


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round values from at most ``lo`` to at least ``hi``, about ``count`` steps of 1, 2 or 5 times a power
    of ten: the first tick is the last one not above ``lo``, the last the first one not below ``hi``."""
    import math

    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, 12) for i in range(first, max(last, first + 1) + 1)]


def tick_text(value: float, ticks: Sequence[float]) -> str:
    """``value`` with as many decimals as the ticks' step needs (0.9374 stays 0.9374, never .9374)."""
    import math

    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    if abs(value) >= 1e6 or (value != 0 and abs(value) < 1e-4):
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step)) + (0 if len(ticks) > 1 else 3))
    return f"{value:.{min(decimals, 8)}f}"


def make_plot(key: str, versions: Sequence[VersionManifest], flat: Sequence[dict[str, Any]]) -> Plot:
    from ..values import is_number, value_text

    data = [(v.number, f[key]) for v, f in zip(versions, flat) if key in f and is_number(f[key])]
    lo, hi = min(y for _, y in data), max(y for _, y in data)
    values = nice_ticks(lo, hi)
    if hi != lo:  # the axis runs from the first tick to the last
        lo, hi = values[0], values[-1]
    texts = [tick_text(t, values) for t in values] if hi != lo else [value_text(lo)]
    left = max(PAD, 12 + 7 * max(len(t) for t in texts))  # ~7px a character at the labels' 11px
    span = (hi - lo) or 1.0
    n = len(data)
    right, top, bottom = PLOT_W - 16, 16, PLOT_H - PAD
    inner_w, inner_h = right - left - 12, bottom - top
    every = max(1, -(-n // 16))  # at most 16 version labels under the axis

    def y_of(value: float) -> float:
        return round(top + inner_h - (value - lo) / span * inner_h if hi != lo else top + inner_h / 2, 1)

    points = []
    for i, (number, value) in enumerate(data):
        x = left + 6 + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)
        label = i == n - 1 or (i % every == 0 and n - 1 - i >= every)  # the last one's label is never crowded
        points.append(Point(round(x, 1), y_of(value), number, value_text(value), label))
    ticks = tuple(Tick(y_of(t), text) for t, text in zip(values if hi != lo else [lo], texts))
    line = " ".join(f"{p.x},{p.y}" for p in points)
    return Plot(key, tuple(points), line, value_text(lo), value_text(hi), ticks, left)




class _ModelRefs:
    """What :func:`gitreg.history.model_history` needs of a repository, from one listing of all tags
    (and, for a registry without registration tags, one log of the commits that added manifests)."""

    def __init__(self, repo: GitRepo, refs: list[RefInfo], added: Sequence[Added] = ()) -> None:
        self._repo = repo
        self._refs = refs
        self._added = added

    def list_refs(self, pattern: str) -> list[RefInfo]:
        return [r for r in self._refs if r.name.startswith(pattern)]

    def added_by(self, _rev: str, path: str) -> list[Added]:
        inside = path.rstrip("/") + "/"
        found = [replace(a, paths=tuple(p for p in a.paths if p.startswith(inside))) for a in self._added]
        return [entry for entry in found if entry.paths]

    def rev_list(self, *args: str) -> list[str]:
        return self._repo.rev_list(*args)

    @property
    def reader(self) -> Any:  # the commits the tags mark: who made each change
        return self._repo.reader

    def run(self, *args: str, **kwargs: Any) -> Any:  # git's verdict on a signed commit
        return self._repo.run(*args, **kwargs)


def _tags_by_model(repo: GitRepo, prefix: str) -> dict[str, list[RefInfo]]:
    base = f"refs/tags/{prefix}/"
    out: dict[str, list[RefInfo]] = {}
    for ref in repo.list_refs(base):
        out.setdefault(ref.name[len(base):].split("/", 1)[0], []).append(ref)
    return out


def _remember_path(repo: GitRepo, commit: str, path: str) -> None:
    """Have the object reader hold ``commit`` and the trees down to ``path``, each by its id.

    Then ``<commit>:<path>/<name>`` (how a model's folder is looked up) is answered from memory
    once that folder's tree is known, in this process and in the workers forked from it.
    """
    answer = repo.reader.one(commit)
    if answer is None or answer[1] != "commit" or not answer[2].startswith(b"tree "):
        return
    oid = answer[2][5:45].decode("ascii")
    for part in [*path.split("/"), None]:
        tree = repo.reader.one(oid)
        if tree is None or tree[1] != "tree" or part is None:
            return
        entry = next((e for e in repo.reader.parsed(tree[0], tree[2]) if e.name == part and e.is_tree), None)
        if entry is None:
            return
        oid = entry.oid


def _fingerprint() -> str:
    """Changes when gitreg or its templates do: then every page is rendered again."""
    from ..version import __version__

    digest = hashlib.sha256(__version__.encode())
    for folder in (TEMPLATES, ASSETS):
        for path in sorted(folder.iterdir()):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _write(path: Path, data: bytes, size: int | None = -1) -> bool:
    """Write ``data`` unless the file already holds it (so unchanged pages keep their times).

    ``size``: the file's size as a listing of its folder found it, None when the listing found
    no such file (then it is neither read nor its folder made), -1 when nothing is known.
    A file is replaced whole (a reader never sees half a page).
    """
    if size == -1:
        try:
            size = path.stat().st_size
        except OSError:
            size = None
            path.parent.mkdir(parents=True, exist_ok=True)
    if size == len(data):
        try:
            if path.read_bytes() == data:
                return False
        except OSError:
            pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def _listing(folder: Path) -> dict[str, int]:
    """The files in ``folder`` (made if missing) and their sizes, from one listing."""
    folder.mkdir(parents=True, exist_ok=True)
    with os.scandir(folder) as entries:
        return {e.name: e.stat().st_size for e in entries if e.is_file(follow_symlinks=False)}


class _Builder:
    def __init__(self, registry: Registry, out: Path, store_url: str | None, panel: Panel | None = None) -> None:
        self.registry = registry
        self.panel = panel
        self.repo = registry.repo
        self.out = out
        self.snap = registry.snapshot()
        self.config = self.snap.config
        self.store_url = store_url
        self.written = 0
        self.folders: dict[str, dict[str, int]] = {}  # output folder -> {file: size}, listed once
        # without registration tags, registrations are read from the commits that added the version
        # manifests: one log for every model, read before the workers start
        self.added: dict[str, list[Added]] = {}
        if not self.config.registration_tags and self.snap.commit is not None:
            from ..layout import MODELS_PATH

            for added in self.repo.added_by(self.snap.commit, MODELS_PATH):
                by_model: dict[str, list[str]] = {}
                for path in added.paths:
                    by_model.setdefault(path[len(MODELS_PATH) + 1:].split("/", 1)[0], []).append(path)
                for model, files in by_model.items():
                    self.added.setdefault(model, []).append(replace(added, paths=tuple(files)))

    # ------------------------------------------------------------ links

    def download(self, link: ArtifactLink) -> str | None:
        """Where the page can fetch an artifact's bytes, or None when the store is not reachable from it."""
        if link.kind != "file" or link.external and not link.uri.startswith(("http://", "https://")):
            return None
        uri = link.uri
        if uri.startswith(("http://", "https://")):
            return uri
        store = self.config.store.rstrip("/")
        if self.store_url is not None and uri.startswith(store + "/"):
            return self.store_url.rstrip("/") + uri[len(store):]
        if "://" in uri and not uri.startswith("file://"):
            return None  # s3://, gs://, ...: a browser cannot fetch it
        path = uri[len("file://"):] if uri.startswith("file://") else uri
        if not os.path.isabs(path):
            path = os.path.join(str(self.registry.root), path)
        return Path(path).as_uri()

    # ------------------------------------------------------------ pages

    def page(self, rel: str, template: str, **context: Any) -> None:
        folder, _, name = rel.rpartition("/")
        listing = self.folders.get(folder)
        if listing is None:
            listing = self.folders[folder] = _listing(self.out / folder)
        html = render(template, root="../" * rel.count("/"), **context).encode("utf-8")
        if _write(self.out / rel, html, listing.get(name)):
            listing[name] = len(html)
            self.written += 1

    def prune(self, state: ModelState) -> None:
        """Remove the pages of versions ``state`` no longer has (deleted versions)."""
        folder = self.out / "models" / state.name
        listing = self.folders.get(f"models/{state.name}")
        if listing is None:
            listing = self.folders[f"models/{state.name}"] = _listing(folder)
        keep = {f"v{v.number}.html" for v in state.versions} | {"index.html", "compare.html", "artifacts.html"}
        for page in [p for p in listing if p not in keep]:
            (folder / page).unlink()
            del listing[page]

    def model_pages(self, state: ModelState, refs: list[RefInfo], run_ids: set[str]) -> str:
        """Write the pages of one model; returns its row of the index page."""
        from ..compare import compare_versions
        from ..history import model_history
        from ..values import flatten, is_number
        from .artifact_view import artifact_groups, summary_rows

        name = state.name
        # the ignore: _ModelRefs stands in for the GitRepo, with the few methods the history reads use
        events = model_history(_ModelRefs(self.repo, refs, self.added.get(name, [])),  # type: ignore[arg-type]
                               self.config.tag_prefix, name, registration_tags=self.config.registration_tags,
                               commit=self.snap.commit)
        versions = list(state.versions)
        flat = [flatten(v.metadata) for v in versions]
        keys = sorted(set().union(*flat)) if flat else []
        numeric = [k for k in keys if any(k in f and is_number(f[k]) for f in flat)]
        plots = [make_plot(k, versions, flat) for k in numeric]
        shown = (numeric or keys)[:DEFAULT_COLUMNS]
        folder = f"models/{name}"
        self.page(f"{folder}/index.html", "model.html", state=state, versions=versions, flat=flat, keys=keys,
                  shown=shown, plots=plots, events=events, title=name)
        by_version: dict[int, list[Any]] = {}
        for e in events:
            by_version.setdefault(e.version, []).append(e)
            for d in e.demoted:
                by_version.setdefault(d, []).append(e)
        for i, version in enumerate(versions):
            previous = versions[i - 1] if i > 0 else None
            downloads = [self.download(a) for a in version.artifacts]
            self.page(f"{folder}/v{version.number}.html", "version.html", state=state, version=version,
                      flat=flat[i], previous=previous, artifacts=list(zip(version.artifacts, downloads)),
                      events=by_version.get(version.number, []), run_ids=run_ids, panel=self.panel,
                      title=f"{name} v{version.number}")
        comparison = compare_versions(versions) if len(versions) > 1 else None
        self.page(f"{folder}/compare.html", "compare.html", state=state, comparison=comparison,
                  summaries=summary_rows(versions) if comparison else [], plots=plots, title=f"{name}: compare")
        self.page(f"{folder}/artifacts.html", "artifacts.html", state=state, groups=artifact_groups(versions),
                  title=f"{name}: artifacts")
        macros: Any = compiled("macros.html").module  # the template's macros, as attributes jinja2 makes
        return str(macros.model_row(state))

    def run_page(self, run: Any, models: set[str]) -> None:
        from .lineage import run_graph

        graph = run_graph(run.steps, run.models, models, "../")
        self.page(f"runs/{run.id}.html", "run.html", run=run, models=models, graph=graph, title=f"run {run.id}")


PARALLEL_FROM = 200  # models to render before the work is split over the machine's cores
CHUNK = 50  # models one worker reads (trees and manifests in three exchanges with git) and renders at a time

Todo = tuple[str, str, list[Any]]  # a model to render: name, tree id, its tags


@dataclass
class _Rendered:
    """What rendering some models gave the index page and the build state."""

    written: int = 0
    rows: dict[str, str] = field(default_factory=dict)       # index rows by model
    errors: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # model -> (path, field, problem)

    def add(self, other: _Rendered) -> None:
        self.written += other.written
        self.rows.update(other.rows)
        self.errors.update(other.errors)


def _render_chunk(builder: _Builder, chunk: Sequence[Todo], run_ids: set[str]) -> _Rendered:
    """Read, validate and render the models of ``chunk`` (in a worker: each worker reads its own share)."""
    from ..errors import ManifestError
    from ..state.cache import cache_get, prefetch_model_trees

    repo = builder.repo
    unread = [oid for _name, oid, _refs in chunk if cache_get(repo, oid) is None]
    if unread:  # not validated before: their trees and manifests in three exchanges, not three per model
        prefetch_model_trees(repo, unread)
    start = builder.written
    done = _Rendered()
    for name, _oid, refs in chunk:
        try:
            state = builder.snap.model(name)
            if state is not None:
                state.whole()  # a model's pages show every version
        except ManifestError as exc:  # the build fails on the first broken model (by name), as in one process
            done.errors[name] = (exc.path, exc.field, exc.problem)
            continue
        if state is None:
            continue
        builder.prune(state)
        done.rows[name] = builder.model_pages(state, refs, run_ids)
    done.written, builder.written = builder.written - start, start  # the caller adds it (once)
    return done


def _render_models(builder: _Builder, todo: list[Todo], run_ids: set[str]) -> _Rendered:
    """Read and render the models of ``todo``.

    Many models are split over processes: forked (no pickling of the registry), each worker
    starts its own ``git cat-file`` and takes chunks of models as it gets through them, reading,
    validating and rendering each; only the index rows come back.
    """
    import multiprocessing

    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
    workers = min(os.cpu_count() or 1, 8, len(chunks))
    done = _Rendered()
    if len(todo) < PARALLEL_FROM or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for chunk in chunks:
            done.add(_render_chunk(builder, chunk, run_ids))
        return done
    global _FORKED
    _FORKED = (builder, chunks, run_ids)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for part in pool.imap_unordered(_forked_chunk, range(len(chunks))):
                done.add(part)
    finally:
        _FORKED = None
    return done


_FORKED: Any = None


def _forked_chunk(index: int) -> _Rendered:
    builder, chunks, run_ids = _FORKED
    return _render_chunk(builder, chunks[index], run_ids)


def build_site(registry: Registry, out: str | os.PathLike[str], *, full: bool = False,
               store_url: str | None = None, actions: Panel | None = None) -> BuildResult:
    """Render the registry at its branch head into ``out`` (only what changed since the last build there).

    ``store_url``: the address under which the page can reach the artifact store (download links);
    by default links point at a local store's files (reachable from file:// pages) or at http(s) URIs.
    ``actions``: the version pages carry forms that change the registry (for ``gitreg ui``, which
    serves them and carries out what they send; a static site has none).
    """
    from markupsafe import Markup

    from ..errors import ManifestError
    from ..layout import MODELS_PATH
    from ..pipelines.runs import RUNS_PATH, read_run

    started = time.perf_counter()
    out = Path(out).absolute()
    builder = _Builder(registry, out, store_url, actions)
    snap, repo = builder.snap, builder.repo
    repo.complete_clone()  # the site shows every model and run: a blob-less clone gets all its files at once
    fingerprint = _fingerprint() + (store_url or "") + (repr(actions) if actions is not None else "")
    state_path = out / STATE_FILE
    previous: dict[str, Any] = {}
    if not full:
        try:
            previous = json.loads(state_path.read_text())
        except (OSError, ValueError):
            previous = {}
    if previous.get("fingerprint") != fingerprint:
        previous = {}
    old_models: dict[str, str] = previous.get("models", {})
    old_runs: dict[str, str] = previous.get("runs", {})
    old_rows: dict[str, str] = previous.get("rows", {})

    for asset in SITE_ASSETS:
        if _write(out / "assets" / asset, (ASSETS / asset).read_bytes()):
            builder.written += 1

    # runs: one tree listing tells which run files changed
    run_oids: dict[str, str] = {}
    tree = repo.read_tree(f"{snap.commit}:{RUNS_PATH}") if snap.commit else None
    for entry in tree[1] if tree else ():
        if not entry.is_tree and entry.name.endswith(".yaml"):
            run_oids[entry.name[:-5]] = entry.oid
    run_ids = set(run_oids)

    names = snap.model_names() if snap.commit else []
    tags = _tags_by_model(repo, builder.config.tag_prefix) if names else {}
    listing = repo.read_tree(f"{snap.commit}:{MODELS_PATH}") if names else None
    trees = {e.name: e.oid for e in listing[1]} if listing else {}  # one exchange for every model's tree
    keys: dict[str, str] = {}
    rows: dict[str, str] = {}  # each model's row of the index page, kept from the last build while unchanged
    todo: list[Todo] = []
    for name in names:
        refs = tags.get(name, [])
        digest = hashlib.sha256(json.dumps([trees[name], sorted((r.name, r.oid) for r in refs)]).encode()).hexdigest()
        keys[name] = digest
        if old_models.get(name) == digest and name in old_rows and (out / "models" / name / "index.html").exists():
            rows[name] = old_rows[name]
            continue  # unchanged: its manifests are not even read
        todo.append((name, trees[name], refs))  # read, validated and rendered where its pages are written
    if todo and snap.commit:  # (there are models to read only in a commit)
        _remember_path(repo, snap.commit, MODELS_PATH)
    done = _render_models(builder, todo, run_ids)
    broken = [name for name in names if name in done.errors]
    if broken:
        raise ManifestError(*done.errors[broken[0]])
    builder.written += done.written
    rows.update(done.rows)
    for name, _oid, _refs in todo:
        if name not in done.rows:  # no model after all (cannot happen for a listed tree): forget it
            del keys[name]
    rendered = len(done.rows)
    for gone in set(old_models) - set(keys):
        shutil.rmtree(out / "models" / gone, ignore_errors=True)

    model_names = set(keys)
    runs_rendered = 0
    for run_id, oid in sorted(run_oids.items()):
        if old_runs.get(run_id) == oid and (out / "runs" / f"{run_id}.html").exists():
            continue
        run = read_run(repo, snap.commit, run_id)
        if run is not None:
            builder.run_page(run, model_names)
            runs_rendered += 1
    for gone in set(old_runs) - set(run_oids):
        try:
            (out / "runs" / f"{gone}.html").unlink()
        except OSError:
            pass

    builder.page("index.html", "index.html", rows=[Markup(rows[name]) for name in names if name in rows],
                 title="models")
    _write(state_path, json.dumps({"fingerprint": fingerprint, "commit": snap.commit, "models": keys,
                                   "runs": run_oids, "rows": rows}, indent=1, sort_keys=True).encode())
    return BuildResult(out, snap.commit, len(keys), rendered, runs_rendered, builder.written,
                       time.perf_counter() - started)

