"""Safe artifact formats and safe loading.

Objects are saved in formats that cannot run code when there is one (skops,
Parquet, NumPy without pickle); pickle is the marked fallback.  Loads refuse
links that point outside the store, code from external links, wrong sizes,
and bytes that are not what the link's format says; the local path cache is
re-verified when its copy changed.
"""

import os
import pickle
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import git
from gitreg import Client, Model
from gitreg.cli.app import main
from gitreg.errors import ArtifactRefusedError, ManifestError, MaterializerError

VERSION_FILE = ".mcp/models/{model}/versions/{number}.yaml"


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def edit_link(repo: Path, model: str, number: int, name: str, **changes) -> None:
    """Hand-edit one artifact link of a version manifest and commit it (None removes a key)."""
    path = repo / VERSION_FILE.format(model=model, number=number)
    doc = yaml.safe_load(path.read_text())
    for link in doc["artifacts"]:
        if link["name"] == name:
            for key, value in changes.items():
                if value is None:
                    link.pop(key, None)
                else:
                    link[key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(repo, "commit", "-qam", f"hand edit of {name}")


def add_link(repo: Path, model: str, number: int, link: dict) -> None:
    """Hand-add an artifact link to a version manifest and commit it."""
    path = repo / VERSION_FILE.format(model=model, number=number)
    doc = yaml.safe_load(path.read_text())
    doc.setdefault("artifacts", []).append({"version": 1, "type": "data", "kind": "file", "external": False} | link)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(repo, "commit", "-qam", f"hand-added link {link['name']}")


def stored_link(client: Client, data: bytes, name: str, fmt: str, **extra) -> dict:
    stored = client.registry.store().put_bytes(data)
    return {"name": name, "uri": stored.uri, "sha256": stored.sha256, "size": stored.size, "format": fmt} | extra


def _iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


# ------------------------------------------------------------------ safe by default


def test_sklearn_estimators_are_saved_with_skops_and_load_without_pickle(repo, client, monkeypatch):
    pytest.importorskip("skops")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = _iris()
    clf = make_pipeline(StandardScaler(), SVC(gamma=0.01)).fit(X, y)
    link = Model("iris").save_artifact(clf, "trained_model")
    assert (link.format, link.type, link.executes_code) == ("skops", "model", False)
    assert zipfile.is_zipfile(repo / link.uri)  # skops' zip, not a pickle stream
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("a skops load must not unpickle"))
    loaded = Model("iris", version="latest").load_artifact("trained_model")
    assert (loaded.predict(X) == clf.predict(X)).all()


def test_skops_refuses_types_its_link_does_not_record_unless_the_caller_opts_in(repo, client):
    pytest.importorskip("skops")
    from sklearn.tree import DecisionTreeClassifier

    X, y = _iris()
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    Model("iris").save_artifact(tree, "tree")
    assert (Model("iris", version="latest").load_artifact("tree").predict(X) == tree.predict(X)).all()
    edit_link(repo, "iris", 1, "tree", trusted_types=None)  # the record of what the bytes need, removed
    artifact = Model("iris", version="latest").get_artifact("tree")
    with pytest.raises(MaterializerError, match=r"sklearn\.tree\._tree\.Tree") as err:
        artifact.load()
    assert "trusted=" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(MaterializerError, match="does not trust"):
        Model("iris", version="latest").load_artifact("tree")
    loaded = artifact.load(trusted=["sklearn.tree._tree.Tree"])
    assert (loaded.predict(X) == tree.predict(X)).all()


class ScaledEstimator:  # a user's own estimator: skops saves it, but does not trust its type
    pass


def test_user_estimators_go_to_skops_and_their_class_is_recorded_for_review(repo, client):
    pytest.importorskip("skops")
    from sklearn.base import BaseEstimator

    cls = type("ScaledEstimator", (BaseEstimator,),
               {"__module__": __name__, "__init__": lambda self, k=2: setattr(self, "k", k)})
    globals()["ScaledEstimator"] = cls  # importable by skops at load, like any user class
    link = Model("iris").save_artifact(cls(k=3), "custom")
    assert (link.format, link.type, link.executes_code) == ("skops", "model", False)
    assert link.trusted_types == (f"{__name__}.ScaledEstimator",)
    doc = yaml.safe_load((repo / VERSION_FILE.format(model="iris", number=1)).read_text())
    assert doc["artifacts"][0]["trusted_types"] == [f"{__name__}.ScaledEstimator"]
    assert Model("iris", version="latest").get_artifact("custom").load().k == 3
    edit_link(repo, "iris", 1, "custom", trusted_types=None)
    with pytest.raises(MaterializerError, match=f"{__name__}.ScaledEstimator"):
        Model("iris", version="latest").get_artifact("custom").load()
    assert Model("iris", version="latest").get_artifact("custom").load(trusted=[cls]).k == 3


def test_without_skops_estimators_fall_back_to_marked_pickle(client, monkeypatch):
    from sklearn.svm import SVC

    X, y = _iris()
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    link = Model("iris").save_artifact(SVC().fit(X, y), "trained_model")
    assert (link.format, link.type, link.executes_code) == ("pickle", "model", True)
    assert Model("iris", version="latest").load_artifact("trained_model").predict(X[:3]) is not None


def test_pandas_objects_are_parquet_and_round_trip(repo, client):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"x": [1.5, 2.5], "c": pd.Categorical(["a", "b"])}, index=pd.Index([7, 9], name="id"))
    named = pd.Series([1, 2, 3], name="target")
    unnamed = pd.Series(["a", "b"])
    m = Model("iris")
    links = [m.save_artifact(v, n) for n, v in (("frame", frame), ("named", named), ("unnamed", unnamed))]
    assert {(link.format, link.executes_code) for link in links} == {("parquet", False)}
    assert (repo / links[0].uri).read_bytes()[:4] == b"PAR1"
    latest = Model("iris", version="latest")
    pd.testing.assert_frame_equal(latest.load_artifact("frame"), frame)
    pd.testing.assert_series_equal(latest.load_artifact("named"), named)
    pd.testing.assert_series_equal(latest.load_artifact("unnamed"), unnamed)


def test_pandas_objects_parquet_cannot_hold_fall_back_to_marked_pickle(client):
    pd = pytest.importorskip("pandas")
    mixed = pd.DataFrame({"m": [1, "a"]})  # a mixed object column: not a parquet column
    link = Model("iris").save_artifact(mixed, "mixed")
    assert (link.format, link.type, link.executes_code) == ("pickle", "data", True)
    assert Model("iris", version="latest").load_artifact("mixed").equals(mixed)
    script = (  # a process where pyarrow is not installed
        "import sys\n"
        "sys.modules['pyarrow'] = None\n"
        "import pandas as pd\n"
        "from gitreg import Model\n"
        "link = Model('iris').save_artifact(pd.DataFrame({'x': [1, 2]}), 'plain')\n"
        "print(link.format, link.executes_code)\n"
        "print(Model('iris', version='latest').load_artifact('plain').x.tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["pickle True", "[1, 2]"]


def test_numpy_object_arrays_fall_back_to_marked_pickle(client):
    np = pytest.importorskip("numpy")
    m = Model("iris")
    plain = m.save_artifact(np.arange(3), "plain")
    objects = m.save_artifact(np.array([1, "a", None], dtype=object), "objects")
    assert (plain.format, plain.executes_code) == ("numpy", False)
    assert (objects.format, objects.executes_code) == ("pickle", True)
    assert list(Model("iris", version="latest").load_artifact("objects")) == [1, "a", None]


# ------------------------------------------------------------------ marks in manifests and listings


def test_code_formats_are_marked_in_manifest_listings_and_reprs(repo, client, capsys):
    m = Model("iris")
    m.save_artifact({1, 2}, "obj")
    m.save_artifact([1, 2], "cfg")
    doc = yaml.safe_load((repo / VERSION_FILE.format(model="iris", number=1)).read_text())
    flags = {a["name"]: a.get("executes_code") for a in doc["artifacts"]}
    assert flags == {"obj": True, "cfg": None}  # written only when true
    assert "runs code on load" in repr(client.get_artifact("iris", 1, "obj"))
    assert "runs code on load" not in repr(client.get_artifact("iris", 1, "cfg"))
    assert client.get_artifact("iris", 1, "obj").executes_code
    for args in (("artifact", "list", "iris"), ("model", "version", "describe", "iris", "1"),
                 ("model", "version", "data_artifacts", "iris", "1")):
        code, out, _ = run(capsys, *args)
        rows = {line.split()[0]: line for line in out.splitlines() if line.split()[:1] in (["obj"], ["cfg"])}
        assert code == 0 and "pickle [runs code on load]" in rows["obj"], args
        assert "runs code" not in rows["cfg"]
    code, out, _ = run(capsys, "artifact", "list", "iris", "-o", "json")
    assert {r["name"]: r["executes_code"] for r in __import__("json").loads(out)} == {"obj": True, "cfg": False}
    code, out, _ = run(capsys, "artifact", "get", "iris", "1", "obj")
    assert code == 0 and "pickle [runs code on load]" in out


def test_old_pickle_links_without_the_marker_keep_loading_and_are_marked(repo, client, capsys, tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn.svm import SVC

    X, y = _iris()
    client.create_model_version("iris")
    frame = pd.DataFrame({"x": [1, 2]})
    old = {"trained_model": ("sklearn", SVC().fit(X, y)), "training_data": ("pandas", frame),
           "obj": ("pickle", {1, 2})}
    for name, (fmt, value) in old.items():  # as gitreg wrote them before: pickles, no executes_code
        add_link(repo, "iris", 1, stored_link(client, pickle.dumps(value), name, fmt))
    m = Model("iris", version=1)
    assert m.load_artifact("trained_model").predict(X[:2]) is not None
    assert m.load_artifact("training_data").equals(frame)
    assert m.load_artifact("obj") == {1, 2}
    code, out, _ = run(capsys, "artifact", "list", "iris", "1")
    assert code == 0 and out.count("[runs code on load]") == 3
    clone = tmp_path / "clone"  # as CI sees it: a fresh clone (warnings are not kept in the read cache)
    git(repo, "clone", "-q", str(repo), str(clone))
    report = Client(clone).check()
    assert report.ok
    warned = {p.field for p in report.problems if p.severity == "warning"}
    assert warned == {"artifacts.0.executes_code", "artifacts.1.executes_code", "artifacts.2.executes_code"}


def test_a_wrong_executes_code_marker_is_a_manifest_error(repo, client, capsys):
    m = Model("iris")
    m.save_artifact([1], "cfg")
    m.save_artifact({1}, "obj")
    edit_link(repo, "iris", 1, "cfg", executes_code=True)
    report = client.check()
    errors = [(p.field, p.message) for p in report.errors]
    assert errors == [("artifacts.0.executes_code",
                       "is true but format 'json' does not run code when loaded; remove it")]
    with pytest.raises(ManifestError, match="artifacts.0.executes_code"):
        Model("iris", version=1).get_artifact("cfg")
    edit_link(repo, "iris", 1, "cfg", executes_code=None)
    edit_link(repo, "iris", 1, "obj", executes_code=False)
    assert [p.field for p in client.check().errors] == ["artifacts.1.executes_code"]
    edit_link(repo, "iris", 1, "obj", executes_code=None, format="joblib")  # no legacy unmarked joblib links
    assert [p.field for p in client.check().errors] == ["artifacts.1.executes_code"]
    code, out, err = run(capsys, "check")
    assert code != 0 and "artifacts.1.executes_code" in out + err and "must be true" in out + err


# ------------------------------------------------------------------ where bytes come from


def test_a_link_pointing_outside_the_store_is_never_loaded(repo, client, tmp_path, capsys):
    m = Model("iris")
    m.save_artifact({1}, "obj")
    m.save_artifact(b"payload", "raw")
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(pickle.dumps({"evil": 1}))
    import hashlib

    sha = hashlib.sha256(outside.read_bytes()).hexdigest()
    edit_link(repo, "iris", 1, "obj", uri=str(outside), sha256=sha, size=outside.stat().st_size)
    with pytest.raises(ArtifactRefusedError, match="points outside the artifact store"):
        Model("iris", version=1).load_artifact("obj")
    # the right hash, but at another address than the hash's own in the store
    raw = client.get_artifact("iris", 1, "raw").link
    copy = client.registry.store().put_bytes(b"payload")
    edit_link(repo, "iris", 1, "raw", uri=copy.uri + "/../" + copy.uri.rsplit("/", 1)[1])
    with pytest.raises(ArtifactRefusedError, match="outside the artifact store"):
        Model("iris", version=1).load_artifact("raw")
    code, _, err = run(capsys, "artifact", "get", "iris", "1", "obj", "--to", str(tmp_path / "x"))
    assert code == 12 and err.count("\n") == 1 and "outside the artifact store" in err
    assert "Traceback" not in err and not (tmp_path / "x").exists()
    assert raw.sha256 == copy.sha256


def test_code_formats_are_never_loaded_from_external_links(repo, client, tmp_path):
    ext = tmp_path / "model.pkl"
    ext.write_bytes(pickle.dumps([1]))
    m = Model("iris")
    m.link_artifact(f"file://{ext}", "ext")
    assert m.get_artifact("ext").load().read_bytes() == ext.read_bytes()  # as a file: bytes, no unpickling
    edit_link(repo, "iris", 1, "ext", format="pickle", executes_code=True)
    with pytest.raises(ArtifactRefusedError, match="runs code when loaded.*outside the artifact store"):
        Model("iris", version=1).load_artifact("ext")


def test_loads_check_the_size_before_reading_a_large_file(repo, client):
    m = Model("iris")
    link = m.save_artifact(b"0123456789", "small")
    path = repo / link.uri
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:  # the object at the link's address grows to 4 GiB (sparse)
        fh.truncate(4 * 1024 ** 3)
    started = time.monotonic()
    with pytest.raises(ArtifactRefusedError, match="size mismatch"):
        Model("iris", version=1).load_artifact("small")
    assert time.monotonic() - started < 5  # stopped after the recorded size, not hashed to the end
    os.truncate(path, 10)
    assert Model("iris", version=1).load_artifact("small") == b"0123456789"
    edit_link(repo, "iris", 1, "small", size=9)  # a link claiming fewer bytes than the object holds
    with pytest.raises(ArtifactRefusedError, match="size mismatch"):
        Model("iris", version=1).load_artifact("small")


def test_directory_sizes_are_checked(repo, client, tmp_path):
    import json

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    client.create_model_version("iris")
    link = client.add_artifact("iris", 1, str(folder), "data")
    edit_link(repo, "iris", 1, "data", size=link.size + 1)
    with pytest.raises(ArtifactRefusedError, match="size mismatch"):
        client.download_artifact("iris", 1, "data", tmp_path / "out")
    # a listing that understates one file's size: the file is refused while it streams
    store = client.registry.store()
    big = store.put_bytes(b"y" * 100_000)
    listing = json.dumps({"format": 1, "files": [{"path": "big.bin", "sha256": big.sha256, "size": 10}]},
                         sort_keys=True, separators=(",", ":")).encode()
    fake = store.put_bytes(listing)
    edit_link(repo, "iris", 1, "data", uri=fake.uri, sha256=fake.sha256, size=10)
    with pytest.raises(ArtifactRefusedError, match="size mismatch"):
        Model("iris", version=1).load_artifact("data")
    with pytest.raises(ArtifactRefusedError, match="size mismatch"):
        client.download_artifact("iris", 1, "data", tmp_path / "out2")


def test_external_directory_sizes_are_checked(repo, client, tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"A" * 10)
    m = Model("iris")
    link = m.link_artifact(f"file://{folder}", "shards")
    edit_link(repo, "iris", 1, "shards", size=link.size - 1)
    with pytest.raises(ArtifactRefusedError, match="size mismatch"):
        Model("iris", version=1).get_artifact("shards").download(tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


# ------------------------------------------------------------------ clear errors


def test_a_format_mismatch_is_one_clear_error(repo, client):
    m = Model("iris")
    m.save_artifact("just some text", "notes")
    text = client.get_artifact("iris", 1, "notes").link
    for fmt, flag in (("pickle", True), ("numpy", None), ("json", None), ("parquet", None), ("skops", None)):
        edit_link(repo, "iris", 1, "notes", format=fmt, executes_code=flag)
        with pytest.raises(MaterializerError, match=f"not a valid {fmt} artifact") as err:
            Model("iris", version=1).load_artifact("notes")
        assert "\n" not in str(err.value) and "'notes' v1" in str(err.value), fmt
    assert text.format == "text"


# ------------------------------------------------------------------ the local path cache


def test_cached_file_copies_are_read_only_and_reverified_when_changed(repo, client, tmp_path, monkeypatch):
    src = tmp_path / "weights.bin"
    src.write_bytes(b"W" * 1000)
    client.create_model_version("iris")
    client.add_artifact("iris", 1, str(src), "weights", type="model")
    m = Model("iris", version=1)
    first = m.load_artifact("weights")
    assert first.read_bytes() == b"W" * 1000
    assert not first.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    import gitreg.store as store

    hashed = []
    real_hash = store.hash_file
    monkeypatch.setattr(store, "hash_file", lambda p, *a: hashed.append(p) or real_hash(p, *a))
    assert m.load_artifact("weights") == first and hashed == []  # unchanged: no re-hash
    before = first.stat()
    os.chmod(first, 0o644)
    first.write_bytes(b"X" * 1000)  # same size, and the old times put back
    os.utime(first, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = m.load_artifact("weights")
    assert again == first and again.read_bytes() == b"W" * 1000 and hashed
    assert not again.stat().st_mode & stat.S_IWUSR
    hashed.clear()
    os.chmod(first, 0o444)  # a metadata change only: re-hashed once, kept, stamped anew
    assert m.load_artifact("weights").read_bytes() == b"W" * 1000 and len(hashed) == 1
    assert m.load_artifact("weights").read_bytes() == b"W" * 1000 and len(hashed) == 1


def test_cached_directory_copies_are_refetched_when_changed(repo, client, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    client.create_model_version("iris")
    client.add_artifact("iris", 1, str(folder), "data")
    m = Model("iris", version=1)
    cached = m.load_artifact("data")
    assert not (cached / "a.csv").stat().st_mode & stat.S_IWUSR
    os.chmod(cached, 0o755)
    os.chmod(cached / "a.csv", 0o644)
    (cached / "a.csv").write_text("x\n2\n")
    (cached / "extra.csv").write_text("added")
    again = m.load_artifact("data")
    assert sorted(p.name for p in again.iterdir()) == ["a.csv"] and (again / "a.csv").read_text() == "x\n1\n"
