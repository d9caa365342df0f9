"""ZenML's API at the edges: what ZenML's Model Control Plane does, gitreg does (or refuses clearly)."""

import hashlib

import pytest

from conftest import git
from gitreg import Model
from gitreg.errors import ArtifactNotFoundError, InvalidValueError, ModelNotFoundError


def _stored(repo, data: bytes) -> bool:
    sha = hashlib.sha256(data).hexdigest()
    return (repo / ".gitreg/store/objects/sha256" / sha[:2] / sha[2:]).exists()


# ---------------------------------------------------------------- Model(name, tags=, description=)

def test_model_tags_and_description_go_to_the_version_it_creates(repo, client):
    m = Model("iris", description="Iris species", tags=["vision", "tabular"])
    assert m.number == 1
    v = client.get_model_version("iris", 1)
    assert v.description == "Iris species" and list(v.tags) == ["vision", "tabular"]
    assert m.version_description == "Iris species" and m.version_tags == ["vision", "tabular"]
    card = client.get_model("iris")
    assert card.description == "Iris species" and list(card.tags) == ["vision", "tabular"]
    # a named version registered on first use gets them too
    named = Model("iris", version="candidate", description="second try", tags=["rerun"])
    assert named.number == 2
    v2 = client.get_model_version("iris", "candidate")
    assert v2.description == "second try" and list(v2.tags) == ["rerun"]
    # the existing model card is not rewritten by a later Model(...)
    assert client.get_model("iris").description == "Iris species"
    # fetching an existing version changes nothing on it
    assert Model("iris", version="candidate", description="other", tags=["x"]).number == 2
    assert client.get_model_version("iris", 2).description == "second try"


def test_model_without_tags_or_description_leaves_the_version_plain(repo, client):
    Model("iris").number
    v = client.get_model_version("iris", 1)
    assert v.description is None and list(v.tags) == []


# ---------------------------------------------------------------- Client.update_model(model_name_or_id, name=...)

def test_update_model_takes_zenmls_signature_and_refuses_a_rename(repo, client):
    client.create_model("iris", description="old")
    updated = client.update_model(model_name_or_id="iris", description="new", add_tags=["a"])
    assert updated.description == "new" and list(updated.tags) == ["a"]
    assert client.update_model("iris", name="iris", license="MIT").license == "MIT"  # same name: no rename
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidValueError, match="does not rename models .'iris' -> 'flowers'.*tags are immutable"
                                                ".*Register 'flowers' as a new model"):
        client.update_model("iris", name="flowers", description="changed")
    assert git(repo, "rev-parse", "HEAD") == head  # nothing written, not even the description
    assert client.get_model("iris").description == "new"
    with pytest.raises(ModelNotFoundError):
        client.update_model("nope", name="flowers")


# ---------------------------------------------------------------- Model.latest_version_name / latest_version_id

def test_latest_version_name_and_id(repo, client):
    client.create_model("iris")
    probe = Model("iris")
    assert probe.latest_version_name is None and probe.latest_version_id is None
    assert client.list_model_versions("iris") == []  # reading them registered nothing
    Model("iris").number
    Model("iris", version="candidate").number
    probe = Model("iris", version=1)
    assert probe.latest_version_name == "candidate" and probe.latest_version_id == 2
    assert Model("iris").latest_version_id == 2  # a fresh object reads without creating a version
    assert [v.number for v in client.list_model_versions("iris")] == [1, 2]
    with pytest.raises(ModelNotFoundError):
        Model("nope").latest_version_name


# ---------------------------------------------------------------- Model.delete_artifact / delete_all_artifacts

def test_delete_artifact_only_link_by_default_keeps_the_bytes(repo, client):
    m = Model("iris")
    m.save_artifact(b"weights one", "w")
    m.delete_artifact("w")
    with pytest.raises(ArtifactNotFoundError):
        m.get_artifact("w")
    assert _stored(repo, b"weights one")


def test_delete_artifact_without_version_deletes_the_latest_version_only(repo, client):
    m = Model("iris")
    m.save_artifact(b"first", "w")
    m.save_artifact(b"second", "w")
    m.delete_artifact("w")
    assert [a.version for a in client.get_model_version("iris", 1).links("w")] == [1]
    assert m.load_artifact("w") == b"first"
    m.save_artifact(b"third", "w")
    m.delete_artifact("w", version=1)
    assert [a.load() for a in client.list_artifacts("iris", 1) if a.name == "w"] == [b"third"]


def test_delete_from_artifact_store_removes_bytes_nobody_else_links(repo, client):
    m = Model("iris")
    m.save_artifact(b"only here", "w")
    m.save_artifact(b"shared bytes", "s")
    other = Model("iris")
    other.save_artifact(b"shared bytes", "copy")
    m.delete_artifact("w", only_link=False, delete_from_artifact_store=True)
    assert not _stored(repo, b"only here")
    m.delete_artifact("s", only_link=False, delete_from_artifact_store=True)
    assert _stored(repo, b"shared bytes")  # v2 links the same content
    assert other.load_artifact("copy") == b"shared bytes"
    assert client.get_model_version("iris", 1).artifacts == ()


def test_delete_from_artifact_store_keeps_bytes_another_link_had_in_history(repo, client):
    m = Model("iris")
    m.save_artifact(b"payload", "a")
    Model("iris").save_artifact(b"payload", "b")
    Model("iris", version=2).delete_artifact("b")  # gone now, but a commit links it
    m.delete_artifact("a", only_link=False, delete_from_artifact_store=True)
    assert _stored(repo, b"payload")


def test_delete_from_artifact_store_removes_the_files_of_a_folder(repo, client, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "x.txt").write_text("inside the folder")
    m = Model("iris")
    client.add_artifact("iris", m.number, str(folder), "folder")
    assert _stored(repo, b"inside the folder")
    m.delete_artifact("folder", only_link=False, delete_from_artifact_store=True)
    assert not _stored(repo, b"inside the folder")
    assert not list((repo / ".gitreg/store/objects").rglob("*.*"))  # nothing of it is left


def test_delete_artifact_flags_that_make_no_sense_are_refused(repo, client, tmp_path):
    m = Model("iris")
    m.save_artifact(b"w", "w")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidValueError, match="pass only_link=False"):
        m.delete_artifact("w", delete_from_artifact_store=True)
    with pytest.raises(InvalidValueError, match="metadata lives in its link"):
        m.delete_artifact("w", only_link=False, delete_metadata=False)
    external = tmp_path / "outside.bin"
    external.write_bytes(b"not ours")
    m.link_artifact(f"file://{external}", "ext")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidValueError, match="linked in place.*never deletes it"):
        m.delete_artifact("ext", only_link=False, delete_from_artifact_store=True)
    assert git(repo, "rev-parse", "HEAD") == head and external.read_bytes() == b"not ours"
    m.delete_artifact("ext", only_link=False)  # unlinking is fine
    assert external.exists()


def test_delete_all_artifacts(repo, client):
    m = Model("iris")
    m.save_artifact(b"a bytes", "a")
    m.save_artifact(b"b bytes", "b")
    commits = int(git(repo, "rev-list", "--count", "HEAD"))
    m.delete_all_artifacts()
    assert client.get_model_version("iris", 1).artifacts == ()
    assert int(git(repo, "rev-list", "--count", "HEAD")) == commits + 1
    assert "unlink all artifacts (2 link(s))" in git(repo, "log", "-1", "--format=%s")
    assert _stored(repo, b"a bytes") and _stored(repo, b"b bytes")
    m.delete_all_artifacts()  # nothing left: no commit
    assert int(git(repo, "rev-list", "--count", "HEAD")) == commits + 1
    n = Model("iris")
    n.save_artifact(b"c bytes", "c")
    with pytest.raises(InvalidValueError):
        n.delete_all_artifacts(delete_from_artifact_store=True)
    n.delete_all_artifacts(only_link=False, delete_from_artifact_store=True)
    assert not _stored(repo, b"c bytes")


# ---------------------------------------------------------------- top-level artifact functions

def test_top_level_artifact_functions_outside_a_step_need_a_model_to_load(repo, client):
    import gitreg
    from gitreg import get_artifact_version, link_artifact_to_model, load_artifact, log_artifact_metadata, save_artifact

    assert {"save_artifact", "load_artifact", "link_artifact_to_model", "log_artifact_metadata",
            "get_artifact_version"} <= set(gitreg.__all__)
    with pytest.raises(InvalidValueError, match="load_artifact needs model="):
        load_artifact("cfg")
    m = Model("iris")
    link = save_artifact({"a": 1}, "cfg", model=m)
    assert link.version == 1 and link.type == "data" and link.format == "json"
    weights = save_artifact(b"w", "weights", model=m, is_model_artifact=True)
    assert weights.type == "model"
    assert load_artifact("cfg", model=m) == {"a": 1}
    assert load_artifact("cfg", model="iris") == {"a": 1}  # a name: its latest version
    assert load_artifact(link.sha256[:10], model=m) == {"a": 1}  # an id prefix
    assert load_artifact("cfg", version="1", model=m) == {"a": 1}
    with pytest.raises(InvalidValueError, match="gitreg numbers artifact versions itself"):
        save_artifact(1, "x", version="v1", model=m)
    with pytest.raises(InvalidValueError, match="carry no tags"):
        save_artifact(1, "x", tags=["t"], model=m)
    with pytest.raises(ArtifactNotFoundError):
        load_artifact("missing", model=m)
    # link the same bytes to another version, as a model artifact
    target = Model("iris", version="candidate")
    found = get_artifact_version("cfg", model=m)
    linked = link_artifact_to_model(found, model=target, is_model_artifact=True)
    assert linked.version == 2 and linked.type == "model" and linked.sha256 == link.sha256
    assert target.get_model_artifact("cfg").load() == {"a": 1}
    # metadata about an artifact lands on the version that links it, grouped by artifact
    log_artifact_metadata({"rows": 3}, artifact_name="cfg", model=m)
    log_artifact_metadata({"cols": 2}, artifact_name="cfg", model=m)
    assert m.run_metadata["artifacts"].value == {"cfg": {"rows": 3, "cols": 2}}
    with pytest.raises(InvalidValueError, match="needs artifact_name"):
        log_artifact_metadata({"rows": 3}, model=m)
    with pytest.raises(ArtifactNotFoundError):
        log_artifact_metadata({"rows": 3}, artifact_name="missing", model=m)


def test_top_level_artifact_functions_inside_a_step_use_its_model(repo, client):
    from gitreg import (
        get_step_context,
        link_artifact_to_model,
        load_artifact,
        log_artifact_metadata,
        pipeline,
        save_artifact,
        step,
    )

    Model("shared").save_artifact(b"vocabulary", "vocab")
    vocab = Model("shared", version=1).get_artifact("vocab")

    @step
    def produce() -> None:
        save_artifact([1, 2, 3], "numbers")
        assert load_artifact("numbers") == [1, 2, 3]
        log_artifact_metadata({"count": 3}, artifact_name="numbers")
        link_artifact_to_model(vocab)
        assert get_step_context().model.name == "iris"

    @pipeline(model=Model("iris"))
    def training():
        produce()

    training()
    v = client.get_model_version("iris", 1)
    assert {a.name: a.version for a in v.artifacts} == {"numbers": 1, "vocab": 1}
    assert Model("iris", version=1).load_artifact("vocab") == b"vocabulary"
    assert v.metadata["artifacts"] == {"numbers": {"count": 3}}


# ---------------------------------------------------------------- Client.get_artifact_version / delete_pipeline_run

def test_client_get_artifact_version(repo, client):
    m = Model("iris")
    m.save_artifact(b"one", "w")
    m.save_artifact(b"two", "w")
    assert client.get_artifact_version("w", model_name="iris").load() == b"two"
    assert client.get_artifact_version("w", 1, model_name="iris", model_version=1).load() == b"one"
    sha = hashlib.sha256(b"one").hexdigest()
    assert client.get_artifact_version(sha[:12], model_name="iris").version == "1"
    with pytest.raises(InvalidValueError, match="pass model_name="):
        client.get_artifact_version("w")
    with pytest.raises(InvalidValueError, match="give a number"):
        client.get_artifact_version("w", "latest-ish", model_name="iris")


def test_client_delete_pipeline_run(repo, client):
    from gitreg import pipeline, step

    @step
    def s() -> int:
        return 1

    @pipeline(model=Model("iris"))
    def p():
        s()

    run = p()
    assert client.get_model_version("iris", 1).runs == (run.id,)
    client.delete_pipeline_run(run.id, reason="bad data")
    assert client.list_runs() == []
    assert client.get_model_version("iris", 1).runs == ()
    assert Model("iris", version=1).load_artifact("s_output") == 1  # its artifacts stay linked
    assert "delete pipeline run record" in git(repo, "log", "-1", "--format=%s")
    assert client.check().ok
    from gitreg.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no pipeline run"):
        client.delete_pipeline_run(run.id)
