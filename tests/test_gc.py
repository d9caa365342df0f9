"""Garbage collection of the artifact store."""


from conftest import git
from gitreg import Model
from gitreg.cli.app import main


def _objects(repo):
    return sorted(p for p in (repo / ".gitreg/store/objects").rglob("*") if p.is_file())


def test_gc_keeps_everything_history_links(repo, client, tmp_path):
    m = Model("iris")
    m.save_artifact(b"kept: linked now", "a")
    m.save_artifact(b"kept: unlinked, but an old commit links it", "b")
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "x.txt").write_text("file inside a stored folder")
    client.add_artifact("iris", m.number, str(folder), "folder")
    m.delete_artifact("b")
    orphan = client.registry.store().put_bytes(b"orphan: never linked")
    before = _objects(repo)
    report = client.collect_garbage(dry_run=False, grace_seconds=0)
    assert [p.rsplit("/", 2)[-2] + p.rsplit("/", 1)[-1] for p in report.removed] == [orphan.sha256]
    assert len(_objects(repo)) == len(before) - 1
    assert m.load_artifact("a") == b"kept: linked now"
    assert (m.load_artifact("folder") / "x.txt").read_text() == "file inside a stored folder"
    # the unlinked artifact is still loadable from the commit that linked it
    assert client.collect_garbage(dry_run=True, grace_seconds=0).removed == ()


def test_gc_grace_period_and_dry_run(repo, client):
    client.create_model_version("iris")
    client.registry.store().put_bytes(b"upload in flight")
    assert client.collect_garbage(dry_run=False).young == 1  # younger than an hour: kept
    report = client.collect_garbage(dry_run=True, grace_seconds=0)
    assert len(report.removed) == 1 and report.dry_run
    assert len(_objects(repo)) == 1  # a dry run removes nothing


def test_gc_forgets_objects_only_unreachable_history_linked(repo, client):
    m = Model("iris")
    link = m.save_artifact(b"on a branch that gets deleted", "w")
    git(repo, "checkout", "-q", "-b", "tmp")
    git(repo, "checkout", "-q", "main")
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # the linking commit now lives on branch tmp
    assert client.collect_garbage(dry_run=True, grace_seconds=0).removed == ()
    git(repo, "branch", "-q", "-D", "tmp")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    report = client.collect_garbage(dry_run=True, grace_seconds=0)
    assert [p.endswith(link.sha256[2:]) for p in report.removed] == [True]


def test_gc_cli(repo, capsys):
    Model("iris").number
    from gitreg import Client

    Client().registry.store().put_bytes(b"orphan")
    assert main(["artifact", "gc", "--grace-hours", "0"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("would remove ") and "pass --yes" in err
    assert main(["artifact", "gc", "--grace-hours", "0", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("removed ") and "removed 1" in err
    assert _objects(repo) == []


def test_gc_keeps_outputs_of_steps_without_a_model(repo, client):
    from typing import Annotated

    from gitreg import pipeline, step

    @step
    def make() -> Annotated[bytes, "blob"]:
        return b"only the run manifest links this"

    @pipeline
    def modelless():
        make()

    result = modelless()
    [output] = client.get_run(result.id).steps[0]["outputs"]
    assert output["model"] is None and output["version"] is None
    report = client.collect_garbage(dry_run=False, grace_seconds=0)
    assert report.removed == ()
    assert b"".join(client.registry.store().open_verified(output["uri"], output["sha256"])) == \
        b"only the run manifest links this"


def test_gc_keeps_what_a_manifest_it_cannot_read_names(repo, client):
    """A committed manifest gitreg refuses (here: YAML anchors) still protects the hashes it names."""
    client.create_model_version("iris")
    stored = client.registry.store().put_bytes(b"linked only by a hand-edited manifest")
    path = repo / ".mcp/models/iris/versions/1.yaml"
    path.write_text(path.read_text() + f"""artifacts:
- name: w
  version: 1
  type: &t data
  uri: {stored.uri}
  sha256: {stored.sha256}
  size: {stored.size}
  format: bytes
  kind: file
  external: false
""")
    git(repo, "commit", "-qam", "hand edit with an anchor")
    client.collect_garbage(dry_run=False, grace_seconds=0)
    assert any(p.name == stored.sha256[2:] for p in _objects(repo))
