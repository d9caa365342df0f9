"""Terminal tables never cut a value: at 80 and 100 columns every value appears whole, or its column is named
as left out (and --wide shows it); floats are short in tables and exact in JSON."""

from __future__ import annotations

import io
import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg.cli.app import main
from gitreg.cli.render import Cell, Table, short_float, table_text
from test_cli_conventions import _in_terminal

WIDTHS = (80, 100)

words = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,18}", fullmatch=True)
numbers = st.one_of(st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False))
values = st.one_of(words, numbers)
keys = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


@st.composite
def tables(draw):
    n = draw(st.integers(2, 7))
    columns = draw(st.lists(st.from_regex(r"[A-Z]{2,9}", fullmatch=True), min_size=n, max_size=n, unique=True))
    keep = draw(st.lists(st.sampled_from(columns), max_size=2, unique=True))
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        row = []
        for column in columns:
            if column not in keep and draw(st.booleans()):
                row.append(Cell(f"{k}={table_text(v)}" for k, v in draw(st.dictionaries(keys, values, max_size=6))
                                .items()))
            else:
                row.append(draw(values))
        rows.append(row)
    return columns, keep, rows


@settings(max_examples=150, deadline=None)
@given(spec=tables(), width=st.sampled_from(WIDTHS), wide=st.booleans())
def test_every_value_appears_whole_or_its_column_is_named(spec, width, wide):
    columns, keep, rows = spec
    table = Table(columns, keep=keep)
    for row in rows:
        table.add(*row)
    lines = table.fitted(width, wide=wide)
    text = "\n".join(lines)
    assert not (wide and table.dropped)
    assert set(table.dropped) <= set(columns) - set(keep)
    shown = [c for c in columns if c not in table.dropped]
    assert lines[0].split() == shown
    for r in table.rows:
        for i, column in enumerate(columns):
            if column in table.dropped:
                continue
            for atom in r[i]:
                assert any(atom in line for line in lines), (atom, text)
    least = sum(max([len(c), *(max(map(len, r[columns.index(c)]), default=0) for r in table.rows)]) for c in shown)
    if not wide and least + 2 * (len(shown) - 1) <= width:
        assert all(len(line) <= width for line in lines), text  # it fits: nothing wider than the terminal
    if table.dropped:  # left out only for want of width, the least important first
        assert least + 2 * (len(shown) - 1) <= width or len(shown) == len(keep)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_in_tables_are_short_and_read_back_rounded_to_six_digits(value):
    text = short_float(value)
    assert float(text) == float(f"{value:.6g}")
    digits = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    assert len(digits) <= 6
    if len(repr(value).split("e")[0].lstrip("-").replace(".", "").lstrip("0")) <= 6:
        assert text == repr(value)  # shortest round trip when that is short already


def test_known_floats():
    assert short_float(0.8200000000000001) == "0.82"
    assert short_float(0.6424) == "0.6424"
    assert table_text({"a": [0.1 + 0.2, 1, "x y"]}) == '{"a":[0.3,1,"x y"]}'
    assert table_text(True) == "True" and math.isnan(float(short_float(float("nan"))))


# ---------------------------------------------------------------- end to end, on a pseudo-terminal

@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metadata=st.dictionaries(keys, values, min_size=1, max_size=8))
def test_version_list_shows_every_metadata_value_whole(repo, client, metadata):
    model = f"m{abs(hash(json.dumps(metadata, sort_keys=True))) % 10**9}"
    client.create_model_version(model, metadata=metadata)
    for columns in WIDTHS:
        text = _in_terminal(["model", "version", "list", model], repo, columns=columns)
        lines = text.splitlines()
        assert "METADATA" in lines[0]
        for key, value in metadata.items():
            pair = f"{key}={table_text(value)}"
            assert any(pair in line for line in lines), (pair, text)
        shown = _in_terminal(["metadata", "show", model, "1"], repo, columns=columns)
        for key, value in metadata.items():
            assert any(line.split()[:2] == [key, table_text(value)] for line in shown.splitlines()), shown


def test_the_table_rounds_json_does_not(repo, client, capsys):
    client.create_model_version("churn", metadata={"precision": 0.8200000000000001, "f1": 0.6424,
                                                   "dataset": "ds-2026-01"})
    text = _in_terminal(["model", "version", "list", "churn"], repo, columns=80)
    assert any(word == "precision=0.82" for word in text.split())
    assert "f1=0.6424" in text.split() and "dataset=ds-2026-01" in text.split()
    assert "0.8200000000000001" not in text
    assert main(["model", "version", "list", "churn", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metadata"]["precision"] == 0.8200000000000001


def test_columns_left_out_are_named_and_wide_shows_them(repo, client):
    client.create_model_version("churn", tags=["candidate"], metadata={"notes": "x" * 40, "f1": 0.6424})
    text = _in_terminal(["model", "version", "list", "churn"], repo, columns=80)
    assert "note: not shown for want of width: TAGS" in text and "--wide shows every column" in text
    assert "candidate" not in text
    every = _in_terminal(["model", "version", "list", "churn", "--wide"], repo, columns=80)
    assert "candidate" in every and "not shown" not in every and "notes=" + "x" * 40 in every


def test_columns_picks_columns_and_metadata_keys(repo, client, capsys):
    client.create_model_version("churn", metadata={"f1": 0.6424, "nested": {"auc": 0.91}})
    client.create_model_version("churn", metadata={"f1": 0.7})
    assert main(["model", "version", "list", "churn", "--columns", "version,metadata.f1,metadata.nested.auc"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["VERSION", "f1", "nested.auc"]
    assert lines[1].split() == ["1", "0.6424", "0.91"] and lines[2].split() == ["2", "0.7", "-"]
    assert main(["model", "version", "list", "churn", "--columns", "version,colour"]) == 2
    assert capsys.readouterr().err.startswith("error: --columns: no column 'colour'")
    assert main(["model", "version", "list", "churn", "--columns", "version", "-o", "json"]) == 2


def test_sort_metadata_puts_its_key_first(repo, client, capsys):
    client.create_model_version("churn", metadata={"a": 1, "z": 2})
    assert main(["model", "version", "list", "churn", "--sort-metadata", "z"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[-2:] == ["z=2", "a=1"]


@pytest.mark.parametrize("author, shown", [
    ("Ann Marie Example-Longname <ann.marie.example-longname@research.example.com>", "Ann Marie Example-Longname"),
])
def test_history_by_is_one_line_at_100_columns(repo, client, monkeypatch, author, shown):
    name, email = author.split(" <")
    monkeypatch.setenv("GIT_AUTHOR_NAME", name)
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", email.rstrip(">"))
    monkeypatch.setenv("GIT_COMMITTER_NAME", "CI Bot")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ci@example.com")
    client.create_model_version("churn")
    client.create_model_version("churn")
    client.update_model_version("churn", 1, stage="production")
    client.update_model_version("churn", 2, stage="production", force=True, reason="better f1")
    text = _in_terminal(["model", "version", "history", "churn"], repo, columns=100)
    commits = git(repo, "log", "--format=%H", "-n", "1")
    rows = [line for line in text.splitlines() if line[:4].isdigit()]
    assert len(rows) == 4, text
    lines = text.splitlines()
    for line in rows:  # the author's name on the row's own line, whole; the committer at most one line more
        assert shown in line, text
        after = lines[lines.index(line) + 1:]
        continuation = []
        for x in after:
            if not x.startswith(" "):
                break
            continuation.append(x)
        assert len(continuation) <= 1 and all("(committed by CI Bot)" in x for x in continuation), text
    assert all(len(line) <= 100 for line in text.splitlines() if not line.startswith("note:")), text
    assert "@research.example.com" not in text and commits[:12] in text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
       st.from_regex(r"[a-z0-9._-]{1,12}@[a-z0-9.-]{1,12}", fullmatch=True))
def test_person_is_the_name_else_the_email_local_part(name, email):
    from gitreg.cli.model_cmds import person

    assume("<" not in name)
    got = person(f"{name} <{email}>")
    assert got == (name.strip() or email.split("@")[0])


def test_print_rich_writes_the_fitted_table():
    table = Table(["A", "B"], keep=("A",))
    table.add("x" * 10, Cell(["y" * 30, "z" * 30]))
    out = io.StringIO()
    table.print_rich(file=out, width=50)
    assert out.getvalue().splitlines()[2:] == ["x" * 10 + "  " + "y" * 30, " " * 12 + "z" * 30]
