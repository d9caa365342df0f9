"""Generated hostile pull requests: a second file for a version under a name that is not ``<n>.yaml`` in
ASCII (digits of other scripts, zeros, signs, case, white space and invisible characters, other suffixes),
carrying the attacker's pickle and claiming production. Each is an `unexpected-file`, and a deploy of the
merged branch loads the reviewed manifest's bytes; the pickle never runs."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from .catalogue import impostor
from .harness import WEIGHTS, Loads, Workspace, blocking, check_codes, deploy, merge

#: Characters other than the ASCII digit that read as the digit ``n`` somewhere (str.isdigit, int(), a font).
LOOKALIKES = {n: sorted({chr(c) for c in range(0x30000) if unicodedata.category(chr(c)) == "Nd"
                         and unicodedata.digit(chr(c)) == n} - {str(n)})
              + [{1: "\u00b9", 3: "\u00b3"}[n], {1: "\u2081", 3: "\u2083"}[n], {1: "\u2460", 3: "\u2462"}[n]]
              for n in (1, 3)}
INVISIBLE = [" ", "\t", "\u00a0", "\u200b", "\u200e", "\ufeff", "\u3000"]
#: Nothing, half of the time; else one of :data:`INVISIBLE`.
SPACE = st.one_of(st.just(""), st.sampled_from(INVISIBLE))


@st.composite
def impostor_names(draw: st.DrawFn, n: int) -> str:
    stem = draw(st.one_of(
        st.just(str(n)),
        st.sampled_from(LOOKALIKES[n]),
        st.integers(1, 3).map(lambda k: "0" * k + str(n)),
        st.sampled_from(["+", "-", "0x", "v"]).map(lambda sign: sign + str(n)),
        st.sampled_from([".0", "_", "e0", "\u0301"]).map(lambda tail: str(n) + tail),
    ))
    upper = draw(st.lists(st.booleans(), min_size=4, max_size=4))
    suffix = draw(st.one_of(
        st.just("yaml"),
        st.just("".join(c.upper() if u else c for c, u in zip("yaml", upper))),
        st.sampled_from(["yml", "yaml.bak", "json", "yaml~"]),
    ))
    name = draw(SPACE) + stem + draw(SPACE) + "." + suffix + draw(SPACE)
    assume(name != f"{n}.yaml")
    return name


@pytest.fixture
def ws(workspace: Callable[[str], Workspace]) -> Workspace:
    """One copy of the base for all the examples of a run (each starts its branches from main again)."""
    return workspace("shared")


@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_impostor_version_file_is_refused_and_never_deployed(ws: Workspace, data: st.DataObject) -> None:
    n = data.draw(st.sampled_from([1, 3]), label="version")
    name = data.draw(impostor_names(n), label="file name")
    ws.git("checkout", "-q", "-f", "-B", "pr", "main")
    impostor(name, n)(ws)
    code, problems = check_codes(ws.reg, "--base", "main", "--rev", "pr")
    assert (code, blocking(problems)) == (14, {"unexpected-file"}), problems
    [found] = [p for p in problems if p["code"] == "unexpected-file"]
    assert found["path"] == f".mcp/models/iris/versions/{name}" and "never reads it" in found["message"]
    ws.git("checkout", "-q", "-f", "-B", "merged", "main")
    assert merge(ws.reg, "pr")
    code, problems = check_codes(ws.reg, "--rev", "merged")
    assert blocking(problems) == {"unexpected-file"}, problems
    deploy(ws, Loads(n, WEIGHTS[n], spec=n), branch="merged")
    deploy(ws, Loads(1, WEIGHTS[1]), branch="merged")
