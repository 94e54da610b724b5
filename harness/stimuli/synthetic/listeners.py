"""A panel of simulated listeners who categorise sounds from cues measured on the waveform.

SIMULATED LISTENERS, NOT PEOPLE. They stand in for the 17 listeners of the reference study
(Bost et al., 2024) so that the embedded `impacts` set has judgments with a realistic structure;
no conclusion about human perception may be drawn from them.

How a listener answers:
1. Cues are measured on each waveform (`measure_cues`), never read from the design: the decay rate
   against frequency as a loss-factor estimate (the "internal friction" cue of Wildes & Richards,
   1988), spectral centroid and decay time for material (Giordano & McAdams, 2006); the lowest
   resonance and its distance below the centroid for hollowness (cavity resonances); modal density
   and inharmonicity for extent.
2. For each dimension, a prototype per category is the mean cue vector of the sounds that
   physically belong to it (the listener's learned idea of what wood, a hollow object, a plate
   sound like), with the pooled within-category covariance as the perceptual metric.
3. Each listener perceives the cues with listener-specific weights and sensory noise, and chooses
   a category with probability proportional to exp(-D_k / 2 + b_k), D_k the Mahalanobis distance
   to prototype k and b_k the listener's response bias: a Gaussian prototype observer (general
   recognition theory, Ashby & Townsend 1986; prototype models, Nosofsky 1986).
The labels shape the prototypes only; every response is a function of the cues of that sound.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import find_peaks, stft

#: Bump whenever the responses can change for the same audio (it changes the fingerprint).
PANEL_VERSION = "3"
N_LISTENERS = 17  # the reference study's panel size (Bost et al., 2024)

CUE_NAMES = ["log_loss", "log_centroid", "log_decay_time", "log_f_low", "low_ratio",
             "log_density", "log_ratio21", "inharmonicity"]
#: Which cues a listener consults for each dimension (decay vs frequency and centroid for
#: material, low resonances and cavity cues for hollowness, modal density and inharmonicity for extent).
DIMENSION_CUES = {
    "material": ["log_loss", "log_centroid", "log_decay_time"],
    "hollowness": ["log_f_low", "low_ratio", "log_density"],
    "extent": ["log_density", "log_ratio21", "inharmonicity"],
}
#: Sensory noise (sd, in units of the set's standard deviation of each cue). Not fitted to human
#: data: chosen so that the panel shows the qualitative pattern reported for real listeners
#: (material judged well with confusions, hollowness moderately, extent poorly).
SENSORY_NOISE = {"material": 0.4, "hollowness": 0.4, "extent": 4.0}
DEFAULT_NOISE = 0.8  # for dimensions of other sets
WEIGHT_SD = 0.25  # log-sd of a listener's attention weight on each cue
NOISE_SD = 0.2  # log-sd of a listener's noise level around the dimension's
BIAS_SD = 0.3  # sd of a listener's log-odds bias towards each category
SHRINKAGE = 0.1  # covariance shrinkage towards its diagonal (keeps the metric well conditioned)
RIDGE = 1e-3  # added variance (standardised units): the metric exists even when a cue is constant within categories

# Analysis settings (design choices of this model, not published constants).
STFT_SIZE, STFT_HOP = 1024, 256  # 23 ms frames, 5.8 ms hop at 44.1 kHz
BAND_EDGES_HZ = 50 * 2 ** (np.arange(0, 25) / 3)  # third-octave bands from 50 Hz to 12.7 kHz
DECAY_RANGE_DB = 25.0  # a band's decay is fitted over its first 25 dB below its peak
BAND_FLOOR_DB = 40.0  # bands weaker than the loudest by more than this are not used
PEAK_FLOOR_DB = 40.0  # spectral peaks weaker than the strongest by more than this are ignored
PEAK_PROMINENCE_DB = 6.0
EXP_WINDOW_S = 0.25  # exponential window before the FFT: suppresses leakage of ringing modes
F_RANGE = (30.0, 16000.0)


def _peaks(wave: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frequencies of the spectral peaks (ascending), their levels (dB), and the spectrum (f, power)."""
    t = np.arange(len(wave)) / sr
    n_fft = 1 << max(16, int(math.ceil(math.log2(len(wave)))))
    spec = np.abs(np.fft.rfft(wave * np.exp(-t / EXP_WINDOW_S), n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    band = (freqs >= F_RANGE[0]) & (freqs <= F_RANGE[1])
    level = 10 * np.log10(spec + 1e-30)
    top = level[band].max()
    idx, _ = find_peaks(np.where(band, level, -np.inf), height=top - PEAK_FLOOR_DB,
                        prominence=PEAK_PROMINENCE_DB, distance=max(1, int(3 * n_fft / sr)))
    return freqs[idx], level[idx], freqs, spec


def band_decay_rates(wave: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per third-octave band: centre frequency, decay rate alpha (s^-1, amplitude) and peak energy.

    alpha is the least-squares slope of the band level (dB) over the band's first 25 dB of decay,
    divided by 20 log10(e) (an amplitude envelope exp(-alpha t) falls 8.686 alpha dB per second).
    """
    f, times, z = stft(wave, fs=sr, nperseg=STFT_SIZE, noverlap=STFT_SIZE - STFT_HOP, boundary=None, padded=False)
    power = np.abs(z) ** 2
    usable = times < times[-1] - 0.03  # ignore the final fade-out
    times = times[usable]
    centres, levels = [], []
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
        rows = (f >= lo) & (f < hi)
        if rows.any():
            centres.append(math.sqrt(lo * hi))
            levels.append(10 * np.log10(power[rows][:, usable].sum(axis=0) + 1e-30))
    top = max(lev.max() for lev in levels)
    kept, alphas, energies = [], [], []
    for c, lev in zip(centres, levels):
        p = int(np.argmax(lev))
        if lev[p] < top - BAND_FLOOR_DB:
            continue
        below = np.nonzero(lev[p:] < lev[p] - DECAY_RANGE_DB)[0]
        end = max(p + (below[0] if len(below) else len(lev) - p), min(len(lev), p + 4))
        if end - p < 3:
            continue
        slope = np.polyfit(times[p:end], lev[p:end], 1)[0]  # dB per second
        kept.append(c)
        alphas.append(max(-slope / (20 * math.log10(math.e)), 1e-3))
        energies.append(10 ** (lev[p] / 10))
    return np.array(kept), np.array(alphas), np.array(energies)


def measure_cues(wave: np.ndarray, sr: int) -> np.ndarray:
    """The cue vector of one sound, in the order of CUE_NAMES (see the module docstring)."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if not np.any(wave):
        raise ValueError("a silent sound has no cues")
    centres, alphas, energies = band_decay_rates(wave, sr)
    w = energies / energies.sum()
    log_loss = float(np.sum(w * np.log10(alphas / (math.pi * centres))))

    peak_f, _, freqs, spec = _peaks(wave, sr)
    band = (freqs >= F_RANGE[0]) & (freqs <= F_RANGE[1])
    centroid = float(np.sum(freqs[band] * spec[band]) / np.sum(spec[band]))

    frame = int(0.01 * sr)
    env = np.sqrt(np.mean(wave[: len(wave) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    env_db = 20 * np.log10(env / env.max() + 1e-12)
    after = np.nonzero(env_db[int(np.argmax(env_db)):] < -20)[0]
    decay_time = (after[0] + 0.5) * 0.01 if len(after) else len(env) * 0.01

    if len(peak_f) == 0:
        peak_f = np.array([centroid])
    f_low = float(peak_f[0])
    octaves = max(math.log2(peak_f[-1] / peak_f[0]), 1.0)
    density = len(peak_f) / octaves
    ratio21 = float(peak_f[1] / peak_f[0]) if len(peak_f) > 1 else 1.0
    r = peak_f[1:8] / peak_f[0]
    inharm = float(np.mean(np.abs(r - np.round(r)))) if len(r) else 0.0
    return np.array([log_loss, math.log2(centroid), math.log10(decay_time), math.log2(f_low),
                     math.log2(centroid / f_low), math.log2(density), math.log2(ratio21), inharm])


def measure_all(waves, sr: int) -> np.ndarray:
    """`[n_sounds, n_cues]` cue matrix."""
    return np.stack([measure_cues(w, sr) for w in waves])


# ---------------------------------------------------------------------------------------------
# The decision model


class Prototypes:
    """Category prototypes and the perceptual metric of one dimension, in standardised cue units."""

    def __init__(self, cues: np.ndarray, labels: list[str], categories: list[str]):
        cues = np.asarray(cues, dtype=np.float64)
        self.mean, self.scale = cues.mean(axis=0), cues.std(axis=0) + 1e-12
        z = self.standardise(cues)
        y = np.array([categories.index(x) for x in labels])
        self.centres = np.stack([z[y == k].mean(axis=0) for k in range(len(categories))])
        resid = z - self.centres[y]
        cov = resid.T @ resid / max(len(z) - len(categories), 1)
        cov = (1 - SHRINKAGE) * cov + SHRINKAGE * np.diag(np.diag(cov)) + RIDGE * np.eye(len(cov))
        self.precision = np.linalg.inv(cov)
        self.categories = list(categories)

    def standardise(self, cues: np.ndarray) -> np.ndarray:
        return (np.asarray(cues, dtype=np.float64) - self.mean) / self.scale


def choice_probabilities(perceived: np.ndarray, protos: Prototypes, weights: np.ndarray,
                         bias: np.ndarray) -> np.ndarray:
    """P(category) `[n_sounds, n_categories]` for perceived standardised cues `[n_sounds, n_cues]`."""
    diff = (perceived[:, None, :] - protos.centres[None, :, :]) * weights
    dist = np.einsum("skc,cd,skd->sk", diff, protos.precision, diff)
    logits = -0.5 * dist + bias[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def simulate_panel(waves, sr: int, labels: dict[str, list[str]], dimensions: dict[str, list[str]],
                   seed: int = 0, n_listeners: int = N_LISTENERS, cues: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-listener responses `{dim: int64 [n_listeners, n_sounds]}` (category indices).

    `labels` (physical categories) fit the prototypes; responses depend on each sound's cues only.
    """
    cues = measure_all(waves, sr) if cues is None else cues
    rng = np.random.default_rng([seed, 17])
    out = {}
    for dim, cats in dimensions.items():
        cols = [CUE_NAMES.index(c) for c in DIMENSION_CUES.get(dim, CUE_NAMES)]
        protos = Prototypes(cues[:, cols], labels[dim], cats)
        z = protos.standardise(cues[:, cols])
        noise = SENSORY_NOISE.get(dim, DEFAULT_NOISE)
        resp = np.empty((n_listeners, len(z)), dtype=np.int64)
        for li in range(n_listeners):
            weights = np.exp(WEIGHT_SD * rng.standard_normal(len(cols)))
            sd = noise * math.exp(NOISE_SD * rng.standard_normal())
            bias = BIAS_SD * rng.standard_normal(len(cats))
            perceived = z + sd * rng.standard_normal(z.shape)
            p = choice_probabilities(perceived, protos, weights, bias)
            u = rng.random(len(z))
            resp[li] = np.minimum((np.cumsum(p, axis=1) < u[:, None]).sum(axis=1), len(cats) - 1)
        out[dim] = resp
    return out
