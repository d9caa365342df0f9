"""gitreg check: schemas, stage invariants and tag/manifest agreement."""

from gitreg.check import check
from conftest import git


def _problems(client):
    report = check(client.registry.repo)
    return [str(p) for p in report.problems], report


def test_clean_registry_checks_ok(client):
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    problems, report = _problems(client)
    assert problems == [] and report.ok and (report.models, report.versions) == (1, 1)


def test_hand_edit_making_two_production_versions(repo, client):
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    path = repo / ".mcp/models/iris/versions/2.yaml"
    path.write_text(path.read_text().replace("stage: none", "stage: production"))
    git(repo, "commit", "-qam", "sneaky")
    problems, report = _problems(client)
    assert not report.ok
    assert any("versions 1, 2 are all in exclusive stage 'production'" in p for p in problems)
    assert any("versions/2.yaml:stage" in p and "moved v1 there" in p for p in problems)


def test_missing_tag_and_lightweight_tags(repo, client):
    client.create_model_version("iris")
    git(repo, "tag", "-d", "models/iris/v1")
    git(repo, "tag", "models/iris/v1")  # lightweight
    git(repo, "tag", "models/iris/whatever")
    problems, report = _problems(client)
    assert any("registration tag models/iris/v1 is missing" in p for p in problems)
    assert any("lightweight tag" in p for p in problems)
    assert any("not a gitreg tag name" in p and "warning" in p for p in problems)


def test_every_problem_is_reported_with_file_and_field(repo, client):
    client.create_model_version("iris")
    client.create_model_version("bert")
    (repo / ".mcp/models/iris/versions/1.yaml").write_text("format: 1\nmodel: iris\nnumber: one\n")
    (repo / ".mcp/models/bert/model.yaml").write_text("not: [valid")
    (repo / ".mcp/models/bert/versions/x.yaml").write_text("a: 1\n")
    git(repo, "add", ".mcp")
    git(repo, "commit", "-qm", "break things")
    problems, report = _problems(client)
    text = "\n".join(problems)
    assert ".mcp/models/iris/versions/1.yaml:number: error: 'one' is not of type 'integer'" in text
    assert ".mcp/models/iris/versions/1.yaml: error: 'name' is a required property" in text
    assert ".mcp/models/bert/model.yaml: error: not valid YAML" in text
    assert ".mcp/models/bert/versions/x.yaml: error: unexpected file" in text


def test_reads_fail_clearly_on_an_invalid_committed_manifest(repo, client):
    import pytest

    from gitreg.errors import ManifestError

    client.create_model_version("iris")
    path = repo / ".mcp/models/iris/versions/1.yaml"
    path.write_text(path.read_text().replace("number: 1", "number: 2"))
    git(repo, "commit", "-qam", "wrong number")
    with pytest.raises(ManifestError, match=r"versions/1.yaml:number: is 2 but the file is 1.yaml"):
        client.get_model_version("iris", 1)


def test_stray_file_in_a_model_folder_is_a_warning_only(repo, client):
    client.create_model_version("iris")
    (repo / ".mcp/models/iris/README.md").write_text("notes\n")
    git(repo, "add", ".mcp")
    git(repo, "commit", "-qm", "notes")
    problems, report = _problems(client)
    assert report.ok and any("README.md: warning: unexpected file" in p for p in problems)
    assert client.get_model_version("iris").number == 1
    client.create_model_version("iris")  # writes keep the file
    assert (repo / ".mcp/models/iris/README.md").read_text() == "notes\n"
    client.delete_model("iris")
    assert not (repo / ".mcp/models/iris").exists()
    assert _problems(client)[1].ok
