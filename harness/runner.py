"""The runner: models x tasks -> result files, resuming where a previous run stopped.

For each (model, task, stimulus set) it builds the run key (identity.py) and skips the task when
a result with an equal key exists (unless `overwrite`); the rest share one forward pass per
stimulus set (cached on disk), then each task's metric runs on the pooled arrays and its result
is written atomically before the next task starts.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audioprobe.cache import ActivationCache, save_layers
from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.extract import Extractor
from audioprobe.files import file_lock
from audioprobe.identity import SCHEMA_VERSION, ModelKey, RunKey
from audioprobe.models.registry import create_model
from audioprobe.results import (
    SUMMARY_FILE,
    build_result,
    model_dir,
    model_label,
    read_replicates,
    read_result,
    result_path,
    safe_name,
    set_folder,
    write_result,
)
from audioprobe.stimuli import StimulusSet, resolve_dataset
from audioprobe.summaries import SUMMARY_VERSION, rdm_bytes, read_summary, store_rdms, summarise, write_summary
from audioprobe.taskconfig import TaskConfig, task_sets
from audioprobe.tasktypes import TASK_TYPES, EvalContext

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunOptions:
    output_dir: Path = Path("results")
    device: str = "auto"
    batch_size: int = 16
    limit: int | None = None
    seed: int = 0
    overwrite: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    save_activations: Path | None = None
    #: run every task on these stimulus sets instead of the one it names (a str: one set)
    data: str | list[str] | None = None
    suite: Any = None  # the audioprobe.suites.Suite the sets come from: a suite result per (model, task)
    progress: bool = True
    precision: str = "fp32"  # fp32 | fp16 | bf16 (autocast on the forward pass)
    #: where there is no progress bar (not a terminal, a sweep job's log): status(text) gets a line every few
    #: seconds of a long extraction (extract.run_model); None: silent
    status: Any = None


#: Folder of the results directory that holds the tracebacks of tasks that failed (`Runner.task_failed`).
FAILURES_FOLDER = "failures"


def placeholder(model: str, task: TaskConfig, stimset: StimulusSet | None, **why: str) -> dict:
    """A row for the printed table of a task that gave no result (`not_applicable` or `failed`: why); never
    written to disk."""
    where = stimset.describe() if stimset is not None else {"name": "(none)", "n_sounds": 0}
    return {"model": {"name": model}, "task": {"name": task.name}, "dataset": where, **why}


def not_applicable(model: str, task: TaskConfig, stimset: StimulusSet | None, reason: str) -> dict:
    return placeholder(model, task, stimset, not_applicable=reason)


def rescue_result(path: Path, output_dir: Path, result: dict, sidecar: bytes | None, exc: OSError) -> str:
    """Write a result that could not be written to `path` into `files.rescue_dir()`; say where."""
    from audioprobe.files import rescue_dir

    spare = rescue_dir() / Path(path).relative_to(output_dir)
    try:
        write_result(spare, result, sidecar)
        where = f"it was saved to {spare} instead; copy it to {path} once the folder is writable"
    except OSError:
        where = "it could not be saved elsewhere either (its activations are cached: a re-run recomputes only the metric)"
    return f"{path}: cannot write the result ({exc.strerror or exc}); {where}."


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AudioprobeError("--device cuda: no CUDA device is available here; use --device cpu or auto.")
    if device != "cpu" and not device.startswith("cuda"):
        raise AudioprobeError(f"--device {device!r}: choose auto, cpu or cuda.")
    return device


def write_suite_results(output_dir: Path, suite, seed: int, results: list[dict], tasks: list[TaskConfig],
                        fingerprints: list[str]) -> None:
    """One suite result per task from a model's per-set results (`not_applicable` rows included: they are
    the suite's missing sets), ordered as `fingerprints` (the suite's sets), filed under the results' own
    model label (`results.result_label`: the model with its --model-args). Used by the runner after a
    model's sets, and by a sweep (launch.py) once every job of the model has finished."""
    from audioprobe.results import result_label
    from audioprobe.suites import build_suite_result, suite_path, write_suite_result

    order = {fp: k for k, fp in enumerate(fingerprints)}
    for task in tasks:
        mine = sorted((r for r in results if r["task"]["name"] == task.name and "not_applicable" not in r
                       and "failed" not in r), key=lambda r: order.get(r["dataset"]["fingerprint"], len(order)))
        missing = [r["dataset"]["name"] for r in results if r["task"]["name"] == task.name
                   and ("not_applicable" in r or "failed" in r)]
        if not mine:
            continue
        suite_result = build_suite_result(suite, mine, missing, seed)
        write_suite_result(suite_path(output_dir, suite.name, result_label(mine[0]), task.name), suite_result)


class RunObserver:
    """What the runner tells whoever watches a run (a terminal's progress lines, a sweep job's state file).

    Each hook is a no-op here; an observer overrides those it needs (or, without subclassing, defines only
    those). Observers watch: they may stop a run by raising (a task file naming a dimension its set
    lacks), but never change what is computed."""

    def set_used(self, spec: str, stimset: StimulusSet, task: TaskConfig | None) -> None:
        """Stimulus set `spec` is used for `task` (None: not for one task); called on every use."""

    def task_started(self, model: str, task: TaskConfig) -> None:
        """`model` (its label) starts evaluating `task`, its activations in hand."""

    def task_evaluated(self, model: str, task: TaskConfig, seconds: float) -> None:
        """The task's result is written."""

    def task_not_applicable(self, model: str, task: TaskConfig) -> None:
        """The task cannot be scored on this set (a placeholder stands for it)."""

    def task_ended(self, model: str, task: TaskConfig) -> None:
        """The task is over, whatever the outcome (written, not applicable, failed)."""

    def model_done(self, model: str, results: list[dict]) -> None:
        """Every task of `model` is over; `results` includes reused ones (`_reused`) and placeholders."""


class Runner:
    def __init__(self, options: RunOptions, observers: tuple[RunObserver, ...] = ()):
        self.opt = options
        self.observers = tuple(observers)
        self.device = resolve_device(options.device)
        self.cache = ActivationCache(options.cache_dir) if options.use_cache else None
        self._sets: dict[str, StimulusSet] = {}
        self._controls: dict[str, Extractor] = {}
        self._summarised: set[Path] = set()  # set folders whose summary this run has checked

    def _notify(self, hook: str, *args) -> None:
        for observer in self.observers:  # an observer may define only the hooks it needs
            method = getattr(observer, hook, None)
            if method is not None:
                method(*args)

    @property
    def sets(self) -> dict[str, StimulusSet]:
        """The stimulus sets this run has loaded, by spec."""
        return dict(self._sets)

    def specs(self, task: TaskConfig) -> list[str]:
        """The stimulus sets a task runs on (`taskconfig.task_sets`)."""
        return task_sets(task, self.opt.data)

    def stimulus_set(self, spec: str, task: TaskConfig | None = None) -> StimulusSet:
        """The set `spec` names (loaded once per run; cut to --limit). `task`: the task it is loaded for."""
        if spec not in self._sets:
            stimset = resolve_dataset(spec)
            if self.opt.limit is not None:
                if self.opt.limit < 2:
                    raise AudioprobeError("--limit must be at least 2 (RSA needs pairs of sounds).")
                stimset = stimset.head(self.opt.limit)
            if self.opt.data and not isinstance(self.opt.data, str):  # several sets: none may be listed twice
                fp = stimset.fingerprint()
                twin = next((other for other, s in self._sets.items() if s.fingerprint() == fp), None)
                if twin is not None:
                    raise AudioprobeError(f"{spec} and {twin} are the same stimulus set (fingerprint {fp[:12]}): "
                                          f"listed twice, it would count twice in every mean over sets. List it once.")
            self._sets[spec] = stimset
        self._notify("set_used", spec, self._sets[spec], task)
        return self._sets[spec]

    def run(self, models: list[tuple[str, dict[str, Any]]], tasks: list[TaskConfig]) -> list[dict]:
        """Evaluate every model on every task and set; return the results (reused ones included), and
        write the suite results when the sets come from a suite."""
        results = []
        for name, args in models:
            done = self.run_model(name, args, tasks)
            if self.opt.suite is not None:
                self.write_suite_results(done, tasks)
            results.extend(done)
        return results

    def write_suite_results(self, results: list[dict], tasks: list[TaskConfig]) -> None:
        """One suite result per task from this model's per-set results, in the suite's order."""
        write_suite_results(self.opt.output_dir, self.opt.suite, self.opt.seed, results, tasks,
                            [self._sets[spec].fingerprint() for spec in self.specs(tasks[0])])

    def run_model(self, name: str, args: dict[str, Any], tasks: list[TaskConfig]) -> list[dict]:
        model = create_model(name, args, self.device)
        extractor = Extractor(model, self.opt.batch_size, self.cache, self.opt.progress, self.opt.precision,
                              self.opt.status)
        # results, logs and rows name the model by its label: a setting with other --model-args is another model
        label = model_label(name, extractor.key.args)
        out: list[dict] = []
        todo: dict[str, list[tuple[TaskConfig, RunKey]]] = {}
        for task in tasks:
            specs = self.specs(task)
            if not specs:
                out.append(not_applicable(label, task, None, f"task {task.name!r} names no stimulus set; give one "
                                                            f"with --data (a folder, a name, hf:ORG/NAME or a suite)"))
                continue
            for spec in specs:
                stimset = self.stimulus_set(spec, task)
                key = self.run_key(extractor.key, task, stimset)
                path = self.result_path(stimset, label, task)
                if path.is_file() and not self.opt.overwrite:
                    try:
                        old = read_result(path)
                        if "replicates" in old:
                            read_replicates(path, old)  # its arrays must be there and intact, or it is redone
                    except AudioprobeError:
                        old = None  # unreadable, another schema or damaged replicates: recompute
                    if old is not None and old.get("run_key") == key.as_dict():
                        log.info("%s / %s: a result with the same run key exists, reused", label, task.name)
                        old["_reused"] = True
                        out.append(old)
                        continue
                todo.setdefault(spec, []).append((task, key))
        used = list(dict.fromkeys(spec for t in tasks for spec in self.specs(t)))
        for spec in used:
            self.ensure_summary(self._sets[spec])
        if self.opt.save_activations is not None:
            for spec in used:
                todo.setdefault(spec, [])
        for spec, set_tasks in todo.items():
            stimset = self._sets[spec]
            poolings = {p for t, _ in set_tasks for p in TASK_TYPES[t.type].poolings(t.params)}
            if self.opt.save_activations is not None:
                poolings.add("mean")
            acts, info = extractor.extract(stimset, sorted(poolings))
            if self.opt.save_activations is not None:
                fp = stimset.fingerprint()
                target = model_dir(self.opt.save_activations, stimset.name, fp, label) / "activations.npz"
                save_layers(target, acts["mean"], sound_ids=np.array(stimset.sound_ids, dtype=str))
            for task, key in set_tasks:
                try:
                    out.append(self.evaluate(label, model, key, task, stimset, acts, info))
                except NotApplicableError as exc:
                    log.warning("%s / %s: not applicable: %s", label, task.name, exc)
                    out.append(not_applicable(label, task, stimset, str(exc)))
                except AudioprobeError:
                    raise  # a bad input (named by the message): the run stops with it, as before
                except Exception as exc:  # noqa: BLE001 - one task's bug must not end the others
                    out.append(self.task_failed(label, task, stimset, exc))
        self._notify("model_done", label, out)
        return out

    def task_failed(self, model: str, task: TaskConfig, stimset: StimulusSet, exc: Exception) -> dict:
        """A task that raised unexpectedly: its traceback to a log file beside the results (never a result
        file), one line on stderr naming it, and a `failed` row for the summary; the other tasks go on."""
        import traceback

        where = Path(self.opt.output_dir) / FAILURES_FOLDER / f"{safe_name(stimset.name)}-{safe_name(model)}-" \
                                                               f"{safe_name(task.name)}.log"
        text = "".join(traceback.format_exception(exc))
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_text(text, encoding="utf-8")
            log_note = f"traceback in {where}"
        except OSError:
            log_note = "the traceback could not be written; it follows"
            log.error("%s", text)
        line = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        log.error("%s / %s: FAILED: %s (%s)", model, task.name, line, log_note)
        return placeholder(model, task, stimset, failed=f"{line} ({log_note})")

    def set_dir(self, stimset: StimulusSet) -> Path:
        return Path(self.opt.output_dir) / set_folder(stimset.name, stimset.fingerprint())

    def ensure_summary(self, stimset: StimulusSet) -> None:
        """Write the set's summary (dataset.json: figure A1, sound categories) unless a current one is there;
        checked once per set and run, not once per model."""
        set_dir = self.set_dir(stimset)
        if set_dir in self._summarised:
            return
        self._summarised.add(set_dir)
        try:
            current = read_summary(set_dir)
        except AudioprobeError as exc:
            log.warning("%s; writing it again", exc)
            current = None
        if current is None or current["summary_version"] != SUMMARY_VERSION:
            with file_lock(set_dir / SUMMARY_FILE):  # jobs of a sweep share the set's folder: one writes it
                try:
                    current = read_summary(set_dir)
                except AudioprobeError:
                    current = None
                if current is None or current["summary_version"] != SUMMARY_VERSION:
                    write_summary(set_dir, summarise(stimset))

    def result_path(self, stimset: StimulusSet, model_name: str, task: TaskConfig) -> Path:
        return result_path(self.opt.output_dir, stimset.name, stimset.fingerprint(), model_name, task.name)

    def control_extractor(self, model_name: str) -> Extractor:
        """A control model (default args, fp32), created once and read through the same cache."""
        if model_name not in self._controls:
            control = create_model(model_name, {}, self.device)
            self._controls[model_name] = Extractor(control, self.opt.batch_size, self.cache, False)
        return self._controls[model_name]

    def run_key(self, model_key: ModelKey, task: TaskConfig, stimset: StimulusSet) -> RunKey:
        """The one place a run identity is assembled (see identity.py for what it holds and why)."""
        ttype = TASK_TYPES[task.type]
        return RunKey(
            schema_version=SCHEMA_VERSION,
            model=model_key,
            pooling=tuple(ttype.poolings(task.params)),
            task={"name": task.name, "version": task.version, "config_hash": task.config_hash()},
            controls={c: self.control_extractor(c).key for c in ttype.controls(task.params)},
            seed=self.opt.seed,
            stimuli={"name": stimset.name, "fingerprint": stimset.fingerprint()},
        )

    def evaluate(self, name: str, model, key: RunKey, task: TaskConfig, stimset: StimulusSet, acts, info) -> dict:
        """Score one task on pooled activations and write its result; the observers are told."""
        self._notify("task_started", name, task)
        start = time.perf_counter()
        try:
            result = self._evaluate(name, model, key, task, stimset, acts, info)
        except NotApplicableError:
            self._notify("task_not_applicable", name, task)
            raise
        else:
            self._notify("task_evaluated", name, task, time.perf_counter() - start)
            return result
        finally:
            self._notify("task_ended", name, task)

    def _evaluate(self, name: str, model, key: RunKey, task: TaskConfig, stimset: StimulusSet, acts, info) -> dict:
        ttype = TASK_TYPES[task.type]

        def control(model_name: str, pooling: str) -> dict[str, np.ndarray]:
            if model_name not in key.controls:  # a task type reading a control it did not declare: a bug
                raise RuntimeError(f"task type {task.type!r} read control model {model_name!r} without declaring "
                                   f"it in TaskType.controls, so it would be missing from the run key")
            return self.control_extractor(model_name).extract(stimset, [pooling])[0][pooling]

        rdm_files: dict[str, bytes] = {}

        def keep_rdm(condensed: np.ndarray) -> str:
            data, sha = rdm_bytes(condensed)
            rdm_files[sha] = data
            return sha

        ctx = EvalContext(task=task.name, seed=self.opt.seed,
                          control=control, keep_rdm=keep_rdm, device=self.device)
        start = time.perf_counter()
        scores = ttype.evaluate(acts, stimset, task.params, ctx)
        metric_s = time.perf_counter() - start
        result, sidecar = build_result(key=key, task=task, model_meta=model.meta.as_dict(),
                                       resolved_revision=info.get("revision"), dataset=stimset.describe(),
                                       scores=scores, device=self.device, extract_s=info["extract_s"],
                                       metric_s=metric_s, activations_cached=info["cached"],
                                       replicates=ctx.replicates, resampling=ctx.resampling)
        path = self.result_path(stimset, name, task)
        try:
            store_rdms(self.set_dir(stimset), rdm_files)  # before the result that refers to them
            with file_lock(path):  # a result and its replicates file are a pair: one writer at a time
                write_result(path, result, sidecar)
        except OSError as exc:  # a computed result is never lost to a write error
            raise AudioprobeError(rescue_result(path, self.opt.output_dir, result, sidecar, exc)) from None
        return result
