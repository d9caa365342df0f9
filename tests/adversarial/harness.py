"""The ground the hostile pull requests are played on: a base registry, the attacker's tools, and the deploy.

The base registry is a real git repository with a gitreg registry on ``main``:

- ``iris`` v1 in production, with a bytes artifact ``weights`` and a skops ``estimator`` (a fitted
  scikit-learn model); v2, named ``candidate``, in staging; v3 in no stage, made by a pipeline run (its run
  record is under ``.mcp/runs/``); v4 registered and deleted (so the counter is 4 and number 4 is spent);
- ``churn`` v1 in production, with a bytes artifact ``weights``.

Its artifact store is either a folder beside the repository (``../store``: a shared store, as a bucket would
be, so a fresh clone beside it loads the same bytes) or the default folder inside it (``.gitreg/store``,
git-ignored: a fresh clone starts with an empty one).  Each case works on a copy of the whole folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml

from gitreg import Client
from gitreg.errors import GitregError
from gitreg.manifests import dump_yaml

MODEL, OTHER = "iris", "churn"
#: The bytes of iris's ``weights`` artifact on each version at the base.
WEIGHTS = {1: b"iris weights v1", 2: b"iris weights v2", 3: b"iris weights v3"}
CHURN_WEIGHTS = b"churn weights v1"
CANDIDATE = "candidate"  # the name of iris v2
STORES = {"shared": "../store", "in-repo": None}  # None: gitreg's default, .gitreg/store

VERSIONS = ".mcp/models/iris/versions"
V1, V2, V3 = (f"{VERSIONS}/{n}.yaml" for n in (1, 2, 3))
IRIS_CARD, IRIS_STAGES = ".mcp/models/iris/model.yaml", ".mcp/models/iris/stages.yaml"
REGISTRY = ".mcp/registry.yaml"

MALLORY = ("-c", "user.name=Mallory", "-c", "user.email=mallory@example.com")


def git(repo: Path, *args: str, check: bool = True, input: bytes | None = None) -> str:
    res = subprocess.run(["git", *args], cwd=repo, capture_output=True, input=input, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {res.stderr.decode(errors='replace')}")
    return res.stdout.decode(errors="replace").strip()


# ---------------------------------------------------------------- the base registry

def build_base(where: Path, store: str | None) -> Path:
    """The base registry (see the module) in ``where/reg``; returns ``where``."""
    from sklearn.linear_model import LogisticRegression

    from gitreg import Model, pipeline, step

    reg = where / "reg"
    client = Client.init(reg, store=store)
    os.chdir(reg)  # the pipeline below finds its registry from here (the caller restores the directory)
    client.create_model_version(MODEL)
    client.save_artifact(MODEL, 1, WEIGHTS[1], "weights", type="model")
    estimator = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    client.save_artifact(MODEL, 1, estimator, "estimator")
    client.create_model_version(MODEL, name=CANDIDATE)
    client.save_artifact(MODEL, 2, WEIGHTS[2], "weights", type="model")

    @step
    def train() -> Annotated[bytes, "weights"]:
        return WEIGHTS[3]

    @pipeline(model=Model(MODEL))
    def nightly() -> None:
        train()

    nightly()  # v3, with a run record
    client.create_model_version(MODEL)
    client.delete_model_version(MODEL, 4, reason="a bad run")
    client.update_model_version(MODEL, 1, stage="production", reason="baseline")
    client.update_model_version(MODEL, 2, stage="staging", reason="try it")
    client.create_model_version(OTHER)
    client.save_artifact(OTHER, 1, CHURN_WEIGHTS, "weights", type="model")
    client.update_model_version(OTHER, 1, stage="production")
    assert client.check().ok, client.check().problems
    assert git(reg, "status", "--porcelain") == ""
    return where


def hermetic_env(home: Path) -> dict[str, str]:
    """The environment tests/conftest.py's ``hermetic`` fixture gives a test, for a session-wide build."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text("[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
                      "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n")
    return {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1",
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}


# ---------------------------------------------------------------- the attacker's (and the honest author's) tools

class _Payload:
    """Unpickling this makes a folder: it stands for "runs the attacker's code wherever it is loaded"."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


@dataclass
class Workspace:
    """One case's copy of the base: ``root/reg`` (the repository, on the branch ``pr`` from ``main``),
    ``root/store`` (the shared store, if the base has one) and, later, ``root/deploy`` (the fresh clone)."""

    root: Path
    kept_tags: list[str] = field(default_factory=list)  # tags the attacker pushes (the others stay behind)

    @property
    def reg(self) -> Path:
        return self.root / "reg"

    @property
    def client(self) -> Client:
        return Client(self.reg)

    @property
    def marker(self) -> Path:
        """Made by any payload that runs: it must never exist."""
        return self.root / "owned"

    def git(self, *args: str, check: bool = True, input: bytes | None = None) -> str:
        return git(self.reg, *args, check=check, input=input)

    def read(self, path: str) -> dict[str, Any]:
        return yaml.safe_load((self.reg / path).read_text())

    def write(self, path: str, data: str | bytes) -> None:
        file = self.reg / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data.encode() if isinstance(data, str) else data)

    def edit(self, path: str, change: Callable[[dict[str, Any]], None], message: str = "",
             to: str | None = None) -> None:
        """Hand-edit a manifest as YAML (written as gitreg writes it), to ``to`` if given, and commit it."""
        doc = self.read(path)
        change(doc)
        self.write(to or path, dump_yaml(doc))
        self.commit(message or f"edit {to or path}", to or path)

    def commit(self, message: str, *paths: str, force: bool = False) -> None:
        self.git("add", *(["-f"] if force else []), "--", *(paths or (".",)))
        self.git("commit", "-q", "-m", message)

    def store_uri(self) -> str:
        return str(yaml.safe_load((self.reg / REGISTRY).read_text())["store"])

    def store_path(self, sha: str) -> Path:
        """Where the base's store keeps the object with hash ``sha`` (a local folder, relative to reg/)."""
        return self.reg / self.store_uri() / "objects" / "sha256" / sha[:2] / sha[2:]

    def plant(self, data: bytes, name: str = "weights", version: int = 1, fmt: str = "bytes",
              **fields: Any) -> dict[str, Any]:
        """Put ``data`` in the base's store at its content address (whoever can write the store can) and
        return a link to it, as a manifest holds one."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.store_path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        from gitreg.store import object_uri

        return link(name, version, object_uri(self.store_uri(), sha), data, fmt, **fields)

    def payload(self) -> bytes:
        """A pickle that leaves :attr:`marker` behind when it is loaded."""
        return pickle.dumps(_Payload(self.marker))

    def outside(self, data: bytes, name: str = "model.pkl") -> Path:
        """``data`` in a file outside the repository and the store (the attacker's server, say)."""
        path = self.root / "elsewhere" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def promote(self, version: int, stage: str = "production", model: str = MODEL) -> None:
        """Make ``pr`` the one commit gitreg's --propose makes for this promotion (with force)."""
        proposal = self.client.propose_model_version_stage(model, version, stage, force=True, reason="proposed")
        self.git("reset", "-q", "--hard", proposal.commit)

    def branch(self, name: str, make: Callable[[Workspace], None]) -> None:
        """Another pull request's branch ``name`` from main, made by ``make``; ``pr`` stays checked out."""
        self.git("checkout", "-q", "-b", name, "main")
        make(self)
        self.git("checkout", "-q", "pr")

    def push_tag(self, name: str, target: str, message: str) -> None:
        """An annotated tag made by someone who may push tags, but not to the branch."""
        self.git(*MALLORY, "tag", "-a", "-F", "-", name, target, input=message.encode())
        self.kept_tags.append(name)


def link(name: str, version: int, uri: str, data: bytes, fmt: str = "bytes", **fields: Any) -> dict[str, Any]:
    """An artifact link as a manifest holds one."""
    out = {"name": name, "version": version, "type": "model", "uri": uri,
           "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "format": fmt, "kind": "file",
           "external": False}
    out.update(fields)
    return out


# ---------------------------------------------------------------- review, merge, deploy

def gitreg_cli(repo: Path, *args: str) -> tuple[int, str, str]:
    """``gitreg -C REPO ARGS`` through the command line's own entry point: (exit code, stdout, stderr)."""
    from gitreg.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["-C", str(repo), *args])
    return code, out.getvalue(), err.getvalue()


def check_codes(repo: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    """``gitreg check -o json ARGS``: (exit code, problems); a check that prints no report fails the test."""
    code, out, err = gitreg_cli(repo, "check", "-o", "json", *args)
    assert out.strip(), f"gitreg check {' '.join(args)} printed no report (exit {code}): {err.strip()}"
    return code, json.loads(out)["problems"]


def blocking(problems: list[dict[str, Any]]) -> set[str]:
    return {p["code"] for p in problems if p["severity"] == "error" and not p["accepted"]}


def merge(repo: Path, branch: str) -> bool:
    """A maintainer presses merge (a merge commit, as the git host makes one); False: git reports a conflict
    (the merge is aborted)."""
    res = subprocess.run(["git", "merge", "-q", "--no-ff", "-m", f"Merge pull request from {branch}", branch],
                         cwd=repo, capture_output=True, text=True, check=False)
    if res.returncode == 0:
        return True
    assert "CONFLICT" in res.stdout + res.stderr, res.stdout + res.stderr
    git(repo, "merge", "--abort")
    return False


@dataclass(frozen=True)
class Loads:
    """The deploy resolves ``spec`` to ``version`` and loads exactly ``data`` (or, for a model object, an
    object of type ``kind``) from the artifact ``artifact``."""

    version: int
    data: bytes | None = None
    kind: str | None = None
    artifact: str = "weights"
    spec: object = "production"
    model: str = MODEL

    def __str__(self) -> str:
        what = repr(self.data) if self.data is not None else f"a {self.kind}"
        return f"{self.model}@{self.spec} is v{self.version}, {self.artifact} loads {what}"


@dataclass(frozen=True)
class Fails:
    """The deploy fails with ``error`` (a GitregError subclass, no other exception) whose message names each
    of ``naming``."""

    error: type[GitregError]
    naming: tuple[str, ...]
    artifact: str = "weights"
    spec: object = "production"
    model: str = MODEL

    def __str__(self) -> str:
        return f"{self.model}@{self.spec}: {self.error.__name__} naming {', '.join(self.naming)}"


def deploy(ws: Workspace, expected: Loads | Fails, branch: str = "main") -> None:
    """A deploy from a fresh clone of ``branch`` (cold caches): resolve the version, load its artifact, and
    hold what happens to ``expected``."""
    clone = ws.root / "deploy"  # beside reg/: a shared store at ../store is the same folder
    if clone.exists():
        shutil.rmtree(clone)
    git(ws.root, "clone", "-q", "--branch", branch, str(ws.reg), str(clone))
    if isinstance(expected, Loads):
        client = Client(clone)
        version = client.get_model_version(expected.model, expected.spec)
        assert version.number == expected.version, f"{expected.spec} resolved to v{version.number}"
        value = client.load_artifact(expected.model, expected.spec, expected.artifact)
        if expected.data is not None:
            assert value == expected.data
        else:
            assert type(value).__name__ == expected.kind, type(value)
    else:
        try:
            client = Client(clone)
            client.get_model_version(expected.model, expected.spec)
            client.load_artifact(expected.model, expected.spec, expected.artifact)
        except GitregError as exc:
            assert isinstance(exc, expected.error), f"{type(exc).__name__}: {exc}"
            for word in expected.naming:
                assert word in str(exc), f"{word!r} not in: {exc}"
        else:
            raise AssertionError(f"the deploy loaded {expected.model}@{expected.spec}; expected {expected}")
    assert not ws.marker.exists(), "the attacker's code ran"
