"""gitreg ships its type hints (py.typed): code that uses its public API type-checks under mypy --strict."""

import importlib
import textwrap

import pytest

PACKAGES = ("gitreg", "gitreg.pipelines")


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_every_lazy_export(package):
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._EXPORTS)
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_public_names_import_under_strict_mypy(tmp_path):
    """Every name of ``__all__`` is re-exported as far as a type checker knows: ``from gitreg import Client``
    in a strictly checked program is not an error (the names are imported lazily, so a computed ``__all__``
    would leave them private to mypy)."""
    api = pytest.importorskip("mypy.api")
    lines = []
    for package in PACKAGES:
        names = importlib.import_module(package).__all__
        lines.append(f"from {package} import {', '.join(names)}")
        lines.append(f"print({', '.join(names)})")
    lines.append("client: Client = Client('.')")
    program = tmp_path / "uses_gitreg.py"
    program.write_text("\n".join(lines) + "\n")
    out, err, status = api.run(["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(program)])
    assert status == 0, textwrap.indent(out + err, "  ")
