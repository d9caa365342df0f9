"""The one error hierarchy of gitreg.

Every error a user can cause is a :class:`GitregError`.  Subclasses carry the
facts (model name, version, path, field) as attributes so that callers can act
on them without parsing messages.  The CLI maps each class to an exit code in
one place (:mod:`gitreg.cli.app`).
"""

from __future__ import annotations


class GitregError(Exception):
    """Base class of every error gitreg raises on purpose."""

    exit_code = 1
    #: The message in the command line's words (``--force`` for ``force=True``), when they differ.
    cli_message: str | None = None

    def __init__(self, message: str, *, cli_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if cli_message is not None:
            self.cli_message = cli_message

    def __str__(self) -> str:
        return self.message


class InvalidNameError(GitregError, ValueError):
    """A model, version, artifact, tag or stage name is not allowed."""

    exit_code = 2

    def __init__(self, kind: str, value: object, reason: str) -> None:
        super().__init__(f"invalid {kind} name {value!r}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


class NearModelNameError(InvalidNameError):
    """A model that does not exist would be created under a name one edit from existing ones
    (``suggestions``): a typo, most likely.  ``command``: the command line that creates it anyway."""

    def __init__(self, model: str, suggestions: list[str] | tuple[str, ...], command: str | None = None) -> None:
        guess = " or ".join(repr(s) for s in suggestions)
        head = f"model {model!r} does not exist; did you mean {guess}?"
        GitregError.__init__(
            self, f"{head} A new model one edit from an existing model's name is refused as a likely typo"
                  " (refuse_near_names=True); call without it to create it",
            cli_message=f"{head} To register {model!r} as a new model, run: {command}" if command else None)
        self.kind = "model"
        self.value = model
        self.reason = "one edit from " + guess
        self.model = model
        self.suggestions = tuple(suggestions)
        self.command = command


class InvalidValueError(GitregError, ValueError):
    """An argument has a value gitreg cannot accept (not a name)."""

    exit_code = 2


class NotARegistryError(GitregError):
    """The path is not inside a git repository holding a gitreg registry."""

    exit_code = 3

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


class BareRepositoryError(NotARegistryError):
    """The path is in a bare git repository: gitreg works on one only by URL (through a cached clone)."""


class NotFoundError(GitregError, KeyError):
    """Something looked up does not exist.  KeyError-compatible."""

    exit_code = 4

    # KeyError.__str__ would quote the message; keep it readable.
    def __str__(self) -> str:
        return self.message


class ModelNotFoundError(NotFoundError):
    """``suggestions``: existing model names close to the one asked for (a typo, most likely)."""

    def __init__(self, model: str, suggestions: list[str] | tuple[str, ...] = ()) -> None:
        if suggestions:
            guess = " or ".join(repr(s) for s in suggestions)
            text = f"model {model!r} does not exist; did you mean {guess}? (see `gitreg model list`)"
        else:
            text = (f"model {model!r} does not exist (see `gitreg model list`, or register it with"
                    f" `gitreg model register {model}`)")
        super().__init__(text)
        self.model = model
        self.suggestions = tuple(suggestions)


class VersionNotFoundError(NotFoundError):
    def __init__(self, model: str, version: object, hint: str = "") -> None:
        text = f"model {model!r} has no version {version!r}"
        super().__init__(text + (f" ({hint})" if hint else ""))
        self.model = model
        self.version = version


class ArtifactNotFoundError(NotFoundError):
    def __init__(self, model: str, version: int, artifact: str, hint: str = "") -> None:
        text = f"model {model!r} version {version} has no artifact {artifact!r}"
        super().__init__(text + (f" ({hint})" if hint else ""))
        self.model = model
        self.version = version
        self.artifact = artifact


class AlreadyExistsError(GitregError):
    """``hint`` says what to do instead (``cli_hint``: the same in the command line's words)."""

    exit_code = 5

    def __init__(self, what: str, name: str, hint: str = "", cli_hint: str = "") -> None:
        text = f"{what} {name!r} already exists"
        super().__init__(text + (f": {hint}" if hint else ""),
                         cli_message=text + f": {cli_hint}" if cli_hint else None)
        self.what = what
        self.name = name
        self.hint = hint
        self.cli_hint = cli_hint or hint


class StageConflictError(GitregError):
    """An exclusive stage is held by another version and force was not given."""

    exit_code = 6

    def __init__(self, model: str, stage: str, holder: int, wanted: int) -> None:
        text = (f"model {model!r}: stage {stage!r} is held by version {holder}; pass {{}} to move version {wanted}"
                f" there and archive version {holder}")
        super().__init__(text.format("force=True"), cli_message=text.format("--force"))
        self.model = model
        self.stage = stage
        self.holder = holder
        self.wanted = wanted


class AliasConflictError(StageConflictError):
    """An alias points at another version and force was not given (an alias moves; no version is archived)."""

    def __init__(self, model: str, alias: str, holder: int, wanted: int) -> None:
        text = (f"model {model!r}: alias {alias!r} points at version {holder}; pass {{}} to point it at version"
                f" {wanted} instead")
        GitregError.__init__(self, text.format("force=True"), cli_message=text.format("--force"))
        self.model = model
        self.stage = alias
        self.alias = alias
        self.holder = holder
        self.wanted = wanted


class ManifestError(GitregError):
    """A manifest does not parse or does not validate against its schema.

    ``code``: the `gitreg check` finding it is (see gitreg.check.FINDINGS): ``schema``, or ``yaml-type``
    for a value JSON has no word for (a YAML date, binary, set, tag, or a key that is not a string).
    """

    exit_code = 7

    def __init__(self, path: str, field: str, problem: str, *, code: str = "schema") -> None:
        where = f"{path}:{field}" if field else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.field = field
        self.problem = problem
        self.code = code


#: The command that discards staged, unstaged and new files under .mcp/ (run from the repository's top).
DISCARD_MCP_CHANGES = "git restore --source=HEAD --staged --worktree -- .mcp && git clean -fq -- .mcp"


class DirtyManifestsError(GitregError):
    """Uncommitted changes under .mcp/ would be overwritten by a write."""

    exit_code = 8

    def __init__(self, paths: list[str]) -> None:
        shown = ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")
        super().__init__(
            f"uncommitted changes to registry files ({shown}); commit them (a hand edit is"
            f" legitimate once committed) or discard them with `{DISCARD_MCP_CHANGES}`, then retry"
        )
        self.paths = paths


class GitError(GitregError):
    """git itself failed; the message carries git's own words."""

    exit_code = 9


class ConcurrentWriteError(GitregError):
    """A write kept losing the race for the branch head."""

    exit_code = 10


class ArtifactStoreError(GitregError):
    """The artifact store could not be reached or written."""

    exit_code = 11


class MissingBytesError(ArtifactStoreError):
    """An artifact's bytes are not in the store. ``in_clone``: the store is a folder inside the repository (the
    default ``.gitreg/store``, which git ignores), so what another clone saved is on the machine that saved it."""

    def __init__(self, uri: str, store: str, in_clone: bool) -> None:
        if in_clone:
            text = (f"{uri} is not in this clone's artifact store ({store}, a folder git does not share): the bytes"
                    " live on the machine that saved them. Copy that folder from there (e.g. `rsync -a"
                    f" HOST:REPO/{store}/ {store}/`), or keep a team's bytes in a shared store from the start:"
                    " `gitreg init --store s3://BUCKET/PREFIX` (gs://, az://, a network folder). If it was saved"
                    " in this clone, it has been deleted")
        else:
            text = (f"{uri} is missing from the artifact store; was it deleted or is the store URI in"
                    " .mcp/registry.yaml pointing elsewhere?")
        super().__init__(text)
        self.uri = uri
        self.store = store
        self.in_clone = in_clone


class IntegrityError(GitregError):
    """Bytes read from the store do not match the recorded hash."""

    exit_code = 12

    def __init__(self, uri: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{uri}: content hash mismatch (expected sha256 {expected[:16]}..., got"
            f" {actual[:16]}...); the stored bytes were changed or corrupted, refusing to load"
        )
        self.uri = uri
        self.expected = expected
        self.actual = actual


class ArtifactRefusedError(IntegrityError):
    """A link gitreg will not follow: outside the store, code from outside it, or bytes of the wrong size."""

    def __init__(self, uri: str, problem: str) -> None:
        GitregError.__init__(self, f"{uri}: {problem}")
        self.uri = uri
        self.problem = problem
        self.expected = ""
        self.actual = ""


class MaterializerError(GitregError):
    """No materializer can save or load the value."""

    exit_code = 13


class CheckFailedError(GitregError):
    """`gitreg check` found problems."""

    exit_code = 14


class RemoteError(GitregError):
    """The registry's git remote could not be reached or refused an operation."""

    exit_code = 15

    def __init__(self, remote: str, message: str) -> None:
        super().__init__(message)
        self.remote = remote


class AuthenticationError(RemoteError):
    """The git host refused the credentials (or none were available)."""

    exit_code = 16


class StoreAuthenticationError(AuthenticationError, ArtifactStoreError):
    """The artifact store refused the credentials: an authentication error (exit 16) and a store
    error alike, so code that catches either catches it."""

    exit_code = 16


class DivergedError(RemoteError):
    """The local branch and the remote's branch have each moved on."""

    exit_code = 17


class ImportSourceError(GitregError):
    """The registry an import reads (an MLflow registry, a GTO repository) cannot be read; the message says
    what to install or fix."""

    def __init__(self, source: str, location: str, message: str) -> None:
        super().__init__(message)
        self.source = source
        self.location = location


class PipelineError(GitregError):
    """A pipeline or step is misconfigured or used outside a run."""

    exit_code = 18


class UnreadableModelsError(GitregError):
    """A listing showed every model that reads; these did not (`gitreg check` says why)."""

    exit_code = 19

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} model(s) could not be read and are not listed (see the warnings above);"
                         " `gitreg check` says what is wrong")
        self.problems = problems


class FormatTooNewError(GitregError):
    """The registry was written by a newer gitreg, in a format this one cannot read safely."""

    exit_code = 20

    def __init__(self, path: str, found: int, known: int) -> None:
        super().__init__(f"{path}: registry format {found} is newer than this gitreg reads (up to {known});"
                         " upgrade gitreg: `pip install -U gitreg-registry`")
        self.path = path
        self.found = found
        self.known = known


class LocalFileError(GitregError):
    """A local file, folder or socket could not be used: permission denied, a read-only or full file system, a
    folder where a file was expected (or the other way round), an address already in use.  ``path``: the file or
    folder (or address) concerned; ``errno``: the operating system's error number, when it gave one."""

    exit_code = 21

    def __init__(self, message: str, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class AmbiguousStageError(GitregError):
    """More than one version claims an exclusive stage (a merge of two promotions, or a hand edit): reads of
    that stage name the claimants and the one command that repairs it; other reads go on working."""

    exit_code = 6

    def __init__(self, model: str, stage: str, claimants: tuple[int, ...], detail: str) -> None:
        numbers = " and ".join(str(n) for n in claimants)
        if stage not in ("production", "staging"):  # an alias (see gitreg.stages.validate_alias): it only moves
            repair = f"Client().set_alias({model!r}, {stage!r}, <version>, force=True)"
            super().__init__(f"model {model!r}: alias {stage!r} is claimed by versions {numbers} ({detail}); choose"
                             f" the one it points at and repair with {repair}, which removes it from the others")
        else:
            repair = (f"gitreg model version update {model} <{'|'.join(str(n) for n in claimants)}> --stage {stage}"
                      " --force")
            api = f"Client().update_model_version({model!r}, <version>, stage={stage!r}, force=True)"
            text = (f"model {model!r}: exclusive stage {stage!r} is claimed by versions {numbers} ({detail}); choose"
                    " the one that holds it and repair with {}, which archives the others in one commit")
            super().__init__(text.format(api), cli_message=text.format(f"`{repair}`"))
        self.model = model
        self.stage = stage
        self.claimants = claimants
        self.repair = repair


class FieldNotFoundError(NotFoundError):
    """``--field PATH`` names no value of the object shown."""

    def __init__(self, field: str, available: str, what: str, problem: str) -> None:
        said = f": {problem}" if problem else ""
        super().__init__(f"{what} has no field {field!r}{said} (top-level fields: {available})")
        self.field = field
        self.available = available
        self.problem = problem
