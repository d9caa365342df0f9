"""The Client: the registry's whole API, one call per operation.

The CLI and :class:`gitreg.Model` both go through these methods, so the
command line and Python always agree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import operations as ops
from .artifacts import ArtifactVersion, check_type, describe_uri, download, save_object, save_path
from .errors import ArtifactNotFoundError, BareRepositoryError, InvalidValueError, NotARegistryError
from .git import GitRepo
from .manifests import ArtifactLink, ModelManifest, UpdatedVersion, VersionManifest
from .names import refuse_near_model_name, validate_name
from .notebook import VersionList, shown
from .progress import size_of
from .registry import Change, Proposal, Registry
from .remote import is_url
from .stages import parse_stage
from .state import ModelState, Snapshot, parse_version_spec
from .tagnames import validate_tag_prefix

if TYPE_CHECKING:
    from .check import CheckReport
    from .compare import Comparison, Promotion
    from .errors import ManifestError
    from .gc import GcReport
    from .history import Event
    from .migrate import Migration
    from .pipelines.runs import RunManifest
    from .tagsync import SyncReport

Progress = Callable[[int], None]


def _noop(_: int) -> None:
    pass


@contextmanager
def _progress(progress: Progress | bool | Any, total: Callable[[], int], label: str) -> Iterator[Progress]:
    """``progress`` as given; True: a bar on stderr (the one the CLI shows); False: nothing; an fsspec
    ``Callback`` (e.g. ``fsspec.callbacks.TqdmCallback()``): told the size, then each step."""
    if progress is True:
        from .progress import transfer_bar

        with transfer_bar(total(), label, force=True) as bar:
            yield bar
    elif hasattr(progress, "relative_update") and hasattr(progress, "set_size"):
        callback: Any = progress  # an fsspec Callback (fsspec is not typed)
        callback.set_size(total())
        yield callback.relative_update
    else:
        yield progress or _noop


# Every name a call is given is checked here, at the entrance, before it can reach a git object
# path (``<commit>:.mcp/models/<model>``), a ref pattern or a fetch: a space, a newline, ``/`` or
# ``..`` in it is an InvalidNameError, never a lookup of something else or a confused git process.

def init_location(base: str | None, path: str = ".") -> str:
    """Where ``gitreg [-C BASE] init [PATH]`` creates a registry: PATH inside BASE (as ``git -C`` reads
    it), or a URL given either way (never both, and never a folder inside a URL)."""
    if is_url(path):
        if base is not None and base != path:
            raise InvalidValueError(f"init got two places, {base!r} (-C/--repo/GITREG_REPO) and {path!r}: give one")
        return path
    if base is None:
        return path
    if is_url(base):
        if path not in (".", ""):
            raise InvalidValueError(f"a registry by URL is the whole repository at {base!r}, not a folder in it:"
                                    " `gitreg init URL` (or `gitreg -C URL init`)")
        return base
    return os.path.join(base, path)


def _model(name: object) -> str:
    return validate_name("model", name)


def _version(spec: object) -> object:
    """A version spec as given, once it is a valid number, stage, ``latest`` or version name (None: latest)."""
    if spec is not None:
        kind, value = parse_version_spec(spec)
        if kind == "name":
            validate_name("version", value)
    return spec


def _check_delete_flags(only_link: bool, delete_metadata: bool, delete_from_artifact_store: bool) -> None:
    if delete_from_artifact_store and only_link:
        raise InvalidValueError("delete_from_artifact_store=True deletes the artifact itself: pass only_link=False"
                                " too (only_link=True removes the link and nothing else)")
    if not only_link and not delete_metadata:
        raise InvalidValueError("an artifact's metadata lives in its link, so deleting the artifact deletes it"
                                " too (git history keeps both): pass delete_metadata=True, or only_link=True")


def _store_options(store: str | None, options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The store options to write to registry.yaml, checked: a store is named, and no secret is among them."""
    if not options:
        return None
    if store is None:
        raise InvalidValueError("store options need a store: give --store URI (store=...) with them")
    from .store_options import check_store_options

    options = dict(options)
    check_store_options(store, options)
    return options


def _artifact_version(version: object) -> int | None:
    """An artifact version as ZenML passes it (an int or digit string); gitreg's are numbers."""
    if version is None or (isinstance(version, int) and not isinstance(version, bool)):
        return version
    if isinstance(version, str) and version.strip().isdigit():
        return int(version.strip())
    raise InvalidValueError(f"artifact version {version!r}: gitreg numbers artifact versions 1, 2, 3, ...;"
                            " give a number")


def _refuse_external(links: Iterable[ArtifactLink]) -> None:
    external = [a for a in links if a.external]
    if external:
        a = external[0]
        raise InvalidValueError(f"{a.name} v{a.version} is linked in place at {a.uri}, outside the artifact store:"
                                " gitreg never deletes it; unlink it with only_link=True and delete it yourself")


@dataclass(frozen=True)
class ModelResponse(ModelManifest):
    """A model card as :meth:`Client.get_model` returns it: with ZenML's ``latest_version_name`` and
    ``latest_version_id`` (gitreg's version id is its number; None: no version yet)."""

    latest_version_name: str | None = None
    latest_version_id: int | None = None

    @classmethod
    def of(cls, state: ModelState) -> ModelResponse:
        latest = state.latest()
        card = {f.name: getattr(state.model, f.name) for f in fields(ModelManifest)}
        return cls(**card, latest_version_name=latest.name if latest is not None else None,
                   latest_version_id=latest.number if latest is not None else None)


class Client:
    """Entry point to a registry: ``Client()`` (cwd upwards / $GITREG_REPO), ``Client(path)`` or
    ``Client(url)`` (a git URL: worked on through a cached clone, pushed after every write)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, registry: Registry | None = None,
                 refresh: bool = False, readable: bool = True) -> None:
        """``readable=False``: open the repository even when its checked-out registry does not read (to
        check it: `gitreg check` reports what is wrong instead of refusing to start)."""
        self.registry = registry if registry is not None else Registry.open(path, refresh=refresh,
                                                                            readable=readable)

    def refresh(self) -> None:
        """Fetch a registry opened by URL now, whatever the freshness window ($GITREG_FRESHNESS) says."""
        self.registry.refresh(force=True)

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None, store: str | None = None,
             tag_prefix: str = "models", remote: str | None = None,
             store_options: Mapping[str, Any] | None = None) -> Client:
        """Create a registry; ``remote`` names the git remote every write pushes to (e.g. "origin").

        ``path`` may be a git URL: the registry's first commit is then pushed to that repository (an
        empty one, or one without a registry), which needs a shared ``store`` (a URI or an absolute path).

        ``store_options`` are the store backend's options (``storage_options`` in registry.yaml, e.g.
        ``{"endpoint_url": ...}``); never secrets: keys that look like one are refused.
        """
        validate_tag_prefix(tag_prefix)  # before anything is created
        store_options = _store_options(store, store_options)
        if path is not None and is_url(path):
            return cls(registry=Registry.init(path, store=store, tag_prefix=tag_prefix, remote=remote,
                                              store_options=store_options))
        try:
            GitRepo.discover(path if path is not None else os.getcwd())
        except BareRepositoryError:
            raise  # never turn a bare repository into a work tree
        except NotARegistryError:
            pass  # no repository yet: Registry.init creates one
        return cls(registry=Registry.init(path, store=store, tag_prefix=tag_prefix, remote=remote,
                                          store_options=store_options))

    @property
    def root(self) -> str:
        return str(self.registry.root)

    # ------------------------------------------------------------ models

    def create_model(self, name: str, license: str | None = None, description: str | None = None,
                     audience: str | None = None, use_cases: str | None = None,
                     limitations: str | None = None, trade_offs: str | None = None,
                     ethics: str | None = None, tags: Iterable[str] | None = None, reason: str = "", *,
                     refuse_near_names: bool = False, display_name: str | None = None,
                     tag_values: Mapping[str, str] | None = None) -> ModelManifest:
        """Register a new model with its card.  ``refuse_near_names=True``: refuse (NearModelNameError) a name
        one edit from an existing model's, as the command line does unless given ``--new-model``.
        ``display_name``: the name another registry's users know it by, when it cannot be ``name`` (MLflow's
        ``My Model``); ``tag_values``: key/value tags (a tag without a value is one of ``tags``)."""
        name = _model(name)
        card = dict(license=license, description=description, audience=audience, use_cases=use_cases,
                    limitations=limitations, trade_offs=trade_offs, ethics=ethics)

        def build(snap: Snapshot) -> Change:
            if refuse_near_names:
                refuse_near_model_name(name, snap.model_names())
            return ops.create_model(snap, name, card, tags, reason, display_name=display_name,
                                    tag_values=tag_values)

        created: ModelManifest = self.registry.transact(build, scope=name).result
        return created

    def get_model(self, name: str) -> ModelResponse:
        """The model card, with its latest version's name and id (its number), as ZenML's ModelResponse."""
        name = _model(name)
        return ModelResponse.of(self.registry.snapshot().require(name))

    def get_model_state(self, name: str) -> ModelState:
        """The model with all its versions (a version whose manifest does not read: its ManifestError)."""
        name = _model(name)
        return self.registry.snapshot().require(name).whole()

    def list_models(self, tags: Iterable[str] | None = None) -> list[ModelResponse]:
        wanted = set(tags or ())
        return [ModelResponse.of(m) for m in self.registry.snapshot().models() if wanted <= set(m.model.tags)]

    def list_model_states(self) -> list[ModelState]:
        return self.registry.snapshot().models()

    def list_readable_model_states(self) -> tuple[list[ModelState], list[ManifestError]]:
        """Every model that reads, and the error of each one that does not (a listing need not fail whole)."""
        return self.registry.snapshot().readable_models()

    def update_model(self, model_name_or_id: str, name: str | None = None, license: str | None = None,
                     description: str | None = None, audience: str | None = None, use_cases: str | None = None,
                     limitations: str | None = None, trade_offs: str | None = None,
                     ethics: str | None = None, add_tags: Iterable[str] | None = None,
                     remove_tags: Iterable[str] | None = None, reason: str = "", *,
                     tag_values: Mapping[str, str] | None = None,
                     remove_tag_values: Iterable[str] | None = None) -> ModelManifest:
        """Change a model's card or tags (ZenML's signature; ``tag_values`` sets key/value tags,
        ``remove_tag_values`` removes them by key).  ``name`` renames in ZenML; gitreg refuses a
        new name: a model's name is its folder, and its registration and stage tags, which are immutable,
        carry it, so its history would no longer answer to the new name."""
        model = _model(model_name_or_id)
        if name is not None and name != model:
            validate_name("model", name)
            self.registry.snapshot().require(model)  # a missing model is a ModelNotFoundError first
            raise InvalidValueError(
                f"gitreg does not rename models ({model!r} -> {name!r}): the name is in every tag of its"
                f" history, and tags are immutable. Register {name!r} as a new model (its versions start at 1)"
                f" and keep {model!r} for the history, or keep the name and change its description")
        name = model
        card = {k: v for k, v in dict(license=license, description=description, audience=audience,
                                      use_cases=use_cases, limitations=limitations, trade_offs=trade_offs,
                                      ethics=ethics).items() if v is not None}
        self.registry.transact(lambda s: ops.update_model(s, name, card, add_tags, remove_tags, reason,
                                                          tag_values=tag_values,
                                                          remove_tag_values=remove_tag_values), scope=name)
        return self.get_model(name)

    def delete_model(self, name: str, reason: str = "") -> None:
        name = _model(name)
        self.registry.transact(lambda s: ops.delete_model(s, name, reason), scope=name)

    # ------------------------------------------------------------ versions

    def create_model_version(self, model_name: str, name: str | None = None, description: str | None = None,
                             tags: Iterable[str] | None = None, metadata: Mapping[str, Any] | None = None,
                             reason: str = "", model_card: Mapping[str, Any] | None = None,
                             model_tags: Iterable[str] | None = None, *,
                             refuse_near_names: bool = False,
                             tag_values: Mapping[str, str] | None = None) -> VersionManifest:
        """Register the next version (the model is created with ``model_card`` if missing, as in ZenML).
        ``tag_values``: key/value tags of the version.

        ``refuse_near_names=True``: a missing model whose name is one edit from an existing model's is not
        created (NearModelNameError, with the existing names), as the command line does unless given
        ``--new-model``; off by default, so code creates models implicitly as ZenML's does."""
        model_name = _model(model_name)

        def build(snap: Snapshot) -> Change:
            if refuse_near_names:
                refuse_near_model_name(model_name, snap.model_names())
            return ops.register_version(snap, model_name, name=name, description=description, tags=tags,
                                        metadata=metadata, card=model_card, model_tags=model_tags, reason=reason,
                                        tag_values=tag_values)

        registered: VersionManifest = self.registry.transact(build, scope=model_name).result
        return registered

    def get_or_create_model_version(self, model_name: str, name: str,
                                    model_card: Mapping[str, Any] | None = None,
                                    model_tags: Iterable[str] | None = None, reason: str = "",
                                    description: str | None = None,
                                    tags: Iterable[str] | None = None, *,
                                    refuse_near_names: bool = False) -> VersionManifest:
        """The version called ``name``, registered first if there is none (atomically; ``description``
        and ``tags`` apply only to a version this call registers).  ``refuse_near_names``: as in
        :meth:`create_model_version`."""
        model_name = _model(model_name)
        validate_name("version", name)  # the rules for a new name apply when one is registered (below)

        def build(snap: Snapshot) -> Change:
            state = snap.model(model_name)
            existing = state.by_name(name) if state is not None else None
            if existing is not None:
                return Change(message="", result=existing)
            if refuse_near_names and state is None:
                refuse_near_model_name(model_name, snap.model_names())
            return ops.register_version(snap, model_name, name=name, description=description, tags=tags,
                                        card=model_card, model_tags=model_tags, reason=reason)

        found: VersionManifest = self.registry.transact(build, scope=model_name).result
        return found

    def get_model_version(self, model_name: str, version: object = None) -> VersionManifest:
        """A version by number, digit string, name, stage or ``latest`` (None: latest)."""
        model_name, version = _model(model_name), _version(version)
        state = self.registry.snapshot().require(model_name)
        return shown(state.resolve("latest" if version is None else version))

    def list_model_versions(self, model_name: str, stage: object = None, tags: Iterable[str] | None = None,
                            name: str | None = None,
                            metadata: Iterable[tuple[str, str, Any]] | None = None) -> list[VersionManifest]:
        """Versions in number order, filtered by stage, tags (all given), name and metadata."""
        from .filters import matches_metadata

        model_name = _model(model_name)
        versions = list(self.registry.snapshot().require(model_name).whole().versions)
        if stage is not None:
            wanted = parse_stage(stage, allow_latest=True)
            versions = versions[-1:] if wanted == "latest" else [v for v in versions if v.stage == wanted]
        if tags:
            need = set(tags)
            versions = [v for v in versions if need <= set(v.tags)]
        if name is not None:
            versions = [v for v in versions if v.name == name]
        for condition in metadata or ():
            versions = [v for v in versions if matches_metadata(v.metadata, *condition)]
        return VersionList(versions)

    def compare_model_versions(self, model_name: str, *versions: object) -> Comparison:
        """Two or more versions side by side (the first is the reference for deltas and bytes)."""
        from .compare import compare_versions

        model_name = _model(model_name)
        specs = [_version(v) for v in versions]
        state = self.registry.snapshot().require(model_name)
        return compare_versions([state.resolve(v) for v in specs])

    def update_model_version(self, model_name: str, version: object, stage: object = None, force: bool = False,
                             name: str | None = None, description: str | None = None,
                             add_tags: Iterable[str] | None = None, remove_tags: Iterable[str] | None = None,
                             reason: str = "", *, tag_values: Mapping[str, str] | None = None,
                             remove_tag_values: Iterable[str] | None = None) -> UpdatedVersion:
        """Rename, describe, tag or move a version to ``stage``; setting its own stage is a no-op.
        ``tag_values`` sets key/value tags, ``remove_tag_values`` removes them by key.

        Returns the version as written (a :class:`~gitreg.manifests.VersionManifest`), whose
        ``archived_versions`` are the numbers of the versions ``force=True`` moved from that stage to
        ``archived`` in the same commit (empty when none was)."""
        model_name, version = _model(model_name), _version(version)
        committed = self.registry.transact(lambda s: ops.update_version(
            s, model_name, version, stage=stage, force=force, name=name, description=description,
            add_tags=add_tags, remove_tags=remove_tags, reason=reason, tag_values=tag_values,
            remove_tag_values=remove_tag_values), scope=model_name)
        updated: UpdatedVersion | None = committed.result
        return updated if updated is not None else UpdatedVersion.of(self.get_model_version(model_name, version))

    def propose_model_version_stage(self, model_name: str, version: object, stage: object, force: bool = False,
                                    reason: str = "") -> Proposal:
        """Write the stage change as the one commit of a new branch ``gitreg/promote/<model>-v<N>-<stage>``
        (pushed when the registry has a remote), for review in a pull request; the registry branch and
        the work tree stay as they are.  Tags follow after the merge (`gitreg tags sync`)."""
        model_name, version = _model(model_name), _version(version)
        wanted = parse_stage(stage)
        return self.registry.propose(
            lambda s: ops.update_version(s, model_name, version, stage=wanted, force=force, reason=reason),
            lambda v: f"gitreg/promote/{model_name}-v{v.number}-{wanted}", scope=model_name)

    # ------------------------------------------------------------ aliases

    def set_alias(self, model_name: str, alias: str, version: object, force: bool = False,
                  reason: str = "") -> VersionManifest:
        """Point ``alias`` (a named exclusive pointer such as ``champion``, kept in the model's stages.yaml)
        at ``version``, in one commit.  When another version holds it: AliasConflictError, unless
        ``force=True``, which moves it (no version is archived).  ``production`` and ``staging`` are the
        exclusive stages seen as aliases: setting one is the stage change (``force`` archives the holder)."""
        model_name, version = _model(model_name), _version(version)
        self.registry.transact(lambda s: ops.set_alias(s, model_name, alias, version, force, reason),
                               scope=model_name)
        return self.get_model_version_by_alias(model_name, alias)

    def delete_alias(self, model_name: str, alias: str, reason: str = "") -> None:
        """Remove ``alias`` (nothing to do when no version holds it); ``production``/``staging``: their
        holder goes to ``archived``."""
        model_name = _model(model_name)
        self.registry.transact(lambda s: ops.delete_alias(s, model_name, alias, reason), scope=model_name)

    def get_model_version_by_alias(self, model_name: str, alias: str) -> VersionManifest:
        """The version ``alias`` points at (``production``/``staging``: the stage's holder)."""
        from .errors import VersionNotFoundError
        from .stages import validate_alias

        model_name, alias = _model(model_name), validate_alias(alias)
        state = self.registry.snapshot().require(model_name)
        number = state.holder(alias)
        if number is None:
            raise VersionNotFoundError(model_name, f"@{alias}", f"no version holds the alias {alias!r}")
        return state.resolve(number)

    def delete_model_version(self, model_name: str, version: object, reason: str = "") -> None:
        model_name, version = _model(model_name), _version(version)
        self.registry.transact(lambda s: ops.delete_version(s, model_name, version, reason), scope=model_name)

    def version_history(self, model_name: str, version: object = None) -> list[Event]:
        """Every registration and stage change of a model (or one version), oldest first, from its tags."""
        model_name, version = _model(model_name), _version(version)
        from .history import model_history

        snap = self.registry.snapshot()
        number = None
        if version is not None:
            kind, value = parse_version_spec(version)
            number = value if kind == "number" else snap.require(model_name).resolve(version).number
        elif snap.model(model_name) is None and not snap.repo.ref_names(
                f"refs/tags/{snap.config.tag_prefix}/{model_name}/"):
            snap.require(model_name)  # neither a model nor any history: ModelNotFoundError
        self.registry.fetch_tags(model_name)
        return model_history(self.registry.repo, snap.config.tag_prefix, model_name, number,
                             registration_tags=snap.config.registration_tags, commit=snap.commit)

    def promotions(self, base: str, rev: str = "HEAD") -> list[Promotion]:
        """Every stage change ``rev`` makes since ``base``, each compared with the version it replaces."""
        from .compare import promotion_summaries

        repo = self.registry.repo
        base_commit, head = repo.resolve(f"{base}^{{commit}}"), repo.resolve(f"{rev}^{{commit}}")
        if base_commit is None or head is None:
            return []
        return promotion_summaries(repo, base_commit, head)

    def check(self, rev: str = "HEAD", base: str | None = None, allow_delete: bool = False,
              verify_signatures: bool = False, staged: bool = False, allow: Iterable[str] = ()) -> CheckReport:
        """Validate the registry at ``rev`` (manifests, stage invariants, tags), the index (``staged``),
        or what ``rev`` changes since ``base`` (for pull requests; see :mod:`gitreg.review`).

        Every problem carries a finding code (:data:`gitreg.check.FINDINGS`); ``allow`` lists the codes a
        maintainer accepts deliberately (still reported, as accepted); ``allow_delete`` accepts the
        deletion codes.  An unknown code, or one that can only be fixed, is an InvalidValueError.
        """
        from .check import allowed_codes

        codes = allowed_codes(allow, allow_delete)
        repo = self.registry.repo
        if staged:
            if base is not None:
                raise InvalidValueError("staged checks the index, base a branch's commits: give one of them")
            from .review import check_staged

            return check_staged(repo, codes, verify_signatures)
        if base is not None:
            from .review import check_change

            return check_change(repo, base, rev, verify_signatures=verify_signatures, allow=codes)
        from .check import check

        self.registry.fetch_tags()
        self.registry.refresh()  # after the tags: the branch then holds every commit they point at
        return check(repo, rev, tags=True, verify_signatures=verify_signatures, allow=codes)

    # ------------------------------------------------------------ pipeline runs

    def get_run(self, run_id: str) -> RunManifest:
        """A recorded pipeline run by id."""
        validate_name("run", run_id)
        from .errors import NotFoundError
        from .pipelines.runs import read_run

        snap = self.registry.snapshot()
        found = read_run(self.registry.repo, snap.commit, run_id)
        if found is None:
            raise NotFoundError(f"no pipeline run {run_id!r} is recorded (see `gitreg run list`)")
        return found

    def list_runs(self, model_name: str | None = None, version: object = None,
                  pipeline: str | None = None) -> list[RunManifest]:
        """Recorded runs, oldest first; of one model version (by its ``runs``) or pipeline if given."""
        if model_name is not None:
            model_name = _model(model_name)
        from .pipelines.runs import prefetch_runs, read_run, run_ids

        snap = self.registry.snapshot()
        if model_name is not None:
            ids = list(self.get_model_version(model_name, version).runs)
        else:
            ids = run_ids(self.registry.repo, snap.commit)
        prefetch_runs(self.registry.repo, snap.commit, ids)
        runs = [r for r in (read_run(self.registry.repo, snap.commit, i) for i in ids) if r is not None]
        if pipeline is not None:
            runs = [r for r in runs if r.pipeline == pipeline]
        return sorted(runs, key=lambda r: (r.started, r.id))

    def delete_pipeline_run(self, name_id_or_prefix: str, reason: str = "") -> None:
        """Delete a recorded run (ZenML's name): its manifest goes and the versions it used stop listing it,
        in one commit.  The artifacts it linked stay linked; git history keeps the record."""
        validate_name("run", name_id_or_prefix)
        from .pipelines.runs import delete_run

        self.registry.transact(lambda s: delete_run(s, name_id_or_prefix, reason))

    def sync_tags(self, push: bool = False, dry_run: bool = False) -> SyncReport:
        """Create the registration and stage tags the branch's history lacks (after squash/rebase merges)."""
        from .tagsync import sync_tags

        return sync_tags(self.registry, push=push, dry_run=dry_run)

    def migrate(self) -> Migration | None:
        """Upgrade the registry to the format this gitreg writes, in one commit of its own (every write does
        it first when needed); None when it is current already."""
        return self.registry.migrate()

    # ------------------------------------------------------------ metadata

    def log_metadata(self, model_name: str, version: object, metadata: Mapping[str, Any],
                     reason: str = "") -> VersionManifest:
        model_name, version = _model(model_name), _version(version)
        committed = self.registry.transact(lambda s: ops.log_metadata(
            s, model_name, "latest" if version is None else version, metadata, reason), scope=model_name)
        return committed.result or self.get_model_version(model_name, version)

    # ------------------------------------------------------------ artifacts

    def _link(self, model_name: str, version: object, link: ArtifactLink, reason: str = "") -> ArtifactLink:
        model_name, version = _model(model_name), _version(version)
        linked: ArtifactLink = self.registry.transact(lambda s: ops.link_artifact(s, model_name, version, link, reason),
                                                      scope=model_name).result
        return linked

    def save_artifact(self, model_name: str, version: object, obj: Any, name: str,
                      type: str | None = None, reason: str = "") -> ArtifactLink:
        """Materialise ``obj`` into the store and link it (type None: by what the object is)."""
        validate_name("artifact", name)
        self.get_model_version(model_name, version)  # fail before uploading anything
        return self._link(model_name, version, save_object(self.registry, obj, name, type), reason)

    def add_artifact(self, model_name: str, version: object, path_or_uri: str, name: str,
                     type: str = "data", link: bool = False, progress: Progress | bool | Any = _noop,
                     reason: str = "") -> ArtifactLink:
        """Store a local file/folder (or, with ``link``, reference a URI in place) and link it.

        ``progress``: a callable given the bytes moved, an fsspec ``Callback``, or True for a bar (rate,
        time left) on stderr.
        """
        validate_name("artifact", name)
        check_type(type)
        self.get_model_version(model_name, version)
        if link:
            new = describe_uri(self.registry, str(path_or_uri), name, type)
        elif "://" in str(path_or_uri) and not str(path_or_uri).startswith("file://"):
            text = f"{path_or_uri} is a remote URI: link it in place with {{}}"
            raise InvalidValueError(text.format("link=True"), cli_message=text.format("--link"))
        else:
            local = str(path_or_uri)[len("file://"):] if str(path_or_uri).startswith("file://") else path_or_uri
            with _progress(progress, lambda: size_of(str(local)), f"storing {name}") as report:
                new = save_path(self.registry, local, name, type, report)
        return self._link(model_name, version, new, reason)

    def link_artifact(self, model_name: str, version: object, uri: str, name: str, type: str = "data",
                      copy: bool = False, reason: str = "") -> ArtifactLink:
        return self.add_artifact(model_name, version, uri, name, type=type, link=not copy, reason=reason)

    def list_artifacts(self, model_name: str, version: object = None, type: str | None = None) -> list[ArtifactVersion]:
        mv = self.get_model_version(model_name, version)
        return [ArtifactVersion(a, model_name, mv.number, self.registry) for a in mv.links(type=type)]

    def get_artifact(self, model_name: str, version: object, name: str, artifact_version: int | None = None,
                     type: str | None = None) -> ArtifactVersion:
        validate_name("artifact", name)
        mv = self.get_model_version(model_name, version)
        links = [a for a in mv.links(name, type) if artifact_version is None or a.version == artifact_version]
        if not links:
            kinds = sorted({a.name for a in mv.links(type=type)})
            hint = (f"it has: {', '.join(kinds)}" if kinds
                    else "it has no artifacts" + (f" of type {type}" if type else ""))
            raise ArtifactNotFoundError(model_name, mv.number, name, hint)
        return ArtifactVersion(max(links, key=lambda a: a.version), model_name, mv.number, self.registry)

    def get_artifact_version(self, name_id_or_prefix: str, version: int | str | None = None, *,
                             model_name: str | None = None, model_version: object = None) -> ArtifactVersion:
        """ZenML's lookup of an artifact version, on one model version (gitreg's artifacts belong to one).

        ``name_id_or_prefix``: the artifact's name, or its id (sha256) or a prefix of it (8 or more hex
        digits); ``version``: the artifact version (None: the highest); ``model_version``: None is latest.
        """
        if model_name is None:
            raise InvalidValueError(f"artifact {name_id_or_prefix!r}: gitreg's artifacts belong to a model version:"
                                    " pass model_name= (and model_version=, default latest)")
        wanted = _artifact_version(version)
        mv = self.get_model_version(model_name, model_version)
        key = str(name_id_or_prefix)
        if not any(mv.links(key)) and len(key) >= 8 and all(c in "0123456789abcdef" for c in key.lower()):
            by_id = [a for a in mv.artifacts if a.sha256.startswith(key.lower())
                     and (wanted is None or a.version == wanted)]
            names = {a.name for a in by_id}
            if len(names) > 1:
                raise InvalidValueError(f"{key!r} is the start of the id of several artifacts of {model_name}"
                                        f" v{mv.number} ({', '.join(sorted(names))}): give more digits or the name")
            if by_id:
                return ArtifactVersion(max(by_id, key=lambda a: a.version), model_name, mv.number, self.registry)
        return self.get_artifact(model_name, mv.number, key, wanted)

    def load_artifact(self, model_name: str, version: object, name: str, artifact_version: int | None = None) -> Any:
        """The artifact's content (see :meth:`ArtifactVersion.load`: inside a run, the run used that version)."""
        return self.get_artifact(model_name, version, name, artifact_version).load()

    def download_artifact(self, model_name: str, version: object, name: str, dest: str | os.PathLike[str],
                          artifact_version: int | None = None, progress: Progress | bool | Any = _noop) -> Path:
        """Copy an artifact's verified bytes to ``dest``; ``progress`` as in :meth:`add_artifact`."""
        link = self.get_artifact(model_name, version, name, artifact_version).link
        with _progress(progress, lambda: link.size, f"fetching {name}") as report:
            return download(self.registry, link, dest, report)

    def collect_garbage(self, dry_run: bool = True, grace_seconds: float = 3600.0) -> GcReport:
        """Remove store objects no manifest in the history links (dry run by default)."""
        from .gc import collect

        return collect(self.registry, dry_run=dry_run, grace_seconds=grace_seconds)

    def delete_artifact(self, model_name: str, version: object, name: str,
                        artifact_version: int | None = None, reason: str = "", *, only_link: bool = True,
                        delete_metadata: bool = True, delete_from_artifact_store: bool = False) -> list[ArtifactLink]:
        """Unlink an artifact (all its versions on that model version unless one is given).

        ZenML's flags: ``only_link=True`` removes the link only.  An artifact version exists in gitreg only
        as its link (with its metadata), so ``only_link=False`` removes the same, and with
        ``delete_from_artifact_store=True`` also the stored bytes, unless another link anywhere in the
        history (another version, model or run) uses them: the store is content-addressed.
        """
        model_name, version = _model(model_name), _version(version)
        validate_name("artifact", name)
        _check_delete_flags(only_link, delete_metadata, delete_from_artifact_store)
        number = self.get_model_version(model_name, version).number
        if delete_from_artifact_store:
            _refuse_external([a for a in self.get_model_version(model_name, number).links(name)
                              if artifact_version is None or a.version == artifact_version])
        removed: list[ArtifactLink] = self.registry.transact(lambda s: ops.unlink_artifact(
            s, model_name, number, name, artifact_version, reason), scope=model_name).result
        if delete_from_artifact_store:
            from .gc import remove_unshared

            remove_unshared(self.registry, model_name, number, removed)
        return removed

    def delete_all_artifacts(self, model_name: str, version: object, only_link: bool = True,
                             delete_from_artifact_store: bool = False, reason: str = "") -> list[ArtifactLink]:
        """Unlink every artifact of a version (one commit), with :meth:`delete_artifact`'s meaning of the flags."""
        model_name, version = _model(model_name), _version(version)
        _check_delete_flags(only_link, True, delete_from_artifact_store)
        number = self.get_model_version(model_name, version).number
        if delete_from_artifact_store:
            _refuse_external(list(self.get_model_version(model_name, number).artifacts))
        committed = self.registry.transact(lambda s: ops.unlink_all_artifacts(s, model_name, number, reason),
                                           scope=model_name)
        removed = list(committed.result or ())
        if delete_from_artifact_store and removed:
            from .gc import remove_unshared

            remove_unshared(self.registry, model_name, number, removed)
        return removed
