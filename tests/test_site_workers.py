"""The site build split over worker processes: each worker reads, validates and renders its own
models; the site, its errors and its rebuilds are those of a build in one process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import gitreg.state.snapshot as snapshot
from conftest import git
from gitreg import Client
from gitreg.errors import ManifestError
from gitreg.fastpaths import fast
from gitreg.layout import model_path
from gitreg.site import builder
from gitreg.site.builder import build_site
from gitreg.state import memo_of
from gitreg.state.cache import model_cache_get

MODELS = ["alpha", "bravo", "charlie", "delta", "echo"]


def make_registry(client: Client) -> Client:
    for i, name in enumerate(MODELS):
        client.create_model(name, description=f"model {name}", tags=["demo"])
        for n in range(1, 4):
            client.create_model_version(name, metadata={"accuracy": 0.5 + n / 10 + i / 100, "epoch": n})
        client.update_model_version(name, 2, stage="production", reason="best")
    return client


def in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every build from here on is split over two worker processes, one model per chunk."""
    monkeypatch.setattr(builder, "PARALLEL_FROM", 1)
    monkeypatch.setattr(builder, "CHUNK", 1)
    monkeypatch.setattr(builder.os, "cpu_count", lambda: 2)


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def forget_validated(client: Client) -> None:
    """Nothing validated is known any more: not on disk, not in the repository's memory in this process (which
    forked workers would inherit)."""
    shutil.rmtree(Path(client.root) / ".git" / "gitreg" / "cache", ignore_errors=True)
    memo_of(client.registry.repo).clear()


def test_workers_build_the_same_site_as_one_process_and_the_parent_reads_no_manifest(
        client: Client, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_registry(client)
    forget_validated(client)
    alone = build_site(client.registry, tmp_path / "alone")
    in_workers(monkeypatch)
    reads: list[int] = []  # model folders read (from the cache or git) by this process
    real = snapshot.validated_model

    def counted(*args, **kwargs):
        reads.append(os.getpid())
        return real(*args, **kwargs)

    monkeypatch.setattr(snapshot, "validated_model", counted)
    for cold in (True, False):
        if cold:
            forget_validated(client)
        out = tmp_path / f"workers-{cold}"
        split = build_site(client.registry, out)
        assert files(out) == files(alone.out)
        assert (split.models, split.models_rendered, split.pages_written) == (5, 5, alone.pages_written)
    assert reads == []  # the workers read every model: this process read none
    git_repo = client.registry.repo
    for name in MODELS if fast("model-cache") else ():  # what the workers validated is kept for the next build
        assert model_cache_get(git_repo, git_repo.resolve(f"HEAD:{model_path(name)}")) is not None


def test_a_broken_model_fails_the_build_as_in_one_process(
        client: Client, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_registry(client)
    for name in ("delta", "bravo"):
        path = repo / ".mcp" / "models" / name / "versions" / "2.yaml"
        path.write_text(path.read_text().replace("number: 2", "number: two"))
    git(repo, "commit", "-qam", "break two models")
    with pytest.raises(ManifestError) as alone:
        build_site(client.registry, tmp_path / "alone")
    in_workers(monkeypatch)
    forget_validated(client)
    with pytest.raises(ManifestError) as split:
        build_site(client.registry, tmp_path / "split")
    assert str(split.value) == str(alone.value)
    assert split.value.path == ".mcp/models/bravo/versions/2.yaml"  # the first broken model by name
    assert not (tmp_path / "split" / ".gitreg-site.json").exists()  # nothing recorded as built


def test_rebuilds_in_workers_render_only_what_changed_and_remove_deleted_pages(
        client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_registry(client)
    in_workers(monkeypatch)
    out = tmp_path / "site"
    build_site(client.registry, out)
    client.log_metadata("charlie", 3, {"accuracy": 0.99})
    client.delete_model_version("echo", 3)
    again = build_site(client.registry, out)
    assert again.models_rendered == 2
    assert "0.99" in (out / "models" / "charlie" / "v3.html").read_text()
    assert not (out / "models" / "echo" / "v3.html").exists()
    assert (out / "models" / "echo" / "v2.html").exists()
    client.delete_model("alpha")
    build_site(client.registry, out)
    assert not (out / "models" / "alpha").exists()
    fresh = build_site(client.registry, tmp_path / "fresh", full=True)
    assert files(out) == files(fresh.out)
