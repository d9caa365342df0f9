"""dump_yaml writes exactly the bytes PyYAML's safe dumper writes, for real manifests and awkward values."""

from __future__ import annotations

import datetime
import enum
import math
import random
from pathlib import Path

import pytest
import yaml

from gitreg import ArtifactConfig, Model, log_model_metadata, pipeline, step
from gitreg.manifests import dump_yaml, parse_yaml

_BASE = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Reference(_BASE):  # type: ignore[misc, valid-type]
    """The dumper manifests were written with: the safe dumper, never writing aliases."""

    def ignore_aliases(self, data):
        return True


def reference(doc) -> bytes:
    return yaml.dump(doc, Dumper=_Reference, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1000, indent=2).encode("utf-8")


_STRINGS = [
    "", " ", "  ", "x", "true", "false", "True", "TRUE", "yes", "no", "Yes", "NO", "on", "off", "On", "y", "n",
    "Y", "N", "null", "Null", "NULL", "~", "1", "-1", "+1", "0", "00", "07", "08", "0x1F", "0o17", "0b101", "1_000",
    "1.0", "1.", ".5", "-.5", "1e3", "1e", "1.0e+20", ".inf", "-.inf", ".nan", ".NaN", "12:30", "1:30:00",
    "2026-01-01", "2026-01-01T00:00:00Z", "2026-01-01 00:00:00", "a: b", "a:b", "a:", ":", "::", "#x", "a #b",
    "a#b", " lead", "trail ", "\n", "a\nb", "a\n", "a\n\n", "\na", "\ta", "x\ty", "\r", "a\r\nb", "-", "- a",
    "-a", "--", "---", "...", "? x", "?", "!tag", "!!str", "&a", "*a", "|", ">", "@x", "`x", "%x", "'q'", "'",
    '"dq"', '"', "\\", "a\\nb", "<<", "=", "[a]", "{a}", "a,b", "a, b", "[", "}", "é", "日本語", "emoji 🎉",
    "\u2028", "\u2029", "\x85", "\x00", "\x07", "\x7f", "\ufeff", "\u00a0", "ab\u0301", "\U0001f600 x",
    "a" * 2000, "word " * 300, ("long line " * 150).strip(), "x" * 999 + " y", "line\n" * 50,
    "sha256:" + "0" * 64, ".gitreg/store/objects/sha256/ab/" + "ab" * 32, "s3://bucket/key with space",
    "C:\\path", "50%", "a=b", "k: v\n- item", "# comment", "a\u3000b",
]
_NUMBERS = [0, 1, -1, 7, 2**31, 2**63, -(2**100), 10**30, 0.0, -0.0, 1.0, -1.5, 0.1, 2.5, 1e16, 1e17, 1e20, 1e-7,
            -1e-300, 123456789.123, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan, True, False, None]
_KEYS = ["name", "a b", "true", "1", "", "x: y", "#", "é", "- k", "null", "?", "long " * 40, 1, -2, True, False,
         None, 1.5]


def _random_doc(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth >= 4 or roll < 0.45:
        return rng.choice(_STRINGS + _NUMBERS)
    if roll < 0.55:
        return rng.choice([{}, [], [{}], {"a": []}, [[]], {"": {}}])
    if roll < 0.8:
        return {rng.choice(_KEYS): _random_doc(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    return [_random_doc(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def _corpus():
    for value in _STRINGS + _NUMBERS:
        yield {"value": value}
        yield {value: "as a key"} if value == value else {"nan key": value}
        yield [value, [value], {"k": [value]}]
        yield value
    for key in _KEYS:
        yield {key: {key: [key, {}]}}
    yield {}
    yield []
    yield {"a": {}, "b": [], "c": [{}, [], [[]], {"d": {}}], "e": None}
    rng = random.Random(20260101)
    for _ in range(400):
        yield {"format": 1, "doc": _random_doc(rng)}


def test_awkward_values_are_dumped_exactly_as_the_safe_dumper_dumps_them():
    count = 0
    for doc in _corpus():
        assert dump_yaml(doc) == reference(doc), doc
        count += 1
    assert count > 1000


class _Colour(enum.IntEnum):
    RED = 1


class _Text(str):
    pass


@pytest.mark.parametrize("value", [datetime.date(2026, 1, 1), datetime.datetime(2026, 1, 1, 12, 30), b"\x00bytes",
                                   (1, "a"), {"a", "b"}, _Text("sub"), _Colour.RED, object()],
                         ids=["date", "datetime", "bytes", "tuple", "set", "str-subclass", "int-enum", "object"])
def test_other_types_are_dumped_or_refused_as_the_safe_dumper_does(value):
    doc = {"a": [1, {"b": value}], "c": "x"}
    try:
        expected = reference(doc)
    except yaml.YAMLError as exc:
        with pytest.raises(type(exc)):
            dump_yaml(doc)
    else:
        assert dump_yaml(doc) == expected


@step
def _load() -> list:
    return [[5.1, 3.5], [6.2, 2.9]]


@step
def _train(x: list, rate: float = 0.1) -> ArtifactConfig(name="weights", is_model_artifact=True, tags=["w", "1"]):
    log_model_metadata({"rate": rate, "rows": len(x), "nested": {"b": [1.0, None], "a": "yes"}, "inf-ish": 1e20})
    return {"w": [rate] * len(x[0])}


@step
def _fail(weights: dict) -> None:
    raise ValueError("broken: on purpose\nsecond line")


@pipeline(model=Model("iris", license="MIT", description="iris: species\n# not a comment", tags=["true", "1.0"]))
def _good(rate: float = 0.1):
    _train(_load(), rate=rate)


@pipeline(model=Model("iris"))
def _bad():
    _fail(_train(_load()))


def test_real_manifests_are_dumped_as_written(repo, client):
    client.create_model_version("m", description="yes", tags=["on", "null", "2026-01-01"],
                                metadata={"acc": 0.5, "~": "~", "empty": {}, "list": [], "big": 2**70})
    client.create_model_version("m", name="v-two")
    client.update_model_version("m", 1, stage="production")
    _good(rate=2.5)
    _good()
    with pytest.raises(ValueError, match="broken: on purpose"):
        _bad()
    files = sorted(Path(repo, ".mcp").rglob("*.yaml"))
    kinds = {path.parent.name for path in files}
    assert {"runs", "versions", "m", "iris", ".mcp"} <= kinds and len(files) > 8
    for path in files:
        data = path.read_bytes()
        doc = parse_yaml(data, str(path))
        assert dump_yaml(doc) == reference(doc) == data, path
