"""`gitreg ui` answers only to its own host names (no DNS rebinding) and never lists a folder.

Every request goes to a real server on 127.0.0.1 through http.client, with the Host header written
by hand (or left out), as a browser tricked by a rebound domain name, or a careless client, sends it.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitreg import Client
from gitreg.cli.app import main
from gitreg.site.server import LOOPBACK_NAMES, SiteServer, answers_to

REFUSED = "misdirected request"


def request(port: int, hosts: list[str] | None, path: str = "/index.html", method: str = "GET",
            address: str = "127.0.0.1") -> tuple[int, str, dict[str, str]]:
    """Status, body and headers of one request whose Host headers are exactly ``hosts`` (None: none at all)."""
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for value in hosts or []:
            conn.putheader("Host", value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
    finally:
        conn.close()


@pytest.fixture
def server(client: Client, tmp_path: Path) -> Iterator[SiteServer]:
    client.create_model_version("churn", description="the churn model")
    site = SiteServer(client.registry, tmp_path / "site", port=0, interval=60)
    site.start()
    try:
        yield site
    finally:
        site.stop()


def _cased(draw: st.DrawFn, name: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c for c in name)


@st.composite
def own_hosts(draw: st.DrawFn, port: int) -> str:
    """A Host header that names the server: a loopback name in any case, with its port."""
    return f"{_cased(draw, draw(st.sampled_from(LOOPBACK_NAMES)))}:{port}"


@st.composite
def foreign_hosts(draw: st.DrawFn, port: int) -> str:
    """A well-formed Host header that does not name the server: another name, or the right name on
    another port (or without one, which means port 80)."""
    label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).filter(
        lambda s: not s.startswith("-") and not s.endswith("-"))
    name = draw(st.sampled_from(LOOPBACK_NAMES))
    kind = draw(st.sampled_from(["suffix", "prefix", "other", "port", "no-port"]))
    word = draw(st.sampled_from(["127.0.0.1", "localhost"]))
    if kind == "suffix":  # 127.0.0.1.evil.example, localhost.evil.example: a rebinding page's own name
        host = f"{word}.{draw(label)}.example"
    elif kind == "prefix":
        host = f"{draw(label)}.{word}"
    elif kind == "other":
        host = f"{draw(label)}.example"
    elif kind == "port":
        other = draw(st.integers(0, 65535).filter(lambda p: p != port))
        return f"{_cased(draw, name)}:{other}"
    else:
        return _cased(draw, name)  # no port: port 80, which the test server is not on
    return f"{_cased(draw, host)}:{port}"


@st.composite
def malformed_hosts(draw: st.DrawFn, port: int) -> str:
    """Host headers that are not name[:port]."""
    return draw(st.sampled_from([
        "", ":", f":{port}", f"::1:{port}", "::1", f"[::1:{port}", f"localhost:{port}x", f"localhost:-{port}",
        "localhost:", f"localhost:{port}:{port}", f"[::1]x:{port}", f"localhost:{port}999999",
    ]))


def test_the_own_host_names_are_served_in_any_case(server: SiteServer) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(host=own_hosts(server.port))
    def check(host: str) -> None:
        status, body, _ = request(server.port, [host])
        assert status == 200, host
        assert "churn" in body

    check()


def test_other_host_names_and_ports_are_refused_with_421(server: SiteServer) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(host=foreign_hosts(server.port), path=st.sampled_from(["/index.html", "/", "/models/churn/index.html"]))
    def check(host: str, path: str) -> None:
        status, body, headers = request(server.port, [host], path)
        assert status == 421, host
        assert body.startswith("421 ") and REFUSED in body and "churn" not in body
        assert headers["Content-Type"].startswith("text/plain") and len(body) < 200

    check()


def test_malformed_missing_and_repeated_host_headers_are_bad_requests(server: SiteServer) -> None:
    port = server.port

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(host=malformed_hosts(port))
    def check(host: str) -> None:
        status, body, _ = request(port, [host])
        assert status == 400, host
        assert "churn" not in body

    check()
    for hosts in (None, [f"localhost:{port}", f"localhost:{port}"], [f"localhost:{port}", f"evil.example:{port}"]):
        status, body, _ = request(port, hosts)
        assert status == 400 and "one Host header" in body and "churn" not in body, hosts


EXAMPLES = [
    ("127.0.0.1:{port}", 200),
    ("localhost:{port}", 200),
    ("LOCALHOST:{port}", 200),  # host names are case-insensitive
    ("LocalHost:{port}", 200),
    ("[::1]:{port}", 200),
    ("[0:0:0:0:0:0:0:1]:{port}", 200),  # the same IPv6 address, written out
    ("evil.example:{port}", 421),
    ("127.0.0.1.evil.example:{port}", 421),
    ("localhost.evil.example:{port}", 421),
    ("localhost:{other}", 421),
    ("127.0.0.1:{other}", 421),
    ("localhost", 421),  # no port means port 80
    ("[::2]:{port}", 421),
    ("[::ffff:127.0.0.1]:{port}", 421),
    ("0.0.0.0:{port}", 421),
    ("::1:{port}", 400),  # an IPv6 address must be in brackets
    ("[::1:{port}", 400),
]


def test_host_header_examples(server: SiteServer) -> None:
    port, other = server.port, server.port + 1 if server.port < 65535 else server.port - 1
    got = {}
    for host, _expected in EXAMPLES:
        status, body, _ = request(port, [host.format(port=port, other=other)])
        got[host] = status
        assert ("churn" in body) == (status == 200), host
    assert got == dict(EXAMPLES)


def test_a_refusal_to_head_has_no_body_and_every_method_is_checked(server: SiteServer) -> None:
    status, body, headers = request(server.port, ["evil.example"], method="HEAD")
    assert status == 421 and body == "" and int(headers["Content-Length"]) > 0
    # a method the server does not serve is still refused for a foreign host before anything else
    assert request(server.port, [f"evil.example:{server.port}"], method="POST")[0] == 421
    assert request(server.port, [f"localhost:{server.port}"], method="POST")[0] == 501


def test_an_absolute_request_target_is_refused(server: SiteServer) -> None:
    status, body, _ = request(server.port, [f"localhost:{server.port}"], path="http://evil.example/index.html")
    assert status == 400 and "churn" not in body


def test_folders_are_never_listed(server: SiteServer) -> None:
    out = server.out
    (out / "extra").mkdir()
    (out / "extra" / "secret-name.txt").write_text("x")
    folders = [p for p in out.rglob("*") if p.is_dir()]
    bare = [p for p in folders if not (p / "index.html").exists()]
    assert {"assets", "models", "extra"} <= {p.name for p in bare}
    host = [f"127.0.0.1:{server.port}"]
    for folder in bare:
        rel = folder.relative_to(out).as_posix()
        children = [c.name for c in folder.iterdir()]
        for path in (f"/{rel}/", f"/{rel}"):
            status, body, _ = request(server.port, host, path)
            assert status == 404, path
            assert not any(name in body for name in children), path
    # a folder with an index.html is that page, as before
    assert request(server.port, host, "/")[0] == 200
    status, body, _ = request(server.port, host, "/models/churn/")
    assert status == 200 and "<title>" in body and "churn" in body
    assert request(server.port, host, "/models/churn")[0] == 301  # to the folder's page, as any web server does
    assert request(server.port, host, "/extra/secret-name.txt")[1] == "x"  # files are still served


def test_a_server_listening_on_another_address_also_answers_to_it(client: Client, tmp_path: Path) -> None:
    """--host 127.0.0.2 (loopback on Linux): that name with the port is served, as are the loopback names."""
    client.create_model_version("churn")
    try:
        site = SiteServer(client.registry, tmp_path / "site", port=0, interval=60, host="127.0.0.2")
    except Exception as exc:  # not every system routes all of 127/8 to loopback
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    site.start()
    try:
        assert site.url == f"http://127.0.0.2:{site.port}/index.html"
        for host, expected in ((f"127.0.0.2:{site.port}", 200), (f"localhost:{site.port}", 200),
                               (f"127.0.0.3:{site.port}", 421), (f"evil.example:{site.port}", 421)):
            assert request(site.port, [host], address="127.0.0.2")[0] == expected, host
    finally:
        site.stop()


def test_a_server_listening_on_a_name_answers_to_that_name(client: Client, tmp_path: Path) -> None:
    client.create_model_version("churn")
    site = SiteServer(client.registry, tmp_path / "site", port=0, interval=60, host="LocalHost")
    site.start()
    try:
        assert site.url == f"http://localhost:{site.port}/index.html"
        assert request(site.port, [f"localhost:{site.port}"], address=site.httpd.server_address[0])[0] == 200
    finally:
        site.stop()


def test_ipv6_loopback(client: Client, tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    client.create_model_version("churn")
    try:
        site = SiteServer(client.registry, tmp_path / "site", port=0, interval=60, host="::1")
    except Exception as exc:  # a container without an IPv6 loopback
        pytest.skip(f"cannot listen on ::1: {exc}")
    site.start()
    try:
        assert site.url == f"http://[::1]:{site.port}/index.html"
        assert request(site.port, [f"[::1]:{site.port}"], address="::1")[0] == 200
        assert request(site.port, [f"evil.example:{site.port}"], address="::1")[0] == 421
    finally:
        site.stop()


@given(name=st.sampled_from(LOOPBACK_NAMES), port=st.integers(1, 65535))
def test_a_host_without_a_port_means_port_80(name: str, port: int) -> None:
    names = frozenset(LOOPBACK_NAMES)
    assert answers_to(name, names, port) == (port == 80)
    assert answers_to(f"{name.upper()}:{port}", names, port)
    assert not answers_to(f"{name}:{port}", names, port % 65535 + 1)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "0"])
def test_every_address_at_once_is_refused(client: Client, tmp_path: Path, capsys, host: str) -> None:
    client.create_model_version("churn")
    assert main(["ui", "--host", host, "--port", "0", "--to", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: will not listen on") and len(err.splitlines()) == 1
    assert not (tmp_path / "site").exists()  # refused before anything was built


def test_a_port_in_use_is_an_error_not_a_traceback(client: Client, tmp_path: Path, capsys) -> None:
    client.create_model_version("churn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port), "--to", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}:") and "choose another port" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_ui_help_says_what_it_answers_to() -> None:
    proc = subprocess.run([sys.executable, "-m", "gitreg", "ui", "--help"], capture_output=True, text=True)
    text = " ".join(proc.stdout.split())
    assert proc.returncode == 0
    assert "--host ADDR" in text and "127.0.0.1, localhost or [::1]" in text and "421" in text
