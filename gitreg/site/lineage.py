"""A pipeline run's lineage laid out as a graph for an inline SVG: steps, the artifacts they read and
wrote, and the model versions those artifacts are linked to, in columns from left to right.

Columns follow the data: a step stands right of every step whose output it reads, its outputs right of
it, an artifact it reads from outside the run just left of it, and the model versions last. The layout
is computed here (no script, no network) and the template only draws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NODE_W, NODE_H = 156, 42
COL_GAP, ROW_GAP, MARGIN = 40, 16, 12
DIP = 34  # how far below the nodes an edge that skips columns runs (so it is not hidden behind them)
MAX_LABEL = 21  # characters of a node's label before it is shortened (the whole name is its tooltip)


@dataclass(frozen=True)
class Node:
    key: str
    kind: str          # "step", "artifact" or "version"
    label: str         # what is written in the box (shortened)
    title: str         # the whole text, as a tooltip
    sub: str           # a second, smaller line
    href: str | None   # where a click goes (a model version's page)
    status: str        # a step's status, an artifact's type, a version's "created" / "used"
    x: float
    y: float
    width: int = NODE_W
    height: int = NODE_H


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str          # an SVG path from the source's right edge to the target's left edge
    kind: str          # "reads", "writes" or "links"


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int

    def node(self, key: str) -> Node:
        return next(n for n in self.nodes if n.key == key)


def _get(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "\u2026"


def run_graph(steps: Iterable[Any], models: Iterable[tuple[str, int, bool]], known: set[str], root: str) -> Graph:
    """The graph of a run whose step records are ``steps`` and whose model versions are ``models``
    ((model, number, created by the run)); ``known``: the models the site has pages for."""
    columns: dict[str, int] = {}
    info: dict[str, tuple[str, str, str, str, str | None, str]] = {}  # key -> kind, label, title, sub, href, status
    order: list[str] = []
    edges: list[tuple[str, str, str]] = []
    produced: dict[tuple[str | None, str, str], str] = {}  # (step, name, sha256) of an output -> its node
    level_of: dict[str, int] = {}

    def add(key: str, column: int, kind: str, label: str, title: str, sub: str, href: str | None,
            status: str) -> None:
        if key not in info:
            order.append(key)
            info[key] = (kind, _short(label), title, sub, href, status)
            columns[key] = column
        elif key.startswith("artifact:in:"):  # read from outside by several steps: left of the first of them
            columns[key] = min(columns[key], column)

    def version_node(model: str, number: int, created: bool | None) -> str:
        key = f"version:{model}/{number}"
        href = f"{root}models/{model}/v{number}.html" if model in known else None
        status = "" if created is None else ("registered by this run" if created else "used")
        add(key, 0, "version", f"{model} v{number}", f"{model} v{number}", status, href,
            "created" if created else "used")
        return key

    artifact_links: list[tuple[str, str, int]] = []
    for index, step in enumerate(steps):
        name = str(_get(step, "name"))
        inputs = _get(step, "inputs") or {}
        sources: list[tuple[str, Any]] = []
        level = 0
        for arg, ref in inputs.items():
            origin = produced.get((_get(ref, "step"), str(_get(ref, "name")), str(_get(ref, "sha256"))))
            if origin is not None:
                level = max(level, level_of[origin] + 1)
            sources.append((str(arg), ref))
        step_key = f"step:{index}"
        level_of[step_key] = level
        add(step_key, 2 * level + 1, "step", name, name, str(_get(step, "status") or ""), None,
            str(_get(step, "status") or ""))
        for arg, ref in sources:
            producer = _get(ref, "step")
            key = produced.get((producer, str(_get(ref, "name")), str(_get(ref, "sha256"))))
            if key is None:  # read from outside this run
                sha = str(_get(ref, "sha256"))
                key = f"artifact:in:{_get(ref, 'name')}:{sha}"
                elsewhere = _get(ref, "run")
                add(key, 2 * level, "artifact", str(_get(ref, "name")), f"{_get(ref, 'name')} sha256 {sha}",
                    f"{_get(ref, 'type') or ''} · from run {elsewhere}" if elsewhere else
                    f"{_get(ref, 'type') or ''} · {sha[:12]}", None, str(_get(ref, "type") or "data"))
                if _get(ref, "model") and _get(ref, "model_version"):
                    artifact_links.append((key, str(_get(ref, "model")), int(_get(ref, "model_version"))))
            edges.append((key, step_key, f"reads:{arg}"))
        for ref in _get(step, "outputs") or []:
            sha = str(_get(ref, "sha256"))
            key = f"artifact:{index}:{_get(ref, 'name')}:{sha}"
            produced[(name, str(_get(ref, "name")), sha)] = key
            level_of[key] = level
            version = _get(ref, "version")
            add(key, 2 * level + 2, "artifact", str(_get(ref, "name")), f"{_get(ref, 'name')} sha256 {sha}",
                f"{_get(ref, 'type') or ''}{f' v{version}' if version else ''} · {sha[:12]}", None,
                str(_get(ref, "type") or "data"))
            edges.append((step_key, key, "writes"))
            if _get(ref, "model") and _get(ref, "model_version"):
                artifact_links.append((key, str(_get(ref, "model")), int(_get(ref, "model_version"))))
    created = {(m, n): c for m, n, c in models}
    for key, model, number in artifact_links:
        edges.append((key, version_node(model, number, created.get((model, number))), "links"))
    for model, number, was_created in models:
        version_node(model, number, was_created)
    last = max((columns[k] for k in order if info[k][0] != "version"), default=-1) + 1
    for key in order:
        if info[key][0] == "version":
            columns[key] = last
    # rows: each column stacks its nodes in the order they were met
    used = sorted(set(columns.values()))
    place = {c: i for i, c in enumerate(used)}  # columns no node uses take no room
    rows: dict[int, int] = {}
    nodes: list[Node] = []
    for key in order:
        column = place[columns[key]]
        row = rows.get(column, 0)
        rows[column] = row + 1
        kind, label, title, sub, href, status = info[key]
        nodes.append(Node(key, kind, label, title, sub, href, status, MARGIN + column * (NODE_W + COL_GAP),
                          MARGIN + row * (NODE_H + ROW_GAP)))
    by_key = {n.key: n for n in nodes}
    height = MARGIN * 2 + max(rows.values(), default=1) * (NODE_H + ROW_GAP) - ROW_GAP
    drawn = []
    dips = False
    for source, target, kind in edges:
        a, b = by_key[source], by_key[target]
        if place[columns[target]] - place[columns[source]] > 1:  # skips columns: under the nodes between
            x1, y1, x2, y2 = a.x + a.width * 0.7, a.y + a.height, b.x + b.width * 0.3, b.y + b.height
            low = max(y1, y2) + DIP
            path = f"M{x1:g},{y1:g} C{x1:g},{low:g} {x2:g},{low:g} {x2:g},{y2:g}"
            dips = dips or y2 + DIP > height - MARGIN
        else:
            x1, y1 = a.x + a.width, a.y + a.height / 2
            x2, y2 = b.x, b.y + b.height / 2
            bend = max(16.0, (x2 - x1) / 2)
            path = f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}"
        drawn.append(Edge(source, target, path, kind.split(":", 1)[0]))
    width = MARGIN * 2 + max(1, len(used)) * (NODE_W + COL_GAP) - COL_GAP
    if dips:
        height += DIP
    return Graph(tuple(nodes), tuple(drawn), width, height)
