"""Help pages and usage errors in the command line's own conventions.

Help shows what a value may be, not its Python type: ``--stage [none|staging|production|archived]``,
``--tag TAG``, flags without a value; usage lines read ``NAME [VERSION]``. A usage error is one line,
``error: ...``, like gitreg's own errors (``gitreg.cli.app.main`` adds where help is).
"""

from __future__ import annotations

import difflib
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
                    names = ", ".join(sorted([*param.opts, *param.secondary_opts], key=lambda o: len(o) - len(o.lstrip("-"))))
                    word = value_word(param)
                    name = f"{names} {word}".rstrip()
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
    """Give ``command`` and every command below it the conventional help (class swap, once)."""
    cls = type(command)
    if cls not in _classes.values():
        if cls not in _classes:  # a subclass of typer's own class, with the two methods replaced
            methods = {k: v for k, v in vars(ConventionalHelp).items() if k in ("collect_usage_pieces", "format_options")}
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
