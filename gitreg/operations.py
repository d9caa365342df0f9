"""Write operations as pure functions: a snapshot in, a :class:`Change` out.

Nothing here touches git or the store directly; :meth:`Registry.transact`
turns the change into a commit (and re-runs the function if the branch moved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .errors import (
    AliasConflictError,
    AlreadyExistsError,
    ArtifactNotFoundError,
    InvalidNameError,
    InvalidValueError,
    StageConflictError,
)
from .layout import model_file, model_path, name_claim_file, stages_file, version_file
from .manifests import (
    CARD_FIELDS,
    ArtifactLink,
    ModelManifest,
    NameClaim,
    StageHolders,
    UpdatedVersion,
    VersionManifest,
    check_json_value,
    dump,
    merge_metadata,
    now,
)
from .names import validate_name
from .registry import Change
from .stages import EXCLUSIVE_STAGES, RESERVED_VERSION_NAMES, parse_stage, resembled_stage_word, validate_alias
from .state import ModelState, Snapshot
from .tagnames import (
    StageTagMessage,
    format_stage_message,
    format_stage_tag,
    format_version_message,
    format_version_tag,
    numbers_in,
)

# ---------------------------------------------------------------- helpers

def model_bytes(model: ModelManifest) -> bytes:
    return dump("model", model, model_file(model.name))


def version_bytes(version: VersionManifest) -> bytes:
    return dump("version", version, version_file(version.model, version.number))


def claim_bytes(model: str) -> dict[str, bytes | None]:
    """The file claiming a new model's name whatever its case (see :mod:`gitreg.layout`)."""
    path = name_claim_file(model)
    return {path: dump("claim", NameClaim(model), path)}


def stages_bytes(state: ModelState, moved: Mapping[int, str | None]) -> dict[str, bytes | None]:
    """The model's stages.yaml after the versions in ``moved`` go to their new stage (None: deleted), if that
    changes it: every exclusive stage they leave or enter is held by the one version whose manifest then says
    so (or nobody); the others keep their holder, and aliases of a deleted version go."""
    after = {v.number: v.stage for v in state.versions}
    touched: set[str] = set()
    for number, stage in moved.items():
        touched.update(s for s in (after.get(number), stage) if s in EXCLUSIVE_STAGES)
        if stage is None:
            after.pop(number, None)
        else:
            after[number] = stage
    holders = current_holders(state)
    for stage in sorted(touched):
        claim = [n for n, s in after.items() if s == stage]
        holders = holders.with_holder(stage, claim[0] if len(claim) == 1 else None)
    for alias, number in list(holders.aliases.items()):
        if number in moved and moved[number] is None:
            holders = holders.with_holder(alias, None)
    if holders == state.stages or (state.stages is None and not touched):
        return {}
    path = stages_file(state.name)
    return {path: dump("stages", holders, path)}


def current_holders(state: ModelState) -> StageHolders:
    """The model's stages.yaml as it is, or as the version manifests say it would be (a model without one)."""
    if state.stages is not None:
        return state.stages
    holders = StageHolders.from_dict({
        s: held[0].number if len(held := state.in_stage(s)) == 1 else None for s in EXCLUSIVE_STAGES})
    for alias, number in state.aliases().items():
        holders = holders.with_holder(alias, number)
    return holders


#: MLflow's limits on a key/value tag (schemas: tag_values).
MAX_TAG_KEY = 250
MAX_TAG_VALUE = 100_000


def tag_values_arg(values: Mapping[str, str] | None) -> dict[str, str]:
    """Key/value tags as given, checked: text keys of 1 to 250 characters, text values of at most 100,000."""
    out: dict[str, str] = {}
    for key, value in (values or {}).items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_TAG_KEY:
            raise InvalidValueError(f"tag key {key!r}: must be text of 1 to {MAX_TAG_KEY} characters")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            raise InvalidValueError(f"tag {key!r}: its value must be text of at most {MAX_TAG_VALUE} characters")
        out[key] = value
    return out


def retag(tags: tuple[str, ...], values: Mapping[str, str], add_tags: Iterable[str] | None,
          remove_tags: Iterable[str] | None, set_values: Mapping[str, str] | None,
          remove_values: Iterable[str] | None) -> tuple[tuple[str, ...], Mapping[str, str]]:
    """Tags and key/value tags after a change; a key is in one of the two at most (the last word wins)."""
    from types import MappingProxyType

    removed = set(remove_tags or ())
    added = _tags(add_tags)
    new_values = tag_values_arg(set_values)
    out = [t for t in tags if t not in removed and t not in new_values]
    out += [t for t in added if t not in out and t not in new_values]
    gone = set(remove_values or ()) | set(added)
    kept = {k: v for k, v in values.items() if k not in gone} | new_values
    return tuple(out), MappingProxyType(dict(sorted(kept.items())))


def _tags(values: Iterable[str] | None, kind: str = "tag") -> tuple[str, ...]:
    out: list[str] = []
    for value in values or ():
        validate_name(kind, value)
        if value not in out:
            out.append(value)
    return tuple(out)


def validate_version_name(name: str) -> str:
    """``name`` if a new version may be called so: a valid name that no lookup would read as something
    else (a number, ``v`` and a number, a stage word or ``latest``, or a typo of one of those words)."""
    validate_name("version", name)
    if name.isdigit():
        raise InvalidNameError("version", name, "a name made of digits would be read as a number")
    if name[:1] in ("v", "V") and name[1:].isascii() and name[1:].isdigit():
        raise InvalidNameError("version", name, f"{name!r} would be read as version number {int(name[1:])}"
                                                " (listings show numbers so); choose a name that is not 'v' and digits")
    if name.lower() in RESERVED_VERSION_NAMES:
        raise InvalidNameError("version", name, "stage words and 'latest' cannot be version names")
    word = resembled_stage_word(name)
    if word is not None:
        raise InvalidNameError("version", name, f"did you mean {word!r}? A version name this close to a stage word"
                                                " or 'latest' would be created by a typo, so it cannot be one")
    return name


#: The highest version number: 18 digits, as version files are named (see gitreg.layout).
MAX_VERSION = 10**18 - 1


def next_number(model: str, used: Iterable[int]) -> int:
    """The number after every one in ``used``; an error when none is left (numbers are never reused)."""
    number = max(used) + 1
    if number > MAX_VERSION:
        raise InvalidValueError(f"model {model!r} has no version number left (the counter is at {number - 1}, the"
                                f" highest number is {MAX_VERSION}): register versions under another model")
    return number


def registered_numbers(snap: Snapshot, model: str) -> list[int]:
    """Every version number a registration tag of ``model`` records (numbers are never reused)."""
    folder = f"refs/tags/{snap.config.tag_prefix}/{model}/"
    return numbers_in(folder, snap.repo.ref_names(folder), "v")


def _card(card: Mapping[str, Any] | None) -> dict[str, Any]:
    out = {}
    for key, value in (card or {}).items():
        if key not in CARD_FIELDS:
            raise InvalidValueError(f"unknown model card field {key!r}; known: {', '.join(CARD_FIELDS)}")
        if value is not None and not isinstance(value, str):
            raise InvalidValueError(f"model card field {key!r} must be text, got {type(value).__name__}")
        out[key] = value
    return out


def reason_line(reason: str) -> str:
    """The end of a commit message: a ``reason:`` line when one was given."""
    text = " ".join((reason or "").split())
    return f"\n\nreason: {text}\n" if text else "\n"


def _by(snap: Snapshot) -> str:
    return snap.repo.identity()


# ---------------------------------------------------------------- models

def new_model(name: str, card: Mapping[str, Any] | None, tags: Iterable[str] | None,
              display_name: str | None = None, tag_values: Mapping[str, str] | None = None,
              created: str | None = None) -> ModelManifest:
    validate_name("model", name)
    if display_name is not None and (not isinstance(display_name, str) or not 0 < len(display_name) <= 256):
        raise InvalidValueError(f"display name {display_name!r}: must be text of 1 to 256 characters")
    tag_list, values = retag((), {}, tags, None, tag_values, None)
    return ModelManifest(name=name, created=created or now(), tags=tag_list, **_card(card),
                         display_name=None if display_name == name else display_name, tag_values=values)


def check_case_clash(snap: Snapshot, name: str) -> None:
    """Refuse a model whose folder would collide on a case-insensitive file system."""
    for existing in snap.model_names():
        if existing != name and existing.casefold() == name.casefold():
            raise InvalidNameError("model", name, f"differs from the existing model {existing!r} only in case")


def create_model(snap: Snapshot, name: str, card: Mapping[str, Any] | None = None,
                 tags: Iterable[str] | None = None, reason: str = "", *, display_name: str | None = None,
                 tag_values: Mapping[str, str] | None = None, created: str | None = None) -> Change:
    """A new model; ``display_name``: the name another registry's users know it by when ``name`` (its folder)
    cannot be that name; ``tag_values``: key/value tags; ``created``: its creation time when it is not now (an
    import), as :func:`now` writes it."""
    model = new_model(name, card, tags, display_name, tag_values, created)
    if snap.model(name) is not None:
        raise AlreadyExistsError("model", name, "add a version to it (Client.create_model_version, Model(name))"
                                 " or change its card (Client.update_model)",
                                 f"add a version with `gitreg model version create {name}`, or change its card"
                                 f" with `gitreg model update {name}`")
    check_case_clash(snap, name)
    body = reason_line(reason)
    return Change(message=f"{name}: register model{body}", files={model_file(name): model_bytes(model),
                                                                  **claim_bytes(name)},
                  paths=[model_path(name), name_claim_file(name)], result=model)


def update_model(snap: Snapshot, name: str, card: Mapping[str, Any] | None = None,
                 add_tags: Iterable[str] | None = None, remove_tags: Iterable[str] | None = None,
                 reason: str = "", *, tag_values: Mapping[str, str] | None = None,
                 remove_tag_values: Iterable[str] | None = None) -> Change | None:
    state = snap.require(name)
    changes = _card(card)
    tags, values = retag(state.model.tags, state.model.tag_values, add_tags, remove_tags, tag_values,
                         remove_tag_values)
    model = replace(state.model, tags=tags, tag_values=values, **changes)
    if model == state.model:
        return None
    fields = sorted(set(changes) | ({"tags"} if model.tags != state.model.tags else set())
                    | ({"tag_values"} if model.tag_values != state.model.tag_values else set()))
    body = reason_line(reason)
    return Change(message=f"{name}: update model ({', '.join(fields)}){body}",
                  files={model_file(name): model_bytes(model)}, paths=[model_path(name)], result=model)


def delete_model(snap: Snapshot, name: str, reason: str = "") -> Change:
    state = snap.require(name)
    files: dict[str, bytes | None] = {model_path(name): None}  # the whole folder
    claim = name_claim_file(name)
    if snap.repo.read_blob(f"{snap.commit}:{claim}") is not None:
        files[claim] = None
    body = reason_line(reason)
    return Change(message=f"{name}: delete model ({len(state.versions)} version(s)){body}", files=files,
                  paths=[model_path(name), claim], result=state)


# ---------------------------------------------------------------- versions

def register_version(snap: Snapshot, model: str, name: str | None = None, description: str | None = None,
                     tags: Iterable[str] | None = None, metadata: Mapping[str, Any] | None = None,
                     card: Mapping[str, Any] | None = None, model_tags: Iterable[str] | None = None,
                     reason: str = "", *, tag_values: Mapping[str, str] | None = None, number: int | None = None,
                     created: str | None = None) -> Change:
    """A new version numbered after every number ever used (manifests and tags).

    For an import: ``number``, the number it must get (refused unless it is after every number ever used,
    as numbers are never reused; the numbers skipped are never used either), and ``created``, its creation
    time as :func:`now` writes it (also the new model's, if this creates the model)."""
    state = snap.model(model)
    files: dict[str, bytes | None] = {}
    if state is None:
        manifest = new_model(model, card, model_tags, created=created)
        check_case_clash(snap, model)
        files.update(claim_bytes(model))
        versions: tuple[VersionManifest, ...] = ()
    else:
        manifest, versions = state.model, state.versions
    if name is not None:
        validate_version_name(name)
        if any(v.name == name for v in versions):
            raise AlreadyExistsError(f"version of model {model!r} named", name,
                                     f"ask for it by that name (Model({model!r}, version={name!r})), or choose"
                                     " another name", f"ask for it by that name (`gitreg model version describe"
                                     f" {model} {name}`), or choose another --name")
    if description is not None and not isinstance(description, str):
        raise InvalidValueError("description must be text")
    after = next_number(model, [manifest.counters.versions, *registered_numbers(snap, model)])
    if number is None:
        number = after
    elif isinstance(number, bool) or not isinstance(number, int) or not after <= number <= MAX_VERSION:
        raise InvalidValueError(f"model {model!r} cannot number a new version {number!r}: numbers are never reused,"
                                f" so the next one is {after} or higher (at most {MAX_VERSION})")
    meta = check_json_value(dict(metadata or {}), "metadata") if metadata else {}
    tag_list, values = retag((), {}, tags, None, tag_values, None)
    version = VersionManifest(model=model, number=number, name=name or str(number), created=created or now(),
                              description=description, tags=tag_list, metadata=meta, tag_values=values)
    manifest = replace(manifest, counters=replace(manifest.counters, versions=number))
    files[model_file(model)] = model_bytes(manifest)
    files[version_file(model, number)] = version_bytes(version)
    prefix = snap.config.tag_prefix
    message = format_version_message(model, number, version.name, _by(snap), reason)
    git_tags = [(format_version_tag(prefix, model, number), message)] if snap.config.registration_tags else []
    paths = [model_path(model), *(p for p in files if not p.startswith(model_path(model) + "/"))]
    return Change(message=message, files=files, paths=paths, tags=git_tags, result=version)


def update_version(snap: Snapshot, model: str, spec: object, stage: object = None, force: bool = False,
                   name: str | None = None, description: str | None = None,
                   add_tags: Iterable[str] | None = None, remove_tags: Iterable[str] | None = None,
                   reason: str = "", *, tag_values: Mapping[str, str] | None = None,
                   remove_tag_values: Iterable[str] | None = None) -> Change | None:
    """Change a version's name, description, tags and/or stage: one commit (tagged for a stage)."""
    state = snap.require(model)
    target = state.resolve(spec)
    updated = target
    if name is not None and name != target.name:
        validate_version_name(name)
        if state.by_name(name) is not None:
            raise AlreadyExistsError(f"version of model {model!r} named", name,
                                     f"ask for it by that name (Model({model!r}, version={name!r})), or choose"
                                     " another name", f"ask for it by that name (`gitreg model version describe"
                                     f" {model} {name}`), or choose another --name")
        updated = replace(updated, name=name)
    if description is not None:
        updated = replace(updated, description=description)
    if add_tags or remove_tags or tag_values or remove_tag_values:
        tags, values = retag(updated.tags, updated.tag_values, add_tags, remove_tags, tag_values, remove_tag_values)
        updated = replace(updated, tags=tags, tag_values=values)
    files: dict[str, bytes | None] = {}
    tag_list: list[tuple[str, str]] = []
    new_stage = parse_stage(stage) if stage is not None else target.stage
    subject_parts = []
    # setting the exclusive stage a version already claims repairs a stage claimed twice (or a stages.yaml
    # that names another version): the one way out the read errors name
    # (or that stages.yaml does not record yet)
    repair = stage is not None and new_stage in EXCLUSIVE_STAGES \
        and (state.held(new_stage) != (target.number,) or state.stages is None)
    archived: tuple[int, ...] = ()
    if new_stage != target.stage or repair:
        change = _stage_change(snap, state, target, new_stage, force, reason)
        archived = change.result
        files.update(change.files)
        tag_list = change.tags
        updated = replace(updated, stage=new_stage)
        message = change.message
    else:
        message = ""
    if updated == target and not files:
        return None
    files[version_file(model, target.number)] = version_bytes(updated)
    if not message:
        for field_name in ("name", "description", "tags", "tag_values"):
            if getattr(updated, field_name) != getattr(target, field_name):
                subject_parts.append(field_name)
        body = reason_line(reason)
        message = f"{model} v{target.number}: update {', '.join(subject_parts)}{body}"
    return Change(message=message, files=files, paths=[model_path(model)], tags=tag_list,
                  result=UpdatedVersion.of(updated, archived))


def _stage_change(snap: Snapshot, state: ModelState, target: VersionManifest, stage: str, force: bool,
                  reason: str) -> Change:
    """``target`` into ``stage`` (and whoever else holds an exclusive one archived, with ``force``), counted and
    tagged; when ``target`` claims the stage already (a repair), nothing moved it in: no count, no tag.
    Its result: the numbers of the versions it moves to archived."""
    model = state.name
    demoted: list[VersionManifest] = []
    if stage in EXCLUSIVE_STAGES:
        demoted = [v for v in state.in_stage(stage) if v.number != target.number]
        named = state.stages.holder(stage) if state.stages is not None else None
        others = sorted({v.number for v in demoted} | ({named} if named not in (None, target.number) else set()))
        if others and not force:
            raise StageConflictError(model, stage, others[0], target.number)
    files: dict[str, bytes | None] = {}
    for version in demoted:
        files[version_file(model, version.number)] = version_bytes(replace(version, stage="archived"))
    files.update(stages_bytes(state, {target.number: stage, **{v.number: "archived" for v in demoted}}))
    message = format_stage_message(StageTagMessage(
        model=model, number=target.number, stage=stage, previous_stage=target.stage,
        demoted=tuple(v.number for v in demoted), by=_by(snap), reason=reason,
    ))
    archived = tuple(v.number for v in demoted)  # the result: who went to archived
    if target.stage == stage:
        return Change(message=message, files=files, result=archived)
    folder = f"refs/tags/{snap.config.tag_prefix}/{model}/{stage}/"
    seen = numbers_in(folder, snap.repo.ref_names(folder))
    seq = max([state.model.counters.stage_count(stage), *seen]) + 1
    manifest = replace(state.model, counters=replace(state.model.counters, **{stage: seq}))
    files[model_file(model)] = model_bytes(manifest)
    tag = format_stage_tag(snap.config.tag_prefix, model, stage, seq)
    return Change(message=message, files=files, tags=[(tag, message)], result=archived)


def delete_version(snap: Snapshot, model: str, spec: object, reason: str = "") -> Change:
    state = snap.require(model)
    target = state.resolve(spec)
    body = reason_line(reason)
    files: dict[str, bytes | None] = {version_file(model, target.number): None}
    files.update(stages_bytes(state, {target.number: None}))
    return Change(message=f"{model} v{target.number}: delete version{body}", files=files,
                  paths=[model_path(model)], result=target)


def set_alias(snap: Snapshot, model: str, alias: str, spec: object, force: bool = False,
              reason: str = "") -> Change | None:
    """Point ``alias`` at a version: stages.yaml's line for it and the manifests of the versions it leaves and
    reaches, in one commit.  Held by another version: AliasConflictError unless ``force`` (then it moves; no
    version is archived).  ``production``/``staging`` are the exclusive stages: a stage change, as
    :func:`update_version` makes it.  None when the alias points there already."""
    alias = validate_alias(alias)
    if alias in EXCLUSIVE_STAGES:
        return update_version(snap, model, spec, stage=alias, force=force, reason=reason)
    state = snap.require(model)
    target = state.resolve(spec)
    holders = current_holders(state)
    current = holders.holder(alias)
    listing = [v for v in state.versions if alias in v.aliases]
    if current == target.number and [v.number for v in listing] == [target.number] and state.stages is not None:
        return None
    if current not in (None, target.number) and not force:
        raise AliasConflictError(model, alias, current, target.number)
    files: dict[str, bytes | None] = {}
    for version in listing:
        if version.number != target.number:
            files[version_file(model, version.number)] = version_bytes(
                replace(version, aliases=tuple(a for a in version.aliases if a != alias)))
    if alias not in target.aliases:
        files[version_file(model, target.number)] = version_bytes(
            replace(target, aliases=tuple(sorted((*target.aliases, alias)))))
    path = stages_file(model)
    files[path] = dump("stages", holders.with_holder(alias, target.number), path)
    previous = f"v{current}" if current not in (None, target.number) else "none"
    message = (f"{model} v{target.number} -> @{alias}\n\nversion: {target.number}\nprevious: {previous}\n"
               f"by: {_by(snap)}\n" + (f"reason: {' '.join(reason.split())}\n" if reason.strip() else ""))
    return Change(message=message, files=files, paths=[model_path(model)], result=target.number)


def delete_alias(snap: Snapshot, model: str, alias: str, reason: str = "") -> Change | None:
    """Remove ``alias`` (None when no version holds it).  ``production``/``staging``: their holder is archived."""
    alias = validate_alias(alias)
    state = snap.require(model)
    if alias in EXCLUSIVE_STAGES:
        number = state.holder(alias)
        if number is None:
            return None
        return update_version(snap, model, number, stage="archived", reason=reason)
    holders = current_holders(state)
    current = holders.holder(alias)
    listing = [v for v in state.versions if alias in v.aliases]
    if current is None and not listing:
        return None
    files: dict[str, bytes | None] = {}
    for version in listing:
        files[version_file(model, version.number)] = version_bytes(
            replace(version, aliases=tuple(a for a in version.aliases if a != alias)))
    path = stages_file(model)
    files[path] = dump("stages", holders.with_holder(alias, None), path)
    shown = f"v{current}" if current is not None else ", ".join(f"v{v.number}" for v in listing)
    return Change(message=f"{model} {shown}: remove alias @{alias}{reason_line(reason)}", files=files,
                  paths=[model_path(model)], result=current)


def log_metadata(snap: Snapshot, model: str, spec: object, metadata: Mapping[str, Any],
                 reason: str = "") -> Change | None:
    if not isinstance(metadata, Mapping) or not metadata:
        raise InvalidValueError("metadata must be a non-empty dict of JSON-serialisable values")
    clean = check_json_value(dict(metadata), "metadata")
    state = snap.require(model)
    target = state.resolve(spec)
    merged = merge_metadata(target.metadata, clean)
    if merged == dict(target.metadata):
        return None
    updated = replace(target, metadata=merged)
    keys = ", ".join(sorted(clean))
    return Change(message=f"{model} v{target.number}: log metadata ({keys}){reason_line(reason)}",
                  files={version_file(model, target.number): version_bytes(updated)},
                  paths=[model_path(model)], result=updated)


def link_artifact(snap: Snapshot, model: str, spec: object, link: ArtifactLink, reason: str = "") -> Change | None:
    """Link ``link`` (its version ignored: the next one for that name) to a model version."""
    validate_name("artifact", link.name)
    state = snap.require(model)
    target = state.resolve(spec)
    for existing in target.links(link.name):
        if existing.sha256 == link.sha256 and existing.type == link.type and existing.uri == link.uri:
            return Change(message="", result=existing)  # already linked: nothing to commit
    new = replace(link, version=state.artifact_versions.get(link.name, 0) + 1, created=link.created or now())
    updated = replace(target, artifacts=target.artifacts + (new,))
    where = "linked in place" if new.external else "stored"
    return Change(
        message=f"{model} v{target.number}: link {new.type} artifact {new.name} v{new.version}\n\n"
                f"uri: {new.uri}\nsha256: {new.sha256}\nsize: {new.size}\n({where})\n"
                + (f"reason: {' '.join(reason.split())}\n" if reason.strip() else ""),
        files={version_file(model, target.number): version_bytes(updated)},
        paths=[model_path(model)], result=new)


def unlink_artifact(snap: Snapshot, model: str, spec: object, name: str, version: int | None = None,
                    reason: str = "") -> Change:
    state = snap.require(model)
    target = state.resolve(spec)
    links = list(target.links(name))
    if version is not None:
        links = [a for a in links if a.version == version]
    if not links:
        raise ArtifactNotFoundError(model, target.number, name if version is None else f"{name} v{version}")
    drop = {(a.name, a.version) for a in links}
    updated = replace(target, artifacts=tuple(a for a in target.artifacts if (a.name, a.version) not in drop))
    versions = ", ".join(f"v{a.version}" for a in links)
    return Change(message=f"{model} v{target.number}: unlink artifact {name} ({versions}){reason_line(reason)}",
                  files={version_file(model, target.number): version_bytes(updated)},
                  paths=[model_path(model)], result=links)


def unlink_all_artifacts(snap: Snapshot, model: str, spec: object, reason: str = "") -> Change | None:
    """Unlink every artifact of a model version (None: it has none)."""
    state = snap.require(model)
    target = state.resolve(spec)
    if not target.artifacts:
        return None
    updated = replace(target, artifacts=())
    return Change(message=f"{model} v{target.number}: unlink all artifacts ({len(target.artifacts)} link(s))"
                          f"{reason_line(reason)}",
                  files={version_file(model, target.number): version_bytes(updated)},
                  paths=[model_path(model)], result=list(target.artifacts))


__all__ = [
    "Change", "create_model", "update_model", "delete_model", "register_version", "update_version",
    "delete_version", "set_alias", "delete_alias", "log_metadata", "link_artifact", "unlink_artifact",
    "unlink_all_artifacts", "validate_name", "validate_version_name",
]
