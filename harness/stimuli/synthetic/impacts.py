"""The embedded default stimulus set `impacts`: physically grounded modal synthesis of struck objects.

A stand-in for the 246 recorded impact sounds of the reference study (Bost et al., 2024), which
are not public. Every sound is the response of a linear modal model to a hammer blow:

    s(t) = sum_n a_n exp(-alpha_n t) sin(2 pi f_n t),

with modal frequencies f_n from the vibration law of the object's shape (extent, hollowness),
decay rates alpha_n from the material's loss factor, amplitudes a_n from the mode shape at the
strike point times the spectrum of a half-sine contact force, and, for hollow objects, the
resonances of the enclosed air. Every label is a physical parameter of the design, never a
post-hoc rule. The judgments come from `audioprobe.stimuli.synthetic.listeners`, a panel of simulated listeners
that hear cues measured on these waveforms. SYNTHETIC: not a recording, not human data.

The synthesiser is three modules: `modal_laws` (the physics of each shape), `impact_design`
(the design table: materials, cells, each object's drawn parameters and modes) and `rendering`
(modes -> samples). This module makes the set of them: generation, the caches and `load_impacts`.
"""

from __future__ import annotations

import functools
import io
import logging

import numpy as np

from audioprobe.metrics.responses import counts_from_responses
from audioprobe.stimuli.stimulus_set import StimulusSet
from audioprobe.stimuli.synthetic import listeners
from audioprobe.stimuli.synthetic.impact_design import EXTENTS, HOLLOWNESS, MATERIAL_NAMES, design
from audioprobe.stimuli.synthetic.rendering import SAMPLE_RATE, render

log = logging.getLogger(__name__)

#: Bump whenever the audio can change (it changes the fingerprint and the disk cache key).
SYNTH_VERSION = "4"


def version(seed: int = 0) -> str:
    """Generator version recorded in `source`: synthesiser, listener panel and seed."""
    return f"synth-{SYNTH_VERSION}+panel-{listeners.PANEL_VERSION}+seed-{seed}"


def _cache_path(seed: int):
    from audioprobe.files import stimulus_cache_dir

    return stimulus_cache_dir() / f"impacts-{version(seed)}.npz"


def generate(seed: int = 0) -> dict[str, np.ndarray]:
    """Synthesise every sound and run the listener panel (no caching): arrays for the npz cache."""
    from threadpoolctl import threadpool_limits

    designs = design(seed)
    with threadpool_limits(1):  # small products: threads only contend (and one thread fixes the summation order)
        waves = np.stack([render(d) for d in designs])
    labels = {"material": [d.material for d in designs], "hollowness": [d.hollowness for d in designs],
              "extent": [d.extent for d in designs], "object": [d.object for d in designs]}
    dims = dimensions()
    responses = listeners.simulate_panel(waves, SAMPLE_RATE, {k: labels[k] for k in dims}, dims, seed=seed)
    out = {"version": np.array(version(seed)), "sound_ids": np.array([d.sound_id for d in designs]),
           "waves": waves}
    out.update({f"label_{k}": np.array(v) for k, v in labels.items()})
    out.update({f"responses_{k}": v for k, v in responses.items()})
    return out


def dimensions() -> dict[str, list[str]]:
    return {"material": list(MATERIAL_NAMES), "hollowness": list(HOLLOWNESS), "extent": list(EXTENTS)}


def _read_cache(path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError):
        return None
    return arrays


@functools.lru_cache(maxsize=4)
def _arrays(seed: int) -> dict[str, np.ndarray]:
    path = _cache_path(seed)
    arrays = _read_cache(path) if path.is_file() else None
    if arrays is not None and str(arrays.get("version")) == version(seed):
        return arrays
    arrays = generate(seed)
    try:
        from audioprobe.files import atomic_write_bytes

        def write(fh):
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            fh.write(buf.getvalue())

        atomic_write_bytes(path, write)
    except OSError as exc:  # a read-only cache folder costs time, not correctness
        log.warning("could not cache the impacts set at %s (%s)", path, exc)
    return arrays


def load_impacts(seed: int = 0) -> StimulusSet:
    """The embedded synthetic set: 245 modal impact sounds judged by 17 simulated listeners."""
    arrays = _arrays(seed)
    waves = arrays["waves"]
    dims = dimensions()
    labels = {k: [str(x) for x in arrays[f"label_{k}"]] for k in ("material", "hollowness", "extent", "object")}
    responses = {k: arrays[f"responses_{k}"].astype(np.int64) for k in dims}
    return StimulusSet(
        name="impacts",
        sound_ids=[str(s) for s in arrays["sound_ids"]],
        dimensions=dims,
        labels=labels,
        judgments={k: counts_from_responses(responses[k], len(cats)) for k, cats in dims.items()},
        load_audio=lambda i: (waves[i], SAMPLE_RATE),
        description=(f"{len(waves)} synthetic impact sounds (modal synthesis of struck bars, tubes, plates, "
                     f"blocks and containers of 7 materials) judged by {listeners.N_LISTENERS} SIMULATED "
                     f"listeners. SYNTHETIC: not human data; conclusions about perception need real data."),
        license="CC0-1.0",
        citation="audioprobe synthetic impacts set; design after Bost et al. (2024), Principled probing of "
                 "foundation models in the auditory modality.",
        synthetic=True,
        source=f"embedded:impacts@{version(seed)}",
        listeners=[f"sim{i:02d}" for i in range(listeners.N_LISTENERS)],
        responses=responses,
    ).validate()
