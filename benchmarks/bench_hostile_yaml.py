"""Parse and validate hostile manifests at the size limit, and print a table.

    python benchmarks/bench_hostile_yaml.py              # every shape at MAX_MANIFEST_BYTES
    python benchmarks/bench_hostile_yaml.py --scale 0.1  # a tenth of that (a quick look)
    python benchmarks/bench_hostile_yaml.py --only keys  # the shapes whose name holds "keys"

Each shape is a version manifest (or a text posing as one) of about ``scale`` x MAX_MANIFEST_BYTES,
built to cost a reader the most: nested empty lists, a million tiny lists, a million short keys,
long flow sequences, deep mappings, long scalars, integers that are slow to convert, and lists that
jsonschema's uniqueItems compares pairwise.  Each is read in a fresh process as a read of the
registry reads it (``parse_yaml``, then ``schema_problems`` if it parses) and the table says:

    shape, bytes, seconds to parse (wall clock, and the process's CPU time: other work on the cores
    slows the first only), seconds to check the schema, peak MiB of Python objects (tracemalloc, a
    second run), the growth of the process's peak resident set (libyaml's own buffers included)
    while reading, and the outcome (read, or the start of the refusal).

Target (the issue "A registry format that git cannot break", item 5): every shape refused or read
in under 1 s and 100 MiB.  The machine's load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitreg.manifests import MAX_MANIFEST_BYTES, MAX_NESTING  # noqa: E402

TIME_TARGET, MEMORY_TARGET_MIB = 1.0, 100

_HEAD = ("format: 1\nmodel: m\nnumber: 1\nname: '1'\nstage: none\ncreated: '2026-11-26T15:47:52Z'\n")
_SHA = "0123456789abcdef" * 4


def _fill(prefix: str, unit: Callable[[int], str], suffix: str, size: int) -> str:
    """``prefix``, then ``unit(0)``, ``unit(1)``, ... while the text stays within ``size`` bytes, then ``suffix``."""
    parts, used, i = [prefix], len(prefix) + len(suffix), 0
    while True:
        piece = unit(i)
        if used + len(piece) > size:
            break
        parts.append(piece)
        used += len(piece)
        i += 1
    parts.append(suffix)
    return "".join(parts)


def _deep_maps(size: int) -> str:
    """Mappings nested as deep as a manifest may (metadata's own limit), side by side until ``size``."""
    levels = MAX_NESTING - 2
    block = "".join("  " * (i + 1) + f"k{i}:\n" for i in range(levels - 1)) + "  " * levels + "k: 0\n"

    def unit(i: int) -> str:
        return "  " + f"t{i}:\n" + "".join("  " + line + "\n" for line in block.splitlines())
    return _fill(_HEAD + "metadata:\n", unit, "", size)


def _artifact(i: int) -> str:
    return (f"- name: a{i}\n  version: 1\n  type: data\n  uri: .gitreg/store/objects/sha256/00/{_SHA}\n"
            f"  sha256: {_SHA}\n  size: {i}\n  format: json\n  kind: file\n  external: false\n"
            f"  created: '2026-11-26T15:47:52Z'\n")


SHAPES: dict[str, Callable[[int], str]] = {
    "nested empty lists [[[...]]]": lambda n: _HEAD + "metadata:\n  k: " + "[" * (n // 2 - 50) + "]" * (n // 2 - 50)
                                               + "\n",
    "block list of - []": lambda n: _fill(_HEAD + "metadata:\n  k:\n", lambda i: "  - []\n", "", n),
    "flow list of []": lambda n: _fill(_HEAD + "metadata:\n  k: [", lambda i: "[],", "]\n", n),
    "flow list of {}": lambda n: _fill(_HEAD + "metadata:\n  k: [", lambda i: "{},", "]\n", n),
    "flow list of [a]": lambda n: _fill(_HEAD + "metadata:\n  k: [", lambda i: "[a],", "]\n", n),
    "block list of - a: 1": lambda n: _fill(_HEAD + "metadata:\n  k:\n", lambda i: "  - a: 1\n", "", n),
    "block list of - 0": lambda n: _fill(_HEAD + "metadata:\n  k:\n", lambda i: "  - 0\n", "", n),
    "flow list of 0": lambda n: _fill(_HEAD + "metadata:\n  k: [", lambda i: "0,", "]\n", n),
    "flow list of short strings": lambda n: _fill(_HEAD + "metadata:\n  k: [", lambda i: f"s{i},", "]\n", n),
    "a million short keys": lambda n: _fill(_HEAD + "metadata:\n", lambda i: f"  k{i}: 0\n", "", n),
    "flow mapping of keys {a, b}": lambda n: _fill(_HEAD + "metadata: {", lambda i: f"k{i},", "}\n", n),
    "deep mappings side by side": _deep_maps,
    "one long plain scalar": lambda n: _HEAD + "description: " + "x" * (n - 200) + "\n",
    "one long plain number": lambda n: _HEAD + "metadata:\n  k: 1" + "0" * (n - 200) + "\n",
    "sexagesimal integer 1:1:1": lambda n: _HEAD + "metadata:\n  k: 1" + ":1" * ((n - 200) // 2) + "\n",
    "hex integer 0xfff": lambda n: _HEAD + "metadata:\n  k: 0x" + "f" * (n - 200) + "\n",
    "dates in a list": lambda n: _fill(_HEAD + "metadata:\n  k:\n", lambda i: "  - 2026-01-01\n", "", n),
    "loss curve of floats (legitimate)": lambda n: _fill(_HEAD + "metadata:\n  loss:\n",
                                                         lambda i: f"  - {1 / (i + 3):.6f}\n", "", n),
    "artifact links (legitimate)": lambda n: _fill(_HEAD + "artifacts:\n", _artifact, "runs: []\n", n),
    "tags of mappings (uniqueItems)": lambda n: _fill(_HEAD + "tags:\n", lambda i: f"- {{a: {i}}}\n", "", n),
    "tags of mixed types (uniqueItems)": lambda n: _fill(_HEAD + "tags:\n", lambda i: f"- {i}\n- t{i}\n", "", n),
    "tags of lists (uniqueItems)": lambda n: _fill(_HEAD + "tags:\n", lambda i: f"- [{i}]\n", "", n),
    "runs of mixed types (uniqueItems)": lambda n: _fill(_HEAD + "runs:\n", lambda i: f"- {i}\n- r{i}\n", "", n),
}


def measure(shape: str, size: int) -> dict[str, object]:
    """Run in a fresh process: build the text, parse it, check its schema, and say what it cost."""
    import resource
    import time
    import tracemalloc

    from gitreg.errors import ManifestError
    from gitreg.manifests import parse_yaml, prepare, schema_problems

    prepare()
    data = SHAPES[shape](size).encode()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    check = 0.0
    try:
        doc = parse_yaml(data, "bench.yaml")
    except ManifestError as exc:
        outcome, doc = f"refused: {exc.problem}", None
    else:
        outcome = "read"
    parse, parse_cpu = time.perf_counter() - started, time.process_time() - cpu
    if doc is not None:
        started = time.perf_counter()
        problems = schema_problems("version", doc)
        check = time.perf_counter() - started
        outcome = f"read, {len(problems)} schema problem(s)" if problems else "read, valid"
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    del doc
    tracemalloc.start()
    try:
        doc = parse_yaml(data, "bench.yaml")
        if doc is not None:
            schema_problems("version", doc)
    except ManifestError:
        pass
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"shape": shape, "bytes": len(data), "outcome": outcome, "parse": parse, "cpu": parse_cpu,
            "check": check, "peak": peak, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="size as a fraction of MAX_MANIFEST_BYTES")
    parser.add_argument("--only", default="", help="only the shapes whose name holds this text")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: measure this shape, print JSON
    args = parser.parse_args()
    size = int(MAX_MANIFEST_BYTES * args.scale)
    if args.one:
        print(json.dumps(measure(args.one, size)))
        return
    print(f"load average {os.getloadavg()[0]:.2f}; size {size:,} bytes; target: refused or read in < {TIME_TARGET}"
          f" s and < {MEMORY_TARGET_MIB} MiB")
    print(f"{'shape':36} {'bytes':>9}  {'parse s':>7} {'cpu s':>6} {'check s':>7} {'peak MiB':>8} {'RSS+ MiB':>8}"
          "  outcome")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for shape in SHAPES:
        if args.only not in shape:
            continue
        out = subprocess.run([sys.executable, __file__, "--scale", str(args.scale), "--one", shape], env=env,
                             capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            print(f"{shape:36} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(out.stdout)
        slow = "  <-- over target" if (row["parse"] + row["check"] > TIME_TARGET
                                      or max(row["peak"], row["rss"]) > MEMORY_TARGET_MIB) else ""
        outcome = str(row["outcome"])
        outcome = outcome if len(outcome) <= 70 else outcome[:70] + "..."
        print(f"{shape:36} {row['bytes']:>9,}  {row['parse']:7.3f} {row['cpu']:6.3f} {row['check']:7.3f}"
              f" {row['peak']:8.1f} {row['rss']:8.1f}  {outcome}{slow}")


if __name__ == "__main__":
    main()
