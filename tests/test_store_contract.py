"""One store contract, run on every backend gitreg promises: a local folder, S3, GCS and Azure.

The servers are real and local (moto, fake-gcs-server, Azurite on 127.0.0.1; see stores.py).
Each backend gets the same checks through the API and the CLI: objects, files and directories
round-trip, identical bytes are stored once, changed bytes are refused, gc collects what nothing
links, a 300 MiB transfer stays within the local store's memory, and a store that is down or
refuses the credentials fails fast, in one line, with the right exit code.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from stores import (  # noqa: F401 - session fixtures
    AZURITE_KEY,
    GCS_ENV,
    Backend,
    azure_server,
    azurite_connection_string,
    free_port,
    gcs_server,
    missing,
)

MiB = 1024 * 1024
BIG = 300 * MiB
#: What a cloud backend may use beyond the local store's peak RSS, once its libraries' own import
#: cost (measured the same way, on a 1 KiB transfer) is added: a few transfer blocks in flight.
SLACK = 40 * MiB
BACKENDS = ["local", "s3", "gcs", "azure"]
REMOTE = ["s3", "gcs", "azure"]


def _backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    run = uuid.uuid4().hex[:12]
    if name == "local":
        return Backend("local", str(tmp_path / "store"))
    if name == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
        return Backend("s3", f"s3://models/{run}", {"client_kwargs": {"endpoint_url": endpoint}}, env)
    server: Backend = request.getfixturevalue("gcs_server" if name == "gcs" else "azure_server")
    return Backend(server.name, f"{server.uri}/{run}", dict(server.options), dict(server.env))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A fresh prefix on one backend, its credentials in the environment as a user would set them."""
    chosen = _backend(request.param, request, tmp_path)
    for key, value in chosen.env.items():
        monkeypatch.setenv(key, value)
    return chosen


@pytest.fixture
def registry(backend: Backend, hermetic: Path):
    """A registry whose store is ``backend``, made with init's store options, and one model version."""
    from gitreg import Client

    client = Client.init(hermetic, store=backend.uri, store_options=backend.options or None)
    client.create_model("m")
    client.create_model_version("m")
    return client


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitreg", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=300)


# ------------------------------------------------------------ save / load / dedup / tamper / gc


def test_objects_files_and_directories_round_trip(registry, backend: Backend, tmp_path: Path):
    from gitreg import Model

    m = Model("m", version=1)
    link = m.save_artifact({"accuracy": 0.97, "labels": ["a", "b"]}, "metrics")
    assert link.uri.startswith(backend.uri.rstrip("/") + "/objects/sha256/")
    assert Model("m", version=1).load_artifact("metrics") == {"accuracy": 0.97, "labels": ["a", "b"]}

    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(9 * MiB + 17))  # more than one 8 MiB transfer block
    registry.add_artifact("m", 1, str(weights), "weights")
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    registry.add_artifact("m", 1, str(folder), "data")

    got = registry.download_artifact("m", 1, "weights", tmp_path / "out" / "weights.bin")
    assert Path(got).read_bytes() == weights.read_bytes()
    out = Path(registry.download_artifact("m", 1, "data", tmp_path / "out" / "data"))
    assert (out / "a.txt").read_text() == "alpha" and (out / "sub" / "b.txt").read_text() == "beta"

    result = cli("artifact", "get", "m", "1", "weights", "--to", str(tmp_path / "cli.bin"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.bin").read_bytes() == weights.read_bytes()
    assert "Traceback" not in result.stderr and "Falling back" not in result.stderr


def test_identical_bytes_are_stored_once(registry, tmp_path: Path):
    from gitreg import Model

    first = Model("m", version=1).save_artifact(b"same bytes" * 1000, "one")
    second = Model("m", version=1).save_artifact(b"same bytes" * 1000, "two")
    assert first.uri == second.uri and first.sha256 == second.sha256
    objects = [e for e in registry.registry.store().entries()]
    assert [e.sha256 for e in objects] == [first.sha256]  # one object, no leftover temporary file


def test_an_interrupted_upload_leaves_no_object(registry, tmp_path: Path):
    import hashlib

    from gitreg.errors import ArtifactStoreError

    data = tmp_path / "w.bin"
    data.write_bytes(os.urandom(9 * MiB))  # two blocks: 8 MiB, then 1 MiB
    sha = hashlib.sha256(data.read_bytes()).hexdigest()
    seen: list[int] = []

    def interrupt(n: int) -> None:  # the user presses Ctrl-C after the first block went out
        seen.append(n)
        if len(seen) == 2:
            raise RuntimeError("interrupted")

    with pytest.raises((ArtifactStoreError, RuntimeError)):
        registry.add_artifact("m", 1, str(data), "w", progress=interrupt)
    store = registry.registry.store()
    assert not store.has(sha)  # no partial object at the content address, so a retry uploads again
    assert all(e.sha256 is None or e.sha256 != sha for e in store.entries())
    registry.add_artifact("m", 1, str(data), "w")
    assert Path(registry.download_artifact("m", 1, "w", tmp_path / "back.bin")).read_bytes() == data.read_bytes()


def test_changed_bytes_are_refused(registry, backend: Backend, tmp_path: Path):
    from fsspec.core import url_to_fs

    from gitreg import Model
    from gitreg.errors import IntegrityError

    link = Model("m", version=1).save_artifact(b"original bytes!", "blob")
    fs, path = url_to_fs(link.uri, **backend.options)
    if backend.name == "local":
        os.chmod(path, 0o644)  # stored objects are read-only
    fs.pipe_file(path, b"tampered bytes!")  # same size, other content
    with pytest.raises(IntegrityError):
        Model("m", version=1).load_artifact("blob")
    result = cli("artifact", "get", "m", "1", "blob", "--to", str(tmp_path / "x"))
    assert result.returncode == 12, result.stderr
    assert not (tmp_path / "x").exists()
    assert _one_error_line(result)


def test_gc_removes_only_what_nothing_links(registry, tmp_path: Path):
    from gitreg import Model

    kept = Model("m", version=1).save_artifact(b"kept" * 100, "kept")
    unlinked = Model("m", version=1).save_artifact(b"unlinked, an old commit links it" * 10, "unlinked")
    registry.delete_artifact("m", 1, "unlinked")
    store = registry.registry.store()
    orphan = store.put_bytes(b"orphan: never linked")
    assert registry.collect_garbage(dry_run=False).young == 1  # younger than the grace period: kept
    result = cli("artifact", "gc", "--grace-hours", "0", "--yes")
    assert result.returncode == 0, result.stderr
    assert "removed 1" in result.stderr and "Traceback" not in result.stderr
    assert sorted(e.sha256 for e in store.entries()) == sorted([kept.sha256, unlinked.sha256])
    assert orphan.sha256 not in {e.sha256 for e in store.entries()}
    assert Model("m", version=1).load_artifact("kept") == b"kept" * 100


# ------------------------------------------------------------ a 300 MiB transfer in bounded memory


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 MiB, made once: a random 4 MiB block repeated, each copy stamped with its index."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = bytearray(os.urandom(4 * MiB))
    with open(path, "wb") as fh:
        for i in range(BIG // len(block)):
            block[:8] = i.to_bytes(8, "big")
            fh.write(block)
    return path


#: Runs the CLI, then writes the process's own high-water mark of resident memory (VmHWM, in kB).
#: Not ru_maxrss: a child started by vfork from the test process inherits that process's mark at exec.
_MEASURED = """
import sys
from gitreg.cli.app import main
code = main(sys.argv[2:])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
with open(sys.argv[1], "w") as out:
    out.write(peak)
sys.exit(code)
"""


def measure(args: list[str], cwd: Path) -> int:
    """Run ``gitreg ARGS`` in a fresh child; its peak resident memory in bytes."""
    mark = cwd.parent / f"peak-{uuid.uuid4().hex}"
    result = subprocess.run([sys.executable, "-c", _MEASURED, str(mark), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Falling back" not in result.stderr, result.stderr
    return int(mark.read_text()) * 1024


def add_peak(root: Path, path: Path, name: str) -> int:
    return measure(["artifact", "add", "m", "1", str(path), "-n", name], root)


def get_peak(root: Path, name: str, size: int) -> int:
    out = root.parent / f"{name}.out"
    peak = measure(["artifact", "get", "m", "1", name, "--to", str(out)], root)
    assert out.stat().st_size == size
    out.unlink()
    return peak


_LOCAL: dict[str, int] = {}


@pytest.fixture
def local_peaks(big_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """The local store's figures, the bound for every backend (measured once): 1 KiB add, 300 MiB add and get."""
    if not _LOCAL:
        from gitreg import Client

        root = tmp_path_factory.mktemp("local-bound") / "repo"
        client = Client.init(root)
        client.create_model("m")
        client.create_model_version("m")
        small = root.parent / "small.bin"
        small.write_bytes(os.urandom(1024))
        _LOCAL["small"] = add_peak(root, small, "small")
        _LOCAL["add"] = add_peak(root, big_file, "big")
        _LOCAL["get"] = get_peak(root, "big", BIG)
    return _LOCAL


def test_300_mib_transfer_stays_within_the_local_stores_memory(registry, backend: Backend, big_file: Path,
                                                                 local_peaks: dict[str, int], hermetic: Path):
    if backend.name == "local":  # the bound itself: 300 MiB cost the local store no more than 1 KiB does
        for what in ("add", "get"):
            assert local_peaks[what] <= local_peaks["small"] + SLACK, (what, local_peaks)
        return
    small = hermetic.parent / "small.bin"
    small.write_bytes(os.urandom(1024))
    imports = max(0, add_peak(hermetic, small, "small") - local_peaks["small"])  # the backend's libraries
    peaks = {"add": add_peak(hermetic, big_file, "big"), "get": get_peak(hermetic, "big", BIG)}
    for what, peak in peaks.items():
        bound = local_peaks[what] + imports + SLACK
        assert peak <= bound, (f"{backend.name}: `artifact {what}` of 300 MiB peaked at {peak // MiB} MiB; the local"
                               f" store's {local_peaks[what] // MiB} MiB + {imports // MiB} MiB of libraries"
                               f" + {SLACK // MiB} MiB allow {bound // MiB} MiB")


# ------------------------------------------------------------ a store that is down, or refuses the key


def _down(name: str, port: int, request: pytest.FixtureRequest) -> Backend:
    """``name``'s backend pointed at 127.0.0.1:``port``."""
    run = uuid.uuid4().hex[:12]
    endpoint = f"http://127.0.0.1:{port}"
    if name == "s3":
        request.getfixturevalue("s3_endpoint")  # its credentials
        return Backend("s3", f"s3://models/{run}", {"client_kwargs": {"endpoint_url": endpoint}})
    if name == "gcs":
        return Backend("gcs", f"gs://models/{run}", {"endpoint_url": endpoint, "token": "anon"}, dict(GCS_ENV))
    request.getfixturevalue("azure_server")  # adlfs installed
    return Backend("azure", f"az://models/{run}", {},
                   {"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(port)})


def _registry_on(store: Backend, hermetic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitreg import Client

    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    client = Client.init(hermetic, store=store.uri, store_options=store.options or None)
    client.create_model("m")
    client.create_model_version("m")
    (hermetic / "w.bin").write_bytes(b"w" * 1024)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("name", REMOTE)
def test_a_store_that_is_down_fails_at_once_naming_its_endpoint(name, request, hermetic, monkeypatch):
    port = free_port()  # nothing listens there
    _registry_on(_down(name, port, request), hermetic, monkeypatch)
    started = time.monotonic()
    result = cli("artifact", "add", "m", "1", "w.bin", cwd=hermetic)
    took = time.monotonic() - started
    assert result.returncode == 11, result.stderr
    line = _one_error_line(result)
    assert f"127.0.0.1:{port}" in line and "refused" in line and "tried:" in line
    assert took < 10, f"{name}: {took:.1f} s before the error"


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers (a hung store)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("name", REMOTE)
def test_a_store_that_never_answers_fails_within_the_timeout(name, request, hermetic, monkeypatch, silent_server):
    _registry_on(_down(name, silent_server, request), hermetic, monkeypatch)
    started = time.monotonic()
    result = cli("artifact", "add", "m", "1", "w.bin", cwd=hermetic, env={"GITREG_STORE_TIMEOUT": "1"})
    took = time.monotonic() - started
    assert result.returncode == 11, result.stderr
    line = _one_error_line(result)
    assert "no answer within 1 s" in line and f"127.0.0.1:{silent_server}" in line and "GITREG_STORE_TIMEOUT" in line
    assert took < 6, f"{name}: {took:.1f} s before the error"


def test_a_bad_store_timeout_is_refused(monkeypatch):
    from gitreg.errors import InvalidValueError
    from gitreg.store import store_timeout

    monkeypatch.setenv("GITREG_STORE_TIMEOUT", "soon")
    with pytest.raises(InvalidValueError, match="GITREG_STORE_TIMEOUT"):
        store_timeout()
    monkeypatch.setenv("GITREG_STORE_TIMEOUT", "7.5")
    assert store_timeout() == 7.5


@pytest.fixture(scope="session")
def s3_checking_credentials():
    """A second S3 server (moto) that checks every request's credentials: it knows no key at all."""
    if shutil.which("moto_server", path=os.path.dirname(sys.executable)) is None:
        missing("moto_server", "pip install -e '.[test]' (moto[server])")
    port = free_port()
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def token_server():
    """An OAuth token endpoint that refuses every grant, as Google's does for a revoked key."""
    import http.server
    import json

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


def _service_account(path: Path, token_uri: str) -> None:
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "test", "private_key_id": "1", "private_key": key,
        "client_email": "gitreg@test.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri}))


@pytest.mark.parametrize("name", REMOTE)
def test_refused_credentials_exit_16_in_one_line(name, request, hermetic, monkeypatch, tmp_path):
    run = uuid.uuid4().hex[:12]
    if name == "s3":
        endpoint = request.getfixturevalue("s3_checking_credentials")
        store = Backend("s3", f"s3://models/{run}", {"client_kwargs": {"endpoint_url": endpoint}},
                        {"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG0", "AWS_SECRET_ACCESS_KEY": "wrong"})
        hint = "AWS_ACCESS_KEY_ID"
    elif name == "gcs":
        server: Backend = request.getfixturevalue("gcs_server")
        key_file = tmp_path / "service-account.json"
        _service_account(key_file, request.getfixturevalue("token_server"))
        store = Backend("gcs", f"{server.uri}/{run}", {**server.options, "token": "google_default"},
                        {**server.env, "GOOGLE_APPLICATION_CREDENTIALS": str(key_file)})
        hint = "GOOGLE_APPLICATION_CREDENTIALS"
    else:
        server = request.getfixturevalue("azure_server")
        port = int(server.env["AZURE_STORAGE_CONNECTION_STRING"].rsplit(":", 1)[1].split("/")[0])
        wrong = AZURITE_KEY[:-8] + "AAAAAAA="
        store = Backend("azure", f"{server.uri}/{run}", {},
                        {"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(port, wrong)})
        hint = "AZURE_STORAGE_CONNECTION_STRING"
    _registry_on(store, hermetic, monkeypatch)
    started = time.monotonic()
    result = cli("artifact", "add", "m", "1", "w.bin", cwd=hermetic)
    assert result.returncode == 16, result.stderr
    line = _one_error_line(result)
    assert "refused the credentials" in line and hint in line
    assert time.monotonic() - started < 15


def test_refused_store_credentials_are_caught_as_a_store_error_and_as_refused_credentials(
        request, hermetic, monkeypatch):
    from gitreg import Client
    from gitreg.errors import ArtifactStoreError, AuthenticationError

    endpoint = request.getfixturevalue("s3_checking_credentials")
    store = Backend("s3", f"s3://models/{uuid.uuid4().hex[:12]}", {"client_kwargs": {"endpoint_url": endpoint}},
                    {"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG0", "AWS_SECRET_ACCESS_KEY": "wrong"})
    _registry_on(store, hermetic, monkeypatch)
    with pytest.raises(ArtifactStoreError) as info:  # what code handling store failures catches
        Client(hermetic).add_artifact("m", 1, str(hermetic / "w.bin"), "w")
    assert isinstance(info.value, AuthenticationError) and info.value.exit_code == 16
    assert "refused the credentials" in str(info.value)
