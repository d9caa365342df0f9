import pytest

from gitreg.errors import InvalidValueError, ManifestError
from gitreg.manifests import (
    ArtifactLink,
    ModelManifest,
    VersionManifest,
    check_json_value,
    dump,
    dump_yaml,
    load_version_doc,
    merge_metadata,
    parse_yaml,
)


def _version(**kw):
    base = dict(model="iris", number=2, name="2", created="2026-01-01T00:00:00Z")
    return VersionManifest(**(base | kw))


def test_dump_is_deterministic_and_ordered():
    v = _version(metadata={"b": 1, "a": {"z": 1, "y": 2}}, tags=("t1",))
    text = dump("version", v, "x.yaml").decode()
    assert text == dump("version", VersionManifest.from_dict(parse_yaml(text, "x")), "x.yaml").decode()
    keys = [line.split(":")[0] for line in text.splitlines() if not line.startswith((" ", "-"))]
    assert keys == ["format", "model", "number", "name", "stage", "tags", "created", "metadata", "artifacts", "runs"]
    assert text.index("  a:") < text.index("  b:")  # metadata keys sorted
    assert "name: '2'" in text  # a digit name stays a string


def test_round_trip_with_artifacts():
    link = ArtifactLink(name="m", version=1, type="model", uri="s3://b/k", sha256="a" * 64, size=3,
                        format="pickle", run="r1", step="train")
    v = _version(artifacts=(link,), runs=("r1",), description="hello: world")
    back = VersionManifest.from_dict(load_version_doc(dump("version", v, "x"), "x"))
    assert back == v


def test_invalid_manifest_names_file_and_field():
    doc = _version().to_dict()
    doc["stage"] = "prod"
    with pytest.raises(ManifestError) as info:
        load_version_doc(dump_yaml(doc), ".mcp/models/iris/versions/2.yaml")
    assert info.value.path == ".mcp/models/iris/versions/2.yaml"
    assert info.value.field == "stage"
    assert str(info.value).startswith(".mcp/models/iris/versions/2.yaml:stage: ")


def test_nested_field_in_error():
    doc = _version(artifacts=(ArtifactLink(name="m", version=1, type="model", uri="u", sha256="a" * 64,
                                           size=1, format="f"),)).to_dict()
    doc["artifacts"][0]["sha256"] = "nothex"
    with pytest.raises(ManifestError) as info:
        load_version_doc(dump_yaml(doc), "v.yaml")
    assert info.value.field == "artifacts.0.sha256"


def test_bad_yaml_is_a_manifest_error():
    with pytest.raises(ManifestError, match="not valid YAML"):
        parse_yaml(b"a: [1, 2\n", "f.yaml")
    with pytest.raises(ManifestError, match="mapping"):
        parse_yaml(b"- 1\n", "f.yaml")


def test_dump_refuses_invalid():
    bad = ModelManifest(name="bad name", created="2026-01-01T00:00:00Z")
    with pytest.raises(ManifestError):
        dump("model", bad, "m.yaml")


def test_metadata_values():
    assert check_json_value({"a": 1, "b": [1.5, "x", None, True], "c": {"d": 2}}, "m") == \
        {"a": 1, "b": [1.5, "x", None, True], "c": {"d": 2}}
    for bad in (object(), {1: 2}, float("nan"), {"a": {1, 2}}):
        with pytest.raises(InvalidValueError):
            check_json_value(bad, "m")


def test_merge_metadata_nested():
    assert merge_metadata({"a": 1, "g": {"x": 1, "y": 2}}, {"g": {"y": 3, "z": 4}, "b": 2}) == \
        {"a": 1, "g": {"x": 1, "y": 3, "z": 4}, "b": 2}
