"""A write may record another author and time (an import's events): git's author fields, never the committer,
through gitreg's own write path; and a registration may keep a number and a creation time given to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg import Client
from gitreg import operations as ops
from gitreg.errors import InvalidValueError
from gitreg.git import Author
from gitreg.registry import Change
from gitreg.state import Snapshot


def _authored(build, author: Author):
    def run(snap: Snapshot) -> Change:
        change = build(snap)
        change.author = author
        return change
    return run


offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=offsets)
CRUD = "".join(chr(c) for c in range(33)) + ".,:;<>\"\\'"  # what git strips from the ends of a name
people = st.text(alphabet=st.characters(blacklist_characters="<>", blacklist_categories=("Cs", "Cc")),
                 min_size=1, max_size=20).filter(lambda s: s.strip(CRUD) and s.strip(CRUD) == s.strip(CRUD).strip())


@pytest.mark.parametrize("reference", [False, True], ids=["in-process", "git-commit-tree"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=times, name=people)
def test_author_and_date_reach_the_commit(client: Client, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                          reference: bool, when: datetime, name: str) -> None:
    if reference:
        monkeypatch.setenv("GITREG_REFERENCE", "objects")
    author = Author(name, "someone@example.org", when)
    committed = client.registry.transact(_authored(lambda s: ops.register_version(s, "iris"), author), scope="iris")
    line = git(repo, "log", "-1", "--format=%an%x00%ae%x00%at%x00%ai%x00%cn", committed.commit)
    an, ae, at, ai, cn = line.split("\0")
    assert (an, ae, int(at)) == (name.strip(CRUD), "someone@example.org", int(when.timestamp()))
    assert ai.endswith(when.strftime("%z"))  # the original time zone is kept
    assert cn == "Test User"  # the committer is whoever ran gitreg
    assert client.check().ok


def test_author_refuses_what_git_cannot_record() -> None:
    for bad in ("a<b", "a>b", "a\nb", "a\rb", " ", "..."):
        with pytest.raises(InvalidValueError):
            Author(bad, "x@example.org", datetime.now(UTC))
    with pytest.raises(InvalidValueError, match="timezone"):
        Author("a", "x@example.org", datetime(2020, 1, 1))


def test_a_registration_keeps_a_number_and_time_given_after_every_number_used(client: Client) -> None:
    client.registry.transact(lambda s: ops.register_version(s, "iris", number=3, created="2019-05-01T10:00:00Z"))
    v3 = client.get_model_version("iris", 3)
    assert (v3.number, v3.name, v3.created) == (3, "3", "2019-05-01T10:00:00Z")
    assert client.get_model("iris").created == "2019-05-01T10:00:00Z"
    for used in (1, 2, 3):  # skipped numbers are never used either
        with pytest.raises(InvalidValueError, match="never reused"):
            client.registry.transact(lambda s, n=used: ops.register_version(s, "iris", number=n))
    assert client.create_model_version("iris").number == 4
    assert client.check().ok


def test_the_tags_of_an_authored_change_are_dated_then_and_history_says_so(client: Client, repo: Path) -> None:
    when = datetime(2019, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    author = Author("Ada", "ada@example.org", when)
    client.registry.transact(_authored(lambda s: ops.register_version(s, "iris"), author), scope="iris")
    later = Author("Bob", "bob@example.org", when + timedelta(days=1))
    client.registry.transact(_authored(lambda s: ops.update_version(s, "iris", 1, stage="production"), later))
    tags = git(repo, "for-each-ref", "--format=%(refname:short) %(taggername) %(taggerdate:unix)", "refs/tags/")
    assert tags.splitlines() == [f"models/iris/production/1 Test User {int(later.when.timestamp())}",
                                 f"models/iris/v1 Test User {int(when.timestamp())}"]  # the tagger: who imported
    history = client.version_history("iris")
    assert [(e.kind, e.by.split(" <")[0], datetime.fromisoformat(e.when).timestamp()) for e in history] == \
        [("registered", "Ada", when.timestamp()), ("stage", "Bob", later.when.timestamp())]
    assert client.check().ok
