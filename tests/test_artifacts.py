"""Artifacts through fsspec: local folder, memory://, and S3 on a real local server."""

import hashlib
import os
import pickle
import uuid
from pathlib import Path

import pytest

from conftest import git
from gitreg import Model, materializers
from gitreg.errors import (
    ArtifactNotFoundError,
    ArtifactStoreError,
    IntegrityError,
    InvalidValueError,
    MaterializerError,
)


def _store_files(root: Path):
    return sorted(p for p in (root / "objects").rglob("*") if p.is_file())


def test_objects_round_trip_with_materializers(client):
    m = Model("iris")
    values = {"raw": b"\x00\x01bytes", "text": "héllo", "cfg": {"a": [1, 2.5, None], "b": True},
              "obj": {1, 2, 3}}
    formats = {}
    for name, value in values.items():
        link = m.save_artifact(value, name)
        formats[name] = (link.format, link.executes_code)
    assert formats == {"raw": ("bytes", False), "text": ("text", False), "cfg": ("json", False),
                       "obj": ("pickle", True)}
    for name, value in values.items():
        assert m.load_artifact(name) == value


def test_numpy_materializer(client):
    np = pytest.importorskip("numpy")
    arr = np.arange(12, dtype="float32").reshape(3, 4)
    m = Model("iris")
    link = m.save_artifact(arr, "features")
    assert link.format == "numpy" and link.type == "data"
    assert (m.load_artifact("features") == arr).all()


def test_identical_bytes_are_stored_once(repo, client):
    m = Model("iris")
    a = m.save_artifact(b"same", "a")
    b = m.save_artifact(b"same", "b")
    assert a.sha256 == b.sha256 == hashlib.sha256(b"same").hexdigest()
    assert len(_store_files(repo / ".gitreg/store")) == 1
    # the default store is ignored by git
    assert git(repo, "status", "--porcelain") == ""


def test_artifact_versions_count_per_name(client):
    m1, m2 = Model("iris"), Model("iris")
    assert m1.save_artifact(b"one", "weights").version == 1
    assert m2.save_artifact(b"two", "weights").version == 2
    assert m2.save_artifact(b"three", "weights").version == 3
    assert m2.get_artifact("weights").version == "3"  # ZenML's ArtifactVersionResponse.version: text
    assert m2.load_artifact("weights", version=2) == b"two"
    # saving the very same bytes under the same name again adds nothing
    assert m2.save_artifact(b"three", "weights").version == 3


def test_tampered_bytes_are_refused(repo, client):
    m = Model("iris")
    link = m.save_artifact({"secret": 1}, "obj")
    path = repo / link.uri
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes().replace(b"1", b"2"))  # same size, other bytes
    with pytest.raises(IntegrityError, match="hash mismatch"):
        m.load_artifact("obj")


def test_pickles_need_verified_bytes(tmp_path):
    path = tmp_path / "p"
    path.write_bytes(pickle.dumps([1]))
    with pytest.raises(MaterializerError, match="not verified"):
        materializers.load("pickle", path, verified=False)
    assert materializers.load("pickle", path, verified=True) == [1]
    tmp_path.joinpath("j").write_text("[1]")
    assert materializers.load("json", tmp_path / "j", verified=False) == [1]


def test_files_directories_and_typed_getters(repo, client, tmp_path):
    client.create_model_version("iris")
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(b"M" * 1000)
    data_dir = tmp_path / "data"
    (data_dir / "sub").mkdir(parents=True)
    (data_dir / "a.csv").write_text("x,y\n1,2\n")
    (data_dir / "sub" / "b.csv").write_text("x,y\n3,4\n")
    client.add_artifact("iris", 1, str(model_file), "trained_model", type="model")
    link = client.add_artifact("iris", "latest", str(data_dir), "training_data", type="data")
    assert link.kind == "directory" and link.size == 16
    m = Model("iris", version=1)
    assert m.get_model_artifact("trained_model").size == 1000
    with pytest.raises(ArtifactNotFoundError):
        m.get_model_artifact("training_data")
    assert m.get_data_artifact("training_data").kind == "directory"
    loaded_dir = m.load_artifact("training_data")
    assert (loaded_dir / "sub" / "b.csv").read_text() == "x,y\n3,4\n"
    out = client.download_artifact("iris", 1, "trained_model", tmp_path / "out" / "m.pkl")
    assert out.read_bytes() == b"M" * 1000
    copied = m.get_artifact("training_data").download(tmp_path / "copy")
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file()) == ["a.csv", "sub/b.csv"]
    m.delete_artifact("trained_model")
    with pytest.raises(ArtifactNotFoundError, match="it has: training_data"):
        m.get_artifact("trained_model")


def test_external_link_is_not_copied_and_is_verified(repo, client, tmp_path):
    external = tmp_path / "external.bin"
    external.write_bytes(b"outside")
    m = Model("iris")
    link = m.link_artifact(f"file://{external}", "ext", type="deployment")
    assert link.external and link.uri == f"file://{external}"
    assert not (repo / ".gitreg/store").exists() or not _store_files(repo / ".gitreg/store")
    assert m.get_deployment_artifact("ext").load().read_bytes() == b"outside"
    external.write_bytes(b"changed")
    with pytest.raises(IntegrityError):
        m.get_artifact("ext").download(tmp_path / "x")
    with pytest.raises(ArtifactStoreError, match="does not exist"):
        m.link_artifact(f"file://{tmp_path}/missing", "gone")


def test_bad_input_is_refused_before_anything_is_written(repo, client, tmp_path):
    client.create_model_version("iris")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidValueError, match="no such file"):
        client.add_artifact("iris", 1, str(tmp_path / "missing"), "x")
    with pytest.raises(InvalidValueError, match="unknown artifact type"):
        client.add_artifact("iris", 1, __file__, "x", type="weights")
    with pytest.raises(Exception, match="invalid artifact name"):
        Model("iris", version=1).save_artifact(b"x", "bad/name")
    with pytest.raises(KeyError):
        client.add_artifact("iris", 7, __file__, "x")
    assert git(repo, "rev-parse", "HEAD") == head


def _use_store(client, uri, options=None):
    """Point the registry at another store (a hand edit of registry.yaml, committed)."""
    from gitreg.manifests import RegistryConfig, dump

    repo = client.registry.root
    config = RegistryConfig(store=uri, tag_prefix="models", options=options or {})
    (repo / ".mcp/registry.yaml").write_bytes(dump("registry", config, "registry.yaml"))
    git(repo, "commit", "-qam", f"use store {uri}")


def test_memory_store(client):
    _use_store(client, f"memory://gitreg-{uuid.uuid4().hex}")
    m = Model("iris")
    link = m.save_artifact({"k": "v"}, "cfg")
    assert link.uri.startswith("memory://")
    assert m.load_artifact("cfg") == {"k": "v"}


def test_s3_store(client, s3_endpoint, tmp_path):
    prefix = f"s3://models/{uuid.uuid4().hex}"
    _use_store(client, prefix, {"storage_options": {"client_kwargs": {"endpoint_url": s3_endpoint}}})
    m = Model("iris")
    link = m.save_artifact(b"x" * 100_000, "weights", type="model")
    assert link.uri.startswith(prefix + "/objects/sha256/")
    assert m.load_artifact("weights") == b"x" * 100_000
    again = Model("iris").save_artifact(b"x" * 100_000, "weights")
    assert again.sha256 == link.sha256
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    (data_dir / "f.txt").write_text("hello")
    client.add_artifact("iris", m.number, str(data_dir), "folder")
    assert (m.load_artifact("folder") / "f.txt").read_text() == "hello"
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    fs.pipe(link.uri, b"tampered")
    with pytest.raises(IntegrityError):
        m.load_artifact("weights", version=1)
    # a file already in S3 can be linked in place
    fs.pipe("s3://models/external/raw.bin", b"raw")
    ext = m.link_artifact("s3://models/external/raw.bin", "raw")
    assert ext.external and m.get_artifact("raw").load().read_bytes() == b"raw"
    # garbage collection lists the bucket: linked objects stay, an orphan goes
    orphan = client.registry.store().put_bytes(b"orphan")
    report = client.collect_garbage(dry_run=False, grace_seconds=0)
    assert [p.endswith(orphan.sha256[2:]) for p in report.removed] == [True]
    assert not fs.exists(orphan.uri) and fs.exists(link.uri)


def test_unreachable_store_is_a_clear_error(client):
    _use_store(client, "s3://models/x", {"storage_options": {
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1}}})
    pytest.importorskip("s3fs")
    with pytest.raises(ArtifactStoreError):
        Model("iris").save_artifact(b"x", "w")


def test_pandas_materializer(client):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1, 2, 3], "species": ["a", "b", "c"]})
    m = Model("iris")
    link = m.save_artifact(frame, "training_data")
    assert (link.format, link.type, link.executes_code) == ("parquet", "data", False)
    assert m.load_artifact("training_data").equals(frame)


def test_sklearn_estimators_are_model_artifacts(client):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    clf = SVC(gamma=0.001).fit(X, y)
    m = Model("iris_classifier")
    link = m.save_artifact(clf, "trained_model")
    assert (link.format, link.type, link.executes_code) == ("skops", "model", False)
    loaded = Model("iris_classifier", version="latest").get_model_artifact("trained_model").load()
    assert (loaded.predict(X[:10]) == clf.predict(X[:10])).all()


def test_large_files_stream_in_bounded_memory(repo, client, tmp_path):
    """300 MiB in and out: peak memory of the process stays far below the file size."""
    import subprocess
    import sys

    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(300 * 1024 * 1024)
    client.create_model_version("iris")
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc to read the peak resident set size")
    # VmHWM is this process's own peak (ru_maxrss would include the forking parent's).
    script = (
        "import sys\n"
        "from gitreg import Client\n"
        "c = Client()\n"
        "c.add_artifact('iris', 1, sys.argv[1], 'big', type='model')\n"
        "c.download_artifact('iris', 1, 'big', sys.argv[1] + '.back')\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]) // 1024)\n"
    )
    res = subprocess.run([sys.executable, "-c", script, str(big)], capture_output=True, text=True, check=True)
    peak_mib = int(res.stdout.strip())
    assert peak_mib < 150, f"peak RSS {peak_mib} MiB for a 300 MiB artifact"
    assert (tmp_path / "big.bin.back").stat().st_size == big.stat().st_size


def test_external_directory_link(repo, client, tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"A")
    (folder / "b.bin").write_bytes(b"BB")
    m = Model("iris")
    link = m.link_artifact(f"file://{folder}", "shards")
    assert (link.kind, link.size, link.external) == ("directory", 3, True)
    copy = m.get_artifact("shards").download(tmp_path / "copy")
    assert sorted(p.name for p in copy.iterdir()) == ["a.bin", "b.bin"]
    (folder / "b.bin").write_bytes(b"changed")
    with pytest.raises(IntegrityError):
        m.get_artifact("shards").download(tmp_path / "copy2")
    assert not (tmp_path / "copy2").exists()


def test_a_streamed_save_stores_exactly_what_a_file_save_writes(repo, client, tmp_path):
    np = pytest.importorskip("numpy")
    m = Model("iris")
    values = {"raw": bytearray(b"\x00\xffbytes" * 1000), "text": "héllo\n" * 100, "cfg": {"a": [1, 2.5], "b": None},
              "grid": np.arange(3 * 1024 * 1024, dtype="float64").reshape(1024, -1)[:, ::2]}  # not contiguous
    for name, value in values.items():
        assert materializers.streams(value)
        link = m.save_artifact(value, name)
        stored = repo / link.uri
        data = stored.read_bytes()
        assert hashlib.sha256(data).hexdigest() == link.sha256 and len(data) == link.size
        reference = tmp_path / name
        materializers.save(value, reference)  # the path-based writer of the same format
        assert data == reference.read_bytes()
        loaded = m.load_artifact(name)
        assert (loaded == value).all() if name == "grid" else loaded == value
    assert not [p for p in (repo / ".gitreg/store/objects").rglob(".tmp-*")]  # nothing half-written left


def test_a_streamed_save_that_fails_leaves_nothing_behind(repo, client, monkeypatch):
    import dataclasses

    def broken(obj, fh):
        fh.write(b"partial bytes")
        raise OSError("disk full")

    patched = tuple(dataclasses.replace(m, stream=broken) if m.format == "bytes" else m
                    for m in materializers.MATERIALIZERS)
    monkeypatch.setattr(materializers, "MATERIALIZERS", patched)
    with pytest.raises(MaterializerError, match="disk full"):
        Model("iris").save_artifact(b"payload", "raw")
    assert [p for p in (repo / ".gitreg/store").rglob("*") if p.is_file() and p.name != ".gitignore"] == []
