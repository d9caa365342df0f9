"""fsspec backends: files opened in bounded blocks, and the first contact with a remote store,
bounded by :func:`store_timeout` and failing fast when nothing listens at its endpoint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ..errors import ArtifactStoreError, InvalidValueError
from ..store_options import PROTOCOL_FAMILY, store_family
from . import failures, hashing

#: Seconds the first contact with a remote store may take ($GITREG_STORE_TIMEOUT overrides it).
DEFAULT_TIMEOUT = 20.0
TIMEOUT_ENV = "GITREG_STORE_TIMEOUT"
#: Protocols whose writes become visible whole or not at all (a multipart or block upload is
#: committed at the end): objects are uploaded straight to their content address.
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


def store_timeout() -> float:
    """Seconds the first contact with a remote store may take: ``$GITREG_STORE_TIMEOUT``, default 20."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InvalidValueError(f"${TIMEOUT_ENV} must be a positive number of seconds, not {text!r}")
    return value


def prepare_backend(uri: str, options: dict[str, Any]) -> None:
    """Settings a backend reads once, at import, before it is imported.

    gcsfs probes each bucket's type over gRPC unless GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT is false;
    an emulator or a proxy (a non-Google endpoint) has no gRPC, and each probe hangs for a minute.
    """
    if store_family(uri) == "gs" and (options.get("endpoint_url") or os.environ.get("STORAGE_EMULATOR_HOST")):
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def open_read(fs: Any, path: str) -> Any:
    """A file of ``fs`` to read in hashing.CHUNK blocks: remote ones with no read-ahead cache (bounded memory)."""
    if {"file", "local"} & set(protocols(fs)):
        return fs.open(path, "rb")
    return fs.open(path, "rb", block_size=hashing.CHUNK, cache_type="none")


def open_write(fs: Any, path: str) -> Any:
    """A file of ``fs`` to write, sent in hashing.CHUNK blocks (not the backend's default block size)."""
    if {"file", "local"} & set(protocols(fs)):
        return fs.open(path, "wb")
    return fs.open(path, "wb", block_size=hashing.CHUNK)


def abandon(fh: Any) -> None:
    """Drop a file being written without committing it (fsspec's files commit on close, even on error)."""
    try:
        fh.discard()  # s3fs aborts the multipart upload, gcsfs the resumable one
    except Exception:  # best effort: an unfinished upload is never visible anyway
        pass
    try:
        fh.closed = True  # nor by the finaliser; adlfs's staged blocks expire uncommitted
    except AttributeError:
        fh.close()  # a file whose ``closed`` is read-only (not a buffered remote file): a scratch name


def hash_stream(fs: Any, path: str) -> tuple[str, int]:
    with open_read(fs, path) as fh:
        return hashing.digest(iter(lambda: fh.read(hashing.CHUNK), b""))


def _endpoint(fs: Any) -> str | None:
    """The URL a remote filesystem talks to, when the backend tells (for messages and the reach check)."""
    try:
        family = PROTOCOL_FAMILY.get(next(iter(protocols(fs)), ""))
        if family == "gs":
            return str(fs._location)
        if family == "s3":
            return (getattr(fs, "endpoint_url", None) or (getattr(fs, "client_kwargs", None) or {}).get("endpoint_url")
                    or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
                    or "https://s3.amazonaws.com")
        if family == "az":
            client = getattr(fs, "service_client", None)
            return str(getattr(client, "url", None) or getattr(fs, "account_url", None) or "") or None
    except Exception:  # only for a message
        return None
    return None


def _tcp_problem(endpoint: str, timeout: float) -> tuple[str, str | None]:
    """(host:port of ``endpoint``, why no TCP connection to it can be made: None when one was made)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return endpoint, None
    target = f"{host}:{port}"
    if not host:
        return endpoint, None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return target, None
    except socket.gaierror as exc:
        return target, f"cannot resolve {host} ({exc.strerror})"
    except ConnectionRefusedError:
        return target, "connection refused (nothing listens there)"
    except TimeoutError:
        return target, f"no TCP connection within {timeout:g} s"
    except OSError as exc:
        return target, f"no TCP connection ({exc.strerror or exc})"


def reach(fs: Any, path: str, uri: str) -> None:
    """First contact with a remote (asynchronous) filesystem, within :func:`store_timeout` seconds.

    One metadata request on ``path`` (a missing path is fine; with gcsfs, after one token
    refresh, which it would otherwise retry for half a minute).  If it has not answered
    after a moment, a TCP connection to the endpoint is tried: nothing listening there fails
    at once instead of after the backend's retries; otherwise the request may take the rest
    of the time.  Failures are one line naming the endpoint and what was tried.
    """
    try:
        from fsspec.asyn import AsyncFileSystem
    except ImportError:
        return
    if not isinstance(fs, AsyncFileSystem) or getattr(fs, "asynchronous", False):
        return
    import asyncio
    import concurrent.futures

    timeout = store_timeout()
    endpoint = _endpoint(fs)
    backend = type(fs).__module__.split(".", 1)[0]
    at = f" at {endpoint}" if endpoint else ""
    tried = f"a metadata request for {uri} through {backend}"

    async def probe() -> None:
        # gcsfs retries a refused token for half a minute: ask for one once, up front, instead.
        refresh = getattr(getattr(fs, "credentials", None), "maybe_refresh", None)
        if callable(refresh):
            await _in_daemon_thread(refresh)
        try:
            await fs._info(path)
        except FileNotFoundError:
            pass

    started = time.monotonic()
    future = asyncio.run_coroutine_threadsafe(probe(), fs.loop)
    checked = False
    while True:
        left = timeout - (time.monotonic() - started)
        done, _ = concurrent.futures.wait([future], timeout=max(0.0, left if checked else min(left, 0.3)))
        if done:
            exc = future.exception()
            if exc is None:
                return
            raise failures.classify(exc, f"the artifact store {uri}{at}", uri)
        left = timeout - (time.monotonic() - started)
        problem = None
        if left <= 0:
            problem = f"no answer within {timeout:g} s"
        elif not checked:
            checked = True
            if endpoint:
                target, problem = _tcp_problem(endpoint, min(3.0, left))
                tried += f", then a TCP connection to {target}"
        if problem is not None:
            future.cancel()
            raise ArtifactStoreError(
                f"cannot reach the artifact store {uri}{at}: {problem} (tried: {tried}); check that the store is up"
                f" and its endpoint, or give it longer with ${TIMEOUT_ENV} (now {timeout:g} s)"
            )


async def _in_daemon_thread(func: Callable[[], Any]) -> Any:
    """Await ``func()`` run in a daemon thread: one that hangs cannot keep the process from exiting."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def run() -> None:
        try:
            result = func()
        except BaseException as exc:  # handed to the awaiting coroutine
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="gitreg-store-credentials", daemon=True).start()
    return await done


def modified(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        timestamp = getattr(value, "timestamp", None)
        if callable(timestamp):
            return float(timestamp())
    return None


def is_local_path(uri: str) -> bool:
    return "://" not in uri and not uri.startswith("memory:")
