"""The runner: models x tasks -> result files, resuming where a previous run stopped.

For each model, tasks whose result already exists for the same configuration, model identity
and stimulus fingerprint are skipped (unless `overwrite`); the rest share one forward pass per
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
from audioprobe.registry import create_model
from audioprobe.results import (SCHEMA_VERSION, now_utc, package_versions, read_result, result_path,
                                safe_name, same_run, write_result)
from audioprobe.stimuli import StimulusSet, resolve_dataset
from audioprobe.taskconfig import TaskConfig
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
    data: str | None = None  # run every task on this stimulus set instead of the one it names
    progress: bool = True
    precision: str = "fp32"  # fp32 | fp16 | bf16 (autocast on the forward pass)


def not_applicable(model: str, task: TaskConfig, stimset: StimulusSet, reason: str) -> dict:
    """A placeholder row for the printed table; never written to disk."""
    return {"model": {"name": model}, "task": {"name": task.name}, "dataset": stimset.describe(),
            "not_applicable": reason}


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AudioprobeError("--device cuda: no CUDA device is available here; use --device cpu or auto.")
    if device != "cpu" and not device.startswith("cuda"):
        raise AudioprobeError(f"--device {device!r}: choose auto, cpu or cuda.")
    return device


class Runner:
    def __init__(self, options: RunOptions):
        self.opt = options
        self.device = resolve_device(options.device)
        self.cache = ActivationCache(options.cache_dir) if options.use_cache else None
        self._sets: dict[str, StimulusSet] = {}
        self._controls: dict[str, Extractor] = {}

    def stimulus_set(self, task: TaskConfig) -> StimulusSet:
        spec = self.opt.data or task.dataset
        if spec not in self._sets:
            stimset = resolve_dataset(spec)
            if self.opt.limit is not None:
                if self.opt.limit < 2:
                    raise AudioprobeError("--limit must be at least 2 (RSA needs pairs of sounds).")
                stimset = stimset.head(self.opt.limit)
            self._sets[spec] = stimset
        return self._sets[spec]

    def run(self, models: list[tuple[str, dict[str, Any]]], tasks: list[TaskConfig]) -> list[dict]:
        """Evaluate every model on every task; return the results (reused ones included)."""
        results = []
        for name, args in models:
            results.extend(self.run_model(name, args, tasks))
        return results

    def run_model(self, name: str, args: dict[str, Any], tasks: list[TaskConfig]) -> list[dict]:
        model = create_model(name, args, self.device)
        identity = model.identity()
        extractor = Extractor(model, self.opt.batch_size, self.cache, self.opt.progress, self.opt.precision)
        out: list[dict] = []
        todo: dict[str, list[TaskConfig]] = {}
        for task in tasks:
            stimset = self.stimulus_set(task)
            path = result_path(self.opt.output_dir, name, task.name)
            if path.is_file() and not self.opt.overwrite:
                try:
                    old = read_result(path)
                except AudioprobeError:
                    old = None  # unreadable or old schema: recompute
                if old is not None and same_run(old, task.config_hash(), identity, stimset.fingerprint()):
                    log.info("%s / %s: result exists with the same configuration, skipped", name, task.name)
                    old["_reused"] = True
                    out.append(old)
                    continue
            todo.setdefault(self.opt.data or task.dataset, []).append(task)
        if self.opt.save_activations is not None:
            for spec in {self.opt.data or t.dataset for t in tasks}:
                todo.setdefault(spec, [])
        for spec, set_tasks in todo.items():
            stimset = self._sets[spec]
            poolings = {p for t in set_tasks for p in TASK_TYPES[t.type].poolings(t.params)}
            if self.opt.save_activations is not None:
                poolings.add("mean")
            acts, info = extractor.extract(stimset, sorted(poolings))
            if self.opt.save_activations is not None:
                target = Path(self.opt.save_activations) / safe_name(name) / "activations.npz"
                save_layers(target, acts["mean"], sound_ids=np.array(stimset.sound_ids, dtype=str))
            for task in set_tasks:
                try:
                    out.append(self.evaluate(name, model, identity, task, stimset, acts, info))
                except NotApplicableError as exc:
                    log.warning("%s / %s: not applicable: %s", name, task.name, exc)
                    out.append(not_applicable(name, task, stimset, str(exc)))
        return out

    def control_activations(self, stimset: StimulusSet, model_name: str, pooling: str) -> dict[str, np.ndarray]:
        """Activations of a control model (default args, fp32) on the same sounds, through the cache."""
        if model_name not in self._controls:
            control = create_model(model_name, {}, self.device)
            self._controls[model_name] = Extractor(control, self.opt.batch_size, self.cache, False)
        acts, _ = self._controls[model_name].extract(stimset, [pooling])
        return acts[pooling]

    def evaluate(self, name: str, model, identity, task: TaskConfig, stimset: StimulusSet, acts, info) -> dict:
        ttype = TASK_TYPES[task.type]
        ctx = EvalContext(task=task.name, seed=self.opt.seed, rng=np.random.default_rng(self.opt.seed),
                          control=lambda m, p: self.control_activations(stimset, m, p))
        start = time.perf_counter()
        scores = ttype.evaluate(acts, stimset, task.params, ctx)
        metric_s = time.perf_counter() - start
        result = {
            "schema_version": SCHEMA_VERSION,
            "task": {"name": task.name, "version": task.version, "type": task.type,
                     "description": task.description, "config": task.config(),
                     "config_hash": task.config_hash()},
            "model": {**identity, "resolved_revision": info.get("revision"),
                      "meta": model.metadata(**model.args).as_dict()},
            "dataset": stimset.describe(),
            "frontend": info["frontend"],
            "pooling": ttype.poolings(task.params),
            "scores": scores,
            "seed": self.opt.seed,
            "versions": package_versions(),
            "device": self.device,
            "precision": self.opt.precision,
            "timing": {"extract_s": round(info["extract_s"], 4), "metric_s": round(metric_s, 4),
                       "activations_cached": info["cached"]},
            "created": now_utc(),
        }
        write_result(result_path(self.opt.output_dir, name, task.name), result)
        return result
