"""Rendering: an `ImpactDesign`'s modes -> the float32 waveform of the `impacts` set.

The sum of exponentially decaying sinusoids, computed block-wise in float64, then the set's
level (peak at -1 dBFS) and a fade-out. Kept apart from the physics (`modal_laws`) and the
design (`impact_design`) because it fixes the exact samples, hence the fingerprint: a change
here that alters the audio bumps `impacts.SYNTH_VERSION`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from audioprobe.stimuli.synthetic.impact_design import ImpactDesign

SAMPLE_RATE = 44100  # CD rate; the reference recordings were made at 44.1 kHz (Bost et al., 2024)
DURATION_S = 1.0  # about the length of the reference sounds
FADE_S = 0.02  # raised-cosine fade-out, so the last sample is 0 (no click at truncation)
PEAK = 10 ** (-1 / 20)  # peak-normalised to -1 dBFS: headroom for 16-bit export


def render_modes(freqs: np.ndarray, amps: np.ndarray, decays: np.ndarray, sample_rate: int = SAMPLE_RATE,
                 n_samples: int | None = None, block: int = 441) -> np.ndarray:
    """sum_n a_n exp(-alpha_n t) sin(2 pi f_n t) in float64.

    Computed block-wise: exp(s t) for t = k B + j is exp(s k B) exp(s j), so the whole sound is one
    complex (blocks x modes) @ (modes x B) product instead of modes x samples transcendental calls.
    """
    n_samples = int(round(DURATION_S * sample_rate)) if n_samples is None else n_samples
    n_blocks = -(-n_samples // block)
    s = -np.asarray(decays, np.float64) + 2j * np.pi * np.asarray(freqs, np.float64)
    inner = np.exp(s[:, None] * (np.arange(block) / sample_rate)[None, :])  # modes x B
    outer = np.asarray(amps, np.float64)[None, :] * np.exp((np.arange(n_blocks) * block / sample_rate)[:, None] * s[None, :])
    return (outer @ inner).imag.reshape(-1)[:n_samples]


def render(d: ImpactDesign, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The float32 waveform of one design: modes, peak normalisation to -1 dBFS, fade-out."""
    wave = render_modes(d.freqs, d.amps, d.decays, sample_rate)
    fade = int(FADE_S * sample_rate)
    wave[-fade:] *= 0.5 * (1 + np.cos(np.pi * np.arange(1, fade + 1) / fade))
    return (wave * (PEAK / np.max(np.abs(wave)))).astype(np.float32)
