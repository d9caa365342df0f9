"""Help pages, usage errors and value conversion in the command line's own conventions, on typer's public API.

Help shows what a value may be, not its Python type: ``--stage [none|staging|production|archived]``,
``--tag TAG``, flags without a value; usage lines read ``NAME [VERSION]``. A usage error is one line,
``error: ...``, like gitreg's own errors (``gitreg.cli.app.main`` adds where help is).

Everything here uses typer's public names only: no ``typer._*`` module or attribute, and no ``click``
(typer vendors click as the private ``typer._click`` since 0.26, and raises its own copies of click's
classes). Documented by typer: :class:`Command` and :class:`Group` subclass ``typer.core.TyperCommand``
and ``TyperGroup`` and are given as ``cls=``, overriding the methods every click-style command has
(``collect_usage_pieces``, ``format_options``, ``parse_args``, ``get_help_option``); errors are recognised
as ``typer.TyperException`` (the base of the click errors typer raises) by their ``exit_code``.
Public but undocumented, for want of a documented way: :func:`conventional` sets ``cls`` on the commands
an app has registered (what ``cls=`` on each ``@app.command()`` records), and :class:`PlainConversion` takes
the place of a parameter's ``get_runtime_param`` to convert values without pydantic. pyproject.toml pins
typer to the versions this is tested with; tests/test_cli_public_api.py checks all of it.
"""

from __future__ import annotations

import difflib
import math
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "PosixPath": "PATH",
               "WindowsPath": "PATH"}


class Command(TyperCommand):
    """A command of the app: conventional usage line and help, plain value conversion."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return usage_pieces(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_parameters(self, ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        prepare(self, ctx, args)
        return super().parse_args(ctx, args)

    def get_help_option(self, ctx: Any) -> TyperOption | None:
        option = super().get_help_option(ctx)
        use_plain_conversion(option)
        return option


class Group(TyperGroup):
    """A group of the app (``gitreg``, ``gitreg model``, ...): as :class:`Command`, and its commands listed."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return usage_pieces(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        prepare(self, ctx, args)
        return super().parse_args(ctx, args)

    def get_help_option(self, ctx: Any) -> TyperOption | None:
        option = super().get_help_option(ctx)
        use_plain_conversion(option)
        return option


def conventional(app: typer.Typer) -> typer.Typer:
    """Make every command and group registered on ``app`` (and on the apps added to it) a :class:`Command` or
    :class:`Group`, as ``cls=`` on each ``@app.command()`` and ``add_typer`` would have: where none was given
    (typer records its own class then); a class of another's choosing stays."""
    for command in app.registered_commands:
        if command.cls is None or command.cls is TyperCommand or not isinstance(command.cls, type):
            command.cls = Command
    for group in app.registered_groups:
        if group.cls is None or group.cls is TyperGroup or not isinstance(group.cls, type):
            group.cls = Group
        if group.typer_instance is not None:
            conventional(group.typer_instance)
    return app


def prepare(command: TyperCommand | TyperGroup, ctx: Any, args: list[str]) -> None:
    """Before ``command`` parses ``args``: its help page for no arguments where it asks for that (shown as
    ``--help`` shows it, exit 0), and the plain conversion for its parameters (only the commands a call
    goes through get there, not the whole tree)."""
    if not args and command.no_args_is_help and not ctx.resilient_parsing:
        typer.echo(ctx.get_help())
        ctx.exit(0)
    for param in command.params:
        use_plain_conversion(param)


def usage_pieces(command: TyperCommand | TyperGroup, ctx: Any) -> list[str]:
    """The usage line after the command's name: ``[OPTIONS] NAME [VERSION]``, ``[OPTIONS] COMMAND [ARGS]...``."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            pieces.append(usage_piece(param))
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    if isinstance(command, TyperGroup) and command.subcommand_metavar:
        pieces.append(command.subcommand_metavar)
    return pieces


def format_parameters(command: TyperCommand | TyperGroup, ctx: Any, formatter: Any) -> None:
    """The Arguments and Options sections of a help page, options with :func:`value_word` for their value."""
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        name, text = record
        if param.param_type_name == "argument":
            arguments.append((param.metavar or str(param.name).upper(), text))
        elif param.param_type_name == "option":
            if hasattr(param, "display_type_rich"):  # typer's own value word (`<str>`, `<list[str]>`) out
                spellings = sorted([*param.opts, *param.secondary_opts], key=lambda o: len(o) - len(o.lstrip("-")))
                name = f"{', '.join(spellings)} {value_word(param)}".rstrip()
            options.append((name, text))
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)


def _choices(param: Any) -> list[str] | None:
    desc = getattr(param, "type_descriptor", None)
    values = getattr(desc, "choices", None) if desc is not None and getattr(desc, "is_choice", False) else None
    if values is None:
        values = getattr(getattr(param, "type", None), "choices", None)
    if not values:
        return None
    return [str(getattr(v, "value", v)) for v in values]


def value_word(param: Any) -> str:
    """What an option's value looks like in help: its metavar, its choices, or a word for its type."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.metavar:
        return str(param.metavar)
    choices = _choices(param)
    if choices:
        return "[" + "|".join(choices) + "]"
    desc = getattr(param, "type_descriptor", None)
    annotation = getattr(desc, "annotation", None)
    args = getattr(annotation, "__args__", None)
    if getattr(desc, "is_list", False) and args:
        annotation = args[0]
    name = str(getattr(annotation, "__name__", None) or getattr(getattr(param, "type", None), "name", "text"))
    return _TYPE_WORDS.get(name, name.upper())


def usage_piece(param: Any) -> str:
    """An argument on the usage line: ``NAME``, ``[VERSION]``, ``ITEMS...``; a metavar with brackets stays as given."""
    name = str(param.metavar or param.name.upper())
    if "[" not in name and " " not in name:
        name = name if param.required else f"[{name}]"
        if param.nargs != 1 and not name.endswith("..."):
            name += "..."
    return name


def is_usage_error(exc: typer.TyperException) -> bool:
    """A usage error (a bad value, a missing argument, an unknown command or option): click's exit code 2."""
    return exc.exit_code == 2


def usage_message(exc: typer.TyperException) -> str:
    """A usage error as one line: click's words without pydantic's 'Value error, ', and a guess for a typo."""
    message = " ".join(exc.format_message().replace("Value error, ", "").split())
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if (message.startswith("no such command") and "did you mean" not in message.lower() and ctx is not None
            and isinstance(ctx.command, TyperGroup)):
        wanted = message.split("'")[1] if message.count("'") >= 2 else ""
        group = ctx.command
        names = [n for n in group.list_commands(ctx) if not getattr(group.get_command(ctx, n), "hidden", False)]
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)
        if close:
            message = message.rstrip(".") + "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return message if message.endswith("?") else message.rstrip(".")


# ---------------------------------------------------------------- plain conversion

class PlainConversion:
    """Converts text, numbers, flags, plain paths and choices (and lists of them) without pydantic.

    typer (0.26 on) converts every value through a pydantic TypeAdapter built on first use, and importing
    pydantic alone costs more than a whole registry read. A parameter whose annotation is ``str``, ``int``,
    ``float``, ``bool``, a plain ``Path`` or an Enum (or a list of one) gets this conversion instead: the
    same values, and click's words for what is wrong (``'ten' is not a valid integer``). Anything else
    (files, paths that must exist, custom parsers, clamped ranges) is left to typer.

    typer has no documented hook for a parameter's conversion: an instance is put in place of the parameter's
    ``get_runtime_param`` method (a public name of ``typer.core.TyperOption`` and ``TyperArgument``), whose
    result typer calls as ``.coerce(value, param=..., ctx=...)``; tests/test_cli_public_api.py checks that this
    conversion is the one used and that it agrees with typer's own.
    """

    def __init__(self, leaf: type, info: Any) -> None:
        self.leaf = leaf
        self.info = info

    def __call__(self) -> PlainConversion:  # as the parameter's get_runtime_param()
        return self

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = bool(param.multiple) or param.nargs == -1
        if value is None:
            return () if multiple else None
        if multiple and isinstance(value, str):
            raise typer.BadParameter("Value must be an iterable.", ctx=ctx, param=param)
        if isinstance(value, (list, tuple)):
            return [self.convert(v, param, ctx) for v in value]
        return self.convert(value, param, ctx)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        leaf, info = self.leaf, self.info
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if leaf is str:
            return str(value)
        if leaf is Path:
            return value if isinstance(value, Path) else Path(value)
        if leaf is bool:
            return _boolean(value, param, ctx)
        if issubclass(leaf, Enum):
            return _choice(leaf, info, value, param, ctx)
        return _number(leaf, info, value, param, ctx)


def plain_conversion(param: Any) -> PlainConversion | None:
    """The :class:`PlainConversion` for ``param``, or None where typer's own conversion is wanted."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return None
    info = desc.parameter_info
    leaf = desc.annotation
    if desc.is_list:
        args = getattr(leaf, "__args__", None)
        leaf = args[0] if args else None
    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False) or desc.file_annotation is not None:
        return None
    plain_path = leaf is Path and not any(getattr(info, k, None) for k in ("exists", "resolve_path", "path_type"))
    if not (leaf in (str, int, float, bool) or plain_path or (isinstance(leaf, type) and issubclass(leaf, Enum))):
        return None
    assert isinstance(leaf, type)
    return PlainConversion(leaf, info)


def use_plain_conversion(param: Any) -> None:
    """Give ``param`` its :class:`PlainConversion` (once), where it has one and typer converts through
    ``get_runtime_param``; otherwise typer's own conversion stays."""
    if param is None or isinstance(getattr(param, "get_runtime_param", None), PlainConversion):
        return
    if not callable(getattr(param, "get_runtime_param", None)):
        return  # a typer that converts otherwise: its own way
    conversion = plain_conversion(param)
    if conversion is not None:
        param.get_runtime_param = conversion


def _boolean(value: Any, param: Any, ctx: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text in ("0", "false", "f", "no", "n", "off"):
        return False
    raise typer.BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)


def _choice(leaf: type[Enum], info: Any, value: Any, param: Any, ctx: Any) -> Enum:
    if isinstance(value, leaf):
        return value
    text = str(value)
    for choice in leaf:
        wanted = str(choice.value)
        if wanted == text or (not getattr(info, "case_sensitive", True) and wanted.casefold() == text.casefold()):
            return choice
    allowed = ", ".join(repr(str(c.value)) for c in leaf)
    raise typer.BadParameter(f"{text!r} is not one of {allowed}.", ctx=ctx, param=param)


def _number(leaf: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    try:
        number = leaf(value) if not isinstance(value, str) else leaf(value.strip())
    except (TypeError, ValueError):
        kind = "integer" if leaf is int else "number"
        raise typer.BadParameter(f"{value!r} is not a valid {kind}.", ctx=ctx, param=param) from None
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    outside = math.isnan(number)  # NaN: no comparison with a bound holds, so it is in no range
    if (low is not None or high is not None) and (outside or (low is not None and number < low)
                                                  or (high is not None and number > high)):
        limits = " and ".join(x for x in (f"x>={low}" if low is not None else "",
                                            f"x<={high}" if high is not None else "") if x)
        raise typer.BadParameter(f"{number} is not in the range {limits}.", ctx=ctx, param=param)
    return number
