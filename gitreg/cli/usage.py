"""Help pages and usage errors in the command line's own conventions.

Help shows what a value may be, not its Python type: ``--stage [none|staging|production|archived]``,
``--tag TAG``, flags without a value; usage lines read ``NAME [VERSION]``. A usage error is one line,
``error: ...``, like gitreg's own errors (``gitreg.cli.app.main`` adds where help is).
"""

from __future__ import annotations

import difflib
import math
from enum import Enum
from pathlib import Path
from typing import Any

_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "PosixPath": "PATH",
               "WindowsPath": "PATH"}


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
        return param.metavar
    choices = _choices(param)
    if choices:
        return "[" + "|".join(choices) + "]"
    desc = getattr(param, "type_descriptor", None)
    annotation = getattr(desc, "annotation", None)
    args = getattr(annotation, "__args__", None)
    if getattr(desc, "is_list", False) and args:
        annotation = args[0]
    name = getattr(annotation, "__name__", None) or getattr(getattr(param, "type", None), "name", "text")
    return _TYPE_WORDS.get(name, str(name).upper())


def usage_piece(param: Any) -> str:
    """An argument on the usage line: ``NAME``, ``[VERSION]``, ``ITEMS...``; a metavar with brackets stays as given."""
    name = param.metavar or param.name.upper()
    if "[" not in name and " " not in name:
        name = name if param.required else f"[{name}]"
        if param.nargs != 1 and not name.endswith("..."):
            name += "..."
    return name


class ConventionalHelp:
    """The methods every typer command and group of the app gets (see :func:`apply`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if getattr(self, "options_metavar", None) else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(usage_piece(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        if getattr(self, "subcommand_metavar", None) and hasattr(self, "commands"):
            pieces.append(self.subcommand_metavar)
        return pieces

    def parse_args(self, ctx: Any, args: list[str]) -> Any:
        for param in self.params:  # only the commands a call goes through, not the whole tree
            _plain_conversion(param)
        return type(self).__mro__[1].parse_args(self, ctx, args)

    def get_help_option(self, ctx: Any) -> Any:
        option = type(self).__mro__[1].get_help_option(self, ctx)  # typer's own class is the next one
        if option is not None:
            _plain_conversion(option)
        return option

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            name, text = record
            if param.param_type_name == "argument":
                arguments.append((param.metavar or param.name.upper(), text))
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
        if hasattr(self, "format_commands") and hasattr(self, "commands"):
            self.format_commands(ctx, formatter)


def apply(command: Any) -> Any:
    """Give ``command`` and every command below it the conventional help (class swap, once),
    and the plain parameters of those a call goes through a plain conversion (:func:`_plain_conversion`)."""
    cls = type(command)
    if cls not in _classes.values():
        if cls not in _classes:  # a subclass of typer's own class with ConventionalHelp's methods
            methods = {k: v for k, v in vars(ConventionalHelp).items() if callable(v) and not k.startswith("__")}
            _classes[cls] = type(cls.__name__, (cls,), {"__slots__": (), **methods})
        command.__class__ = _classes[cls]
    for sub in getattr(command, "commands", {}).values():
        apply(sub)
    return command


_classes: dict[type, type] = {}


def is_usage_error(exc: BaseException) -> bool:
    return any(c.__name__ == "UsageError" for c in type(exc).__mro__)


def usage_message(exc: Any) -> str:
    """A usage error as one line: click's words without pydantic's 'Value error, ', and a guess for a typo."""
    message = " ".join(exc.format_message().replace("Value error, ", "").split())
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if (message.startswith("no such command") and "did you mean" not in message.lower() and ctx is not None
            and hasattr(ctx.command, "list_commands")):
        wanted = message.split("'")[1] if message.count("'") >= 2 else ""
        names = [n for n in ctx.command.list_commands(ctx)
                 if not getattr(ctx.command.get_command(ctx, n), "hidden", False)]
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)
        if close:
            message = message.rstrip(".") + "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return message if message.endswith("?") else message.rstrip(".")


def _plain_conversion(param: Any) -> None:
    """Convert text, numbers, flags and choices without pydantic, on typer versions that would import it.

    Such typer versions convert every value through a pydantic TypeAdapter built on first use: importing
    pydantic alone costs more than a whole registry read. For ``str``, ``int``, ``float``, ``bool``, a
    plain ``Path``, an Enum of choices and lists of them, this conversion does the same with the same
    messages; anything else (files, paths that must exist, custom parsers, clamped ranges) is left to typer.
    """
    desc = getattr(param, "type_descriptor", None)
    if desc is None or getattr(param, "_runtime_param", False) is not None:
        return  # an older typer (click's own types), or a conversion already chosen
    try:
        from typer._coercion import RuntimeParam
    except ImportError:  # pragma: no cover - typer without this layer
        return
    info = desc.parameter_info
    leaf = desc.annotation
    if getattr(desc, "is_list", False):
        args = getattr(leaf, "__args__", None)
        leaf = args[0] if args else None
    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False) or desc.file_annotation is not None:
        return
    plain_path = leaf is Path and not any(getattr(info, k, None) for k in ("exists", "resolve_path", "path_type"))
    if not (leaf in (str, int, float, bool) or plain_path or (isinstance(leaf, type) and issubclass(leaf, Enum))):
        return
    param._runtime_param = _plain_class(RuntimeParam)(parameter_info=info, annotation=desc.annotation)


def _plain_class(base: type) -> type:
    """typer's RuntimeParam converting as :func:`_convert` does (made once)."""
    if "plain" not in _classes_by_name:
        class Plain(base):  # type: ignore[misc, valid-type]
            def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
                leaf = param.type_descriptor.annotation
                if getattr(param.type_descriptor, "is_list", False):
                    leaf = leaf.__args__[0]
                info = self.parameter_info
                if isinstance(value, (list, tuple)):
                    return [_convert(leaf, info, v, param, ctx) for v in value]
                return _convert(leaf, info, value, param, ctx)

        _classes_by_name["plain"] = Plain
    return _classes_by_name["plain"]


_classes_by_name: dict[str, type] = {}


def _convert(leaf: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    from typer import BadParameter

    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if leaf is str:
        return str(value)
    if leaf is Path:
        return value if isinstance(value, Path) else Path(value)
    if leaf is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "t", "yes", "y", "on"):
            return True
        if text in ("0", "false", "f", "no", "n", "off"):
            return False
        raise BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)
    if isinstance(leaf, type) and issubclass(leaf, Enum):
        if isinstance(value, leaf):
            return value
        text = str(value)
        for choice in leaf:
            wanted = str(choice.value)
            if wanted == text or (not getattr(info, "case_sensitive", True) and wanted.casefold() == text.casefold()):
                return choice
        allowed = ", ".join(repr(str(c.value)) for c in leaf)
        raise BadParameter(f"{text!r} is not one of {allowed}.", ctx=ctx, param=param)
    try:
        number = leaf(value) if not isinstance(value, str) else leaf(value.strip())
    except (TypeError, ValueError):
        kind = "integer" if leaf is int else "number"
        raise BadParameter(f"{value!r} is not a valid {kind}.", ctx=ctx, param=param) from None
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    outside = math.isnan(number)  # NaN: no comparison with a bound holds, so it is in no range
    if (low is not None or high is not None) and (outside or (low is not None and number < low)
                                                  or (high is not None and number > high)):
        limits = " and ".join(x for x in (f"x>={low}" if low is not None else "",
                                            f"x<={high}" if high is not None else "") if x)
        raise BadParameter(f"{number} is not in the range {limits}.", ctx=ctx, param=param)
    return number
