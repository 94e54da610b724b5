"""Synthetic dissimilarity studies: small sets of tones whose dissimilarity is known by construction.

The timbre literature's studies (Grey 1977; McAdams et al. 1995; Lakatos 2000) present 11-24 tones
equalised in pitch, loudness and duration and collect one dissimilarity matrix; its MDS spaces
have spectral centroid (brightness) and attack time as their most common dimensions (McAdams et
al. 1995). These stand-ins do the same with harmonic tones that differ in exactly those two
parameters: the amplitude of harmonic k falls as k^-slope (a steeper slope: a duller tone) and the
onset rises linearly over the attack time. The study's "human" dissimilarity is the weighted
Euclidean distance between the sounds' (slope, log attack) after scaling each to [0, 1] over its
design range; each study weighs the two dimensions its own way, as real studies' spaces do.
SYNTHETIC: not recordings, not human data. For tests and benchmarks of the rdm path.
"""

from __future__ import annotations

import math

import numpy as np

from audioprobe.stimuli.stimulus_set import StimulusSet

F0 = 311.1  # Hz: E-flat 4, the pitch of McAdams et al. (1995)
DURATION_S = 0.5
SLOPES = (0.5, 3.0)  # harmonic amplitude k^-slope: bright to dull
ATTACKS_S = (0.005, 0.15)  # linear onset: percussive to slow (log-spaced)
DECAY_PER_S = 4.0  # exponential decay after the onset


def tone(slope: float, attack_s: float, sample_rate: int) -> np.ndarray:
    """One harmonic tone at F0: harmonics up to 0.45 of the rate, amplitude k^-slope, linear attack,
    exponential decay, a 10 ms raised-cosine fade-out, peak at -1 dBFS."""
    t = np.arange(int(DURATION_S * sample_rate)) / sample_rate
    k = np.arange(1, int(0.45 * sample_rate / F0) + 1)
    wave = (k[:, None] ** -slope * np.sin(2 * np.pi * F0 * k[:, None] * t)).sum(axis=0)
    envelope = np.minimum(t / attack_s, 1.0) * np.exp(-DECAY_PER_S * np.maximum(t - attack_s, 0.0))
    fade = int(0.01 * sample_rate)
    envelope[-fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))
    wave = wave * envelope
    return (wave / np.abs(wave).max() * 10 ** (-1 / 20)).astype(np.float32)


def design(n_sounds: int, rng: np.random.Generator) -> np.ndarray:
    """`[n, 2]` positions in [0, 1]^2 (scaled slope, scaled log attack), spread over the square."""
    return rng.random((n_sounds, 2))


def known_dissimilarity(positions: np.ndarray, weights: tuple[float, float]) -> np.ndarray:
    """The study's dissimilarity matrix: weighted Euclidean distance between the scaled positions."""
    d = positions[:, None, :] - positions[None, :, :]
    return np.sqrt((np.asarray(weights) * d ** 2).sum(axis=-1))


def similarity_study(name: str, n_sounds: int, seed: int, sample_rate: int = 44100,
                     weights: tuple[float, float] | None = None) -> StimulusSet:
    """A synthetic study: `n_sounds` tones and their known dissimilarity matrix (`rdm`), no judgments.
    `weights` of (brightness, attack) default to a random pair for the study."""
    rng = np.random.default_rng([seed, n_sounds])
    positions = design(n_sounds, rng)
    if weights is None:
        w = rng.uniform(0.2, 1.0)
        weights = (w, 1.0 - w + 0.2)
    slopes = SLOPES[0] + positions[:, 0] * (SLOPES[1] - SLOPES[0])
    attacks = np.exp(math.log(ATTACKS_S[0]) + positions[:, 1] * (math.log(ATTACKS_S[1]) - math.log(ATTACKS_S[0])))
    waves = [tone(s, a, sample_rate) for s, a in zip(slopes, attacks)]
    ids = [f"tone{i:02d}" for i in range(n_sounds)]
    return StimulusSet(
        name=name, sound_ids=ids, dimensions={}, labels={}, judgments={},
        load_audio=lambda i: (waves[i], sample_rate), rdm=known_dissimilarity(positions, weights),
        synthetic=True, source=f"synthetic dissimilarity study (seed {seed}, weights {tuple(round(w, 3) for w in weights)})",
    ).validate(name)
