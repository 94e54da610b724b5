"""Batched extraction of pooled, per-layer activations, through the activation cache.

One forward pass per (model, stimulus set) computes every pooling the selected tasks need.
Sounds are sorted by length and batched with right zero-padding; pooling reads only each sound's
valid frames, so padding never leaks into a sound's vector.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Iterable

import numpy as np
import torch
from tqdm.auto import tqdm

from audioprobe.cache import ActivationCache
from audioprobe.errors import AudioprobeError
from audioprobe.frontend import FrontEnd
from audioprobe.identity import ModelKey, activation_key
from audioprobe.models.base import AudioModel
from audioprobe.pooling import pool
from audioprobe.stimuli import StimulusSet

log = logging.getLogger(__name__)

def prepare_waveforms(stimset: StimulusSet, frontend: FrontEnd) -> list[np.ndarray]:
    """Every sound of the set, mono at the front end's rate."""
    return [frontend(*stimset.audio(i), sound_id=sid) for i, sid in enumerate(stimset.sound_ids)]


def batches_by_length(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), to waste little padding."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[s:s + batch_size] for s in range(0, len(order), batch_size)]


PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


#: Seconds between two progress lines of an extraction when no progress bar is shown (not a terminal).
STATUS_EVERY_S = 10.0


def stderr_status(text: str) -> None:
    """A progress line on stderr, where no bar is drawn (a log file, a sweep job's log)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def run_model(model: AudioModel, waves: list[np.ndarray], poolings: Iterable[str], batch_size: int,
              progress: bool = True, precision: str = "fp32", status=None) -> dict[str, dict[str, np.ndarray]]:
    """Forward every sound; return pooling -> layer -> float32 `[n_sounds, dim]` in input order.

    precision fp16/bf16 runs the forward under torch.autocast (for GPUs); pooling is in float64.
    progress: a bar (on a terminal); status(text): where there is no bar, a line every STATUS_EVERY_S
    seconds (sounds done, rate, time left) and one at the end, so a long extraction is never silent.
    """
    poolings = list(poolings)
    out: dict[str, dict[str, np.ndarray]] = {p: {} for p in poolings}
    lengths = [len(w) for w in waves]
    batches = batches_by_length(lengths, batch_size)
    bar = tqdm(total=len(waves), desc=f"{model.meta.name}", unit="sound", disable=not progress, leave=False)
    start = last = time.perf_counter()
    done = 0
    with torch.inference_mode():
        for idx in batches:
            longest = max(lengths[i] for i in idx)
            batch = torch.zeros(len(idx), longest, dtype=torch.float32)
            for row, i in enumerate(idx):
                batch[row, : lengths[i]] = torch.from_numpy(waves[i])
            lens = torch.tensor([lengths[i] for i in idx], dtype=torch.int64)
            with torch.autocast(model.device.type, dtype=PRECISIONS[precision], enabled=precision != "fp32"):
                acts = model.forward(batch.to(model.device), lens.to(model.device))
            for layer, (values, n_frames) in acts.items():
                for p in poolings:
                    pooled = pool(values, n_frames, p).float().cpu().numpy()
                    if layer not in out[p]:
                        out[p][layer] = np.zeros((len(waves), pooled.shape[1]), np.float32)
                    out[p][layer][idx] = pooled
            bar.update(len(idx))
            done += len(idx)
            now = time.perf_counter()
            if status is not None and now - last >= STATUS_EVERY_S and done < len(waves):
                rate = done / (now - start)
                left = int((len(waves) - done) / rate) if rate > 0 else 0
                status(f"{model.meta.name}: extracting activations, {done}/{len(waves)} sounds ({rate:.1f} sounds/s, "
                       f"about {left // 60}:{left % 60:02d} left)")
                last = now
    bar.close()
    if status is not None:
        took = time.perf_counter() - start
        status(f"{model.meta.name}: extracted activations of {len(waves)} sounds in {took:.1f} s")
    declared = model.layers()
    for p in poolings:
        if list(out[p]) != declared:
            raise AudioprobeError(
                f"model {model.meta.name!r}: forward() returned layers {list(out[p])[:4]}... but layers() "
                f"declares {declared[:4]}...; they must be the same names in the same order."
            )
    return out


def check_finite(acts: dict[str, dict[str, np.ndarray]], model: str, precision: str, device: str,
                 sound_ids: list[str]) -> None:
    """Refuse activations that are not finite (before they are cached or scored): every score computed from
    them would be null or wrong, silently. The message names the model, precision, layer and first sound."""
    for pooling, layers in acts.items():
        for layer, a in layers.items():
            bad = ~np.isfinite(a).all(axis=1)
            if bad.any():
                first = sound_ids[int(np.flatnonzero(bad)[0])]
                hint = (f"{precision} overflows or is not supported on {device}: use --precision fp32"
                        if precision != "fp32" else "check that sound (its samples, its length) and the model")
                raise AudioprobeError(f"model {model!r} ({precision} on {device}): layer {layer!r} ({pooling} pooling) "
                                      f"has non-finite activations for {int(bad.sum())} of {bad.size} sound(s), the "
                                      f"first {first!r}; nothing was cached or scored. {hint}.")


class Extractor:
    """Pooled activations of one model on stimulus sets, from the cache when possible.

    The cache key of each pooling is derived from the model's `ModelKey` (see identity.py), built
    once here from the wrapper, the precision and the front end.
    """

    def __init__(self, model: AudioModel, batch_size: int = 16, cache: ActivationCache | None = None,
                 progress: bool = True, precision: str = "fp32", status=None):
        if precision not in PRECISIONS:
            raise AudioprobeError(f"precision {precision!r}: choose {', '.join(PRECISIONS)}.")
        self.model = model
        self.precision = precision
        self.batch_size = batch_size
        self.cache = cache
        self.progress = progress
        self.status = status
        self.frontend = FrontEnd(model.meta.sample_rate)
        self.key = ModelKey.of(model, precision, self.frontend.settings())
        self.loaded = False

    def ensure_loaded(self) -> None:
        if not self.loaded:
            self.model.load()
            self.loaded = True

    def _made_for(self, info: dict, pooling: str, fingerprint: str) -> bool:
        """Whether a cache entry's own record (written beside its arrays) says it is this model's activations of
        this set with this pooling: its file name alone could be a copy's."""
        import json

        return (info.get("stimuli") == fingerprint and info.get("pooling") == pooling and
                json.dumps(info.get("model"), sort_keys=True) == json.dumps(
                    json.loads(json.dumps(self.key.as_dict())), sort_keys=True))

    def extract(self, stimset: StimulusSet, poolings: Iterable[str]) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
        """pooling -> layer -> `[n_sounds, dim]`, and timing/cache info for the result file."""
        poolings = list(dict.fromkeys(poolings))
        fp = stimset.fingerprint()
        keys = {p: activation_key(self.key, p, fp) for p in poolings}
        found: dict[str, dict[str, np.ndarray]] = {}
        info: dict = {"cached": True, "extract_s": 0.0, "n_forward": 0, "revision": None}
        if self.cache is not None:
            for p, k in keys.items():
                hit = self.cache.get(k)
                if hit is not None and any(a.ndim != 2 or a.shape[0] != len(stimset) for a in hit[0].values()):
                    self.cache.discard(k, f"its arrays are not [{len(stimset)} sounds, dim]")
                    hit = None
                if hit is not None and not self._made_for(hit[1], p, fp):
                    self.cache.discard(k, "it was made for another stimulus set, pooling or model (copied or renamed)")
                    hit = None
                if hit is not None:
                    found[p] = hit[0]
                    info["revision"] = hit[1].get("revision")
        missing = [p for p in poolings if p not in found]
        if missing:
            self.ensure_loaded()
            start = time.perf_counter()
            waves = prepare_waveforms(stimset, self.frontend)
            for i, w in enumerate(waves):
                if not np.isfinite(w).all():
                    raise AudioprobeError(f"stimulus set {stimset.name!r}: sound {stimset.sound_ids[i]!r} has non-finite "
                                          f"samples (NaN or infinity) after loading; fix or remove its file.")
            silent = [stimset.sound_ids[i] for i, w in enumerate(waves) if not np.any(w)]
            if silent:  # not an error (a set may hold silence on purpose), but never a silent null
                log.warning(
                    "stimulus set %r: %d silent sound(s) (every sample 0): %s; a model's distances to a silent sound "
                    "can be undefined, and scores that need them null.", stimset.name, len(silent),
                    ", ".join(silent[:10]) + (" ..." if len(silent) > 10 else ""))
            computed = run_model(self.model, waves, missing, self.batch_size, self.progress, self.precision,
                                 self.status)
            check_finite(computed, self.model.meta.name, self.precision, str(self.model.device), stimset.sound_ids)
            info = {"cached": False, "extract_s": time.perf_counter() - start, "n_forward": len(waves),
                    "revision": self.model.resolved_revision}
            for p in missing:
                found[p] = computed[p]
                if self.cache is not None:
                    self.cache.put(keys[p], computed[p], {"model": self.key.as_dict(), "pooling": p, "stimuli": fp,
                                                          "revision": self.model.resolved_revision})
        return found, info
