"""``@pipeline`` and ``@step``: run training code in-process and record it in the registry.

    @step
    def train(data: pd.DataFrame) -> Annotated[ClassifierMixin, "trained_model"]: ...

    @pipeline(model=Model("iris_classifier", license="MIT"))
    def training(gamma: float = 0.001):
        train(load())

    training()                                          # one run, one new version: a start and an end commit
    training.with_options(config_path="run.yaml")()     # model:, parameters:, steps: <step>: ...

Calling the pipeline runs its body eagerly, step by step.  Every step output is saved
through the artifact store and linked to the step's model version; a step's model
overrides the pipeline's.  ``version=None`` makes exactly one new version per run,
shared by all steps that use that model; any other version is resolved before the
first step runs.  As in ZenML, a version the run creates exists from the run's start:
one commit registers it (with its tag, ``created_by_run: {id, status: running}``) when
the run starts (a step's own model: when its first step starts).  Everything the run
produces waits for its end: then metadata, artifact links, the run
(``.mcp/runs/<id>.yaml``) and the version's final run status are one commit, also
when the run failed (its error is recorded, its artifacts kept, the exception re-raised).
Until then the run's outputs are in the store but linked nowhere: from its first output
on, the run keeps a marker in the store and a lock on its machine (:mod:`gitreg.pipelines.liveness`)
so that garbage collection leaves them alone while it lives, however long its steps take.

Precedence: a step's model (``@step(model=...)``, then ``steps: <step>: model:`` in the
YAML) over the pipeline's (``with_options(model=...)`` or ``@pipeline(model=...)``,
then ``model:`` in the YAML); code over YAML at each level, YAML fields filling what
code leaves unset.  Parameters: the call's arguments, then ``with_options(parameters=)``,
then the YAML's ``parameters:`` (``steps: <step>: parameters:`` for a step's own), then defaults.
"""

from __future__ import annotations

import functools
import inspect
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import ON_CONSUME
from ..errors import InvalidValueError, PipelineError
from ..fastpaths import fast
from ..manifests import CARD_FIELDS, check_json_value
from ..manifests import now_precise as now
from ..model import Model
from ..names import validate_name
from ..state import parse_version_spec
from .context import _RUN, _STEP, PipelineContext, StepContext
from .runs import Output, PendingRun, PendingStep, Slot, record_run, register_versions
from .steps import OutputSpec, fill_placeholders, is_template, output_specs, split_outputs

if TYPE_CHECKING:
    from ..client import Client
    from .liveness import RunLiveness

MODEL_FIELDS = ("name", "version", *CARD_FIELDS, "tags")


# ---------------------------------------------------------------- configuration

def _model_dict(model: Model | Mapping[str, Any] | None) -> dict[str, Any]:
    if model is None:
        return {}
    if isinstance(model, Mapping):
        unknown = set(model) - set(MODEL_FIELDS)
        if unknown:
            raise InvalidValueError(f"unknown model field(s) in the run config: {', '.join(sorted(unknown))};"
                                    f" known: {', '.join(MODEL_FIELDS)}")
        return dict(model)
    out = {"name": model.name, "version": model.requested_version}
    out.update({k: v for k, v in model._card().items() if v is not None})
    if model._tags:
        out["tags"] = list(model._tags)
    return out


def _merge_model(code: Model | None, yaml_model: Mapping[str, Any] | None) -> Model | None:
    """Code's model, with YAML fields filling what code leaves unset (no code model: the YAML's)."""
    if code is None and not yaml_model:
        return None
    values = _model_dict(yaml_model)
    if code is not None:
        values.update({k: v for k, v in _model_dict(code).items() if v is not None or k == "version"})
    if "name" not in values:
        raise InvalidValueError("the run config's model: needs a name (or give model= in code)")
    return Model(values["name"], values.get("version"), **{k: values.get(k) for k in CARD_FIELDS},
                 tags=values.get("tags"), repo=code._repo if code is not None else None)


def _load_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    if path is None:
        return {}
    from ..manifests import parse_yaml

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidValueError(f"cannot read run config {path}: {exc.strerror}") from None
    doc = parse_yaml(data, str(path)) or {}
    if not isinstance(doc, dict):
        raise InvalidValueError(f"{path}: a run config is a mapping with model:, parameters: and steps:")
    unknown = set(doc) - {"model", "parameters", "steps", "substitutions"}
    if unknown:
        raise InvalidValueError(f"{path}: unknown section(s) {', '.join(sorted(unknown))};"
                                " known: model, parameters, steps, substitutions")
    if not isinstance(doc.get("substitutions") or {}, dict):
        raise InvalidValueError(f"{path}: substitutions: maps placeholder names to values")
    for name, section in (doc.get("steps") or {}).items():
        if not isinstance(section, dict) or set(section) - {"model", "parameters"}:
            raise InvalidValueError(f"{path}: steps: {name}: takes model: and parameters:")
    return doc


def _json_safe(value: Any) -> Any:
    try:
        return check_json_value(value, "parameter")
    except (InvalidValueError, TypeError, ValueError):
        return repr(value)


# ---------------------------------------------------------------- steps

def validate_code_name(kind: str, value: object) -> str:
    """A pipeline or step name: a name, except that it may start with ``_`` (Python's private functions)."""
    if isinstance(value, str) and value.startswith("_"):
        rest = value.lstrip("_")
        if not rest:
            validate_name(kind, value)  # the error for a name made of underscores
        validate_name(kind, "x" * (len(value) - len(rest)) + rest)
        return value
    return validate_name(kind, value)


_UNSET: Any = object()


class Step:
    """A function that runs as a recorded step inside a pipeline (and plainly outside one).

    Called inside a running pipeline, ``id=`` names this invocation in the run record (else the
    step's name, then ``<name>_2``, ``<name>_3``, ... for further calls, as in ZenML) and ``after=``
    is accepted (steps run in call order here).
    """

    def __init__(self, func: Callable[..., Any], name: str | None = None, model: Model | None = None,
                 localns: dict[str, Any] | None = None, parameters: Mapping[str, Any] | None = None,
                 substitutions: Mapping[str, Any] | None = None) -> None:
        self.func = func
        self.name = validate_code_name("step", name or func.__name__)
        self.model = model
        self.parameters = dict(parameters or {})
        self.substitutions = {str(k): str(v) for k, v in (substitutions or {}).items()}
        self._localns = localns
        self.outputs, self.as_tuple = output_specs(func, self.name, localns)
        functools.update_wrapper(self, func)
        if self.parameters:
            _check_parameters(f"step {self.name!r}", func, self.parameters)

    def with_options(self, model: Model | None = _UNSET, parameters: Mapping[str, Any] | None = None,
                     substitutions: Mapping[str, Any] | None = None, name: str | None = None) -> Step:
        """A configured copy (ZenML's ``Step.with_options``): its model, parameters (merged over this
        step's), substitutions for version name placeholders (merged too), and name."""
        return Step(self.func, name if name is not None else self.name, self.model if model is _UNSET else model,
                    self._localns, {**self.parameters, **dict(parameters or {})},
                    {**self.substitutions, **{str(k): str(v) for k, v in (substitutions or {}).items()}})

    def __call__(self, *args: Any, id: str | None = None, after: Any = None, **kwargs: Any) -> Any:
        run = _RUN.get()
        if run is None or _STEP.get() is not None:
            if id is not None or after is not None:
                kwargs = {**kwargs, **({"id": id} if id is not None else {}),
                          **({"after": after} if after is not None else {})}
            return self.func(*args, **kwargs)
        return run.run_step(self, args, kwargs, id)

    def __repr__(self) -> str:
        return f"<step {self.name}>"


def _check_parameters(where: str, func: Callable[..., Any], parameters: Mapping[str, Any]) -> None:
    signature = inspect.signature(func)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    for key in parameters:
        if key not in signature.parameters and not takes_any:
            raise InvalidValueError(f"{where} has no parameter {key!r}")


def step(func: Callable[..., Any] | None = None, *, name: str | None = None, model: Model | None = None,
         substitutions: Mapping[str, Any] | None = None) -> Any:
    """``@step`` or ``@step(name=..., model=Model(...), substitutions={...})``."""
    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None
    localns = dict(caller.f_locals) if caller is not None else None  # names of the defining scope
    if func is not None:
        return Step(func, name, model, localns, substitutions=substitutions)
    return lambda f: Step(f, name, model, localns, substitutions=substitutions)


# ---------------------------------------------------------------- the run

@dataclass
class RunResult:
    """What calling a pipeline returns: the recorded run."""

    id: str
    pipeline: str
    status: str
    versions: dict[str, list[int]]   # model -> the version numbers this run used or produced
    output: Any = None               # what the pipeline function returned


class ActiveRun:
    def __init__(self, pipeline: Pipeline, client: Any, pending: PendingRun, config: dict[str, Any],
                 model: Model | None) -> None:
        self.pipeline = pipeline
        self.client = client
        self.pending = pending
        self.config = config
        self.when = datetime.now(UTC)  # what {date} and {time} in version names mean in this run
        self.substitutions = {**{str(k): str(v) for k, v in (config.get("substitutions") or {}).items()},
                              **pipeline.substitutions}
        self.bound: dict[tuple[str, str], Model] = {}
        self.produced: dict[int, tuple[Any, Output]] = {}  # id(value) -> (value kept alive, its output)
        self.current_step: PendingStep | None = None
        self.invocations: set[str] = set()
        self._liveness: RunLiveness | None = None  # from the first stored output on
        self._template = model
        self.context = PipelineContext(pipeline.name, pending.id, pending.parameters, None)

    def start(self) -> None:
        """Bind the pipeline's model: a version this run creates is registered now (one commit)."""
        if self._template is not None:
            self.context = replace(self.context, _model=self.bind(self._template))

    def _key(self, model: str, spec: object) -> tuple[str, str]:
        if spec is None:
            return model, "<new>"
        kind, value = parse_version_spec(spec)
        return model, f"{kind}:{value}"

    def bind(self, template: Model, substitutions: Mapping[str, str] | None = None) -> Model:
        """This run's version of ``template``: resolved (existing) or registered now (new), once per run."""
        spec = template.requested_version
        if is_template(spec):
            spec = fill_placeholders(str(spec), {**self.substitutions, **(substitutions or {})}, self.when)
        key = self._key(template.name, spec)
        if key in self.bound:
            return self.bound[key]
        card = template._card()
        slot: Slot
        if spec is None:
            slot = Slot(template.name, None, new=True, card=card, model_tags=list(template._tags))
        else:
            kind, value = parse_version_spec(spec)
            existing = None
            if kind == "name":
                validate_name("version", value)
                state = self.client.registry.snapshot().model(template.name)
                existing = state.by_name(value) if state is not None else None
                if existing is None:
                    slot = Slot(template.name, None, new=True, version_name=value, card=card,
                                model_tags=list(template._tags))
            else:
                existing = self.client.get_model_version(template.name, spec)  # a missing stage fails here
            if existing is not None:
                from ..model import warn_config_mismatch

                warn_config_mismatch(template.name, template._description, template._tags, existing)
                slot = Slot(template.name, existing.number)
        if slot.new:
            self.register(slot)
        self.pending.slots.append(slot)
        bound = Model(template.name, spec, **template._card(), tags=template._tags, repo=template._repo)
        bound._bind(self, slot)
        self.bound[key] = bound
        return bound

    def consume(self, registry_root: str, model: str, number: int) -> None:
        """A step of this run loaded an artifact of ``model`` version ``number``: the run is then recorded on
        that version (its ``runs``) and the version in the run's models, as ZenML links a run to the model
        versions whose artifacts it consumed.  Artifacts of another registry are not this run's business."""
        if str(self.client.registry.root) != registry_root:
            return
        if any(s.model == model and s.number == number for s in self.pending.slots):
            return
        self.pending.slots.append(Slot(model, number, consumed=True))

    def register(self, slot: Slot) -> None:
        """The commit that makes the new version exist (with its number and tag) while the run goes on."""
        committed = self.client.registry.transact(lambda snap: register_versions(snap, self.pending, [slot]),
                                                  scope=slot.model)
        slot.number = committed.result.numbers[id(slot)]
        slot.created = id(slot) in committed.result.created

    def own_model(self, step: Step, invocation: str | None = None) -> Model | None:
        """The step's own model template (code, then YAML), if it has one."""
        yaml_step = self.yaml_step(step, invocation)
        return _merge_model(step.model, yaml_step.get("model")) if step.model or yaml_step.get("model") else None

    def yaml_step(self, step: Step, invocation: str | None = None) -> dict[str, Any]:
        steps = self.config.get("steps") or {}
        return (steps.get(invocation) if invocation else None) or steps.get(step.name) or {}

    def check_model(self, step: Step) -> None:
        """Resolve the step's own model now if it names an existing version (a missing stage fails here)."""
        own = self.own_model(step)
        if own is not None and own.requested_version is not None \
                and parse_version_spec(own.requested_version)[0] != "name":
            self.client.get_model_version(own.name, own.requested_version)

    def step_model(self, step: Step, invocation: str | None = None) -> Model | None:
        own = self.own_model(step, invocation)
        if own is not None:
            return self.bind(own, step.substitutions)
        if step.substitutions and self._template is not None and is_template(self._template.requested_version):
            return self.bind(self._template, step.substitutions)  # the pipeline's model, with this step's values
        return self.context._model

    def alive(self) -> RunLiveness:
        """The run's marker in the store and its lock (see gitreg.pipelines.liveness), started on first use."""
        if self._liveness is None:
            from .liveness import RunLiveness

            registry = self.client.registry
            self._liveness = RunLiveness(registry.store(), self.pending.id, self.pipeline.name,
                                         registry.repo.cache_dir.parent / "runs")
        return self._liveness

    def end(self) -> None:
        """The run is recorded, or never will be: its outputs need no more protection."""
        if self._liveness is not None:
            self._liveness.close()

    def save_output(self, value: Any, name: str, artifact_type: str | None, slot: Slot | None,
                    step: PendingStep | None, spec: OutputSpec | None = None) -> Output:
        from ..artifacts import save_object

        link = save_object(self.client.registry, value, name, artifact_type, run=self.pending.id,
                           step=step.name if step else None)
        if spec is not None and spec.version is not None and slot is not None:
            self._check_fixed_version(slot, link.name, spec.version, link.sha256)
        self.alive().wrote(link.sha256)  # garbage collection keeps it until the run is recorded
        output = Output(link, slot, step.name if step else None, spec.version if spec else None,
                        spec.tags if spec else ())
        if slot is not None:
            slot.links.append(output)
        if step is not None:
            step.outputs.append(output)
        if value is not None and not isinstance(value, bool):
            self.produced[id(value)] = (value, output)
        return output

    def _check_fixed_version(self, slot: Slot, name: str, version: int, sha256: str) -> None:
        """An output with a fixed artifact version (``ArtifactConfig(version=)``) that the model has already:
        the same bytes on the same version are that link again (a step run again on an existing version);
        anything else is refused, saying how to go on, as artifact versions never change."""
        state = self.client.registry.snapshot().model(slot.model)
        if state is None:
            return
        for existing in state.versions:
            for link in existing.links(name):
                if link.version != version:
                    continue
                if existing.number == slot.number and link.sha256 == sha256:
                    return
                raise PipelineError(
                    f"artifact {name!r} version {version} exists already on {slot.model} v{existing.number}"
                    f" (sha256 {link.sha256[:12]}), with other bytes than this step's output: artifact versions never"
                    f" change, so a step run again on an existing version cannot replace it. Leave"
                    f" ArtifactConfig(version=...) out to get the next version ({state.artifact_versions[name] + 1}),"
                    f" or run on a new model version (Model({slot.model!r}) without version=)")

    def invocation_id(self, step: Step, requested: str | None) -> str:
        """The name of this call in the run record: ``id=`` (unique), else the step's name, ``_2``, ..."""
        if requested is not None:
            validate_code_name("step id", requested)
            if requested in self.invocations:
                raise PipelineError(f"step id {requested!r} is used twice in pipeline {self.pipeline.name!r};"
                                    " give every call its own id=")
            chosen = requested
        else:
            chosen, n = step.name, 1
            while chosen in self.invocations:
                n += 1
                chosen = f"{step.name[:100 - len(str(n)) - 1]}_{n}"
        self.invocations.add(chosen)
        return chosen

    def output_slot(self, spec: OutputSpec, default: Slot | None, step: Step) -> Slot | None:
        """The model version an output goes to: ``ArtifactConfig(model_name=, model_version=)``, else the step's."""
        if spec.model_name is None:
            return default
        return self.bind(Model(spec.model_name, spec.model_version), step.substitutions)._slot

    def run_step(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any],
                 requested_id: str | None = None) -> Any:
        invocation = self.invocation_id(step, requested_id)
        yaml_params = self.yaml_step(step, invocation).get("parameters") or {}
        signature = inspect.signature(step.func)
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(f"step {invocation!r}: {exc}") from None
        for key, value in step.parameters.items():  # with_options(parameters=): after the call's arguments
            bound.arguments.setdefault(key, value)
        for key, value in yaml_params.items():
            if key not in signature.parameters:
                raise InvalidValueError(f"run config: step {invocation!r} has no parameter {key!r}")
            bound.arguments.setdefault(key, value)
        model = self.step_model(step, invocation)  # a new version of the step's own model: registered now
        pending = PendingStep(invocation, now(), model._slot if model is not None else None)
        self.pending.steps.append(pending)
        for key, value in bound.arguments.items():
            known = self.produced.get(id(value))
            if known is not None and known[0] is value:
                pending.inputs[key] = known[1]
            else:
                pending.parameters[key] = _json_safe(value)
        token = _STEP.set(StepContext(invocation, self.pipeline.name, self.pending.id, model))
        self.current_step = pending
        try:
            result = step.func(*bound.args, **bound.kwargs)
            for spec, value in split_outputs(result, step.outputs, step.as_tuple, step.name):
                slot = self.output_slot(spec, pending.slot, step)
                self.save_output(value, spec.name, spec.type, slot, pending, spec)
        except BaseException as exc:
            pending.status, pending.ended, pending.error = "failed", now(), _describe(exc)
            raise
        finally:
            _STEP.reset(token)
            self.current_step = None
        pending.status, pending.ended = "completed", now()
        return result


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _referenced_steps(func: Callable[..., Any]) -> list[Step]:
    """Steps the pipeline body names (globals and closure), to resolve their models before running."""
    names = set(func.__code__.co_names) | set(func.__code__.co_freevars)
    scope = dict(func.__globals__)
    for cell_name, cell in zip(func.__code__.co_freevars, func.__closure__ or ()):
        try:
            scope[cell_name] = cell.cell_contents
        except ValueError:
            pass
    return [scope[n] for n in sorted(names) if isinstance(scope.get(n), Step)]


def _run_id(pipeline: str) -> str:
    """``<pipeline>-<UTC time>-<random>``; a leading ``_`` of the pipeline's name is left out (a run id
    is a name: it starts with a letter or a digit)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{(pipeline.lstrip('_') or 'run')[:60]}-{stamp}-{uuid.uuid4().hex[:8]}"


@dataclass
class Pipeline:
    func: Callable[..., Any]
    name: str
    model: Model | None = None
    config_path: str | os.PathLike[str] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    repo: str | os.PathLike[str] | None = None
    substitutions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_code_name("pipeline", self.name)
        self.substitutions = {str(k): str(v) for k, v in self.substitutions.items()}
        functools.update_wrapper(self, self.func)

    def with_options(self, config_path: str | os.PathLike[str] | None = None, model: Model | None = None,
                     parameters: Mapping[str, Any] | None = None,
                     repo: str | os.PathLike[str] | None = None,
                     substitutions: Mapping[str, Any] | None = None) -> Pipeline:
        """A configured copy: a YAML run config, a model, parameters, substitutions for the placeholders
        of version names (each overriding this one's)."""
        return Pipeline(self.func, self.name, model if model is not None else self.model,
                        config_path if config_path is not None else self.config_path,
                        {**self.parameters, **dict(parameters or {})}, repo if repo is not None else self.repo,
                        {**self.substitutions, **{str(k): str(v) for k, v in (substitutions or {}).items()}})

    def __call__(self, *args: Any, **kwargs: Any) -> RunResult:
        if _RUN.get() is not None:
            raise PipelineError(f"pipeline {self.name!r} was called while another pipeline runs")
        config = _load_config(self.config_path)
        model = _merge_model(self.model, config.get("model"))
        signature = inspect.signature(self.func)
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(f"pipeline {self.name!r}: {exc}") from None
        for source in (self.parameters, config.get("parameters") or {}):
            for key, value in source.items():
                if key not in signature.parameters:
                    raise InvalidValueError(f"pipeline {self.name!r} has no parameter {key!r}")
                bound.arguments.setdefault(key, value)
        bound.apply_defaults()
        client = _client_for(self.repo if self.repo is not None else (model._repo if model is not None else None))
        code_state = _start_code_state(self.func)  # git status runs while the run starts
        pending = PendingRun(_run_id(self.name), self.name, now(), {k: _json_safe(v) for k, v in
                                                                     bound.arguments.items()}, None, False)
        run = ActiveRun(self, client, pending, config, model)
        for referenced in _referenced_steps(self.func):  # a missing stage fails before any step runs
            run.check_model(referenced)
        run.start()  # the version this run creates exists from now on (one commit, with its tag)
        token = _RUN.set(run)
        consuming = ON_CONSUME.set(run.consume)
        failure: BaseException | None = None
        output = None
        try:
            output = self.func(*bound.args, **bound.kwargs)
        except BaseException as exc:  # recorded, then re-raised
            failure = exc
        finally:
            ON_CONSUME.reset(consuming)
            _RUN.reset(token)
        pending.status = "failed" if failure is not None else "completed"
        pending.ended = now()
        pending.code_commit, pending.code_dirty = code_state()
        pending.error = _describe(failure) if failure is not None else None
        try:
            client.registry.transact(lambda snap: record_run(snap, pending))
        finally:
            run.end()
        versions: dict[str, list[int]] = {}
        for slot in pending.slots:
            versions.setdefault(slot.model, [])
            if slot.number is not None and slot.number not in versions[slot.model]:
                versions[slot.model].append(slot.number)
        for bound_model in run.bound.values():
            bound_model._settle()
        if failure is not None:
            raise failure
        return RunResult(pending.id, self.name, pending.status, versions, output)


# Registries opened by pipeline runs of this process: (where, working folder, $GITREG_REPO) -> (the git dir's
# identity then, the client).  Reused by the next run, so that its reads start from what the last run knew (the
# ``pipeline-clients`` fast path: with its reference selected, each run opens a client of its own).
_CLIENTS: dict[tuple[Any, ...], tuple[tuple[int, int], Client]] = {}


def _client_for(where: str | os.PathLike[str] | None) -> Client:
    """The client of the registry at ``where`` (see Client), the one the last run here used if it still fits."""
    from ..client import Client

    try:
        here: str | None = os.getcwd()
    except OSError:
        here = None
    key = (os.fspath(where) if where is not None else None, here, os.environ.get("GITREG_REPO"), os.getpid())
    if not fast("pipeline-clients"):
        return Client(where)
    known = _CLIENTS.get(key)
    if known is not None:
        client = known[1]
        if _still_fits(client, known[0]):
            client.registry.finish_interrupted()  # as opening it would
            return client
        del _CLIENTS[key]
    client = Client(where)
    try:
        st = os.stat(client.registry.repo.git_dir)
    except OSError:
        return client
    if len(_CLIENTS) >= 8:
        _CLIENTS.pop(next(iter(_CLIENTS)))
    _CLIENTS[key] = ((st.st_ino, st.st_dev), client)
    return client


def _still_fits(client: Client, identity: tuple[int, int]) -> bool:
    """Whether a client opened earlier still stands for the registry there: the same git dir, and (unless
    opened by URL) the same remote that registry.yaml names for writes."""
    registry = client.registry
    try:
        st = os.stat(registry.repo.git_dir)
    except OSError:
        return False
    if (st.st_ino, st.st_dev) != identity:
        return False
    if registry.remote is not None and registry.remote.cached:
        return True
    from ..errors import GitregError

    try:
        named = registry.snapshot().config.remote
    except GitregError:
        return False
    return named == (registry.remote.name if registry.remote is not None else None)


def _start_code_state(func: Callable[..., Any]) -> Callable[[], tuple[str | None, bool]]:
    """What code runs (HEAD now, and whether it is dirty): asked of git in the background from now on;
    call the result for the answer."""
    import threading

    from ..errors import GitregError
    from ..git import GitRepo

    try:
        source = inspect.getsourcefile(func)
        folder = Path(source).parent if source else Path(os.getcwd())
        repo = GitRepo.discover(folder)
        head = repo.commit_of("HEAD")
    except (GitregError, TypeError, OSError):
        return lambda: (None, False)
    if head is None or repo.bare:
        return lambda: (head, False)
    found: list[bool] = []

    def work() -> None:
        try:
            found.append(repo.code_dirty(source))
        except (GitregError, OSError):
            found.append(False)

    thread = threading.Thread(target=work, name="gitreg-code-state", daemon=True)
    thread.start()

    def result() -> tuple[str | None, bool]:
        thread.join()
        return head, bool(found and found[0])

    return result


def pipeline(func: Callable[..., Any] | None = None, *, name: str | None = None, model: Model | None = None,
             repo: str | os.PathLike[str] | None = None, substitutions: Mapping[str, Any] | None = None) -> Any:
    """``@pipeline`` or ``@pipeline(name=..., model=Model(...), substitutions={...})``."""
    subs = dict(substitutions or {})
    if func is not None:
        return Pipeline(func, name or func.__name__, model, repo=repo, substitutions=subs)
    return lambda f: Pipeline(f, name or f.__name__, model, repo=repo, substitutions=subs)
