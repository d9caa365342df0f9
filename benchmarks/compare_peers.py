"""Compare gitreg with the peers installed beside it (MLflow's model registry, GTO); prints one table.

    python benchmarks/compare_peers.py --peer-python /path/to/peers-venv/bin/python
    python benchmarks/compare_peers.py --models 1000 --versions 20 --peer-python ...
    python benchmarks/compare_peers.py --models 5 --repeats 2           # smoke run

Every tool gets the same fixture: ``--models`` models x ``--versions`` versions, two
metadata keys on each version (accuracy, epoch), version 15 of every model in production.
gitreg's is built with ``git fast-import`` (as benchmarks/bench_registry.py does), MLflow's
through its own client on a local sqlite database with a local artifact folder, GTO's with
``git fast-import`` in GTO's own tag format (one commit per version, the two keys in a file
of that commit; GTO has no per-version metadata of its own).

The peers run in subprocesses of ``--peer-python`` (default: this interpreter), never in
gitreg's environment; a peer that interpreter cannot import is reported as skipped. Each
operation runs once per repeat for every tool, the tools taking turns in a rotating order
(paired runs); the table gives medians and gitreg's figure divided by the best peer's.

- whole-process operations (resolve the production version, list a model's versions,
  ``--help``) are timed from the outside, start to exit, after one untimed run of each (which
  fills caches: gitreg's validated-manifest cache, bytecode, the page cache); the resolve also
  reports the peak memory (largest resident set) of the process;
- in-process operations (register, set a stage, load a 64 MiB artifact) are timed inside a
  driver process of each tool after one untimed warm-up call; a call that is slow (GTO) stops
  sampling after ``--budget`` seconds, with at least one sample;
- the race: ``--writers`` processes x ``--per-writer`` registrations of one model in a fresh
  registry of each tool (one clone / one sqlite database), started together; it counts
  registrations per second, calls that failed, registrations reported and then missing,
  and version numbers handed out twice.

Nothing leaves the temporary folder (removed at the end unless ``--keep``); nothing uses
the network: MLflow runs on ``sqlite:///`` with telemetry off, GTO on a local repository.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PRODUCTION = 15  # the version of every model that is in production (as in bench_registry)
LABELS = {"gitreg": "gitreg", "mlflow": "MLflow", "gto": "GTO"}

# ----------------------------------------------------------------------------- drivers
# Each tool's in-process operations are small programs run by that tool's interpreter:
# argv[1] is a JSON object of arguments, the last line of stdout a JSON result.

HARNESS = r'''
import json, os, sys, time
A = json.loads(sys.argv[1])

def emit(**result):
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()

def sample(fn):
    """One untimed warm-up call, then timed calls until A['n'] or past A['budget'] seconds (>= 1)."""
    start = time.perf_counter()
    fn(0)
    times = []
    for i in range(1, A["n"] + 1):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > A["budget"]:
            break
    return times

def race(register):
    """Wait for 'go' on stdin, then register A['count'] versions; report what each call returned."""
    print("ready", flush=True)
    sys.stdin.readline()
    done, errors = [], []
    t0 = time.time()
    for i in range(A["count"]):
        token = A["tokens"][i]
        try:
            done.append([str(register(token)), token])
        except Exception as exc:  # a failed registration is a result here, not a crash
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    emit(start=t0, end=time.time(), done=done, errors=errors)
'''

GITREG_DRIVER = HARNESS + r'''
from gitreg import Client

op = A["op"]
if op == "setup_artifact":
    client = Client(A["root"])
    v = client.create_model_version("big")
    client.update_model_version("big", v.number, stage="production", force=True)
    client.save_artifact("big", v.number, os.urandom(A["mib"] << 20), "weights")
    emit(ok=True)
elif op == "register":
    client = Client(A["root"])
    emit(times=sample(lambda i: client.create_model_version(
        A["model"], metadata={"accuracy": 0.9, "epoch": i})))
elif op == "stage":
    client = Client(A["root"])
    emit(times=sample(lambda i: client.update_model_version(
        A["model"], (A["offset"] + i) % A["versions"] + 1, stage="production", force=True)))
elif op == "load":
    client = Client(A["root"])
    size = A["mib"] << 20
    def load(i):
        assert len(client.load_artifact("big", "production", "weights")) == size
    emit(times=sample(load))
elif op == "race_setup":
    Client.init(A["root"])
    emit(ok=True)
elif op == "race":
    client = Client(A["root"])
    race(lambda token: client.create_model_version("race", metadata={"token": token}).number)
elif op == "race_state":
    emit(state={str(v.number): v.metadata["token"] for v in Client(A["root"]).list_model_versions("race")})
'''

MLFLOW_DRIVER = HARNESS + r'''
from mlflow import MlflowClient

op = A["op"]
client = MlflowClient()
if op == "build":
    import mlflow
    t0 = time.perf_counter()
    for m in range(1, A["models"] + 1):
        name = f"m{m}"
        client.create_registered_model(name, description=f"benchmark model {m}")
        for n in range(1, A["versions"] + 1):
            accuracy = round(0.5 + n / (2 * A["versions"]), 4)
            client.create_model_version(name, source=f"{A['artifacts']}/{name}/{n}",
                                        tags={"accuracy": str(accuracy), "epoch": str(n)})
        client.set_registered_model_alias(name, "production", str(A["production"]))
    built = time.perf_counter() - t0
    # The artifact: logged to a run, registered as model 'big', production alias.
    experiment = client.create_experiment("bench", artifact_location=f"file://{A['artifacts']}/runs")
    run = client.create_run(experiment)
    folder = os.path.join(A["scratch"], "weights")
    os.makedirs(folder)
    with open(os.path.join(folder, "weights.bin"), "wb") as fh:
        fh.write(os.urandom(A["mib"] << 20))
    client.log_artifacts(run.info.run_id, folder, "weights")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("big")
    v = client.create_model_version("big", source=f"{run.info.artifact_uri}/weights", run_id=run.info.run_id)
    client.set_registered_model_alias("big", "production", v.version)
    emit(built=built)
elif op == "register":
    emit(times=sample(lambda i: client.create_model_version(
        A["model"], source=f"{A['artifacts']}/{A['model']}/new{A['offset'] + i}",
        tags={"accuracy": "0.9", "epoch": str(i)})))
elif op == "stage":
    emit(times=sample(lambda i: client.set_registered_model_alias(
        A["model"], "production", str((A["offset"] + i) % A["versions"] + 1))))
elif op == "load":
    import shutil
    import tempfile
    from mlflow.artifacts import download_artifacts
    size = A["mib"] << 20
    def load(i):
        dest = tempfile.mkdtemp(dir=A["scratch"])
        path = download_artifacts(artifact_uri="models:/big@production", dst_path=dest)
        with open(os.path.join(path, "weights.bin"), "rb") as fh:
            assert len(fh.read()) == size
        shutil.rmtree(dest)
    emit(times=sample(load))
elif op == "race_setup":
    client.create_registered_model("race")
    emit(ok=True)
elif op == "race":
    race(lambda token: client.create_model_version("race", source=f"{A['artifacts']}/race/{token}",
                                                   tags={"token": token}).version)
elif op == "race_state":
    emit(state={v.version: v.tags.get("token", "") for v in client.search_model_versions("name='race'")})
'''

GTO_DRIVER = HARNESS + r'''
import subprocess
import gto.api

op = A["op"]
repo = A["root"]

def new_commit(i):
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", f"candidate {A['offset'] + i}"],
                   cwd=repo, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()

if op == "register":
    # GTO registers a commit: each sample gets a new one, made outside the timed call.
    times = []
    start = time.perf_counter()
    for i in range(A["n"] + 1):
        ref = new_commit(i)
        t0 = time.perf_counter()
        gto.api.register(repo, A["model"], ref=ref)
        if i:
            times.append(time.perf_counter() - t0)
        if i and time.perf_counter() - start > A["budget"]:
            break
    emit(times=times)
elif op == "stage":
    emit(times=sample(lambda i: gto.api.assign(
        repo, A["model"], "production", version=f"v0.0.{(A['offset'] + i) % A['versions'] + 1}", force=True)))
elif op == "race":
    race(lambda sha: gto.api.register(repo, "race", ref=sha).version)
'''

DRIVERS = {"gitreg": GITREG_DRIVER, "mlflow": MLFLOW_DRIVER, "gto": GTO_DRIVER}
IMPORT_NAMES = {"mlflow": "mlflow", "gto": "gto"}


# ----------------------------------------------------------------------------- running things

@dataclass
class Tool:
    name: str
    python: str
    version: str = ""
    skipped: str = ""  # why it is not measured, if it is not
    root: Path = Path()
    build_s: float = 0.0
    driver: Path = Path()

    def script(self, name: str) -> str:
        """A console script installed beside this tool's interpreter (same venv)."""
        return str(Path(self.python).with_name(name))


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)
    note: str = ""  # why there are no (more) values: failed, over time, not applicable


class Failed(Exception):
    pass


def run_process(cmd: list[str], cwd: Path, timeout: float) -> tuple[float, int, str, str]:
    """(seconds, peak RSS in KiB, stdout, stderr) of a whole process, killed after ``timeout``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as exc:  # e.g. no console script beside the interpreter
            raise Failed(f"cannot run {cmd[0]}: {exc.strerror}") from exc
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if elapsed >= timeout:
        raise Failed(f"over {timeout:.0f} s")
    if proc.returncode != 0:
        raise Failed(f"{' '.join(cmd[:4])} exited {proc.returncode}: {stderr.strip()[-400:]}")
    return elapsed, usage.ru_maxrss, stdout, stderr


def drive(tool: Tool, args: dict, timeout: float) -> dict:
    """Run one driver operation of ``tool``; its JSON result."""
    _, _, stdout, _ = run_process([tool.python, str(tool.driver), json.dumps(args)], Path(args.get("root", ".")),
                                  timeout)
    return json.loads(stdout.strip().splitlines()[-1])


def probe(python: str, module: str) -> tuple[str, str]:
    """(version, '') if ``python`` imports ``module``, else ('', why not)."""
    code = f"import importlib.metadata as m; import {module}; print(m.version({module!r}))"
    try:
        res = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        res = None
    if res is None or res.returncode != 0:
        return "", f"skipped: {module} not importable by {python}"
    return res.stdout.strip(), ""


def git(cwd: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=True).stdout.decode()


def hermetic_env(scratch: Path) -> None:
    """Own HOME, git identity and config; MLflow on a local sqlite database, offline."""
    home = scratch / "home"
    home.mkdir()
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n"
                      "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n")
    for var in ("GITREG_REPO", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        os.environ.pop(var, None)
    os.environ.update({
        "HOME": str(home), "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1",
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_TERMINAL_PROMPT": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    })


def use_mlflow_db(folder: Path) -> None:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["MLFLOW_REGISTRY_URI"] = uri


# ----------------------------------------------------------------------------- fixtures

def build_gitreg(tool: Tool, scratch: Path, models: int, versions: int, mib: int, timeout: float) -> None:
    from bench_registry import build

    tool.root = scratch / "gitreg"
    tool.root.mkdir()
    start = time.perf_counter()
    build(tool.root, models, versions)
    tool.build_s = time.perf_counter() - start
    drive(tool, {"op": "setup_artifact", "root": str(tool.root), "mib": mib}, timeout)


def build_mlflow(tool: Tool, scratch: Path, models: int, versions: int, mib: int, timeout: float) -> None:
    tool.root = scratch / "mlflow"
    tool.root.mkdir()
    use_mlflow_db(tool.root)
    res = drive(tool, {"op": "build", "root": str(tool.root), "scratch": str(tool.root), "models": models,
                       "versions": versions, "production": PRODUCTION, "mib": mib,
                       "artifacts": str(tool.root / "artifacts")}, timeout)
    tool.build_s = res["built"]


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def gto_fixture(root: Path, models: int, versions: int, production: int | None) -> list[str]:
    """A repository as GTO leaves it: one commit per version (its two metadata keys in a file of
    that commit), an annotated tag `m@v0.0.N` on each, and `m#production#1` on version
    ``production``. With models=0, ``versions`` bare commits for a race; returns their ids."""
    git(root.parent, "init", "-q", str(root))
    stamp = 1767225600
    out = bytearray()
    commit = 0
    tags = bytearray()

    def add_commit(message: str, path: str | None, content: str) -> int:
        nonlocal commit
        commit += 1
        out.extend(f"commit refs/heads/main\nmark :{commit}\n".encode())
        out.extend(f"committer Bench <bench@example.invalid> {stamp + commit} +0000\n".encode())
        out.extend(_data(message))
        if commit > 1:
            out.extend(f"from :{commit - 1}\n".encode())
        if path:
            out.extend(f"M 100644 inline {path}\n".encode() + _data(content))
        return commit

    def add_tag(name: str, mark: int, message: str) -> None:
        tags.extend(f"tag {name}\nfrom :{mark}\n".encode())
        tags.extend(f"tagger Bench <bench@example.invalid> {stamp + mark} +0000\n".encode())
        tags.extend(_data(message))

    add_commit("start", "README.md", "benchmark repository\n")
    if models == 0:
        for i in range(versions):
            add_commit(f"candidate {i}", None, "")
    for m in range(1, models + 1):
        name = f"m{m}"
        for n in range(1, versions + 1):
            accuracy = round(0.5 + n / (2 * versions), 4)
            mark = add_commit(f"train {name} {n}", f"models/{name}/metrics.yaml", f"accuracy: {accuracy}\nepoch: {n}\n")
            add_tag(f"{name}@v0.0.{n}", mark, f"Registering artifact {name} version v0.0.{n}")
            if n == production:
                add_tag(f"{name}#production#1", mark, f"Assigning stage production to artifact {name} version v0.0.{n}")
    git(root, "fast-import", "--quiet", data=bytes(out + tags))
    git(root, "reset", "-q", "--hard", "main")
    git(root, "pack-refs", "--all")
    git(root, "gc", "-q")
    if models == 0:
        return git(root, "rev-list", "--reverse", "main").split()[1:]  # the candidates, after "start"
    return []


def build_gto(tool: Tool, scratch: Path, models: int, versions: int, mib: int, timeout: float) -> None:
    tool.root = scratch / "gto"
    start = time.perf_counter()
    gto_fixture(tool.root, models, versions, PRODUCTION)
    tool.build_s = time.perf_counter() - start


BUILDERS = {"gitreg": build_gitreg, "mlflow": build_mlflow, "gto": build_gto}


# ----------------------------------------------------------------------------- operations

def whole_process(tool: Tool, op: str, model: str, versions: int) -> tuple[list[str], str]:
    """The command for a whole-process operation and a string its output must contain."""
    if tool.name == "gitreg":
        cli = tool.script("gitreg")
        return {
            "resolve": ([cli, "model", "version", "describe", model, "production"], f"{PRODUCTION}\n"),
            "resolve_py": ([tool.python, "-c",
                            f"from gitreg import Model; print(Model({model!r}, version='production').number)"],
                           f"{PRODUCTION}"),
            "list": ([cli, "model", "version", "list", model], "production"),
            "help": ([cli, "--help"], "Usage"),
        }[op]
    if tool.name == "mlflow":
        resolve = ([tool.python, "-c", "from mlflow import MlflowClient; "
                    f"print(MlflowClient().get_model_version_by_alias({model!r}, 'production').version)"],
                   f"{PRODUCTION}")
        return {
            "resolve": resolve,  # MLflow has no command for it: its fastest way is the Python one
            "resolve_py": resolve,
            "list": ([tool.python, "-c", "from mlflow import MlflowClient\n"
                      f"for v in MlflowClient().search_model_versions(\"name='{model}'\"):\n"
                      "    print(v.version, v.aliases, v.creation_timestamp, v.tags)"], f"{versions} "),
            "help": ([tool.script("mlflow"), "--help"], "Usage"),
        }[op]
    return {
        "resolve": ([tool.script("gto"), "show", f"{model}#production", "--version"], f"v0.0.{PRODUCTION}"),
        "resolve_py": ([tool.python, "-c", "import gto.api; "
                        f"print(gto.api.find_versions_in_stage('.', {model!r}, 'production')[0].version)"],
                       f"v0.0.{PRODUCTION}"),
        "list": ([tool.script("gto"), "show", model], f"v0.0.{versions}"),
        "help": ([tool.script("gto"), "--help"], "Usage"),
    }[op]


def race(tool: Tool, scratch: Path, writers: int, per_writer: int, timeout: float) -> tuple[float, str]:
    """(registrations per second, 'ok N, failed N, lost N, dup N') for ``writers`` racing processes."""
    root = scratch / f"race-{tool.name}"
    total = writers * per_writer
    if tool.name == "gto":
        tokens = gto_fixture(root, 0, total, None)
    else:
        root.mkdir()
        tokens = [f"w{i // per_writer}-{i % per_writer}" for i in range(total)]
        if tool.name == "mlflow":
            use_mlflow_db(root)
        drive(tool, {"op": "race_setup", "root": str(root)}, timeout)
    procs = []
    for w in range(writers):
        args = {"op": "race", "root": str(root), "artifacts": str(root / "artifacts"), "count": per_writer,
                "tokens": tokens[w * per_writer:(w + 1) * per_writer]}
        procs.append(subprocess.Popen([tool.python, str(tool.driver), json.dumps(args)], cwd=root, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    for p in procs:  # every writer imported and connected: start them together
        while (line := p.stdout.readline()) and line.strip() != "ready":
            pass
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=timeout)
        results.append(json.loads(out.strip().splitlines()[-1]))
    done = [pair for r in results for pair in r["done"]]
    failed = sum(len(r["errors"]) for r in results)
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    if tool.name == "gto":
        refs = git(root, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", "refs/tags/race@*")
        state = {line.split()[0].split("@", 1)[1]: line.split()[1] for line in refs.splitlines()}
    else:
        state = drive(tool, {"op": "race_state", "root": str(root)}, timeout)["state"]
    numbers = [number for number, _ in done]
    dup = len(numbers) - len(set(numbers))
    lost = sum(1 for number, token in done if state.get(number) != token)
    errors = sorted({e for r in results for e in r["errors"]})
    note = f"ok {len(done)}, failed {failed}, lost {lost}, dup {dup}"
    if errors:
        note += f"; e.g. {errors[0][:80]}"
    return len(done) / seconds if seconds > 0 else 0.0, note


OPS = [  # (key, label, kind)
    ("resolve", "one-shot resolve of production, command line (whole process; MLflow: `python -c`)", "process"),
    ("resolve_rss", "  peak memory of that process", "rss"),
    ("resolve_py", "one-shot resolve of production, `python -c` (whole process)", "process"),
    ("list", "one-shot version list of one model (whole process)", "process"),
    ("help", "`--help` (whole process)", "process"),
    ("register", "register one version with 2 metadata keys, in-process", "inproc"),
    ("stage", "set the production stage (force / alias), in-process", "inproc"),
    ("load", "load a {mib} MiB artifact of the production version, in-process", "inproc"),
    ("race", "{writers} processes x {per_writer} registrations of one model, one fresh registry", "rate"),
]


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each runs every operation for every tool")
    parser.add_argument("--samples", type=int, default=10, help="timed calls per in-process operation and round")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds after which an in-process operation stops sampling (at least one sample)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before one process is given up")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=25)
    parser.add_argument("--artifact-mib", type=int, default=64)
    parser.add_argument("--peer-python", default=sys.executable,
                        help="interpreter that has the peers installed (default: this one)")
    parser.add_argument("--peers", default="mlflow,gto", help="comma-separated peers to try (mlflow, gto)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.models < 3 or args.versions < PRODUCTION:
        parser.error(f"need --models >= 3 and --versions >= {PRODUCTION} (version {PRODUCTION} is in production)")

    import gitreg  # noqa: F401 - this interpreter must be gitreg's
    # Absolute, as found on PATH, symlinks kept: a venv's bin/python has its console scripts beside it.
    args.peer_python = os.path.abspath(shutil.which(args.peer_python) or args.peer_python)
    from importlib.metadata import version as dist_version

    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="gitreg-peers-"))
    try:
        hermetic_env(scratch)
        tools = [Tool("gitreg", sys.executable, dist_version("gitreg"))]
        for name in [p.strip() for p in args.peers.split(",") if p.strip()]:
            if name not in IMPORT_NAMES:
                parser.error(f"unknown peer {name!r} (mlflow, gto)")
            version, why = probe(args.peer_python, IMPORT_NAMES[name])
            tools.append(Tool(name, args.peer_python, version, why))
        live = [t for t in tools if not t.skipped]
        for tool in live:
            tool.driver = scratch / f"driver_{tool.name}.py"
            tool.driver.write_text(DRIVERS[tool.name])
            print(f"building the {LABELS[tool.name]} fixture ({args.models} x {args.versions}) ...", file=sys.stderr,
                  flush=True)
            try:
                BUILDERS[tool.name](tool, scratch, args.models, args.versions, args.artifact_mib, args.timeout)
            except (Failed, subprocess.CalledProcessError) as exc:
                tool.skipped = f"fixture failed: {exc}"
        live = [t for t in tools if not t.skipped]

        read_model = f"m{max(3, args.models // 2)}"  # resolve and list; register on m1, set stages on m2
        cells = {(op, t.name): Cell() for op, _, _ in OPS for t in tools}
        for tool in tools:
            if tool.name == "gto":
                cells[("load", "gto")].note = "n/a (no artifact store)"

        def measure(tool: Tool, op: str, kind: str, rnd: int) -> None:
            cell = cells[(op, tool.name)]
            if cell.note:  # failed earlier, over budget, or not applicable
                return
            try:
                if tool.name == "mlflow":
                    use_mlflow_db(tool.root)
                if kind == "process":
                    cmd, expect = whole_process(tool, op, read_model, args.versions)
                    if rnd == 0:  # untimed: fills caches (gitreg's manifest cache, bytecode, page cache)
                        run_process(cmd, tool.root, args.timeout)
                    seconds, rss, stdout, _ = run_process(cmd, tool.root, args.timeout)
                    if expect not in stdout:
                        raise Failed(f"unexpected output of {' '.join(cmd[:4])}: {stdout[:200]!r}")
                    cell.values.append(seconds)
                    if op == "resolve":
                        cells[("resolve_rss", tool.name)].values.append(rss / 1024)
                else:
                    model = {"register": "m1", "stage": "m2", "load": "big"}[op]
                    res = drive(tool, {"op": op, "root": str(tool.root), "scratch": str(tool.root), "model": model,
                                       "n": args.samples, "budget": args.budget, "offset": rnd * (args.samples + 1),
                                       "versions": args.versions, "mib": args.artifact_mib,
                                       "artifacts": str(tool.root / "artifacts")}, args.timeout)
                    cell.values.extend(res["times"])
            except Failed as exc:
                cell.note = f"failed: {str(exc)[:120]}"
            print(f"  round {rnd + 1} {op:8} {tool.name:6} "
                  f"{cell.note or fmt_time(cell.values[-1])}", file=sys.stderr, flush=True)

        for rnd in range(args.repeats):
            order = live[rnd % len(live):] + live[:rnd % len(live)] if live else []
            for op, _, kind in OPS:
                if kind in ("process", "inproc"):
                    for tool in order:
                        measure(tool, op, kind, rnd)
        for tool in live:  # once per tool: each builds a fresh registry and waits for its writers
            cell = cells[("race", tool.name)]
            try:
                rate, cell.note = race(tool, scratch, args.writers, args.per_writer, args.timeout)
                cell.values.append(rate)
            except (Failed, subprocess.TimeoutExpired, OSError, ValueError, KeyError, IndexError) as exc:
                cell.note = f"failed: {str(exc)[:120]}"
            print(f"  race {tool.name:6} {cell.note}", file=sys.stderr, flush=True)

        print_table(tools, cells, args, read_model, (load_before, os.getloadavg()[0]))
    finally:
        if args.keep:
            print(f"\nkept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def print_table(tools: list[Tool], cells: dict, args: argparse.Namespace, read_model: str,
                load: tuple[float, float]) -> None:
    gitver = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    peer_py = subprocess.run([args.peer_python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\ngitreg against its peers, {now}: {args.models} models x {args.versions} versions, 2 metadata keys"
          f" each, v{PRODUCTION} in production; reads on {read_model}; {args.repeats} paired rounds.")
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, {gitver};"
          f" gitreg on Python {sys.version.split()[0]}, peers on Python {peer_py};"
          f" load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.")
    print("Fixture build: " + ", ".join(f"{LABELS[t.name]} {t.build_s:.1f} s" for t in tools if not t.skipped))
    print()
    peers = [t for t in tools if t.name != "gitreg"]
    print("| operation | " + " | ".join(f"{LABELS[t.name]} {t.version}".strip() for t in tools)
          + " | gitreg / best peer |")
    print("|---|" + "---:|" * len(tools) + "---|")
    if any(t.skipped for t in tools):
        print("| availability | " + " | ".join(t.skipped or "measured" for t in tools) + " | |")
    for op, label, kind in OPS:
        label = label.format(mib=args.artifact_mib, writers=args.writers, per_writer=args.per_writer)
        row, medians = [], {}
        for t in tools:
            cell = cells[(op, t.name)]
            if t.skipped:
                row.append("skipped")
                continue
            if not cell.values:
                row.append(cell.note or "-")
                continue
            med = statistics.median(cell.values)
            medians[t.name] = med
            if kind == "rate":
                row.append(f"{med:.0f}/s ({cell.note})")
            elif kind == "rss":
                row.append(f"{med:.0f} MiB")
            else:
                n = f" (median of {len(cell.values)})" if kind == "inproc" else ""
                row.append(fmt_time(med) + n + (f"; {cell.note}" if cell.note else ""))
        print(f"| {label} | " + " | ".join(row) + f" | {ratio(kind, medians, peers)} |")


def ratio(kind: str, medians: dict[str, float], peers: list[Tool]) -> str:
    """gitreg's median over the best peer's, with ahead/behind (for rates, higher is better)."""
    mine = medians.get("gitreg")
    theirs = {t.name: medians[t.name] for t in peers if t.name in medians}
    if mine is None or not theirs or mine <= 0:
        return "-"
    higher_better = kind == "rate"
    best_name = (max if higher_better else min)(theirs, key=theirs.get)
    best = theirs[best_name]
    if best <= 0:
        return "-"
    r = mine / best
    ahead = r > 1 if higher_better else r < 1
    factor = r if r >= 1 else 1 / r
    word = "ahead" if ahead else "behind"
    if abs(r - 1) < 0.05:
        word = "even with"
    return f"{r:.2f} ({word} {LABELS[best_name]}, {factor:.1f}x)"


if __name__ == "__main__":
    main()
