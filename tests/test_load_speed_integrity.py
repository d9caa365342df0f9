"""Loads from a local store read the object in place; a verified stamp skips hashing, never checks.

The stamp (size, mtime, ctime, inode, device) is recorded when an object's hash
matched; each test changes the object in a way one part of the stamp catches.
"""

import dataclasses
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from gitreg import Model
from gitreg import store as store_module
from gitreg.errors import ArtifactRefusedError, IntegrityError
from gitreg.store import hashing
from test_artifacts import _use_store


@pytest.fixture
def hashed(monkeypatch):
    """Bytes gitreg's store hashed, counted (a verified load hashes none)."""
    seen = []
    real = hashing.digest

    def counting(chunks, *args, **kwargs):
        sha, size = real(chunks, *args, **kwargs)
        seen.append(size)
        return sha, size

    monkeypatch.setattr(hashing, "digest", counting)
    return seen


def _wait_past_racy() -> None:
    """A stamp is recorded, and an object hashed in place, only once its last change is this old."""
    time.sleep(store_module.RACY_NS / 1e9 + 0.05)


def _stamps(client) -> Path:
    return client.registry.repo.cache_dir / "verified"


def _saved(client, value, name="weights"):
    """Save ``value``, wait until the object is no longer "racy", load it once: its stamp is recorded."""
    m = Model("iris")
    link = m.save_artifact(value, name)
    _wait_past_racy()
    assert m.load_artifact(name) == value
    assert (_stamps(client) / link.sha256).is_file()
    return m, link


def _rewrite_keeping_times(path: Path, data: bytes) -> None:
    """Change the bytes in place (same inode, same size) and put mtime and atime back."""
    st = path.stat()
    os.chmod(path, 0o644)
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.chmod(path, 0o444)


def test_verified_load_reads_without_hashing(repo, client, hashed):
    m, link = _saved(client, b"v" * 5000)
    hashed.clear()
    assert m.load_artifact("weights") == b"v" * 5000
    assert hashed == []


def test_tampering_after_a_verified_load_is_refused(repo, client, hashed):
    m, link = _saved(client, b"a" * 5000)
    obj = repo / link.uri
    before = obj.stat()
    _rewrite_keeping_times(obj, b"b" * 5000)
    after = obj.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    _wait_past_racy()  # so that the object is hashed in place, not copied
    hashed.clear()
    with pytest.raises(IntegrityError, match="hash mismatch"):
        m.load_artifact("weights")
    assert hashed == [5000]
    # and again: a refused object never gets a stamp
    with pytest.raises(IntegrityError):
        m.load_artifact("weights")


def test_replaced_object_is_hashed_again(repo, client, hashed):
    m, link = _saved(client, b"c" * 5000)
    obj = repo / link.uri
    st = obj.stat()
    # a new file (another inode) with other bytes of the same size and the old times
    new = obj.with_name("replacement")
    new.write_bytes(b"d" * 5000)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.chmod(new, 0o444)
    os.replace(new, obj)
    replaced = obj.stat()
    assert replaced.st_ino != st.st_ino
    # the recorded stamp is made to agree with the new file in everything but the inode
    stamp_file = _stamps(client) / link.sha256
    path, size, mtime, _ctime, ino, dev = json.loads(stamp_file.read_text())
    stamp_file.write_text(json.dumps([path, size, mtime, replaced.st_ctime_ns, ino, dev]))
    _wait_past_racy()
    hashed.clear()
    with pytest.raises(IntegrityError, match="hash mismatch"):
        m.load_artifact("weights")
    assert hashed == [5000]


def test_replaced_object_with_the_same_bytes_is_hashed_once_then_trusted(repo, client, hashed):
    m, link = _saved(client, b"e" * 5000)
    obj = repo / link.uri
    new = obj.with_name("replacement")
    new.write_bytes(b"e" * 5000)
    os.chmod(new, 0o444)
    os.replace(new, obj)
    _wait_past_racy()
    hashed.clear()
    assert m.load_artifact("weights") == b"e" * 5000
    assert hashed == [5000]
    assert m.load_artifact("weights") == b"e" * 5000
    assert hashed == [5000]


def test_the_stamp_never_skips_the_size_check(repo, client):
    m, link = _saved(client, b"s" * 5000)
    artifact = m.get_artifact("weights")
    assert artifact.load() == b"s" * 5000
    for size in (4999, 5001, 0):
        wrong = dataclasses.replace(artifact, link=dataclasses.replace(artifact.link, size=size))
        with pytest.raises(ArtifactRefusedError, match="size mismatch"):
            wrong.load()


def test_large_first_load_hashes_alongside_the_read(repo, client, hashed):
    np = pytest.importorskip("numpy")
    arr = np.arange(store_module.PARALLEL_HASH // 8 + 1000, dtype="float64")
    m = Model("iris")
    link = m.save_artifact(arr, "features")
    _wait_past_racy()
    hashed.clear()
    assert (m.load_artifact("features") == arr).all()
    assert hashed == [link.size]
    assert (_stamps(client) / link.sha256).is_file()
    # bytes that no longer parse are reported as what they are: not the stored bytes
    os.remove(_stamps(client) / link.sha256)
    obj = repo / link.uri
    _rewrite_keeping_times(obj, b"\x00" * link.size)
    _wait_past_racy()
    hashed.clear()
    with pytest.raises(IntegrityError, match="hash mismatch"):
        m.load_artifact("features")
    assert hashed == [link.size]  # hashed in place, alongside np.load's read
    assert not (_stamps(client) / link.sha256).exists()


def test_an_object_changed_a_moment_ago_is_read_from_a_verified_copy(repo, client, hashed, monkeypatch):
    monkeypatch.setattr(store_module.hashing, "RACY_NS", 3600 * 10**9)  # "a moment": however slow the save was
    m = Model("iris")
    link = m.save_artifact(b"r" * 5000, "weights")
    assert m.load_artifact("weights") == b"r" * 5000  # at once: the object's ctime is "racy"
    assert not (_stamps(client) / link.sha256).exists()


def test_change_while_reading_falls_back_to_a_verified_copy(repo, client, monkeypatch):
    m, link = _saved(client, b"w" * 5000)
    obj = repo / link.uri
    from gitreg import materializers

    real = materializers.load

    def load_then_tamper(fmt, path, **kwargs):
        value = real(fmt, path, **kwargs)
        _rewrite_keeping_times(obj, b"x" * 5000)  # changed after the stamp check, before the stamp re-check
        return value

    monkeypatch.setattr(materializers, "load", load_then_tamper)
    with pytest.raises(IntegrityError, match="hash mismatch"):
        m.load_artifact("weights")


def test_remote_loads_still_hash(client, s3_endpoint):
    prefix = f"s3://models/{uuid.uuid4().hex}"
    _use_store(client, prefix, {"storage_options": {"client_kwargs": {"endpoint_url": s3_endpoint}}})
    m = Model("iris")
    link = m.save_artifact(b"z" * 5000, "weights")
    _wait_past_racy()
    for _ in range(2):
        assert m.load_artifact("weights") == b"z" * 5000
    assert not _stamps(client).exists()
    import s3fs

    s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}).pipe(link.uri, b"Z" * 5000)  # same size
    with pytest.raises(IntegrityError, match="hash mismatch"):
        m.load_artifact("weights")


def test_save_writes_in_the_store_and_leaves_no_scratch_file(repo, client):
    from gitreg.errors import MaterializerError

    m = Model("iris")
    link = m.save_artifact(b"q" * 5000, "weights")
    with pytest.raises(MaterializerError):
        m.save_artifact([b"x" * 500_000, lambda: 0], "bad")  # pickle fails after writing the bytes
    objects = repo / ".gitreg/store/objects"
    files = sorted(p.relative_to(objects).as_posix() for p in objects.rglob("*") if p.is_file())
    assert files == [f"sha256/{link.sha256[:2]}/{link.sha256[2:]}"]
    assert oct((objects / files[0]).stat().st_mode & 0o777) == "0o444"
