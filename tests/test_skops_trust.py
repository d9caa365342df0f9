"""Types a skops file needs beyond skops' own: recorded in the link at save, trusted at load for verified
bytes, reviewed by `check --base`; types that can reach code never trusted; unknown formats reported."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import types
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("skops")
import numpy as np
import skops.io as sio

from conftest import git
from gitreg import Model, load_artifact, save_artifact
from gitreg.cli.app import main
from gitreg.errors import MaterializerError
from gitreg.manifests import ArtifactLink, dump_yaml, schema_problems
from gitreg.manifests.schemas import _proven_valid
from gitreg.materializers import BUILTIN_DATA_TYPES, CODE_MODULES, CODE_NAMES, known_formats, refused_type

VERSION_FILE = ".mcp/models/{model}/versions/{number}.yaml"
TREE = "sklearn.tree._tree.Tree"
PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _model(kind: str):
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data()
    made = {
        "forest": lambda: RandomForestClassifier(n_estimators=3, random_state=0),
        "boosted": lambda: GradientBoostingClassifier(n_estimators=3, random_state=0),
        "pipeline": lambda: make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=3, random_state=0)),
    }[kind]()
    return made.fit(X, y)


def _doc(repo: Path, model: str, number: int) -> dict:
    return yaml.safe_load((repo / VERSION_FILE.format(model=model, number=number)).read_text())


def edit_link(repo: Path, model: str, number: int, name: str, **changes) -> None:
    """Hand-edit one artifact link of a version manifest and commit it (None removes a key)."""
    path = VERSION_FILE.format(model=model, number=number)
    doc = _doc(repo, model, number)
    link = next(a for a in doc["artifacts"] if a["name"] == name)
    for key, value in changes.items():
        if value is None:
            link.pop(key, None)
        else:
            link[key] = value
    (repo / path).write_text(dump_yaml(doc).decode())
    git(repo, "commit", "-qam", f"hand edit of {name}")


def run_check(*args: str) -> tuple[int, dict]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["check", "-o", "json", *args])
    return code, json.loads(buf.getvalue())


def codes(data: dict) -> list[str]:
    return sorted(p["code"] for p in data["problems"])


# ------------------------------------------------------------------ recorded at save, trusted at load


@pytest.mark.parametrize("kind", ["forest", "boosted", "pipeline"])
def test_forests_and_boosted_trees_load_back_with_no_opt_in_and_the_link_records_their_types(repo, client, kind):
    X, _y = _data()
    fitted = _model(kind)
    link = save_artifact(fitted, kind, model=Model("iris"))
    needed = sio.get_untrusted_types(file=repo / link.uri)  # what skops itself says the stored bytes need
    assert needed and link.trusted_types == tuple(sorted(set(needed)))
    assert _doc(repo, "iris", 1)["artifacts"][0]["trusted_types"] == list(link.trusted_types)
    loaded = load_artifact(kind, model=Model("iris", version=1))
    assert type(loaded) is type(fitted) and (loaded.predict(X) == fitted.predict(X)).all()
    assert client.check().ok


def test_types_are_trusted_only_for_bytes_verified_before_they_are_read(repo, client, monkeypatch):
    """Objects of a local store are read in place (hashed alongside the read unless their stamp proves them);
    a link that trusts types is read from a private copy hashed as it is made, like a format that runs code."""
    X, _y = _data()
    fitted = _model("forest")
    Model("iris").save_artifact(fitted, "forest")
    Model("iris", version=1).save_artifact(b"raw", "raw")
    read_in_place = []
    real = type(client.registry.store()).read_in_place
    monkeypatch.setattr(type(client.registry.store()), "read_in_place",
                        lambda self, uri, *a: read_in_place.append(uri) or real(self, uri, *a))
    assert (Model("iris", version=1).load_artifact("forest").predict(X) == fitted.predict(X)).all()
    assert Model("iris", version=1).load_artifact("raw") == b"raw"
    assert read_in_place == [client.get_artifact("iris", 1, "raw").uri]  # the forest never was


def test_a_fresh_process_loads_the_recorded_types_too(repo, client):
    """No module of the model imported yet: the load imports what skops will, and trusts what the link says."""
    X, _y = _data()
    save_artifact(_model("pipeline"), "clf", model=Model("iris"))
    script = ("import numpy as np\nfrom gitreg import Model\n"
              "rng = np.random.default_rng(0)\nX = rng.normal(size=(30, 3))\n"
              "print(Model('iris', version=1).load_artifact('clf').predict(X).tolist())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=repo)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == _model("pipeline").predict(X).tolist()


def test_links_without_types_are_written_as_before(repo, client):
    m = Model("iris")
    m.save_artifact({"threshold": 0.5}, "config")
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    m.save_artifact(LogisticRegression().fit(X, y), "linear")  # skops, needs nothing beyond skops' own
    text = (repo / VERSION_FILE.format(model="iris", number=1)).read_text()
    assert "trusted_types" not in text
    assert [a.trusted_types for a in client.get_model_version("iris", 1).artifacts] == [(), ()]


_DOTTED = st.from_regex(r"\A[a-z][a-z0-9_]{0,8}(\.[A-Za-z][A-Za-z0-9_]{0,8}){1,3}\Z")


@settings(max_examples=200, deadline=None)
@given(names=st.lists(_DOTTED, max_size=6))
def test_a_links_trusted_types_are_sorted_unique_and_omitted_when_empty(names):
    assert _proven_valid("version") is not None  # the compiled schema check still covers version manifests
    link = ArtifactLink(name="m", version=1, type="model", uri="u", sha256="0" * 64, size=1, format="skops",
                        trusted_types=tuple(names))
    doc = link.to_dict()
    if names:
        assert doc["trusted_types"] == sorted(set(names))
    else:
        assert "trusted_types" not in doc
    assert ArtifactLink.from_dict(doc) == link and ArtifactLink.from_dict(doc).to_dict() == doc
    version = {"format": 1, "model": "m", "number": 1, "name": "1", "stage": "none", "created": "2024-01-01T00:00:00Z",
               "artifacts": [doc]}
    assert schema_problems("version", version) == []
    assert dump_yaml(version) == dump_yaml(json.loads(json.dumps(version)))  # plain JSON values, one way to write


@settings(max_examples=100, deadline=None)
@given(name=st.text(max_size=30).filter(lambda s: refused_type(s) is not None and "dotted" in refused_type(s)))
def test_the_schema_refuses_what_is_not_a_dotted_name(name):
    link = {"name": "m", "version": 1, "type": "model", "uri": "u", "sha256": "0" * 64, "size": 1,
            "format": "skops", "kind": "file", "external": False, "trusted_types": [name]}
    version = {"format": 1, "model": "m", "number": 1, "name": "1", "stage": "none", "created": "2024-01-01T00:00:00Z",
               "artifacts": [link]}
    if not name.endswith("\n"):  # JSON Schema's `$` also matches before a final newline: the loader refuses it
        assert schema_problems("version", version), name


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), st.integers(), st.text(max_size=8),
                       st.lists(st.one_of(_DOTTED, st.text(max_size=12), st.integers(), st.none()), max_size=4)))
def test_the_compiled_check_proves_only_trusted_types_jsonschema_accepts(value):
    from gitreg.manifests.schemas import _validator

    link = {"name": "m", "version": 1, "type": "model", "uri": "u", "sha256": "0" * 64, "size": 1,
            "format": "skops", "kind": "file", "external": False, "trusted_types": value}
    version = {"format": 1, "model": "m", "number": 1, "name": "1", "stage": "none", "created": "2024-01-01T00:00:00Z",
               "artifacts": [link]}
    if _proven_valid("version")(version):
        assert list(_validator("version").iter_errors(version)) == []


# ------------------------------------------------------------------ the rule: types that reach code


_IDENT = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,10}\Z")


def test_the_names_that_run_code_are_refused():
    named = ["builtins.eval", "builtins.exec", "builtins.compile", "builtins.open", "builtins.getattr",
             "builtins.__import__", "builtins.setattr", "builtins.breakpoint", "builtins.type", "builtins.function",
             "builtins.code", "os.system", "posix.system", "nt.system", "subprocess.Popen",
             "_posixsubprocess.fork_exec",
             "sys.modules", "importlib.import_module", "pickle.loads", "_pickle.loads", "shutil.rmtree",
             "socket.socket", "code.interact", "ctypes.CDLL", "runpy.run_path", "marshal.loads", "types.FunctionType",
             "types.CodeType", "types.LambdaType", "types.MethodType", "operator.methodcaller", "numpy.load",
             "pandas.read_pickle", "__main__.__builtins__", "sklearn.base.__builtins__", "requests.get",
             "a.<lambda>", "builtins", "eval",
             "sklearn.tree._tree.Tree\n", ""]
    assert [n for n in named if refused_type(n) is None] == []
    assert refused_type(TREE) is None and refused_type(PREDICTOR) is None
    assert refused_type("__main__.MyEstimator") is None  # a notebook's own class: what it is, is checked at load


@settings(max_examples=300, deadline=None)
@given(module=st.sampled_from(sorted(CODE_MODULES)), underscores=st.sampled_from(["", "_"]),
       rest=st.lists(_IDENT, min_size=1, max_size=3))
def test_every_name_in_a_module_that_reaches_code_is_refused(module, underscores, rest):
    assert refused_type(".".join([underscores + module, *rest])) is not None


@settings(max_examples=300, deadline=None)
@given(name=_IDENT)
def test_builtins_are_trusted_only_as_plain_data_types(name):
    assert (refused_type(f"builtins.{name}") is None) == (name in BUILTIN_DATA_TYPES)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_IDENT, min_size=2, max_size=5), dunder=st.integers(min_value=0, max_value=4),
       word=_IDENT)
def test_a_dunder_part_is_refused_and_other_library_names_are_not(parts, dunder, word):
    name = ".".join(["sklearn", *parts])
    assert (refused_type(name) is None) == (name not in CODE_NAMES)
    parts = list(parts)
    parts[min(dunder, len(parts) - 1)] = f"__{word}__"
    assert refused_type(".".join(["sklearn", *parts])) is not None


@pytest.mark.parametrize("func", [eval, exec, compile, open, getattr, __import__, os.system, subprocess.run,
                                  types.FunctionType, np.load])
def test_a_model_needing_a_type_that_runs_code_is_not_saved_in_any_format(repo, client, func):
    from sklearn.preprocessing import FunctionTransformer

    m = Model("iris")
    m.save_artifact({"a": 1}, "config")
    refused = "cannot save FunctionTransformer in a safe format.*never trusts"
    with pytest.raises(MaterializerError, match=refused) as err:
        m.save_artifact(FunctionTransformer(func=func), "transform")
    assert "\n" not in str(err.value)
    # nothing linked, and no fallback to pickle (which would run the same function on load)
    assert [a.name for a in client.get_model_version("iris", 1).artifacts] == ["config"]


@pytest.mark.parametrize("module", ["gitreg_test_helpers", "__main__"])
def test_a_harmless_name_standing_for_a_code_function_is_refused_at_save_and_at_load(repo, client, monkeypatch,
                                                                                      module):
    """Functions of a module of one's own (or of the script itself) are recorded and trusted; a name that
    stands for os.system there is refused, at save and at load, whatever the manifest says."""
    from sklearn.preprocessing import FunctionTransformer

    if module == "__main__":
        helpers = sys.modules["__main__"]
    else:
        helpers = types.ModuleType(module)
        monkeypatch.setitem(sys.modules, module, helpers)

    def double(x):
        return x * 2

    def run(x):  # named as a function of the module, which holds os.system under that name
        return x

    for func in (double, run):
        func.__module__ = module
    monkeypatch.setattr(helpers, "double", double, raising=False)
    monkeypatch.setattr(helpers, "run", os.system, raising=False)
    m = Model("iris")
    with pytest.raises(MaterializerError, match=rf"{module}\.run \(it is (posix|nt)\.system"):
        m.save_artifact(FunctionTransformer(func=run), "bad")
    link = m.save_artifact(FunctionTransformer(func=double), "good")
    assert link.trusted_types == (f"{module}.double",)
    assert (Model("iris", version=1).load_artifact("good").transform(np.ones(2)) == 2).all()
    monkeypatch.setattr(helpers, "double", os.system)  # same manifest, same bytes: the name now means os.system
    with pytest.raises(MaterializerError, match=rf"{module}\.double \(it is (posix|nt)\.system"):
        Model("iris", version=1).load_artifact("good")


def test_a_hand_edit_trusting_eval_is_refused_at_load_and_by_check(repo, client, capsys):
    m = Model("iris")
    m.save_artifact(_model("forest"), "forest")
    m.save_artifact({"a": 1}, "config")
    edit_link(repo, "iris", 1, "forest", trusted_types=["builtins.eval", TREE])
    with pytest.raises(MaterializerError, match=r"trusted_types names builtins\.eval .*never trusts"):
        Model("iris", version=1).load_artifact("forest")
    with pytest.raises(MaterializerError, match=r"trusted= names os\.system"):  # nor a caller's opt-in
        client.get_artifact("iris", 1, "config").load(trusted=["os.system"])
    assert Model("iris", version=1).load_artifact("config") == {"a": 1}  # the version stays readable
    code, data = run_check()
    assert code == 14 and codes(data) == ["trusted-type-refused"]
    found = data["problems"][0]
    assert found["field"] == "artifacts.0.trusted_types.0" and "'builtins.eval'" in found["message"]
    lines = (repo / VERSION_FILE.format(model="iris", number=1)).read_text().splitlines()
    assert lines[found["line"] - 1].strip() == "- builtins.eval"
    assert main(["check", "--allow", "trusted-type-refused"]) == 2  # fixed, never accepted
    assert "cannot be accepted" in capsys.readouterr().err


def test_bytes_that_need_a_type_their_link_does_not_record_fail_at_load(repo, client):
    m = Model("iris")
    m.save_artifact(_model("pipeline"), "clf")
    edit_link(repo, "iris", 1, "clf", trusted_types=[TREE])  # another model's type: no blanket trust
    with pytest.raises(MaterializerError, match=f"does not trust and its link does not record: {PREDICTOR}") as err:
        Model("iris", version=1).load_artifact("clf")
    assert "trusted=" in str(err.value)
    assert Model("iris", version=1).get_artifact("clf").load(trusted=[PREDICTOR]) is not None
    assert client.check().ok  # a harmless name: a matter for review, not for check


# ------------------------------------------------------------------ review


@pytest.fixture
def forest_on_main(repo, client):
    """main: iris v1 with a saved forest; then the branch `pr`."""
    Model("iris").save_artifact(_model("forest"), "forest")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo


@pytest.mark.parametrize("types_now, said", [
    ([TREE, PREDICTOR], f"now trusts {PREDICTOR}"),
    (None, f"no longer trusts {TREE}"),
    ([PREDICTOR], f"now trusts {PREDICTOR}; no longer trusts {TREE}"),
])
def test_changing_the_trusted_types_of_a_registered_version_fails_review(forest_on_main, types_now, said):
    edit_link(forest_on_main, "iris", 1, "forest", trusted_types=types_now)
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["trusted-types-changed"]
    found = data["problems"][0]
    assert found["field"] == "artifacts.0.trusted_types" and said in found["message"]
    assert found["allow"] == "--allow trusted-types-changed"
    assert run_check("--base", "main", "--allow", "trusted-types-changed")[0] == 0


def test_the_same_types_written_in_another_order_or_style_are_no_change(forest_on_main):
    path = forest_on_main / VERSION_FILE.format(model="iris", number=1)
    text = path.read_text()
    assert f"  trusted_types:\n  - {TREE}\n" in text
    path.write_text(text.replace(f"  trusted_types:\n  - {TREE}\n", f"  trusted_types: ['{TREE}', ]\n"))
    git(forest_on_main, "commit", "-qam", "restyle")
    code, data = run_check("--base", "main")
    assert code == 0 and data["problems"] == []


def test_a_new_versions_trusted_types_are_shown_to_the_reviewer(forest_on_main, client):
    m = Model("iris")
    m.save_artifact(_model("pipeline"), "clf")  # new version 2
    m.save_artifact({"a": 1}, "config")
    code, data = run_check("--base", "main")
    assert code == 0 and codes(data) == ["trusted-types"]
    shown = data["problems"][0]
    assert shown["severity"] == "warning" and shown["allow"] is None
    assert shown["path"] == VERSION_FILE.format(model="iris", number=2)
    assert shown["field"] == "artifacts.0.trusted_types"
    assert PREDICTOR in shown["message"] and "new version 2" in shown["message"]


def test_a_link_added_to_a_registered_version_shows_its_types_too(forest_on_main):
    doc = _doc(forest_on_main, "iris", 1)
    added = dict(doc["artifacts"][0], version=2)
    doc["artifacts"].append(added)
    (forest_on_main / VERSION_FILE.format(model="iris", number=1)).write_text(dump_yaml(doc).decode())
    git(forest_on_main, "commit", "-qam", "another forest")
    code, data = run_check("--base", "main")
    assert code == 14 and codes(data) == ["link-added", "trusted-types"]
    assert TREE in next(p for p in data["problems"] if p["code"] == "trusted-types")["message"]


# ------------------------------------------------------------------ formats gitreg does not know


def test_an_unknown_format_is_a_check_finding_and_the_other_versions_stay_readable(repo, client):
    Model("iris").save_artifact(b"old weights", "weights")
    git(repo, "checkout", "-q", "-b", "pr")
    Model("iris").save_artifact(b"new weights", "weights")  # version 2
    edit_link(repo, "iris", 2, "weights", format="Pickle")
    for args in ((), ("--base", "main")):
        code, data = run_check(*args)
        assert code == 14 and "unknown-format" in codes(data), args
        found = next(p for p in data["problems"] if p["code"] == "unknown-format")
        assert found["path"] == VERSION_FILE.format(model="iris", number=2) and found["field"] == "artifacts.0.format"
        assert "'Pickle'" in found["message"] and ", ".join(known_formats()) in found["message"]
    assert Model("iris", version=1).load_artifact("weights") == b"old weights"
    assert client.get_model_version("iris", 2).artifacts[0].format == "Pickle"  # readable, not loadable
    with pytest.raises(MaterializerError, match="unknown artifact format 'Pickle'"):
        Model("iris", version=2).load_artifact("weights")
    assert run_check("--allow", "unknown-format")[0] == 0
