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
    """Every import a module makes at run time (those under ``if TYPE_CHECKING:`` are for type checkers only)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, list[str]]] = []

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" not in ast.unparse(node.test):
            self.generic_visit(node)
        else:
            for child in node.orelse:
                self.visit(child)

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
