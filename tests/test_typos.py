"""Typos never write permanent history.

``v3`` (as listings show version 3) means version 3 and can never become a version's name, through the
API (Model, Client) and the CLI alike; a command that would create a model one edit from an existing
model's name refuses, unless it is told the new model is meant.
"""

from __future__ import annotations

import json
import shlex

import pytest
from hypothesis import given
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


# ---------------------------------------------------------------- a new model one edit from another

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-."


def single_edits(name: str, alphabet: str = ALPHABET) -> set[str]:
    """Every name one insertion, deletion, substitution or adjacent swap from ``name`` (written out,
    not by the edit distance under test)."""
    out = set()
    for i in range(len(name) + 1):
        for c in alphabet:
            out.add(name[:i] + c + name[i:])
    for i in range(len(name)):
        out.add(name[:i] + name[i + 1:])
        for c in alphabet:
            out.add(name[:i] + c + name[i + 1:])
    for i in range(len(name) - 1):
        out.add(name[:i] + name[i + 1] + name[i] + name[i + 2:])
    return {n for n in out if n.casefold() != name.casefold()}


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_-", min_size=1, max_size=12).filter(is_valid_name)


@given(base=names, data=st.data())
def test_near_names_finds_every_single_edit(base: str, data: st.DataObject) -> None:
    from gitreg.names import near_names

    edited = data.draw(st.sampled_from(sorted(single_edits(base))))
    cased = "".join(c.upper() if data.draw(st.booleans()) else c for c in edited)
    assert near_names(cased, [base, base + "xyz-long-other"]) == [base]


@given(base=names.filter(lambda n: len(n) >= 3), data=st.data())
def test_names_two_edits_away_are_not_near(base: str, data: st.DataObject) -> None:
    """Two substitutions at positions that are not neighbours, or a length two apart: never one edit."""
    from gitreg.names import near_names

    i = data.draw(st.integers(0, len(base) - 3))
    j = data.draw(st.integers(i + 2, len(base) - 1))
    swap = {c: next(x for x in "xyz" if x != c.lower()) for c in set(base)}
    two = base[:i] + swap[base[i]] + base[i + 1:j] + swap[base[j]] + base[j + 1:]
    assert near_names(two, [base]) == []
    assert near_names(base + "ab", [base]) == [] and near_names(base, [base[2:]]) == []
    assert near_names(base.upper(), [base]) == []  # the same name but for case: a case clash, not a typo


def test_the_edit_distance_is_shared_with_the_stage_typos() -> None:
    from gitreg import names, stages

    assert stages.edit_distance is names.edit_distance
    assert stages.resembled_stage_word("prodcution") == "production"


def _edits_to_try() -> list[str]:
    """A spread of single edits of `churn`: every deletion and swap, and insertions and substitutions
    of a letter, a digit, '-' and an upper-case letter at every position."""
    base = "churn"
    picked = {base[:i] + base[i + 1:] for i in range(len(base))}
    picked |= {base[:i] + base[i + 1] + base[i] + base[i + 2:] for i in range(len(base) - 1)}
    for i, c in enumerate("xZ7-x"):
        picked.add(base[:i] + c + base[i:])
        picked.add(base[:i] + c + base[i + 1:])
    picked.add(base + "2")
    return sorted(n for n in picked if n.casefold() != base and is_valid_name(n))


@pytest.mark.parametrize("command", [["model", "version", "create"], ["model", "register"]])
def test_the_cli_refuses_a_new_model_one_edit_from_another(churn: Client, capsys, command: list[str]) -> None:
    head = churn.registry.repo.resolve("HEAD")
    tried = _edits_to_try()
    assert len(tried) >= 15
    for typo in tried:
        code, out, err = run(capsys, *command, typo)
        assert code == 2, (typo, err)
        assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
        assert err.startswith(f"error: model {typo!r} does not exist; did you mean 'churn'?"), err
        assert err.rstrip().endswith(f"run: gitreg {' '.join(command)} {shlex.quote(typo)} --new-model"), err
    assert churn.registry.repo.resolve("HEAD") == head  # nothing was written
    assert [m.name for m in churn.list_models()] == ["churn"]


def test_the_refusal_names_the_exact_command_and_that_command_creates_the_model(churn: Client, capsys) -> None:
    code, _, err = run(capsys, "-C", churn.root, "model", "version", "create", "chrun", "--name", "first try",
                       "-t", "a", "--tag", "b", "-m", "on purpose")
    assert code == 2
    command = err.split("run: ", 1)[1].strip()
    words = shlex.split(command)
    assert words[0] == "gitreg" and words[-1] == "--new-model"
    assert "first try" in words and words.count("--tag") == 2 and "on purpose" in words
    code, _, err = run(capsys, *words[1:])
    assert code == 2 and "invalid version name 'first try'" in err  # the exact command: the same mistake too
    code, out, err = run(capsys, *[w if w != "first try" else "first-try" for w in words[1:]])
    assert code == 0, err
    created = churn.get_model_version("chrun", "first-try")
    assert (created.number, created.tags) == (1, ("a", "b"))


def test_two_models_near_the_name_are_both_suggested(churn: Client, capsys) -> None:
    churn.create_model_version("chrun")  # made by code: the API does not guard by default
    code, _, err = run(capsys, "model", "version", "create", "chun")
    assert code == 2 and "did you mean 'chrun' or 'churn'?" in err


@pytest.mark.parametrize("command", [["model", "version", "create"], ["model", "register"]])
def test_new_model_creates_it(churn: Client, capsys, command: list[str]) -> None:
    code, _, err = run(capsys, *command, "chrun", "--new-model")
    assert code == 0, err
    assert "chrun" in [m.name for m in churn.list_models()]
    # the flag changes nothing where there is nothing to refuse
    assert run(capsys, "model", "version", "create", "churn", "--new-model")[0] == 0
    assert run(capsys, *command, "totally-different", "--new-model")[0] == 0


@pytest.mark.parametrize("name", ["chrnu", "cjurm", "hcrun", "churnxx", "chu", "CHRUNX", "model"])
def test_names_two_edits_away_are_created(churn: Client, capsys, name: str) -> None:
    code, _, err = run(capsys, "model", "version", "create", name)
    assert code == 0, err
    assert churn.get_model_version(name, 1).number == 1


def test_existing_models_and_case_clashes_are_not_near_name_refusals(churn: Client, capsys) -> None:
    churn.create_model_version("chrun")
    code, _, err = run(capsys, "model", "version", "create", "chrun")  # exists: a new version of it
    assert code == 0, err
    code, _, err = run(capsys, "model", "version", "create", "Churn")
    assert code == 2 and "only in case" in err and "--new-model" not in err
    code, _, err = run(capsys, "model", "register", "churn")
    assert code == 5 and "already exists" in err


def test_the_api_creates_implicitly_and_guards_on_request(churn: Client) -> None:
    from gitreg.errors import NearModelNameError

    head = churn.registry.repo.resolve("HEAD")
    for call in (lambda: churn.create_model_version("chrun", refuse_near_names=True),
                 lambda: churn.create_model("chrun", refuse_near_names=True),
                 lambda: churn.get_or_create_model_version("chrun", "x", refuse_near_names=True)):
        with pytest.raises(NearModelNameError) as caught:
            call()
        error = caught.value
        assert (error.model, error.suggestions, error.exit_code) == ("chrun", ("churn",), 2)
        assert isinstance(error, InvalidNameError) and "did you mean 'churn'?" in str(error)
        assert "refuse_near_names" in str(error)
    assert churn.registry.repo.resolve("HEAD") == head
    assert churn.create_model_version("churn", refuse_near_names=True).number == 4  # an existing model
    assert churn.get_or_create_model_version("churn", "candidate", refuse_near_names=True).number == 2
    # ZenML's semantics by default: a model is created on first use, whatever its name
    assert churn.create_model_version("chrun").number == 1
    assert Model("chrn", repo=churn.root).number == 1
    assert churn.create_model("chur").name == "chur"


def test_help_mentions_the_flag(capsys) -> None:
    for command in (["model", "version", "create"], ["model", "register"]):
        code, out, _ = run(capsys, *command, "--help")
        text = " ".join(out.split())
        assert code == 0 and "--new-model" in text and "one edit" in text and "typo" in text


def test_a_version_already_named_like_a_number_is_a_check_error_but_still_reads(repo, client):
    # written before `v<N>` meant version N: check says so; the version still reads by its number
    import subprocess as sp

    client.create_model_version("m")
    client.create_model_version("m")
    path = repo / ".mcp/models/m/versions/2.yaml"
    path.write_text(path.read_text().replace("name: '2'", "name: v1"))
    sp.run(["git", "commit", "-qam", "an old name"], cwd=repo, check=True)
    problems = [str(p) for p in client.check().problems if p.blocking]
    assert any("versions/2.yaml:name" in p and "'v1' reads as version 1" in p for p in problems), problems
    assert client.get_model_version("m", 2).name == "v1"
    assert client.get_model_version("m", "v1").number == 1
