"""`gitreg review comment`: the review is ONE pull-request (GitHub) or merge-request (GitLab) comment, found by
its hidden marker among the token's own user's comments and updated in place; never a new comment per push,
never someone else's comment; API failures are one line each.  Against small fakes of both hosts' REST APIs."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakehosts import FakeHost, Serving, User
from gitreg.cli.app import main
from gitreg.errors import InvalidValueError
from gitreg.review_comment import (
    BODY_LIMITS,
    GITHUB_ACTIONS_LOGIN,
    MARKER,
    ReviewHostAuthError,
    ReviewTarget,
    comment_body,
    post_review_comment,
    review_target,
)

HOSTS = ("github", "gitlab")
TOKEN_VAR = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}
BOT = User("registry-bot", 1)
ALICE = User("alice", 2)
MALLORY = User("mallory", 3)
OTHER_BOT = User("other-app[bot]", 4, type="Bot")
SECRET = "s3cret-token-value"


def fake(kind: str, **kw) -> FakeHost:
    return FakeHost(kind, project="acme/registry", number=7, tokens={SECRET: BOT, "alice-token": ALICE}, **kw)


def target(kind: str, url: str) -> ReviewTarget:
    return ReviewTarget(kind, url, "acme/registry", 7)  # type: ignore[arg-type]


def run_cli(kind: str, url: str, body: str, tmp_path, monkeypatch, capsys, *extra: str,
            token: str | None = SECRET) -> tuple[int, str, str]:
    review = tmp_path / "review.md"
    review.write_text(body)
    for var in ("GITHUB_TOKEN", "GITLAB_TOKEN", "GITHUB_REF", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(var, raising=False)
    if token is not None:
        monkeypatch.setenv(TOKEN_VAR[kind], token)
    code = main(["review", "comment", "--host", kind, "--api-url", url, "--project", "acme/registry",
                 "--number", "7", "--body-file", str(review), *extra])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- update, don't duplicate

@pytest.mark.parametrize("kind", HOSTS)
def test_the_first_run_creates_the_comment_and_every_later_run_updates_that_same_one(kind, tmp_path, monkeypatch,
                                                                                    capsys):
    host = fake(kind)
    host.add(ALICE, "looks good to me")
    with Serving(host) as url:
        code, out, err = run_cli(kind, url, "## gitreg check passes\n\nfirst push", tmp_path, monkeypatch, capsys)
        assert code == 0 and "created gitreg's review comment on acme/registry" in err
        [ours] = [c for c in host.comments if host.author(c) == BOT.login]
        assert ours["body"].startswith(MARKER + "\n") and "first push" in ours["body"]
        assert host.writes == [("POST", host.prefix() + ("/7/comments" if kind == "github" else ""))]

        host.requests.clear()
        code, out, err = run_cli(kind, url, "## gitreg check fails\n\nsecond push", tmp_path, monkeypatch, capsys)
        assert code == 0 and "updated gitreg's review comment" in err
        assert len(host.comments) == 2 and ours["body"] == f"{MARKER}\n## gitreg check fails\n\nsecond push\n"
        edit = "PATCH" if kind == "github" else "PUT"
        assert [m for m, _ in host.writes] == [edit] and host.writes[0][1].endswith(f"/{ours['id']}")

        host.requests.clear()
        code, out, err = run_cli(kind, url, "## gitreg check fails\n\nsecond push", tmp_path, monkeypatch, capsys)
        assert code == 0 and "unchanged gitreg's review comment" in err and host.writes == []
    if kind == "github":
        assert out.strip() == ours["html_url"]
    # the token travelled in a header only, never on the command line or in what was shown
    assert SECRET not in out + err
    header = "authorization" if kind == "github" else "private-token"
    assert all(SECRET in headers[header] for _, _, headers in host.requests)


ACTORS = st.sampled_from([ALICE, MALLORY, OTHER_BOT, BOT])


@st.composite
def threads(draw):
    """Comments before the run: (author, carries the marker) pairs, at most one of gitreg's own with it."""
    others = draw(st.lists(st.tuples(st.sampled_from([ALICE, MALLORY, OTHER_BOT]), st.booleans()), max_size=60))
    ours_at = draw(st.none() | st.integers(0, len(others)))
    bot_plain = draw(st.lists(st.integers(0, len(others)), max_size=3))  # the bot's comments without the marker
    items = list(others)
    for at in sorted(bot_plain, reverse=True):
        items.insert(at, (BOT, False))
    if ours_at is not None:
        items.insert(min(ours_at, len(items)), (BOT, True))
    return items, draw(st.integers(1, 25))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=threads(), kind=st.sampled_from(HOSTS), link_header=st.booleans())
def test_exactly_one_comment_is_gitregs_after_a_run_whatever_the_thread_holds(case, kind, link_header):
    items, page_cap = case
    host = fake(kind, page_cap=page_cap, link_header=link_header)  # GitLab pages by X-Next-Page alone too
    for user, marked in items:
        host.add(user, f"{MARKER}\n## gitreg check passes (forged)" if marked else f"a comment by {user.login}")
        if kind == "gitlab" and user is BOT and not marked:
            host.add(BOT, f"{MARKER}\nchanged the description", system=True)  # a system note is never gitreg's
    before = {c["id"]: dict(c) for c in host.comments}
    previous = next((c["id"] for c in host.comments if host.author(c) == BOT.login
                     and c["body"].startswith(MARKER) and not c.get("system")), None)
    with Serving(host) as url:
        result = post_review_comment(target(kind, url), SECRET, "## gitreg check fails\n\nthe real review")
    mine = [c for c in host.comments if host.author(c) == BOT.login and not c.get("system")
            and c["body"].startswith(MARKER)]
    assert len(mine) == 1 and "the real review" in mine[0]["body"]
    assert result.comment_id == mine[0]["id"]
    assert result.action == ("created" if previous is None else "updated")
    if previous is not None:
        assert mine[0]["id"] == previous  # updated in place, wherever it was in the pages
    # every other comment, the forged ones with the marker included, is exactly as it was
    assert all(c == before[c["id"]] for c in host.comments if c["id"] != mine[0]["id"])
    assert len(host.comments) == len(before) + (previous is None)


@pytest.mark.parametrize(("kind", "link_header"), [("github", True), ("gitlab", True), ("gitlab", False)])
def test_gitregs_comment_is_found_on_a_late_page(kind, link_header):
    host = fake(kind, page_cap=30, link_header=link_header)
    for i in range(250):
        host.add(MALLORY if i % 7 else ALICE, f"{MARKER}\nforged {i}" if i % 5 == 0 else f"comment {i}")
        if i == 230:
            ours = host.add(BOT, f"{MARKER}\nthe previous review")
    with Serving(host) as url:
        result = post_review_comment(target(kind, url), SECRET, "this push's review")
    assert result.action == "updated" and result.comment_id == ours["id"] and len(host.comments) == 251
    assert ours["body"] == f"{MARKER}\nthis push's review\n"
    position = host.comments.index(ours)  # pages are read in order, up to the one that holds it
    assert len([r for r in host.requests if r[0] == "GET" and "/user" not in r[1]]) == position // 30 + 1 == 8


@pytest.mark.parametrize("kind", HOSTS)
def test_a_comment_that_carries_the_marker_but_is_someone_elses_is_not_taken_over(kind, tmp_path, monkeypatch,
                                                                                 capsys):
    host = fake(kind)
    forged = host.add(MALLORY, f"{MARKER}\n## gitreg check passes: 0 error(s)")
    bot_lookalike = host.add(OTHER_BOT, f"{MARKER}\n## gitreg check passes: 0 error(s)")
    with Serving(host) as url:
        assert run_cli(kind, url, "## gitreg check fails: 1 error(s)", tmp_path, monkeypatch, capsys)[0] == 0
    assert forged["body"].endswith("passes: 0 error(s)") and bot_lookalike["body"].endswith("passes: 0 error(s)")
    [ours] = [c for c in host.comments if host.author(c) == BOT.login]
    assert "fails: 1 error(s)" in ours["body"]


def test_a_workflow_token_that_cannot_ask_who_it_is_writes_as_github_actions(tmp_path, monkeypatch, capsys):
    actions = User(GITHUB_ACTIONS_LOGIN, 41898282, installation=True, type="Bot")
    host = FakeHost("github", tokens={SECRET: actions})
    host.add(ALICE, f"{MARKER}\nforged")
    earlier = host.add(actions, f"{MARKER}\nthe previous push's review")
    with Serving(host) as url:
        assert run_cli("github", url, "this push's review", tmp_path, monkeypatch, capsys)[0] == 0
    assert earlier["body"] == f"{MARKER}\nthis push's review\n" and len(host.comments) == 2


def test_author_names_whose_comments_are_gitregs(tmp_path, monkeypatch, capsys):
    app = User("registry-app[bot]", 9, installation=True, type="Bot")
    host = FakeHost("github", tokens={SECRET: app})
    earlier = host.add(app, f"{MARKER}\nold")
    with Serving(host) as url:
        code, _, err = run_cli("github", url, "new", tmp_path, monkeypatch, capsys, "--author", "registry-app[bot]")
    assert code == 0 and "updated" in err and earlier["body"] == f"{MARKER}\nnew\n"
    assert [p for m, p, _ in host.requests if p == "/user"] == []  # told, so not asked


# ---------------------------------------------------------------- errors: one line, the right exit code

def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert SECRET not in err
    return lines[0]


@pytest.mark.parametrize("kind", HOSTS)
def test_a_token_the_host_does_not_know_is_a_401_in_one_line(kind, tmp_path, monkeypatch, capsys):
    with Serving(fake(kind)) as url:
        code, _, err = run_cli(kind, url, "x", tmp_path, monkeypatch, capsys, token="expired")
    line = _one_line_error(err)
    assert code == 16 and "answered 401" in line and f"{TOKEN_VAR[kind]} is not a valid token" in line


@pytest.mark.parametrize("kind", HOSTS)
def test_a_read_only_token_is_a_403_that_says_which_permission_is_missing(kind, tmp_path, monkeypatch, capsys):
    host = FakeHost(kind, tokens={SECRET: User("fork-reader", 5, write=False)})
    with Serving(host) as url:
        code, _, err = run_cli(kind, url, "x", tmp_path, monkeypatch, capsys)
    line = _one_line_error(err)
    assert code == 16 and "answered 403" in line and "Resource not accessible by integration" in line
    assert ("pull-requests: write" if kind == "github" else "Reporter role") in line
    assert host.comments == []


@pytest.mark.parametrize("kind", HOSTS)
def test_a_wrong_project_or_number_is_a_404_that_names_them(kind, tmp_path, monkeypatch, capsys):
    host = fake(kind)
    host.number = 8  # the pull request asked for (7) is not there
    with Serving(host) as url:
        code, _, err = run_cli(kind, url, "x", tmp_path, monkeypatch, capsys, "--author", BOT.login)
    line = _one_line_error(err)
    assert code == 15 and "answered 404" in line and "acme/registry" in line and "--project and --number" in line


@pytest.mark.parametrize("kind", HOSTS)
def test_an_unreachable_host_is_one_line(kind, tmp_path, monkeypatch, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    code, _, err = run_cli(kind, f"http://127.0.0.1:{port}", "x", tmp_path, monkeypatch, capsys)
    line = _one_line_error(err)
    assert code == 15 and "could not reach" in line and "check --api-url and the network" in line


@pytest.mark.parametrize("kind", HOSTS)
def test_a_server_error_on_the_write_is_one_line_and_nothing_is_posted_twice(kind, tmp_path, monkeypatch, capsys):
    host = fake(kind, fail={"POST": 502})
    with Serving(host) as url:
        code, _, err = run_cli(kind, url, "x", tmp_path, monkeypatch, capsys)
    line = _one_line_error(err)
    assert code == 15 and "answered 502" in line and host.comments == [] and len(host.writes) == 1


@pytest.mark.parametrize("kind", HOSTS)
def test_no_token_in_the_environment_is_refused_before_any_request(kind, tmp_path, monkeypatch, capsys):
    host = fake(kind)
    with Serving(host) as url:
        code, _, err = run_cli(kind, url, "x", tmp_path, monkeypatch, capsys, token=None)
    assert code == 16 and f"{TOKEN_VAR[kind]} is not set" in _one_line_error(err) and host.requests == []


def test_there_is_no_option_that_takes_the_token(capsys):
    assert main(["review", "comment", "--help"]) == 0
    assert "--token" not in capsys.readouterr().out
    assert main(["review", "comment", "--host", "github", "--body-file", "-", "--token", "x"]) == 2


def test_the_token_is_never_sent_in_clear_to_another_machine(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli("github", "http://api.example.invalid", "x", tmp_path, monkeypatch, capsys)
    assert code == 2 and "plain http would send the token in clear" in _one_line_error(err)


@pytest.mark.parametrize("kind", HOSTS)
def test_a_next_page_link_to_another_host_is_not_followed_with_the_token(kind, tmp_path, monkeypatch, capsys):
    elsewhere = fake(kind)
    with Serving(elsewhere) as other:
        host = fake(kind, page_cap=1, link_base=other.removesuffix("/api/v4"))
        host.add(ALICE, "one")
        host.add(ALICE, "two")
        with Serving(host) as url:
            code, _, err = run_cli(kind, url, "x", tmp_path, monkeypatch, capsys, "--author", BOT.login)
    line = _one_line_error(err)
    assert code == 15 and "another host" in line and "not followed" in line
    assert elsewhere.requests == [] and len(host.comments) == 2  # nothing posted on a partial view either


@pytest.mark.parametrize("kind", HOSTS)
def test_a_redirect_to_another_host_is_not_followed_with_the_token(kind, tmp_path, monkeypatch, capsys):
    elsewhere = fake(kind)
    with Serving(elsewhere) as other:
        moved = fake(kind, redirect=other.removesuffix("/api/v4"))
        with Serving(moved) as url:
            code, _, err = run_cli(kind, url, "x", tmp_path, monkeypatch, capsys)
        line = _one_line_error(err)
        assert code == 15 and "answered 301" in line and "not followed" in line
    assert elsewhere.requests == [] and len(moved.requests) == 1  # the token never reached the other host


# ---------------------------------------------------------------- the body, the target

@settings(max_examples=200, deadline=None)
@given(markdown=st.text(st.characters(blacklist_categories=["Cs"]), max_size=400),
       size=st.integers(0, 3 * BODY_LIMITS["github"]), kind=st.sampled_from(HOSTS),
       commit=st.none() | st.text("0123456789abcdef", min_size=7, max_size=40))
def test_the_body_starts_with_the_marker_and_fits_the_host(markdown, size, kind, commit):
    text = (markdown + "\n| a | b |\n") * (size // (len(markdown) + 10) + 1) if size else markdown
    body = comment_body(text, kind, commit)
    assert body.startswith(MARKER + "\n") and len(body) <= BODY_LIMITS[kind]
    if "cut here" not in body:
        assert body.startswith(f"{MARKER}\n{text.strip()}")
        assert (commit is None) == ("gitreg review of commit" not in body)
    else:  # cut only when it had to be, at a line's end, keeping what came first
        assert len(text) > BODY_LIMITS[kind] - 400 and body.rstrip().endswith("have all of it)*")
        kept = body[len(MARKER) + 1:body.index("\n\n*(cut here")]
        assert text.strip().startswith(kept) and text.strip()[len(kept)] == "\n"


def test_the_target_comes_from_the_ci_jobs_environment():
    github = review_target("github", None, None, None, {"GITHUB_REPOSITORY": "acme/reg", "GITHUB_REF":
                                                        "refs/pull/42/merge"})
    assert github == ReviewTarget("github", "https://api.github.com", "acme/reg", 42)
    gitlab = review_target("gitlab", None, None, None, {"CI_API_V4_URL": "https://gl.example/api/v4/",
                                                        "CI_PROJECT_ID": "12", "CI_MERGE_REQUEST_IID": "3"})
    assert gitlab == ReviewTarget("gitlab", "https://gl.example/api/v4", "12", 3)
    assert review_target("github", "https://ghe.example/api/v3", "o/r", 5, {"GITHUB_REF": "refs/pull/9/merge"}
                         ).number == 5  # what is given wins
    for args, said in [(("github", None, "o/r", None, {"GITHUB_REF": "refs/heads/main"}), "--number"),
                       (("github", None, "not-a-repo", 1, {}), "owner/name"),
                       (("gitlab", None, "12", 1, {}), "--api-url"),
                       (("gitlab", "https://gl.example/api/v4", None, 1, {}), "--project"),
                       (("github", None, "o/r", 0, {}), "1 or more"),
                       (("github", "ftp://x", "o/r", 1, {}), "https://"),
                       (("github", "https://user:pw@x", "o/r", 1, {}), "credentials")]:
        with pytest.raises(InvalidValueError, match=said):
            review_target(*args)


def test_an_unknown_token_is_an_authentication_error_with_the_status():
    host = fake("github")
    with Serving(host) as url, pytest.raises(ReviewHostAuthError) as info:
        post_review_comment(target("github", url), "nope", "x")
    assert info.value.status == 401 and info.value.exit_code == 16


def test_the_review_can_come_on_stdin_and_a_missing_file_is_one_line(tmp_path, monkeypatch, capsys):
    import io

    host = fake("github")
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)
    args = ["review", "comment", "--host", "github", "--project", "acme/registry", "--number", "7"]
    with Serving(host) as url:
        monkeypatch.setattr("sys.stdin", io.StringIO("## from stdin\n"))
        assert main([*args, "--api-url", url, "--body-file", "-"]) == 0
        assert main([*args, "--api-url", url, "--body-file", str(tmp_path / "missing.md")]) == 1
    assert [c["body"] for c in host.comments] == [f"{MARKER}\n## from stdin\n"]
    line = _one_line_error(capsys.readouterr().err.split("\n", 1)[1])
    assert "cannot read the review from" in line and "-o markdown" in line
