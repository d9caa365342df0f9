"""The command line on typer's public API only: no private name of typer or click in gitreg/cli/, typer within
the versions pyproject.toml pins, every command of the app gitreg's own class, and the plain conversion of
values (gitreg.cli.usage.PlainConversion) beside typer's own: the one used, and agreeing with it."""

from __future__ import annotations

import ast
import importlib.metadata
import math
import subprocess
import sys
import tomllib
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

import gitreg.cli
from gitreg.cli import usage
from gitreg.cli.app import app, main

CLI = Path(gitreg.cli.__file__).parent
ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("typer", "click")
# click's exception classes: spelt as strings, they recognise an exception by its class's name
CLICK_CLASS_NAMES = {"ClickException", "UsageError", "BadParameter", "MissingParameter", "NoSuchOption",
                     "BadOptionUsage", "BadArgumentUsage", "NoArgsIsHelpError", "FileError", "Abort", "Exit"}
HIERARCHY = {"__mro__", "__bases__", "__base__", "__subclasses__"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str) -> list[str]:
    """What in ``source`` reaches past typer's and click's public API (line: what)."""
    tree = ast.parse(source)
    found: list[str] = []
    framework_names: set[str] = set()  # names bound to typer or click, or to something imported from them

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in FRAMEWORKS:
                    framework_names.add(alias.asname or parts[0])
                    if any(_private(p) for p in parts):
                        say(node, f"imports the private module {alias.name}")
                    if parts[0] == "click":
                        say(node, "imports click: typer raises its own (vendored) click classes, never click's")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] in FRAMEWORKS:
                framework_names.update(a.asname or a.name for a in node.names)
                if any(_private(p) for p in parts) or any(_private(a.name) for a in node.names):
                    say(node, f"imports a private name of {node.module}")
                if parts[0] == "click":
                    say(node, "imports click: typer raises its own (vendored) click classes, never click's")
    framework_classes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
                isinstance(n, ast.Name) and n.id in framework_names for b in node.bases for n in ast.walk(b)):
            framework_classes.add(node)
    inherited = {id(n) for c in framework_classes for n in ast.walk(c)}  # self._x there is typer's or click's

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if _private(node.attr) and (owner not in ("self", "cls") or id(node) in inherited):
                say(node, f"private attribute {ast.unparse(node)}")
            if node.attr in HIERARCHY:
                say(node, f"walks a class hierarchy: {ast.unparse(node)}")
            if node.attr == "__class__" and isinstance(node.ctx, ast.Store):
                say(node, f"assigns {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2:
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and (
                    _private(name.value) or name.value in HIERARCHY | {"__class__"}):
                say(node, f"{node.func.id} of {name.value!r}")
        elif isinstance(node, ast.Constant) and node.value in CLICK_CLASS_NAMES:
            say(node, f"a click class by its name: {node.value!r}")
    return found


def test_the_cli_uses_no_private_name_of_typer_or_click() -> None:
    files = sorted(CLI.glob("*.py"))
    assert len(files) > 5
    found = {f.name: private_uses(f.read_text()) for f in files}
    assert {name: uses for name, uses in found.items() if uses} == {}


@pytest.mark.parametrize("snippet", [
    "from typer._coercion import RuntimeParam",
    "import typer._click.exceptions",
    "from typer import _click",
    "from typer.core import _TyperParameter",
    "import click",
    "from click.exceptions import UsageError",
    "param._runtime_param = plain",
    "if getattr(param, '_runtime_param', False) is not None: pass",
    "setattr(param, '_runtime_param', plain)",
    "command.__class__ = Conventional",
    "setattr(command, '__class__', Conventional)",
    "names = {c.__name__ for c in type(exc).__mro__}",
    "if 'NoArgsIsHelpError' in names: pass",
    "is_usage = any(c.__name__ == 'UsageError' for c in classes)",
    "from typer.core import TyperCommand\nclass C(TyperCommand):\n    def f(self):\n        return self._help_option",
    "import typer\nclass C(typer.core.TyperGroup):\n    def f(self):\n        return self._result_callback",
])
def test_the_scan_finds_what_the_cli_used_to_do(snippet: str) -> None:
    assert private_uses(snippet)


def test_the_scan_leaves_public_use_alone() -> None:
    source = ("import typer\nfrom typer.core import TyperCommand\n"
              "class C(TyperCommand):\n    def parse_args(self, ctx, args):\n"
              "        return super().parse_args(ctx, args)\n"
              "class Mine:\n    def f(self):\n        return self._cache\n"
              "def g(exc, param):\n    getattr(param, '__args__', None)\n"
              "    return isinstance(exc, typer.TyperException) and exc.exit_code == 2\n")
    assert private_uses(source) == []


def test_typer_is_pinned_and_the_installed_one_within_the_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = {r.name: r for r in map(Requirement, project["dependencies"])}
    pin = requirements["typer"].specifier
    assert any(s.operator == ">=" for s in pin) and any(s.operator == "<" for s in pin), pin
    assert pin.contains(importlib.metadata.version("typer")), (pin, importlib.metadata.version("typer"))
    assert "click" not in requirements  # typer brings its own click; gitreg uses none of it directly


def _tree(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _tree(sub, (*path, name))
    return found


def test_every_command_and_group_is_gitregs_own_class() -> None:
    commands = _tree(typer.main.get_command(app))
    assert len(commands) > 40
    wrong = [" ".join(path) for path, cmd in commands
             if not isinstance(cmd, usage.Group if hasattr(cmd, "commands") else usage.Command)]
    assert wrong == []


def test_a_group_without_arguments_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in ([], ["model"], ["model", "version"]):
        assert main(list(args)) == 0
        out, err = capsys.readouterr()
        assert out.startswith(f"Usage: {' '.join(['gitreg', *args])} [OPTIONS] COMMAND [ARGS]...") and err == ""
        assert main([*args, "--help"]) == 0 and capsys.readouterr().out == out


def test_a_bound_is_no_range_for_nan(capsys: pytest.CaptureFixture[str]) -> None:
    # `artifact gc --grace-hours nan` would keep nothing young: NaN compares false with every upload's age
    assert main(["artifact", "gc", "--grace-hours", "nan"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid value for '--grace-hours': nan is not in the range x>=0.0\n"), err


# ---------------------------------------------------------------- the plain conversion beside typer's own

def _parameters() -> list[tuple[str, Any, Any]]:
    """One parameter of each kind in the app (type, list or not, bounds, case), with its command."""
    kinds: dict[tuple[Any, ...], tuple[str, Any, Any]] = {}
    for path, command in _tree(typer.main.get_command(app)):
        for param in command.params:
            desc = param.type_descriptor
            info = desc.parameter_info
            kind = (desc.annotation, info.min, info.max, info.case_sensitive)
            kinds.setdefault(kind, (" ".join(path) + " " + param.name, command, param))
    return sorted(kinds.values(), key=lambda k: k[0])


def test_every_parameter_of_the_app_has_the_plain_conversion() -> None:
    missing = [f"{' '.join(path)} {p.name}" for path, command in _tree(typer.main.get_command(app))
               for p in command.params if usage.plain_conversion(p) is None]
    assert missing == []


def _words(param: Any) -> st.SearchStrategy[str]:
    """Text a user could type for ``param``: its choices in any case, numbers written in many ways, anything
    (but NUL, which no command line or environment variable can carry)."""
    leaf = usage.plain_conversion(param).leaf
    choices = [str(c.value) for c in leaf] if issubclass(leaf, Enum) else []
    return st.one_of(
        st.text(st.characters(blacklist_characters="\x00"), max_size=12),
        st.sampled_from(choices or ["x"]).flatmap(lambda c: st.sampled_from([c, c.upper(), c.title()])),
        st.integers(-10**20, 10**20).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["", " ", " 3 ", "+5", "-0", "007", "1_000", "1__0", "1.0", "1.5", "1e3", "0x10", "nan",
                         "inf", "-Infinity", "true", "Yes", "off", "T", "2", "١٢", "½", "²"]),
    )


def _outcome(convert: Any) -> tuple[str, Any]:
    try:
        return "value", convert()
    except typer.TyperException as exc:  # refused as a usage error (the words may differ)
        assert exc.exit_code == 2, exc
        return "refused", None


def _differs_on_purpose(leaf: type, text: str) -> bool:
    """Where the plain conversion keeps click's reading (how this command line always read values) and typer's
    pydantic reads otherwise: a number is what Python's int() or float() reads, Unicode digits and all
    whitespace around it included (pydantic: ASCII digits, fewer spaces); an integer written with a fraction
    part (``1.0``, ``1e3``) is no integer (pydantic: it is when the fraction is 0); a file name that is not
    UTF-8 (Python hands its bytes over as surrogates) is a path all the same (pydantic refuses it); a blank
    flag value is no boolean (pydantic: False; a flag takes no value on the command line)."""
    if leaf in (int, float) and not (text.isascii() and text.isprintable()):
        return True
    if leaf is int and any(c in text for c in ".eE"):
        return True
    if leaf is Path and any("\ud800" <= c <= "\udfff" for c in text):
        return True
    return leaf is bool and not text.strip()


@pytest.mark.parametrize("where, command, param", _parameters(), ids=lambda v: v if isinstance(v, str) else "")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_plain_conversion_agrees_with_typers_own(where: str, command: Any, param: Any, data: Any) -> None:
    plain = usage.plain_conversion(param)
    assert plain is not None, where
    theirs = type(param).get_runtime_param(param)  # typer's own (the class's method, whatever the instance has)
    multiple = param.multiple or param.nargs == -1
    words = data.draw(st.lists(_words(param), max_size=3) if multiple else _words(param))
    ctx = typer.Context(command)
    mine = _outcome(lambda: plain.coerce(words, param, ctx))
    typers = _outcome(lambda: theirs.coerce(words, param=param, ctx=ctx))
    if any(_differs_on_purpose(plain.leaf, w) for w in (words if multiple else [words])):
        return
    assert mine[0] == typers[0], (where, words, mine, typers)
    if mine[0] == "value":
        values = list(mine[1]) if multiple else [mine[1]]
        expected = list(typers[1]) if multiple else [typers[1]]
        same = [type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))
                for a, b in zip(values, expected, strict=True)]
        assert all(same), (where, words, mine, typers)


def test_commands_convert_with_the_plain_conversion_only(repo: Path) -> None:
    """Calls with options of every kind (counted, flag, bounded number, choice in another case, repeated text,
    a float, a bad value) import no pydantic: the plain conversion is the one typer used."""
    calls = [["-v", "model", "register", "iris", "--tag", "a", "--tag", "b"],
             ["-q", "model", "list", "--limit", "2", "--sort", "NAME", "-o", "json", "--tag", "a"],
             ["artifact", "gc", "--grace-hours", "0.5"],
             ["model", "list", "--limit", "ten"],
             ["--help"], ["model"]]
    script = ("import sys\nfrom gitreg.cli.app import main\ncodes = [main(a) for a in %r]\n"
              "pydantic = sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic')\n"
              "open(sys.argv[1], 'w').write(repr((codes, pydantic)))")
    result = repo.parent / "result.txt"
    res = subprocess.run([sys.executable, "-c", script % (calls,), str(result)], cwd=repo, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
    codes, pydantic = ast.literal_eval(result.read_text())
    assert codes == [0, 0, 0, 2, 0, 0] and pydantic == [], (codes, pydantic, res.stderr)
