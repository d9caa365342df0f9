"""Benchmark `gitreg site build` on a large registry and print a table.

    python benchmarks/bench_site.py                    # 1,000 models x 20 versions
    python benchmarks/bench_site.py --models 100

The registry is made as in bench_registry.py (fast-import: every manifest and tag).
Targets (issue 12): a full build under 10 s, a model page with 20 versions under
100 KB, an incremental rebuild after one write well under a second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_registry import build  # noqa: E402

from gitreg import Client  # noqa: E402
from gitreg.site.builder import build_site  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="gitreg-bench-site-"))
    os.environ.setdefault("GIT_AUTHOR_NAME", "Bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.invalid")
    os.environ.setdefault("GIT_COMMITTER_NAME", "Bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.invalid")
    try:
        root = scratch / "reg"
        t = time.perf_counter()
        build(root, args.models, args.versions)
        made = time.perf_counter() - t
        client = Client(root)
        out = scratch / "site"
        cold = build_site(client.registry, out, full=True)  # manifests not yet in the validation cache
        shutil.rmtree(out)
        full = build_site(client.registry, out, full=True)
        page = out / "models" / "m1" / "index.html"
        noop = build_site(client.registry, out)
        client.log_metadata("m1", 3, {"accuracy": 0.99})
        one = build_site(client.registry, out)
        rows = [
            ("registry made (fast-import)", f"{made:.1f} s"),
            (f"full build, cold cache ({cold.models} models)", f"{cold.seconds:.2f} s"),
            (f"full build ({full.pages_written} files)", f"{full.seconds:.2f} s  (target < 10 s)"),
            (f"model page, {args.versions} versions", f"{page.stat().st_size / 1024:.1f} KB  (target < 100 KB)"),
            ("rebuild, nothing changed", f"{noop.seconds:.3f} s"),
            (f"rebuild after one write ({one.models_rendered} model rendered)",
             f"{one.seconds:.3f} s  (target well under 1 s)"),
        ]
        width = max(len(r[0]) for r in rows)
        for what, value in rows:
            print(f"{what.ljust(width)}  {value}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
