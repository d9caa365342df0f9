"""Typos never write permanent history.

``v3`` (as listings show version 3) means version 3 and can never become a version's name, through the
API (Model, Client) and the CLI alike; a command that would create a model one edit from an existing
model's name refuses, unless it is told the new model is meant.
"""

from __future__ import annotations

import json
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitreg import Client, Model
from gitreg.cli.app import main
from gitreg.errors import InvalidNameError, InvalidValueError, VersionNotFoundError
from gitreg.names import is_valid_name
from gitreg.operations import validate_version_name
from gitreg.state import parse_version_spec


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def churn(client: Client) -> Client:
    """Model churn with versions 1, 2 ("candidate") and 3."""
    client.create_model_version("churn")
    client.create_model_version("churn", name="candidate")
    client.create_model_version("churn")
    return client


# ---------------------------------------------------------------- v<number>

@given(number=st.integers(1, 10**30), v=st.sampled_from("vV"), zeros=st.integers(0, 3),
       pad=st.sampled_from(["", " ", "\t"]))
def test_v_and_digits_is_that_number(number: int, v: str, zeros: int, pad: str) -> None:
    assert parse_version_spec(f"{pad}{v}{'0' * zeros}{number}{pad}") == ("number", number)
    assert parse_version_spec(f"{'0' * zeros}{number}") == ("number", number)


@given(name=st.text(alphabet="vVxX0123456789._-abc", min_size=1, max_size=8))
def test_a_name_that_may_be_created_is_always_found_by_that_name(name: str) -> None:
    """The promise behind refusing `v3`: whatever name a version may get, asking for it by that name
    means that version, never a number, a stage or `latest`."""
    try:
        validate_version_name(name)
    except InvalidNameError:
        return
    assert parse_version_spec(name) == ("name", name)


@pytest.mark.parametrize("spec", ["v0", "V0", "v00", "0"])
def test_version_zero_is_invalid(spec: str) -> None:
    with pytest.raises(InvalidValueError, match="numbers start at 1"):
        parse_version_spec(spec)


@pytest.mark.parametrize("spec", ["v3x", "vv3", "v", "v-3", "v3.1", "v 3", "x3", "v\u00b3", "v\u0663"])
def test_other_text_is_a_name(spec: str) -> None:
    assert parse_version_spec(spec) == ("name", spec)


def test_v_numbers_through_the_api(churn: Client) -> None:
    assert Model("churn", version="v2", repo=churn.root).number == 2
    assert Model("churn", version="V3", repo=churn.root).number == 3
    assert Model("churn", version="v03", repo=churn.root).version == "3"
    assert Model("churn", version="v2", repo=churn.root).version == "candidate"
    assert churn.get_model_version("churn", "v1").number == 1
    assert churn.get_model_version("churn", " V2 ").name == "candidate"
    with pytest.raises(VersionNotFoundError, match="the highest number is 3"):
        Model("churn", version="v9", repo=churn.root).number
    with pytest.raises(VersionNotFoundError, match="the highest number is 3"):
        churn.get_model_version("churn", "V12")
    with pytest.raises(InvalidValueError, match="numbers start at 1"):
        Model("churn", version="v0")
    assert len(churn.list_model_versions("churn")) == 3  # no lookup created anything
    # `v3x` is an ordinary name: created on first use, then found by it
    made = Model("churn", version="v3x", repo=churn.root)
    assert (made.number, made.version) == (4, "v3x")
    assert Model("churn", version="v3x", repo=churn.root).number == 4
    assert churn.get_model_version("churn", "v4").name == "v3x"


def test_v_numbers_in_history_and_metadata(churn: Client) -> None:
    churn.log_metadata("churn", "v2", {"accuracy": 0.9})
    assert churn.get_model_version("churn", 2).metadata == {"accuracy": 0.9}
    assert {e.version for e in churn.version_history("churn", "V2")} == {2}


@pytest.mark.parametrize("name", ["v3", "V3", "v03", "v0", "V12", "v999999"])
def test_v_and_digits_is_never_created_as_a_name(churn: Client, name: str) -> None:
    head = churn.registry.repo.resolve("HEAD")
    with pytest.raises(InvalidNameError, match="would be read as version number"):
        churn.create_model_version("churn", name=name)
    with pytest.raises(InvalidNameError, match="would be read as version number"):
        churn.create_model_version("fresh", name=name)  # nor with a new model
    with pytest.raises(InvalidNameError, match="would be read as version number"):
        churn.update_model_version("churn", 1, name=name)  # nor by renaming
    with pytest.raises(InvalidNameError, match="would be read as version number"):
        churn.get_or_create_model_version("churn", name)
    assert churn.registry.repo.resolve("HEAD") == head


def test_a_v_number_never_registers_a_version_through_model(churn: Client) -> None:
    with pytest.raises(VersionNotFoundError):
        Model("churn", version="v7", repo=churn.root).number
    with pytest.raises(VersionNotFoundError):
        Model("churn", version="v7", repo=churn.root).log_metadata({"a": 1})
    assert [v.number for v in churn.list_model_versions("churn")] == [1, 2, 3]


def test_v_numbers_through_the_cli(churn: Client, capsys) -> None:
    for spec, number in (("v2", 2), ("V3", 3), ("v01", 1)):
        code, out, err = run(capsys, "model", "version", "describe", "churn", spec, "-o", "json")
        assert code == 0, err
        assert json.loads(out)["number"] == number
    code, _, err = run(capsys, "model", "version", "describe", "churn", "v9")
    assert code == 4 and "has no version 9 (the highest number is 3)" in err
    code, _, err = run(capsys, "model", "version", "describe", "churn", "v0")
    assert code == 2 and "numbers start at 1" in err
    code, _, err = run(capsys, "model", "version", "describe", "churn", "v3x")
    assert code == 4 and "no version has that name" in err
    code, _, err = run(capsys, "metadata", "log", "churn", "V2", "accuracy=0.5")
    assert code == 0 and "churn v2" in err
    for name in ("v3", "V4", "v0"):
        code, _, err = run(capsys, "model", "version", "create", "churn", "--name", name)
        assert code == 2 and "would be read as version number" in err and len(err.splitlines()) == 1
        code, _, err = run(capsys, "model", "version", "update", "churn", "1", "--name", name)
        assert code == 2 and "would be read as version number" in err
    code, out, err = run(capsys, "model", "version", "create", "churn", "--name", "v3x")
    assert code == 0 and out.strip() == "4"
    assert run(capsys, "model", "version", "describe", "churn", "v3x", "-o", "json")[1].count('"number": 4') == 1


@pytest.mark.parametrize("spec", ["\u00b2", "v\u00b2", "\u0663", "9" * 5000, "v" + "9" * 5000])
def test_digits_python_reads_oddly_are_errors_not_tracebacks(churn: Client, capsys, spec: str) -> None:
    """`²` is a digit to str.isdigit but not to int(); 5000 digits are more than int() converts."""
    with pytest.raises((InvalidNameError, InvalidValueError, VersionNotFoundError)):
        churn.get_model_version("churn", spec)
    code, _, err = run(capsys, "model", "version", "describe", "churn", spec)
    assert code in (2, 4) and err.startswith("error: ") and "Traceback" not in err
