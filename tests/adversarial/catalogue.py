"""The catalogue: named pull requests against the base registry (see :mod:`.harness`), hostile and honest.

Each entry is data: a function that makes the branch ``pr`` from ``main`` (through gitreg's API where an
honest tool would be used; by writing files and ``git add -f`` / ``git commit`` / ``git tag`` where an attacker
would), the exact set of blocking finding codes ``gitreg check --base main --rev pr`` reports, and what a deploy
from a fresh clone of main does once a maintainer merges the pull request anyway: it loads the bytes main had
before, or the bytes the pull request shows (which is what the merge approved), or it fails with a GitregError
subclass naming what is wrong; never another exception, never a payload that runs.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitreg.errors import (
    AmbiguousStageError,
    ArtifactRefusedError,
    IntegrityError,
    ManifestError,
    MaterializerError,
    NotARegistryError,
    VersionNotFoundError,
)
from gitreg.manifests import dump_yaml
from gitreg.tagnames import StageTagMessage, format_stage_message

from .harness import (
    CANDIDATE,
    CHURN_WEIGHTS,
    IRIS_CARD,
    IRIS_STAGES,
    MODEL,
    OTHER,
    REGISTRY,
    V1,
    V2,
    V3,
    VERSIONS,
    WEIGHTS,
    Fails,
    Loads,
    Workspace,
    link,
)

#: What the base deploys: iris v1's weights.
BASE = Loads(1, WEIGHTS[1])


@dataclass(frozen=True)
class PullRequest:
    """One pull request of the catalogue (``name`` is its test id)."""

    name: str
    make: Callable[[Workspace], None]
    blocking: frozenset[str]          # exactly what `check --base main --rev pr` fails on
    deploy: Loads | Fails             # after the merge (or, when ``conflicts``, of main without pr)
    after_merge: frozenset[str] = frozenset()  # what `gitreg check` then fails on, on main, after `tags sync`
    store: str = "shared"             # the base's store: "shared" (beside the repository) or "in-repo"
    merged_first: tuple[str, ...] = ()  # other pull requests, each green alone, merged before this one
    conflicts: bool = False           # git refuses the merge of pr (after merged_first)

    def __str__(self) -> str:
        return self.name


def _(*codes: str) -> frozenset[str]:
    return frozenset(codes)


# ---------------------------------------------------------------- honest pull requests

def honest_promotion(ws: Workspace) -> None:
    ws.promote(3)


def honest_model_card(ws: Workspace) -> None:
    ws.client.update_model(MODEL, description="Iris species from petal sizes", limitations="petals only")


def honest_registration(ws: Workspace) -> None:
    client = ws.client
    client.create_model_version(MODEL, name="nightly-7")
    client.save_artifact(MODEL, "nightly-7", b"iris weights v5", "weights", type="model")
    client.log_metadata(MODEL, "nightly-7", {"accuracy": 0.97})


def honest_metadata_and_archive(ws: Workspace) -> None:
    client = ws.client
    client.log_metadata(MODEL, 1, {"audit": {"reviewed": True, "by": "risk team"}})
    client.update_model_version(MODEL, CANDIDATE, stage="archived", reason="superseded")


def honest_other_model(ws: Workspace) -> None:
    client = ws.client
    client.create_model_version("penguins")
    client.save_artifact("penguins", 1, {"threshold": 0.5}, "config")


def hand_made_promotion(ws: Workspace) -> None:
    """A promotion written by hand, as gitreg would write it (hand edits are legitimate)."""
    ws.edit(V1, lambda d: d.update(stage="archived"), "v3 to production, by hand")
    ws.edit(V3, lambda d: d.update(stage="production"), "v3 to production, by hand")
    ws.write(IRIS_STAGES, "production: 3\nstaging: 2\n")
    ws.commit("stages", IRIS_STAGES)


# ---------------------------------------------------------------- 1. two reviewed branches

def two_promotions(ws: Workspace) -> None:
    ws.branch("pr-first", lambda w: w.promote(2))
    ws.promote(3)


def promotion_and_staging(ws: Workspace) -> None:
    """Two reviewed branches that each move a stage another one touches: v2 to production, v3 to staging."""
    ws.branch("pr-first", lambda w: w.promote(2))
    ws.promote(3, "staging")


def two_registrations(ws: Workspace) -> None:
    """Two reviewed branches that each register the next version (both would be v5)."""
    ws.branch("pr-first", lambda w: w.client.create_model_version(MODEL, name="from-a"))
    ws.client.create_model_version(MODEL, name="from-b")


def two_models_differing_in_case(ws: Workspace) -> None:
    """Two reviewed branches that each create a model: "Penguins" and "penguins"."""
    def create(name: str) -> Callable[[Workspace], None]:
        def make(w: Workspace) -> None:
            w.client.create_model_version(name)
            w.client.save_artifact(name, 1, f"{name} weights".encode(), "weights", type="model")
        return make

    ws.branch("pr-first", create("Penguins"))
    create("penguins")(ws)


# ---------------------------------------------------------------- 2. files the grammar has no place for

def impostor(name: str, number: int) -> Callable[[Workspace], None]:
    """A copy of version ``number``'s manifest under another file name, with the attacker's pickle linked in
    place of its weights."""

    def make(ws: Workspace) -> None:
        evil = ws.plant(ws.payload(), fmt="pickle", executes_code=True)

        def swap(doc: dict[str, Any]) -> None:
            doc["artifacts"][0] = {**evil, "version": doc["artifacts"][0]["version"]}
            doc["stage"] = "production"

        ws.edit(f"{VERSIONS}/{number}.yaml", swap, f"a second file for v{number}", to=f"{VERSIONS}/{name}")
    return make


def symlinked_version(ws: Workspace) -> None:
    """versions/5.yaml as a symbolic link to a manifest outside .mcp/ that claims production."""
    evil = ws.plant(ws.payload(), fmt="pickle", executes_code=True)
    doc = ws.read(V3)
    doc.update(number=5, name="5", stage="production", artifacts=[evil], runs=[])
    doc.pop("created_by_run", None)
    ws.write("docs/v5.yaml", dump_yaml(doc))
    (ws.reg / VERSIONS / "5.yaml").symlink_to("../../../../docs/v5.yaml")
    ws.commit("v5", "docs/v5.yaml", f"{VERSIONS}/5.yaml")


def symlinked_versions_folder(ws: Workspace) -> None:
    """iris's versions/ replaced by a symbolic link to churn's."""
    ws.git("rm", "-rq", VERSIONS)
    (ws.reg / VERSIONS).symlink_to("../churn/versions")
    ws.commit("share the versions", VERSIONS)


def executable_manifest(ws: Workspace) -> None:
    """v1's manifest made executable (a mode git checks out as something else than a plain file)."""
    (ws.reg / V1).chmod(0o755)
    ws.commit("chmod", V1)


def submodule_version(ws: Workspace) -> None:
    """A submodule (a gitlink) where versions/5.yaml would be."""
    commit = ws.git("rev-parse", "HEAD")
    ws.git("update-index", "--add", "--cacheinfo", f"160000,{commit},{VERSIONS}/5.yaml")
    ws.git("commit", "-q", "-m", "v5")


def mcp_symlinked(ws: Workspace) -> None:
    """.mcp/ replaced by a symbolic link to a copy of the registry elsewhere in the repository."""
    shutil.copytree(ws.reg / ".mcp", ws.reg / "vendor/mcp")
    ws.git("rm", "-rq", ".mcp")
    (ws.reg / ".mcp").symlink_to("vendor/mcp")
    ws.commit("move the registry", ".mcp", "vendor/mcp")


# ---------------------------------------------------------------- 3, 4. promotions of what the change itself brings

def register_and_promote(ws: Workspace) -> None:
    client = ws.client
    client.create_model_version(MODEL)
    client.save_artifact(MODEL, 5, b"unreviewed weights", "weights", type="model")
    client.update_model_version(MODEL, 5, stage="production", force=True)


def relink_and_promote(ws: Workspace) -> None:
    client = ws.client
    client.save_artifact(MODEL, 3, b"relinked weights", "weights", type="model")
    client.update_model_version(MODEL, 3, stage="production", force=True)


# ---------------------------------------------------------------- 5. bytes force-added under the store's folder

def force_added_over_production(ws: Workspace) -> None:
    """Other bytes at the content address of v1's weights, force-added (the store folder is git-ignored)."""
    sha = ws.read(V1)["artifacts"][0]["sha256"]
    path = ws.store_path(sha).relative_to(ws.reg).as_posix()
    ws.write(path, b"attacker weight")  # as long as v1's weights: only the hash tells them apart
    ws.commit("add a cache", path, force=True)


def force_added_same_bytes(ws: Workspace) -> None:
    """v1's own bytes force-added at their own address: a fresh clone then holds them."""
    sha = ws.read(V1)["artifacts"][0]["sha256"]
    path = ws.store_path(sha).relative_to(ws.reg).as_posix()
    ws.write(path, WEIGHTS[1])
    ws.commit("vendor the weights", path, force=True)


# ---------------------------------------------------------------- 6, 7. how the bytes are decoded

def trust_eval(ws: Workspace) -> None:
    def trust(doc: dict[str, Any]) -> None:
        doc["artifacts"][1]["trusted_types"] = ["builtins.eval"]

    ws.edit(V1, trust, "trust what the model needs")


def unknown_format(ws: Workspace) -> None:
    ws.edit(V1, lambda d: d["artifacts"][0].update(format="Pickle"), "fix the format")


def flip_to_pickle(ws: Workspace) -> None:
    ws.edit(V1, lambda d: d["artifacts"][0].update(format="pickle", executes_code=True), "it is a pickle")


def swap_production_bytes(ws: Workspace) -> None:
    """v1's weights link pointed at other bytes in the store (uri, sha256 and size changed together)."""
    evil = ws.plant(b"the attacker's weights")
    ws.edit(V1, lambda d: d["artifacts"][0].update(uri=evil["uri"], sha256=evil["sha256"], size=evil["size"]),
            "refresh the weights")


# ---------------------------------------------------------------- 8. code from outside the store

def pickle_outside_store(ws: Workspace, external: bool = False) -> None:
    client = ws.client
    client.create_model_version(MODEL)
    payload = ws.payload()
    outside = ws.outside(payload)
    ws.edit(f"{VERSIONS}/5.yaml", lambda d: d.update(artifacts=[link(
        "weights", 5, str(outside), payload, "pickle", executes_code=True, external=external)]), "link the model")
    client.update_model_version(MODEL, 5, stage="production", force=True)


# ---------------------------------------------------------------- 9. registry.yaml

def store_elsewhere(ws: Workspace) -> None:
    elsewhere = ws.root / "attacker-store"
    for data in WEIGHTS.values():  # the same bytes there: every load must still refuse to follow the change
        sha = hashlib.sha256(data).hexdigest()
        (elsewhere / "objects/sha256" / sha[:2]).mkdir(parents=True, exist_ok=True)
        (elsewhere / "objects/sha256" / sha[:2] / sha[2:]).write_bytes(data)
    text = (ws.reg / REGISTRY).read_text()
    ws.write(REGISTRY, "\n".join(f"store: {elsewhere}" if line.startswith("store:") else line
                                 for line in text.splitlines()) + "\n")
    ws.commit("faster store", REGISTRY)


# ---------------------------------------------------------------- 10, 12. who holds a stage

def second_production_manifest(ws: Workspace) -> None:
    ws.edit(V2, lambda d: d.update(stage="production"), "v2 to production")


def stages_file_alone(ws: Workspace) -> None:
    ws.write(IRIS_STAGES, "production: 3\nstaging: 2\n")
    ws.commit("v3 to production", IRIS_STAGES)


def delete_production(ws: Workspace) -> None:
    ws.git("rm", "-q", V1)
    ws.git("commit", "-q", "-m", "drop v1")


def stage_to_none(ws: Workspace) -> None:
    ws.edit(V1, lambda d: d.update(stage="none"), "retire v1")
    ws.write(IRIS_STAGES, "production: null\nstaging: 2\n")
    ws.commit("retire v1", IRIS_STAGES)


# ---------------------------------------------------------------- 11. numbers and names

def lowered_counter(ws: Workspace) -> None:
    ws.edit(IRIS_CARD, lambda d: d["counters"].update(versions=3), "tidy the counter")


def reused_number(ws: Workspace) -> None:
    """versions/4.yaml again (v4 was deleted at the base), written by hand with the attacker's pickle."""
    evil = ws.plant(ws.payload(), fmt="pickle", executes_code=True)
    doc = ws.read(V3)
    doc.update(number=4, name="4", artifacts=[evil], runs=[], created="2030-01-01T00:00:00Z")
    doc.pop("created_by_run", None)
    ws.write(f"{VERSIONS}/4.yaml", dump_yaml(doc))
    ws.commit("restore v4", f"{VERSIONS}/4.yaml")


def counter_beyond_the_grammar(ws: Workspace) -> None:
    """The version counter raised past the largest number a file name may hold (18 digits): the next version
    gitreg registers would be a file the grammar never reads."""
    ws.edit(IRIS_CARD, lambda d: d["counters"].update(versions=10**18), "reserve numbers")


def rename_onto_a_name(ws: Workspace) -> None:
    """v3 takes v2's name, v2 another: Model("iris", version="candidate") would load v3."""
    ws.edit(V2, lambda d: d.update(name="old-candidate"), "rename v2")
    ws.edit(V3, lambda d: d.update(name=CANDIDATE), "rename v3")


def name_taken_twice(ws: Workspace) -> None:
    """A new version, written by hand, named like v2 ("candidate")."""
    doc = ws.read(V2)
    doc.update(number=5, created="2030-01-01T00:00:00Z", stage="none",
               artifacts=[ws.plant(b"impostor weights", version=5)])
    ws.write(f"{VERSIONS}/5.yaml", dump_yaml(doc))
    ws.commit("v5", f"{VERSIONS}/5.yaml")
    ws.edit(IRIS_CARD, lambda d: d["counters"].update(versions=5), "v5")


# ---------------------------------------------------------------- 13. model folders

def copy_model(folder: str) -> Callable[[Workspace], None]:
    """A model folder ``folder``: a copy of iris whose production weights are the attacker's pickle."""

    def make(ws: Workspace) -> None:
        evil = ws.plant(ws.payload(), fmt="pickle", executes_code=True)
        for rel in ("model.yaml", "stages.yaml", "versions/1.yaml"):
            doc = ws.read(f".mcp/models/{MODEL}/{rel}")
            if rel == "model.yaml":
                doc["name"] = folder
            elif rel == "stages.yaml":
                doc.update(staging=None)
            elif rel == "versions/1.yaml":
                doc.update(model=folder, artifacts=[evil])
            ws.write(f".mcp/models/{folder}/{rel}", dump_yaml(doc))
        ws.commit(f"model {folder}", f".mcp/models/{folder}")
    return make


def homoglyph_model(ws: Workspace) -> None:
    copy_model("\u0456ris")(ws)  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I


# ---------------------------------------------------------------- 14. hostile YAML

def alias_bomb(path: str) -> Callable[[Workspace], None]:
    def make(ws: Workspace) -> None:
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(9))}]" for i in range(1, 9)]
        text = (ws.reg / path).read_text()
        ws.write(path, text.replace("tags: []", "tags: []\nbomb:\n  " + "\n  ".join(lines), 1))
        ws.commit("metadata", path)
    return make


def huge_manifest(ws: Workspace) -> None:
    ws.edit(V3, lambda d: d.update(description="x" * (4 * 1024 * 1024 + 16)), "a long description")


def duplicate_key(ws: Workspace) -> None:
    """v3's manifest says stage twice: a reader that keeps the last one sees production."""
    text = (ws.reg / V3).read_text()
    ws.write(V3, text.replace("stage: none\n", "stage: none\nstage: production\n"))
    ws.commit("v3", V3)


def python_tag(ws: Workspace) -> None:
    """A YAML tag that constructs a Python object, in v3's metadata."""
    text = (ws.reg / V3).read_text()
    ws.write(V3, text.replace("metadata: {}", "metadata:\n  x: !!python/object/apply:os.system ['true']"))
    ws.commit("v3", V3)


def nul_in_production(ws: Workspace) -> None:
    """A NUL byte in the production version's manifest: that version no longer reads."""
    data = (ws.reg / V1).read_bytes()
    ws.write(V1, data.replace(b"tags: []", b"tags: [\x00]"))
    ws.commit("v1", V1)


# ---------------------------------------------------------------- 15. tags pushed ahead of the merge

def forged_stage_tag(ws: Workspace) -> None:
    ws.promote(2)
    ws.push_tag(f"models/{MODEL}/production/2", ws.git("rev-parse", "pr"), format_stage_message(StageTagMessage(
        MODEL, 2, "production", "staging", (1,), "Chief Officer <cto@example.com>", "proposed")))


def lightweight_stage_tag(ws: Workspace) -> None:
    ws.promote(2)
    ws.git("tag", "models/iris/production/2", "pr")
    ws.kept_tags.append("models/iris/production/2")


def stage_tag_on_another_commit(ws: Workspace) -> None:
    """An honest promotion, then a card edit; the stage tag pushed ahead, on the card edit."""
    ws.promote(2)
    ws.client.update_model(MODEL, description="v2 is live")
    ws.push_tag(f"models/{MODEL}/production/2", ws.git("rev-parse", "pr"), format_stage_message(StageTagMessage(
        MODEL, 2, "production", "staging", (1,), "Test User <test@example.com>", "proposed")))


def registration_tag_ahead(ws: Workspace) -> None:
    """A registration tag for a version nobody registered, pushed on the pull request's commit."""
    ws.client.update_model(MODEL, description="small change")
    ws.push_tag(f"models/{MODEL}/v9", ws.git("rev-parse", "pr"), f"{MODEL} v9 registered\n")


def stage_tag_on_an_intermediate_commit(ws: Workspace) -> None:
    """A branch that moves v3 to production and back (nothing changes in the end), with a true stage tag
    pushed on its middle commit: the audit trail would say v3 went to production."""
    ws.client.update_model_version(MODEL, 3, stage="production", force=True, reason="try")
    middle = ws.git("rev-parse", "pr")
    ws.git("revert", "--no-edit", "pr")
    ws.git("tag", "-d", f"models/{MODEL}/production/2")
    ws.push_tag(f"models/{MODEL}/production/2", middle, format_stage_message(StageTagMessage(
        MODEL, 3, "production", "none", (1,), "Test User <test@example.com>", "try")))


# ---------------------------------------------------------------- run records

def edit_run_record(ws: Workspace) -> None:
    [run] = sorted((ws.reg / ".mcp/runs").glob("*.yaml"))
    rel = run.relative_to(ws.reg).as_posix()
    ws.edit(rel, lambda d: d.update(status="failed"), "the run failed really")


def delete_run_record(ws: Workspace) -> None:
    [run] = sorted((ws.reg / ".mcp/runs").glob("*.yaml"))
    ws.git("rm", "-q", run.relative_to(ws.reg).as_posix())
    ws.git("commit", "-q", "-m", "clean up runs")


CATALOGUE: tuple[PullRequest, ...] = (
    # honest pull requests pass, and deploy what they show
    PullRequest("honest-promotion", honest_promotion, _(), Loads(3, WEIGHTS[3])),
    PullRequest("honest-model-card", honest_model_card, _(), BASE),
    PullRequest("honest-registration", honest_registration, _(), Loads(5, b"iris weights v5", spec="nightly-7")),
    PullRequest("honest-metadata-and-archive", honest_metadata_and_archive, _(),
                Loads(1, kind="LogisticRegression", artifact="estimator")),
    PullRequest("honest-new-model", honest_other_model, _(), Loads(1, CHURN_WEIGHTS, model=OTHER)),
    PullRequest("honest-hand-made-promotion", hand_made_promotion, _(), Loads(3, WEIGHTS[3])),
    # 1. two reviewed branches, each green alone: git refuses the second merge
    PullRequest("two-promotions-of-one-stage", two_promotions, _(), Loads(2, WEIGHTS[2]),
                merged_first=("pr-first",), conflicts=True),
    PullRequest("promotion-and-staging-of-the-promoted", promotion_and_staging, _(), Loads(2, WEIGHTS[2]),
                merged_first=("pr-first",), conflicts=True),
    PullRequest("two-registrations-of-one-number", two_registrations, _(), BASE,
                merged_first=("pr-first",), conflicts=True),
    PullRequest("two-models-differing-in-case", two_models_differing_in_case, _(), BASE,
                merged_first=("pr-first",), conflicts=True),
    # 2. a file the grammar has no place for is an error and never read
    *(PullRequest(f"impostor-{ascii(name)[1:-1].replace(' ', '_')}", impostor(name, number),
                  _("unexpected-file"), Loads(number, WEIGHTS[number], spec=number), after_merge=_("unexpected-file"))
      for name, number in (("\u0663.yaml", 3), ("03.yaml", 3), ("3.YAML", 3), ("01.yaml", 1), ("\u0661.yaml", 1),
                           ("3.yaml ", 3), ("1.yml", 1))),
    PullRequest("symlinked-version-file", symlinked_version, _("unexpected-file"), BASE,
                after_merge=_("unexpected-file")),
    PullRequest("versions-folder-symlinked", symlinked_versions_folder,
                _("unexpected-file", "version-deleted", "stage-conflict"),
                Fails(AmbiguousStageError, ("'production'", "stages.yaml names version 1")),
                after_merge=_("unexpected-file", "stage-conflict", "unrecorded-delete")),
    PullRequest("executable-production-manifest", executable_manifest, _("unexpected-file", "stage-conflict"),
                Fails(AmbiguousStageError, ("'production'", "stages.yaml names version 1")),
                after_merge=_("unexpected-file", "stage-conflict")),
    PullRequest("submodule-version-file", submodule_version, _("unexpected-file"), BASE,
                after_merge=_("unexpected-file")),
    PullRequest("mcp-folder-symlinked", mcp_symlinked,
                _("not-a-registry", "registry-changed", "model-deleted", "run-deleted", "attributes-changed"),
                Fails(NotARegistryError, ("no gitreg registry",)), after_merge=_("not-a-registry")),
    # 3, 4. promotions of what the change itself brings: merged anyway, main serves what the diff showed
    PullRequest("register-and-promote", register_and_promote, _("promotes-unreviewed"),
                Loads(5, b"unreviewed weights")),
    PullRequest("relink-and-promote", relink_and_promote, _("link-added", "promotes-unreviewed"),
                Loads(3, b"relinked weights")),
    # 5. bytes force-added under the store's folder
    PullRequest("force-added-over-production", force_added_over_production, _("store-files-added"),
                Fails(IntegrityError, ("content hash mismatch", "refusing to load")), store="in-repo"),
    PullRequest("force-added-same-bytes", force_added_same_bytes, _("store-files-added"), BASE, store="in-repo"),
    # 6, 7. how the bytes are decoded, and which bytes: merged anyway, main serves what the diff showed
    PullRequest("trusted-types-eval", trust_eval, _("trusted-type-refused", "trusted-types-changed"),
                Fails(MaterializerError, ("builtins.eval", "never trusts"), artifact="estimator"),
                after_merge=_("trusted-type-refused")),
    PullRequest("unknown-format", unknown_format, _("unknown-format", "format-changed"),
                Fails(MaterializerError, ("unknown artifact format 'Pickle'",)), after_merge=_("unknown-format")),
    PullRequest("format-flipped-to-pickle", flip_to_pickle, _("format-changed", "executes-code", "link-changed"),
                Fails(MaterializerError, ("not a valid pickle",))),
    PullRequest("production-bytes-swapped", swap_production_bytes, _("link-changed"),
                Loads(1, b"the attacker's weights")),
    # 8. code from outside the store
    PullRequest("pickle-outside-store", pickle_outside_store,
                _("executes-code", "uri-outside-store", "promotes-unreviewed"),
                Fails(ArtifactRefusedError, ("outside the artifact store",))),
    PullRequest("pickle-linked-in-place", lambda ws: pickle_outside_store(ws, external=True),
                _("executes-code", "uri-outside-store", "promotes-unreviewed"),
                Fails(ArtifactRefusedError, ("runs code when loaded", "outside the artifact store"))),
    # 9. registry.yaml
    PullRequest("store-pointed-elsewhere", store_elsewhere, _("registry-changed"),
                Fails(ArtifactRefusedError, ("outside the artifact store",))),
    # 10, 12. who holds a stage
    PullRequest("second-production-manifest", second_production_manifest, _("stage-conflict"),
                Fails(AmbiguousStageError, ("versions 1 and 2",
                                            "update_model_version('iris', <version>, stage='production', force=True)")),
                after_merge=_("stage-conflict", "tag-stale")),
    PullRequest("stages-file-alone", stages_file_alone, _("stage-conflict"),
                Fails(AmbiguousStageError, ("versions 1 and 3", "force=True")), after_merge=_("stage-conflict")),
    PullRequest("production-version-deleted", delete_production, _("version-deleted", "stage-conflict"),
                Fails(AmbiguousStageError, ("'production'", "stages.yaml names version 1")),
                after_merge=_("stage-conflict", "unrecorded-delete")),
    PullRequest("stage-back-to-none", stage_to_none, _("stage-to-none"),
                Fails(VersionNotFoundError, ("production",))),
    # 11. numbers and names
    PullRequest("counter-lowered", lowered_counter, _("counter-lowered"), BASE, after_merge=_("counter-lowered")),
    PullRequest("number-reused", reused_number, _("number-reused", "executes-code"), BASE),
    PullRequest("counter-beyond-the-grammar", counter_beyond_the_grammar, _("schema"),
                Fails(ManifestError, (IRIS_CARD, "maximum")), after_merge=_("schema")),
    PullRequest("version-renamed-onto-a-name", rename_onto_a_name, _("version-renamed"),
                Loads(3, WEIGHTS[3], spec=CANDIDATE)),
    PullRequest("name-taken-twice", name_taken_twice, _("schema"),
                Fails(ManifestError, ("versions/5.yaml", "'candidate' is also the name of version 2"), spec=CANDIDATE),
                after_merge=_("schema")),
    # 13. model folders
    PullRequest("model-folder-aux", copy_model("aux"), _("unexpected-file"), BASE, after_merge=_("unexpected-file")),
    PullRequest("model-folder-differs-in-case", copy_model("Iris"),
                _("case-clash", "name-claim", "executes-code", "promotes-unreviewed"), BASE,
                after_merge=_("case-clash", "name-claim")),
    PullRequest("model-folder-homoglyph", homoglyph_model, _("unexpected-file"), BASE,
                after_merge=_("unexpected-file")),
    # 14. hostile YAML: refused in bounded time, one file at a time
    PullRequest("alias-bomb-in-a-version", alias_bomb(V3), _("schema"), BASE, after_merge=_("schema")),
    PullRequest("alias-bomb-in-the-model-card", alias_bomb(IRIS_CARD), _("schema"),
                Fails(ManifestError, (IRIS_CARD, "alias")), after_merge=_("schema")),
    PullRequest("manifest-over-4-MiB", huge_manifest, _("schema"), BASE, after_merge=_("schema")),
    PullRequest("duplicate-key", duplicate_key, _("schema"), BASE, after_merge=_("schema")),
    PullRequest("python-yaml-tag", python_tag, _("yaml-type"), BASE, after_merge=_("yaml-type")),
    PullRequest("nul-in-production-manifest", nul_in_production, _("schema"), Fails(ManifestError, (V1,)),
                after_merge=_("schema")),
    # 15. tags pushed ahead of the merge: `gitreg check` on main says so
    PullRequest("forged-stage-tag", forged_stage_tag, _(), Loads(2, WEIGHTS[2]), after_merge=_("tag-mismatch")),
    # a lightweight tag holds the name of the promotion's tag: `tags sync` reports it (tags are never moved)
    # and `gitreg check` does not count it, so the promotion stays untagged until it is deleted
    PullRequest("lightweight-stage-tag", lightweight_stage_tag, _(), Loads(2, WEIGHTS[2]),
                after_merge=_("tag-stale")),
    PullRequest("stage-tag-on-another-commit", stage_tag_on_another_commit, _(), Loads(2, WEIGHTS[2]),
                after_merge=_("tag-moved")),
    PullRequest("registration-tag-ahead", registration_tag_ahead, _(), BASE,
                after_merge=_("tag-moved", "counter-lowered", "unrecorded-delete")),
    PullRequest("stage-tag-on-an-intermediate-commit", stage_tag_on_an_intermediate_commit, _(), BASE,
                after_merge=_("tag-stale")),
    # run records are history
    PullRequest("run-record-edited", edit_run_record, _("run-changed"), BASE),
    PullRequest("run-record-deleted", delete_run_record, _("run-deleted"), BASE),
)
