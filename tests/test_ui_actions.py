"""`gitreg ui` acts: stage changes and edits from the version page, by clicks in a real browser, and the
guard that lets only the ui's own pages, with the session's token, change the registry.

Every write is checked through the client and git (the commit, its tag, `gitreg check`), as a user
of the command line would see it.
"""

from __future__ import annotations

import http.client
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from gitreg import Client
from gitreg.cli.app import main
from gitreg.site.actions import pull_request_url
from gitreg.site.server import ACTION_PATH, TOKEN_HEADER, SiteServer
from test_site_browser import browser, css, open_page  # noqa: F401  (browser: the fixture)


def _registry(client: Client, tmp_path: Path) -> None:
    client.create_model("iris", description="Classifies iris flowers.", tags=["demo"])
    for acc in (0.81, 0.9, 0.93):
        client.create_model_version("iris", metadata={"accuracy": acc})
    client.update_model_version("iris", 1, stage="production", reason="first")


@pytest.fixture
def ui(client: Client, tmp_path: Path) -> Iterator[SiteServer]:
    _registry(client, tmp_path)
    server = SiteServer(client.registry, tmp_path / "ui", port=0, interval=60, actions=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def page(server: SiteServer, rel: str) -> str:
    return f"http://127.0.0.1:{server.port}/{rel}"


def submit(driver, form: str) -> str:
    """Click the form's submit button; the text of the answer's one-line result."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    css(driver, f"#{form}-submit")[0].click()
    found = WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.ID, "result")))
    return str(found.text)


def refused_text(driver) -> str:
    """The text of the refusal the server answered a click with (waited for)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: "403 forbidden" in d.page_source)
    return str(driver.page_source)


def choose(driver, selector: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(css(driver, selector)[0]).select_by_value(value)


def cli_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    capsys.readouterr()
    assert main(args) != 0
    return capsys.readouterr().err.strip()


# ---------------------------------------------------------------- local registry

def test_promote_from_the_version_page_on_a_local_registry(browser, ui, client, tmp_path, capsys) -> None:  # noqa: F811
    open_page(browser, page(ui, "models/iris/v3.html"))
    assert css(browser, "#stage-commit")[0].is_selected()  # a local registry: a direct commit by default
    options = [o.text for o in css(browser, "#stage-select option")]
    assert options == ["none", "staging", "production (held by v1: force archives it)", "archived"]
    choose(browser, "#stage-select", "production")
    # held by v1, no force: refused with the command line's own line, nothing written
    head = git(client.registry.root, "rev-parse", "HEAD")
    refused = submit(browser, "stage")
    assert git(client.registry.root, "rev-parse", "HEAD") == head
    assert refused == cli_error(capsys, ["model", "version", "update", "iris", "3", "-s", "production"])
    assert "--force" in refused
    css(browser, "#back")[0].click()
    choose(browser, "#stage-select", "production")
    css(browser, "#stage-force")[0].click()
    css(browser, "#stage-reason")[0].send_keys("best accuracy so far")
    assert submit(browser, "stage") == "iris v3: none -> production"
    assert client.get_model_version("iris", 3).stage == "production"
    assert client.get_model_version("iris", 1).stage == "archived"
    root = client.registry.root
    assert git(root, "tag", "-l", "models/iris/production/*").split() == ["models/iris/production/1",
                                                                          "models/iris/production/2"]
    assert "best accuracy so far" in git(root, "tag", "-l", "-n99", "models/iris/production/2")
    assert git(root, "status", "--porcelain") == ""
    assert main(["check"]) == 0
    # the page it leads back to shows the new state (rebuilt before the answer)
    css(browser, "#back")[0].click()
    open_page(browser, browser.current_url, tmp_path / "after.png")
    assert "production" in css(browser, "h1")[0].text
    assert "best accuracy so far" in css(browser, "ol.timeline")[0].text


def test_a_dirty_registry_refuses_with_the_cli_line(browser, ui, client, capsys) -> None:  # noqa: F811
    """Uncommitted edits under .mcp/ block a write from the page as they block the command line, in its words."""
    manifest = client.registry.root / ".mcp" / "models" / "iris" / "versions" / "2.yaml"
    manifest.write_text(manifest.read_text().replace("stage: none", "stage: archived"))
    open_page(browser, page(ui, "models/iris/v2.html"))
    choose(browser, "#stage-select", "staging")
    refused = submit(browser, "stage")
    assert refused == cli_error(capsys, ["model", "version", "update", "iris", "2", "-s", "staging"])
    assert "uncommitted changes to registry files" in refused
    assert "stage: archived" in manifest.read_text()  # the user's edit is left as it was
    assert client.get_model_version("iris", 2).stage == "none"


def test_edit_descriptions_and_tags_from_the_version_page(browser, ui, client) -> None:  # noqa: F811
    open_page(browser, page(ui, "models/iris/v2.html"))
    text = css(browser, "#version-description")[0]
    text.clear()
    text.send_keys("Deeper trees; still three species.")
    tags = css(browser, "#version-tags")[0]
    tags.clear()
    tags.send_keys("candidate, tabular")
    assert submit(browser, "version") == "Updated iris v2"
    v2 = client.get_model_version("iris", 2)
    assert v2.description == "Deeper trees; still three species." and set(v2.tags) == {"candidate", "tabular"}
    assert git(client.registry.root, "log", "-1", "--format=%s") == "iris v2: update description, tags"
    css(browser, "#back")[0].click()
    tags = css(browser, "#model-tags")[0]
    tags.clear()
    tags.send_keys("tabular")  # demo removed, tabular added
    assert submit(browser, "model") == "Updated model iris"
    model = client.get_model("iris")
    assert list(model.tags) == ["tabular"] and model.description == "Classifies iris flowers."
    assert main(["check"]) == 0
    # a manifest's text is shown as text, also inside the form (no markup from a description)
    client.update_model_version("iris", 2, description='</textarea><b id="x">bold</b> name="token" value=""')
    ui.check()
    open_page(browser, page(ui, "models/iris/v2.html"))
    assert not css(browser, "#x")
    assert css(browser, "#version-description")[0].get_attribute("value").startswith("</textarea><b")


# ---------------------------------------------------------------- registry with a remote

@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Client, Path, SiteServer]]:
    bare = tmp_path / "hub.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    work = tmp_path / "proj"
    work.mkdir()
    git(work, "init", "-q")
    git(work, "remote", "add", "origin", str(bare))
    client = Client.init(work, remote="origin", store=str(tmp_path / "store"))
    _registry(client, tmp_path)
    server = SiteServer(client.registry, tmp_path / "ui", port=0, interval=60, actions=True)
    server.start()
    try:
        yield client, bare, server
    finally:
        server.stop()


def test_promote_on_a_registry_with_a_remote_proposes_a_pushed_branch(browser, shared) -> None:  # noqa: F811
    client, bare, server = shared
    open_page(browser, page(server, "models/iris/v2.html"))
    assert css(browser, "#stage-propose")[0].is_selected()  # a shared registry: a proposal by default
    choose(browser, "#stage-select", "staging")
    css(browser, "#stage-reason")[0].send_keys("for review")
    result = submit(browser, "stage")
    assert result.startswith("Proposed iris v2 -> staging on branch gitreg/promote/iris-v2-staging (pushed to origin)")
    assert css(browser, "#branch")[0].text == "gitreg/promote/iris-v2-staging"
    assert not css(browser, "#open-pr")  # a bare folder is no GitHub or GitLab host: no link, the words instead
    # the branch arrived on the remote with the one commit; the registry branch did not move
    assert git(bare, "log", "-1", "--format=%s", "gitreg/promote/iris-v2-staging") == "iris v2 -> staging"
    assert "stage: staging" in git(bare, "show", "gitreg/promote/iris-v2-staging:.mcp/models/iris/versions/2.yaml")
    assert git(bare, "rev-parse", "main") == git(client.registry.root, "rev-parse", "HEAD")
    assert client.get_model_version("iris", 2).stage == "none"
    # the same proposal again: the CLI's refusal, word for word
    css(browser, "#back")[0].click()
    choose(browser, "#stage-select", "staging")
    again = submit(browser, "stage")
    assert again.startswith("error: ") and "gitreg/promote/iris-v2-staging" in again
    # a direct commit when asked for: on the remote's main, tagged
    css(browser, "#back")[0].click()
    choose(browser, "#stage-select", "staging")
    css(browser, "#stage-commit")[0].click()
    assert submit(browser, "stage") == "iris v2: none -> staging"
    assert "stage: staging" in git(bare, "show", "main:.mcp/models/iris/versions/2.yaml")
    assert git(bare, "tag", "-l", "models/iris/staging/*") == "models/iris/staging/1"
    # an edit proposed: a branch of its own on the remote
    css(browser, "#back")[0].click()
    tags = css(browser, "#version-tags")[0]
    tags.clear()
    tags.send_keys("reviewed")
    assert submit(browser, "version").startswith("Proposed iris v2: update tags on branch gitreg/update/iris-v2-")
    branch = css(browser, "#branch")[0].text
    assert "- reviewed" in git(bare, "show", f"{branch}:.mcp/models/iris/versions/2.yaml")
    assert client.get_model_version("iris", 2).tags == ()
    # and the model card's description, proposed the same way
    css(browser, "#back")[0].click()
    text = css(browser, "#model-description")[0]
    text.clear()
    text.send_keys("Iris species from four measurements.")
    proposed = submit(browser, "model")
    assert proposed.startswith("Proposed iris: update model (description) on branch gitreg/update/iris-")
    branch = css(browser, "#branch")[0].text
    card = git(bare, "show", f"{branch}:.mcp/models/iris/model.yaml")
    assert "description: Iris species from four measurements." in card
    assert client.get_model("iris").description == "Classifies iris flowers."
    assert git(bare, "rev-parse", "main") == git(client.registry.root, "rev-parse", "HEAD")


# ---------------------------------------------------------------- the guard

class _OtherSite(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Another web site on this machine (another port: another origin)."""
    folder = tmp_path / "other"
    folder.mkdir()

    def handler(*args, **kwargs):
        return _OtherSite(*args, directory=str(folder), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], folder
    finally:
        httpd.shutdown()
        httpd.server_close()


def _token(server: SiteServer) -> str:
    assert server.httpd.token is not None
    return server.httpd.token


def test_a_page_of_another_origin_cannot_act_even_with_the_token(browser, ui, client, other_origin) -> None:  # noqa: F811
    port, folder = other_origin
    target = page(ui, ACTION_PATH.lstrip("/"))
    fields = {"token": _token(ui), "action": "stage", "model": "iris", "version": "3", "stage": "staging",
              "how": "commit"}
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    (folder / "evil.html").write_text(f'<form id="f" method="post" action="{target}">{inputs}'
                                      f'<button id="go" type="submit">win a prize</button></form>')
    head = git(client.registry.root, "rev-parse", "HEAD")
    browser.get(f"http://127.0.0.1:{port}/evil.html")
    css(browser, "#go")[0].click()
    assert "another origin" in refused_text(browser) or "another site" in refused_text(browser)
    assert git(client.registry.root, "rev-parse", "HEAD") == head
    assert client.get_model_version("iris", 3).stage == "none"
    # nor can it frame the ui to have a visitor click there
    (folder / "frame.html").write_text(f'<iframe id="ui" src="{page(ui, "models/iris/v3.html")}"></iframe>')
    browser.get(f"http://127.0.0.1:{port}/frame.html")
    browser.switch_to.frame(css(browser, "#ui")[0])
    try:
        assert not css(browser, "#act-stage")
    finally:
        browser.switch_to.default_content()


def test_the_ui_own_page_without_the_token_is_refused(browser, ui, client) -> None:  # noqa: F811
    open_page(browser, page(ui, "models/iris/v3.html"))
    browser.execute_script('document.querySelector("#act-stage input[name=token]").value = "guess"')
    choose(browser, "#stage-select", "staging")
    css(browser, "#stage-submit")[0].click()
    assert "no valid token" in refused_text(browser)
    assert client.get_model_version("iris", 3).stage == "none"


def post(server: SiteServer, body: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        data = urlencode(body).encode()
        conn.request("POST", ACTION_PATH, body=data, headers={
            "Host": f"127.0.0.1:{server.port}", "Content-Type": "application/x-www-form-urlencoded", **headers})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_writes_need_the_own_origin_and_the_token(ui, client) -> None:
    own = f"http://127.0.0.1:{ui.port}"
    form = {"action": "stage", "model": "iris", "version": "3", "stage": "staging", "how": "commit"}
    token = _token(ui)
    refused = [
        ({**form, "token": token}, {}),  # neither Origin nor Referer
        ({**form, "token": token}, {"Origin": "http://127.0.0.1:1"}),  # another port
        ({**form, "token": token}, {"Origin": f"http://evil.example:{ui.port}"}),
        ({**form, "token": token}, {"Origin": "null"}),
        ({**form, "token": token}, {"Referer": "http://127.0.0.1:1/models/iris/v3.html"}),
        ({**form, "token": token}, {"Origin": own, "Sec-Fetch-Site": "cross-site"}),
        ({**form, "token": token}, {"Origin": own, "Sec-Fetch-Site": "same-site"}),
        (form, {"Origin": own}),  # no token
        ({**form, "token": token[:-1]}, {"Origin": own}),
        (form, {"Origin": own, TOKEN_HEADER: token + "x"}),
    ]
    for body, headers in refused:
        status, text = post(ui, body, headers)
        assert status == 403, (headers, text)
    assert client.get_model_version("iris", 3).stage == "none"
    # the ui's own origin with the token (in the field, or in the header)
    assert post(ui, {**form, "token": token}, {"Origin": own, "Sec-Fetch-Site": "same-origin"})[0] == 200
    assert client.get_model_version("iris", 3).stage == "staging"
    status, text = post(ui, {**form, "stage": "archived"}, {"Referer": own + "/models/iris/v3.html",
                                                             TOKEN_HEADER: token})
    assert status == 200 and "staging -&gt; archived" in text
    # the token never reaches the disk: the built pages hold an empty slot the server fills as it serves them
    assert not any(token in p.read_text() for p in (ui.out).rglob("*.html"))


def test_a_read_only_ui_and_a_static_site_have_no_forms(client, tmp_path) -> None:
    _registry(client, tmp_path)
    server = SiteServer(client.registry, tmp_path / "ro", port=0, interval=60)
    server.start()
    try:
        assert "act-stage" not in (tmp_path / "ro" / "models" / "iris" / "v1.html").read_text()
        assert post(server, {"action": "stage"}, {"Origin": f"http://127.0.0.1:{server.port}"})[0] == 501
    finally:
        server.stop()


@pytest.mark.parametrize(("url", "expected"), [
    ("git@github.com:acme/models.git",
     "https://github.com/acme/models/compare/main...gitreg%2Fpromote%2Firis-v2-staging?expand=1"),
    ("https://user:secret@github.com/acme/models.git",
     "https://github.com/acme/models/compare/main...gitreg%2Fpromote%2Firis-v2-staging?expand=1"),
    ("ssh://git@gitlab.example.com:2222/team/ml/models",
     "https://gitlab.example.com/team/ml/models/-/merge_requests/new?merge_request%5Bsource_branch%5D="
     "gitreg%2Fpromote%2Firis-v2-staging&merge_request%5Btarget_branch%5D=main"),
    ("git@github.com:1234/models.git",  # an owner of digits is no port
     "https://github.com/1234/models/compare/main...gitreg%2Fpromote%2Firis-v2-staging?expand=1"),
    ("/srv/git/models.git", None),
    ("file:///srv/git/models.git", None),
    ("https://git.example.com/acme/models.git", None),
])
def test_pull_request_links_for_github_and_gitlab(url: str, expected: str | None) -> None:
    assert pull_request_url(url, "gitreg/promote/iris-v2-staging", "main") == expected


def test_the_cli_serves_forms_unless_read_only(client, tmp_path) -> None:
    """`gitreg ui --read-only` is an option of the command (its help says so)."""
    out = subprocess.run([sys.executable, "-m", "gitreg", "ui", "--help"], capture_output=True, text=True,
                         cwd=client.registry.root, check=True).stdout
    assert "--read-only" in out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(origin=st.one_of(
    st.text(max_size=40),
    st.sampled_from(["http://127.0.0.1:{port}", "http://localhost:{port}", "http://[::1]:{port}"]),
    st.builds(lambda scheme, host, port: f"{scheme}://{host}:{'{port}' if port is None else port}",
              st.sampled_from(["http", "https", "HTTP", "ws", "file"]),
              st.sampled_from(["127.0.0.1", "localhost", "LocalHost", "[::1]", "evil.example", "127.0.0.2",
                               "localhost.evil", "user@127.0.0.1"]),
              st.one_of(st.none(), st.integers(0, 65535)))))  # None: the server's own port
def test_no_origin_but_the_server_own_writes(ui, client, origin: str) -> None:
    """Whatever Origin a request names, with the right token, only the server's own (scheme, name, port) acts."""
    from urllib.parse import urlsplit

    origin = origin.replace("{port}", str(ui.port))
    before = client.get_model_version("iris", 3).description or ""
    from gitreg.site.server import answers_to

    parts = urlsplit(origin) if origin.isprintable() else None
    own = (parts is not None and parts.scheme == "http" and "@" not in parts.netloc
           and answers_to(parts.netloc, frozenset({"127.0.0.1", "localhost", "[::1]"}), ui.port))
    form = {"action": "version", "model": "iris", "version": "3", "description": origin[:20], "tags": "",
            "how": "commit", "token": _token(ui)}
    try:
        status, _text = post(ui, form, {"Origin": origin})
    except (ValueError, http.client.HTTPException):  # http.client itself refuses a header value it cannot send
        return
    assert (status == 200) == own, (origin, status)
    assert (client.get_model_version("iris", 3).description or "") == (origin[:20] if own else before)


def test_a_proposal_on_a_github_remote_links_to_its_pull_request_page(browser, shared, monkeypatch) -> None:  # noqa: F811
    """The remote's address as a GitHub clone names it (the push still goes to the test's bare repository,
    by the remote's name): the answer links to the page that opens the pull request."""
    from gitreg.remote import Remote

    client, bare, server = shared
    monkeypatch.setattr(Remote, "url", property(lambda self: "git@github.com:acme/models.git"))
    open_page(browser, page(server, "models/iris/v3.html"))
    choose(browser, "#stage-select", "production")
    css(browser, "#stage-force")[0].click()
    assert submit(browser, "stage").startswith("Proposed iris v3 -> production")
    link = css(browser, "#open-pr")[0]
    assert link.get_attribute("href") == ("https://github.com/acme/models/compare/main..."
                                          "gitreg%2Fpromote%2Firis-v3-production?expand=1")
    assert link.get_attribute("rel") == "noopener noreferrer"
    proposed = git(bare, "show", "gitreg/promote/iris-v3-production:.mcp/models/iris/versions/3.yaml")
    assert "stage: production" in proposed


def test_served_pages_carry_the_token_and_an_origin_is_no_url(ui) -> None:
    """A version page as served has the session's token in every form; an Origin with a path is not an origin."""
    conn = http.client.HTTPConnection("127.0.0.1", ui.port, timeout=10)
    try:
        conn.request("GET", "/models/iris/v1.html", headers={"Host": f"127.0.0.1:{ui.port}"})
        page = conn.getresponse().read().decode()
    finally:
        conn.close()
    assert f'name="token" value="{_token(ui)}"' in page
    assert 'name="token" value=""' not in page
    status, text = post(ui, {"action": "stage", "token": _token(ui)},
                        {"Origin": f"http://127.0.0.1:{ui.port}/models/iris/v1.html"})  # an Origin is no URL
    assert status == 403 and "another origin" in text


@given(owner=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,20}", fullmatch=True),
       repo=st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True).filter(lambda r: r not in (".", "..")),
       secret=st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True),
       branch=st.from_regex(r"[A-Za-z0-9_-]([A-Za-z0-9._/-]{0,28}[A-Za-z0-9_-])?", fullmatch=True),
       form=st.sampled_from(["https", "ssh", "scp"]))
def test_pull_request_links_never_carry_credentials_and_quote_the_branch(owner, repo, secret, branch, form) -> None:
    from urllib.parse import unquote, urlsplit

    url = {"https": f"https://user:{secret}@github.com/{owner}/{repo}.git",
           "ssh": f"ssh://git@github.com/{owner}/{repo}", "scp": f"git@github.com:{owner}/{repo}.git"}[form]
    link = pull_request_url(url, branch, "main")
    expected_repo = repo[:-4] if repo.endswith(".git") else repo
    if not expected_repo:
        return
    assert link is not None
    parts = urlsplit(link)
    assert parts.scheme == "https" and parts.netloc == "github.com" and "@" not in link
    prefix = f"/{owner}/{expected_repo}/compare/main..."
    assert parts.path.startswith(prefix) and "/" not in parts.path[len(prefix):]  # the branch is one quoted segment
    assert unquote(parts.path[len(prefix):]) == branch and parts.query == "expand=1"


def test_pages_load_only_their_own_scripts(browser, ui, client) -> None:  # noqa: F811
    """Under the ui's content policy the pages work (no console errors), and a script injected inline would not run."""
    for rel in ("index.html", "models/iris/index.html", "models/iris/v1.html", "models/iris/artifacts.html"):
        open_page(browser, page(ui, rel))
    open_page(browser, page(ui, "models/iris/compare.html") + "?v=1&v=3")
    shown = [th.text for th in css(browser, "#compare thead th.vcol") if th.is_displayed()]
    assert shown == ["v1", "v3"]  # site.js ran
    browser.execute_script("var s = document.createElement('script'); s.textContent = 'window.injected = 1';"
                           " document.body.appendChild(s);")
    assert browser.execute_script("return window.injected === undefined")
    browser.get_log("browser")  # the refused script is logged: forget it
