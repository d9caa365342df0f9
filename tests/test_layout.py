"""The code's layout rules, checked on the source: one owner per concern, no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gitreg"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


class _Imports(ast.NodeVisitor):
    """Every import a module makes: at the top, inside functions (lazy), and under ``if TYPE_CHECKING:`` (an
    import for type checkers is still a dependency: a circle through one is still a circle)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, list[str]]] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, []) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        self.found.append((target, [alias.name for alias in node.names]))


def _imports() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        targets: set[str] = set()
        for target, names in visitor.found:
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            targets.update(subs or [target])
        graph[name] = targets
    return graph


def _third_party_users(top: str) -> set[str]:
    return {m for m, targets in _imports().items() if any(t == top or t.startswith(top + ".") for t in targets)}


# The layers, lowest first: a module imports modules of its own layer or of lower ones only (the longest
# prefix names a module's layer).  Within a layer, test_no_import_circles keeps the imports one way.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("gitreg.errors", "gitreg.version", "gitreg.fastpaths", "gitreg.units", "gitreg.values",
              "gitreg.progress", "gitreg.stamps", "gitreg.attributes", "gitreg.filters", "gitreg.store_options")),
    ("git", ("gitreg.git",)),
    ("format", ("gitreg.names", "gitreg.stages", "gitreg.layout", "gitreg.tagnames", "gitreg.manifests",
                "gitreg.materializers")),
    ("store", ("gitreg.store",)),
    ("reads", ("gitreg.state", "gitreg.journal", "gitreg.remote")),
    ("views", ("gitreg.site.render", "gitreg.site.artifact_view", "gitreg.notebook")),
    ("core", ("gitreg.registry", "gitreg.operations", "gitreg.transitions", "gitreg.migrate", "gitreg.check",
              "gitreg.provenance", "gitreg.compare", "gitreg.history", "gitreg.artifacts", "gitreg.gc",
              "gitreg.tagsync", "gitreg.review", "gitreg.pipelines.steps", "gitreg.pipelines.liveness",
              "gitreg.pipelines.runs")),
    ("api", ("gitreg.client", "gitreg.views", "gitreg.model", "gitreg.pipelines",
             "gitreg.artifact_api", "gitreg.site", "gitreg.integrations", "gitreg.review_comment",
             "gitreg.importers")),
    ("cli", ("gitreg.cli", "gitreg.__main__")),
    ("package", ("gitreg",)),
]


def _layer(module: str) -> int:
    best, found = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found >= 0, f"{module} is in no layer: add it to LAYERS in tests/test_layout.py"
    return found


def test_imports_point_down_the_layers():
    modules = _modules()
    upward = []
    for module, targets in _imports().items():
        for target in targets:
            if target in modules and _layer(target) > _layer(module):
                upward.append(f"{module} ({LAYERS[_layer(module)][0]}) imports {target}"
                              f" ({LAYERS[_layer(target)][0]})")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_circles():
    graph = {m: {t for t in ts if t in _modules() and t != m} for m, ts in _imports().items()}
    circles = []
    for start in graph:  # a path back to ``start``
        seen, stack = set(), [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    circles.append(" -> ".join(path + [start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    assert not circles, "import circles:\n" + "\n".join(sorted(circles))


def test_one_owner_per_concern():
    assert _third_party_users("fsspec") <= {"gitreg.store.artifact_store", "gitreg.store.backends"}
    manifests = {m for m in _modules() if m == "gitreg.manifests" or m.startswith("gitreg.manifests.")}
    assert len(manifests) > 1  # the package and its modules
    assert _third_party_users("yaml") <= manifests
    assert _third_party_users("jsonschema") <= manifests
    runs_git = {m for m, p in _modules().items() if '"git"' in p.read_text(encoding="utf-8")}
    assert runs_git <= {"gitreg.git.process", "gitreg.git.repo", "gitreg.git.reader", "gitreg.git.refs"}, runs_git


def test_cli_modules_hold_no_git_yaml_or_store_code():
    for module, targets in _imports().items():
        if module == "gitreg.cli" or module.startswith("gitreg.cli."):
            bad = {t for t in targets if t.split(".")[0] in {"git", "yaml", "fsspec", "subprocess"}
                   or t in ("gitreg.git", "gitreg.store") or t.startswith(("gitreg.git.", "gitreg.store."))}
            assert not bad, f"{module} imports {sorted(bad)}"
