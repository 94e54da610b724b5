"""The embedded default stimulus set `impacts` (PLACEHOLDER generator).

A deterministic stand-in: modal sounds whose damping follows the material and whose mode ratios
follow the extent, judged by 17 simulated listeners who answer the true label with a fixed
probability. The stimulus-set issue replaces this with a physically grounded synthesiser and a
listener panel that hears cues in the waveform, behind the same `load_impacts()` interface.
"""

from __future__ import annotations

import functools

import numpy as np

from audioprobe.stimuli import StimulusSet

SAMPLE_RATE = 44100
DURATION_S = 1.0
N_LISTENERS = 17  # the reference study's panel size (Bost et al., 2024)
MATERIALS = ["wood", "glass", "metal", "stone", "cardboard", "ceramic", "plastic"]
HOLLOWNESS = ["full", "hollow"]
EXTENTS = ["1D", "2D", "3D"]
CELLS = [("1D", "full"), ("1D", "hollow"), ("2D", "full"), ("3D", "full"), ("3D", "hollow")]
VARIANTS = 7
GENERATOR_VERSION = "placeholder-1"

_LOSS = {"wood": 1e-2, "glass": 1e-3, "metal": 3e-4, "stone": 3e-3, "cardboard": 5e-2,
         "ceramic": 2e-3, "plastic": 2.5e-2}
_RATIOS = {"1D": [1, 2.757, 5.404, 8.933], "2D": [1, 2.5, 4, 5, 6.5], "3D": [1, 2.828, 5.423, 8.771]}


@functools.lru_cache(maxsize=1)
def _generate(seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(SAMPLE_RATE * DURATION_S)) / SAMPLE_RATE
    ids, waves, labels = [], [], {"material": [], "hollowness": [], "extent": []}
    for mat in MATERIALS:
        for extent, hollow in CELLS:
            for v in range(VARIANTS):
                f0 = 200 * 2 ** rng.uniform(0, 3)
                wave = np.zeros_like(t)
                for k, r in enumerate(_RATIOS[extent]):
                    f = f0 * r * (1 + 0.01 * rng.standard_normal())
                    if f < SAMPLE_RATE / 2:
                        wave += rng.uniform(0.3, 1) / (k + 1) * np.exp(-np.pi * f * _LOSS[mat] * t) * np.sin(2 * np.pi * f * t)
                if hollow == "hollow":
                    wave += 0.5 * np.exp(-30 * t) * np.sin(2 * np.pi * 150 * t)
                wave /= np.max(np.abs(wave))
                ids.append(f"{mat}_{extent}_{hollow}_{v}")
                waves.append(wave.astype(np.float32))
                labels["material"].append(mat)
                labels["hollowness"].append(hollow)
                labels["extent"].append(extent)
    dims = {"material": MATERIALS, "hollowness": HOLLOWNESS, "extent": EXTENTS}
    accuracy = {"material": 0.6, "hollowness": 0.5, "extent": 0.4}
    responses = {}
    for dim, cats in dims.items():
        truth = np.array([cats.index(x) for x in labels[dim]])
        right = rng.random((N_LISTENERS, len(ids))) < accuracy[dim]
        guess = rng.integers(0, len(cats), size=(N_LISTENERS, len(ids)))
        responses[dim] = np.where(right, truth[None, :], guess).astype(np.int64)
    return ids, waves, labels, dims, responses


def load_impacts() -> StimulusSet:
    ids, waves, labels, dims, responses = _generate()
    stimset = StimulusSet(
        name="impacts",
        sound_ids=list(ids),
        dimensions=dims,
        labels={k: list(v) for k, v in labels.items()},
        judgments={},
        load_audio=lambda i: (waves[i], SAMPLE_RATE),
        description="Synthetic impact sounds with simulated listeners (placeholder generator). "
                    "SYNTHETIC: not human data.",
        license="CC0-1.0",
        synthetic=True,
        source=f"embedded:impacts@{GENERATOR_VERSION}",
        listeners=[f"sim{i:02d}" for i in range(N_LISTENERS)],
        responses=responses,
    )
    stimset.judgments = stimset.counts_from_responses()
    return stimset
