"""The model validator: runs a wrapper on known sounds and says in plain words what breaks the contract.

`audioprobe-eval validate-model NAME` (and the test suite, on every registered name's tiny variant)
checks what the harness relies on (models/base.py): metadata, a non-empty stable layer list,
`[batch, frames, dim]` float activations with `n_frames` in range, finite values, determinism,
and batch invariance: a sound's pooled activations are the same alone and zero-padded in a batch
with a longer sound, within `RTOL` of their scale.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import tempfile
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models.base import TRAINING_KINDS, AudioModel, LayerActivations, ModelMeta
from audioprobe.pooling import pool

#: Batch invariance tolerance: max |alone - batched| <= RTOL * max |alone| per layer (pooled means).
#: Float32 matmuls of different batch shapes round differently (~1e-6 relative); 1e-4 leaves room
#: for that and catches any real leak of padding or of another sound.
RTOL = 1e-4
#: Lengths of the test sounds, in seconds; deliberately not multiples of common hops.
SHORT_S, LONG_S = 1.0023, 1.7007


@dataclasses.dataclass
class Report:
    """The outcome of validating one model: the checks run and the problems found."""

    model: str
    checks: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        lines = [f"validate-model {self.model}: " + ("PASSED" if self.ok else f"FAILED ({len(self.problems)} problems)")]
        lines += [f"  ok    {c}" for c in self.checks]
        lines += [f"  FAIL  {p}" for p in self.problems]
        return "\n".join(lines)


def test_signals(sample_rate: int, seconds: float) -> dict[str, np.ndarray]:
    """Silence, a 440 Hz sine, white noise (fixed seed) and a unit impulse, float32 in [-1, 1]."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    impulse = np.zeros(n)
    impulse[n // 3] = 1.0
    return {
        "silence": np.zeros(n, np.float32),
        "sine": (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32),
        "noise": (0.1 * np.random.default_rng(0).standard_normal(n)).astype(np.float32),
        "impulse": impulse.astype(np.float32),
    }


def make_tiny_args(cls: type[AudioModel], directory: Path, preset: dict[str, Any],
                   card: ModelMeta | None = None) -> dict[str, Any]:
    """`cls.make_tiny(directory, card=card, **preset)`: the args loading the tiny model of a name.

    A wrapper written before `make_tiny` took the card (or the presets) is called with what its
    signature accepts.
    """
    for kwargs in ({**preset, "card": card}, dict(preset), {}):
        try:
            inspect.signature(cls.make_tiny).bind(directory, **kwargs)
        except TypeError:
            continue
        return dict(cls.make_tiny(directory, **kwargs))
    return dict(cls.make_tiny(directory))


def validate_model(name: str, args: dict[str, Any] | None = None, device: str = "cpu", tiny: bool = False) -> Report:
    """Validate a registered model name (with `--model-args`), or its tiny random variant."""
    from audioprobe.models.registry import create_model, resolve_model

    if tiny:
        cls, preset, card = resolve_model(name)
        with tempfile.TemporaryDirectory(prefix="audioprobe-tiny-") as tmp:
            tiny_args = make_tiny_args(cls, Path(tmp), preset, card)
            return validate_instance(create_model(name, {**(args or {}), **tiny_args}, device), name)
    return validate_instance(create_model(name, args, device), name)


def _run(model: AudioModel, waves: list[np.ndarray]) -> dict[str, LayerActivations]:
    """One padded batch through the wrapper, as the harness builds it (right zero-padding)."""
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.int64)
    batch = torch.zeros(len(waves), int(lengths.max()), dtype=torch.float32)
    for i, w in enumerate(waves):
        batch[i, : len(w)] = torch.from_numpy(w)
    with torch.inference_mode():
        out = model.forward(batch.to(model.device), lengths.to(model.device))
    return out


def _check_output(out: Any, layers: list[str], batch: int, what: str) -> list[str]:
    """Shape, type and finiteness problems of one forward output, each in a sentence."""
    if not isinstance(out, dict):
        return [f"{what}: forward() returned {type(out).__name__}, not a dict of layer name -> LayerActivations."]
    problems = []
    if list(out) != layers:
        problems.append(f"{what}: forward() returned layers {list(out)} but layers() declares {layers}; "
                        f"they must be the same names in the same order.")
    for name, acts in out.items():
        if not (isinstance(acts, tuple) and len(acts) == 2):
            problems.append(f"{what}: layer {name!r} is a {type(acts).__name__}, not LayerActivations(values, n_frames).")
            continue
        values, n_frames = acts
        if not isinstance(values, torch.Tensor) or values.dim() != 3 or values.shape[0] != batch:
            shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
            problems.append(f"{what}: layer {name!r} values have shape {shape}; expected [batch={batch}, frames, dim].")
            continue
        if not values.is_floating_point():
            problems.append(f"{what}: layer {name!r} values are {values.dtype}; expected a float dtype.")
            continue
        if not isinstance(n_frames, torch.Tensor) or tuple(n_frames.shape) != (batch,) or n_frames.is_floating_point():
            shape = tuple(n_frames.shape) if isinstance(n_frames, torch.Tensor) else type(n_frames).__name__
            problems.append(f"{what}: layer {name!r} n_frames is {shape}; expected an integer tensor of shape [{batch}].")
            continue
        low, high = int(n_frames.min()), int(n_frames.max())
        if low < 1 or high > values.shape[1]:
            problems.append(f"{what}: layer {name!r} n_frames range {low}..{high} is outside 1..{values.shape[1]} "
                            f"(the frames axis of its values).")
            continue
        for i in range(batch):
            valid = values[i, : int(n_frames[i])]
            if not bool(torch.isfinite(valid).all()):
                bad = int((~torch.isfinite(valid)).sum())
                problems.append(f"{what}: layer {name!r} has {bad} NaN/inf values in the valid frames of sound {i}.")
                break
    return problems


def _pooled(out: dict[str, LayerActivations], row: int) -> dict[str, torch.Tensor]:
    return {name: pool(a.values[row: row + 1].cpu(), a.n_frames[row: row + 1].cpu(), "mean")[0] for name, a in out.items()}


def _rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(a.abs().max())
    diff = float((a - b).abs().max())
    return diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)


def validate_instance(model: AudioModel, name: str | None = None) -> Report:
    """Run every check on an (unloaded) wrapper instance; a crash in the wrapper is a problem too."""
    report = Report(name or model.meta.name)
    try:
        _validate(model, report)
    except Exception as exc:  # a wrapper bug of any kind: report where it happened, do not crash
        where = traceback.extract_tb(exc.__traceback__)[-1]
        report.problems.append(f"the wrapper raised {type(exc).__name__}: {exc} "
                               f"(at {Path(where.filename).name}:{where.lineno}, in {where.name}).")
    return report


def _validate(model: AudioModel, report: Report) -> None:
    """The checks in order; a stage that fails stops the ones after it, which could not run or would only
    repeat the same problem."""
    rate = _check_metadata(model, report)
    if rate is None:
        return
    layers = _check_layers(model, report)
    if layers is None:
        return
    signals = _check_shapes(model, layers, rate, report)
    if signals is None:
        return
    _check_invariance(model, layers, *signals, report)


def _check_metadata(model: AudioModel, report: Report) -> int | None:
    """The model's metadata; its sample rate (None: unusable metadata, nothing else can be checked)."""
    problems, checks = report.problems, report.checks
    meta = model.meta
    if not isinstance(meta, ModelMeta):
        problems.append(f"model.meta is a {type(meta).__name__}; declare a ModelMeta (models/meta.py).")
        return None
    rate = meta.sample_rate
    if not isinstance(rate, int) or not 4000 <= rate <= 192000:
        problems.append(f"meta.sample_rate is {rate!r}; declare the rate the model expects, an int in Hz (e.g. 16000).")
        return None
    if meta.training not in TRAINING_KINDS:
        problems.append(f"meta.training is {meta.training!r}; choose one of {', '.join(TRAINING_KINDS)}.")
    checks.append(f"metadata: name {meta.name!r}, {rate} Hz, training {meta.training}")
    return rate


def _check_layers(model: AudioModel, report: Report) -> list[str] | None:
    """Load the model and read its layer list (None: it did not load, or the list is unusable)."""
    problems, checks = report.problems, report.checks
    try:
        model.load()
    except Exception as exc:  # missing file, missing dependency, wrapper bug: all mean "cannot load"
        problems.append(f"load() failed: {type(exc).__name__}: {exc}")
        return None
    layers = model.layers()
    if not isinstance(layers, list) or not layers or not all(isinstance(x, str) and x for x in layers):
        problems.append(f"layers() returned {layers!r}; it must be a non-empty list of layer names (strings).")
        return None
    if len(set(layers)) != len(layers):
        problems.append(f"layers() has duplicate names: {sorted({x for x in layers if layers.count(x) > 1})}.")
    checks.append(f"layers: {len(layers)} ({layers[0]} ... {layers[-1]})")
    return layers


def _check_shapes(model: AudioModel, layers: list[str], rate: int,
                  report: Report) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Shapes, types, finiteness, on every signal at both lengths, batched together; the (short, long) test
    signals, or None when the outputs are too broken for the invariance checks."""
    problems, checks = report.problems, report.checks
    short, long = test_signals(rate, SHORT_S), test_signals(rate, LONG_S)
    dims: dict[str, int] = {}
    for label, sigs in (("short", short), ("long", long)):
        try:
            out = _run(model, list(sigs.values()))
        except AudioprobeError as exc:
            problems.append(f"forward() on the {label} test sounds ({len(sigs[next(iter(sigs))]) / rate:.3f} s) "
                            f"raised: {exc}")
            return None
        found = _check_output(out, layers, len(sigs), f"{label} sounds ({', '.join(sigs)})")
        problems.extend(found)
        if found:
            return None
        for layer, acts in out.items():
            if dims.setdefault(layer, acts.values.shape[2]) != acts.values.shape[2]:
                problems.append(f"layer {layer!r}: dim is {dims[layer]} for short sounds but {acts.values.shape[2]} "
                                f"for long ones; the feature size must not depend on the length.")
    if model.layers() != layers:
        problems.append("layers() returned a different list on a second call; it must be stable.")
    checks.append(f"shapes [batch, frames, dim], float, finite, n_frames in range: silence, sine, noise, impulse "
                  f"at {SHORT_S} s and {LONG_S} s")
    return short, long


def _check_invariance(model: AudioModel, layers: list[str], short: dict[str, np.ndarray],
                      long: dict[str, np.ndarray], report: Report) -> None:
    """Determinism and batch invariance, sound by sound: stops at the first problem found so far (any stage's)."""
    problems, checks = report.problems, report.checks
    worst = 0.0
    for kind in short:
        alone = _run(model, [short[kind]])
        again = _run(model, [short[kind]])
        for layer in layers:
            a, b = alone[layer].values, again[layer].values
            if a.shape != b.shape or not torch.equal(a, b) and _rel_diff(a.float(), b.float()) > (0 if model.device.type == "cpu" else 1e-6):
                problems.append(f"layer {layer!r}: two runs on the same {kind} gave different values; "
                                f"forward() must be deterministic (eval mode, no dropout or random crops).")
                break
        partner = "noise" if kind != "noise" else "sine"
        batched = _run(model, [short[kind], long[partner]])
        problems.extend(_check_output(batched, layers, 2, f"{kind} padded in a batch with a longer {partner}"))
        if problems:
            return
        alone_pooled, batch_pooled = _pooled(alone, 0), _pooled(batched, 0)
        for layer in layers:
            if int(alone[layer].n_frames[0]) != int(batched[layer].n_frames[0]):
                problems.append(f"layer {layer!r}: the {kind} has {int(alone[layer].n_frames[0])} frames alone but "
                                f"{int(batched[layer].n_frames[0])} when padded in a batch; n_frames must come from "
                                f"`lengths`, not from the padded size.")
                continue
            rel = _rel_diff(alone_pooled[layer], batch_pooled[layer])
            worst = max(worst, rel)
            if rel > RTOL:
                problems.append(f"layer {layer!r}: the {kind}'s mean-pooled activations change by {rel:.2e} (relative) "
                                f"when it is zero-padded in a batch with a longer {partner} (tolerance {RTOL:.0e}); "
                                f"padding or the other sound leaks into it. Use `lengths` to mask padded frames.")
    checks.append("deterministic: two runs identical")
    checks.append(f"batch invariance: largest relative change {worst:.1e} (tolerance {RTOL:.0e})")
