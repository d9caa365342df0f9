import subprocess

import pytest

from gitreg.errors import InvalidNameError
from gitreg.manifests import schema_problems
from gitreg.names import validate_name
from gitreg.tagnames import (
    StageTag,
    StageTagMessage,
    VersionTag,
    format_stage_message,
    format_stage_tag,
    format_version_tag,
    parse_stage_message,
    parse_tag,
    tag_prefix_problem,
    validate_tag_prefix,
)


@pytest.mark.parametrize("name", ["iris", "iris_classifier", "a", "m500", "bert-base.v2", "X9", "1abc"])
def test_valid_names(name):
    assert validate_name("model", name) == name


@pytest.mark.parametrize("name", [
    "", " ", "../x", "a/b", "x.lock", "X.LOCK", "a..b", ".hidden", "-dash", "trail.", "with space",
    "tab\tx", "new\nline", "ctl\x01", "a:b", "a~b", "a^b", "a?b", "a*b", "a[b", "a\\b", "a@{b", "é",
    "x" * 101, None, 3,
])
def test_invalid_names(name):
    with pytest.raises(InvalidNameError) as info:
        validate_name("model", name)
    assert "invalid model name" in str(info.value)
    assert info.value.kind == "model"


@pytest.mark.parametrize("prefix", ["models", "registry/models", "mp"])
@pytest.mark.parametrize("model", ["iris", "m.1", "a_b-c"])
def test_tag_round_trip(prefix, model):
    for number in (1, 7, 1234):
        name = format_version_tag(prefix, model, number)
        assert parse_tag(prefix, name) == VersionTag(prefix, model, number)
        assert parse_tag(prefix, "refs/tags/" + name) == VersionTag(prefix, model, number)
    for stage in ("staging", "production", "archived", "none"):
        name = format_stage_tag(prefix, model, stage, 3)
        assert parse_tag(prefix, name) == StageTag(prefix, model, stage, 3)


@pytest.mark.parametrize("tag", [
    "other/iris/v1", "models/iris/v0", "models/iris/v01", "models/iris/1", "models/iris/vx",
    "models/iris/latest/1", "models/iris/production/0", "models/iris/production", "models//v1",
    "models/iris/production/1/extra",
])
def test_foreign_tags_do_not_parse(tag):
    assert parse_tag("models", tag) is None


def test_stage_message_round_trip():
    msg = StageTagMessage(model="iris", number=3, stage="production", previous_stage="staging",
                          demoted=(1, 2), by="A B <a@b>", reason="better recall\non the holdout")
    text = format_stage_message(msg)
    assert text.splitlines()[0] == "iris v3 -> production"
    back = parse_stage_message(text)
    assert back == StageTagMessage(model="iris", number=3, stage="production", previous_stage="staging",
                                   demoted=(1, 2), by="A B <a@b>", reason="better recall on the holdout")
    plain = StageTagMessage(model="m", number=1, stage="staging", previous_stage="none")
    assert parse_stage_message(format_stage_message(plain)) == plain
    assert parse_stage_message("hello world") is None


def test_version_message_round_trip():
    from gitreg.tagnames import format_version_message, parse_version_message

    text = format_version_message("iris", 3, "candidate", "A <a@x>", "nightly\nbuild")
    back = parse_version_message(text)
    assert (back.model, back.number, back.name, back.by, back.reason) == ("iris", 3, "candidate", "A <a@x>",
                                                                          "nightly build")
    assert parse_version_message("iris v3 -> production") is None


# ---------------------------------------------------------------- tag prefixes

VALID_PREFIXES = ["models", "team-a/models", "a", "m.1/x_y", "Registry/Team.B/ml-models", "9"]
INVALID_PREFIXES = [
    "", "a..b", "x.lock", "X.LOCK", "team/x.lock", "a.lock/b", "a.", "a./b", ".a", "a/.b", "/a", "a/", "a//b",
    "-a", "_a", "a b", "tab\tx", "models\n", "ctl\x01", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b",
    "a@{b", "@", "é", "x" * 101, None, 3,
]


def _git_accepts(ref: str) -> bool:
    return subprocess.run(["git", "check-ref-format", ref], capture_output=True).returncode == 0


@pytest.mark.parametrize("prefix", VALID_PREFIXES)
def test_valid_tag_prefixes_round_trip(prefix):
    assert tag_prefix_problem(prefix) is None and validate_tag_prefix(prefix) == prefix
    assert not schema_problems("registry", {"format": 1, "store": "s", "tag_prefix": prefix})
    for tag, parsed in ((format_version_tag(prefix, "iris", 12), VersionTag(prefix, "iris", 12)),
                        (format_stage_tag(prefix, "iris", "production", 3), StageTag(prefix, "iris", "production", 3))):
        assert _git_accepts(f"refs/tags/{tag}")
        assert parse_tag(prefix, tag) == parsed
        assert parse_tag(prefix, "refs/tags/" + tag) == parsed


@pytest.mark.parametrize("prefix", INVALID_PREFIXES)
def test_invalid_tag_prefixes(prefix):
    problem = tag_prefix_problem(prefix)
    assert problem
    with pytest.raises(InvalidNameError) as info:
        validate_tag_prefix(prefix)
    assert info.value.kind == "tag prefix" and problem in str(info.value)
    found = schema_problems("registry", {"format": 1, "store": "s", "tag_prefix": prefix})
    assert [f for f, _ in found] == ["tag_prefix"]  # the schema and the function agree


@pytest.mark.parametrize("prefix", ["a..b", "x.lock", "a.lock/b", ".a", "a/.b", "/a", "a/", "a//b", "a b",
                                    "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a@{b", "models\n"])
def test_prefixes_git_refuses_are_refused(prefix):
    assert not _git_accepts(f"refs/tags/{prefix}/iris/v1")
    assert tag_prefix_problem(prefix) is not None


@pytest.mark.parametrize("prefix", ["models", "registry/models"])
def test_numbers_in_a_folder_read_as_parse_tag_reads_them(prefix):
    """A write's one-pass reading of its model's tags gives exactly what parsing each tag gives."""
    from gitreg.tagnames import numbers_in

    tails = ["v1", "v7", "v10", "v01", "v0", "vx", "v1x", "v", "1", "v2/extra", "production/1", "production/01",
             "production/0", "production/12", "production/1/x", "staging/3", "archived/4", "none/2", "latest/1",
             "production", "v٣", "v１", "v3\n", "production/2 "]
    for model in ("iris", "iris.v2", "m"):
        refs = [f"refs/tags/{prefix}/{model}/{tail}" for tail in tails]
        refs += [f"refs/tags/{prefix}/{model}x/v5", f"refs/tags/{prefix}/{model}x/production/5",
                 f"refs/tags/other/{model}/v9", f"refs/heads/{prefix}/{model}/v8"]
        parsed = [parse_tag(prefix, r) for r in refs if r.startswith("refs/tags/")]
        folder = f"refs/tags/{prefix}/{model}/"
        assert sorted(numbers_in(folder, refs, "v")) == sorted(
            t.number for t in parsed if isinstance(t, VersionTag) and t.model == model) == [1, 7, 10]
        for stage in ("staging", "production", "archived"):
            assert sorted(numbers_in(f"{folder}{stage}/", refs)) == sorted(
                t.seq for t in parsed if isinstance(t, StageTag) and t.model == model and t.stage == stage)
