"""Cross-validated layer selection: the best layer picked on one half of the sounds and scored on the
other (the headline of every task type with several layers), and the same on each split of each
bootstrap resample (the headline's replicates).
"""

from __future__ import annotations

import warnings

import numpy as np


def cross_validated_selection(score_a: np.ndarray, score_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pick the best layer on one half, score it on the other, both ways round.

    score_a, score_b `[n_splits, n_layers]` (each layer's score on the two halves of each split)
    -> (held-out scores `[2 n_splits]`, chosen layer indices `[2 n_splits]`). A split whose scores
    are all undefined gives NaN and index -1.
    """
    held, chosen = [], []
    for pick, judge in ((score_a, score_b), (score_b, score_a)):
        valid = np.isfinite(pick).any(axis=1)
        idx = np.where(valid, np.nanargmax(np.where(np.isfinite(pick), pick, -np.inf), axis=1), -1)
        val = np.where(valid, judge[np.arange(judge.shape[0]), np.maximum(idx, 0)], np.nan)
        held.append(val)
        chosen.append(idx)
    return np.concatenate(held), np.concatenate(chosen)


def split_held_out(half_a: np.ndarray, half_b: np.ndarray, lower_is_better: bool = False) -> np.ndarray:
    """The cross-validated score of each split of each resample: the layer picked on one half scored on
    the other, both ways round, averaged. half_a, half_b `[..., n_layers]` -> `[...]` (NaN where no layer
    is defined on a half)."""
    a, b = np.asarray(half_a, dtype=np.float64), np.asarray(half_b, dtype=np.float64)
    shape = a.shape[:-1]
    sign = -1.0 if lower_is_better else 1.0
    held, _ = cross_validated_selection(sign * a.reshape(-1, a.shape[-1]), sign * b.reshape(-1, b.shape[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no layer defined on a half: NaN, left out later
        return sign * np.nanmean(held.reshape(2, -1), axis=0).reshape(shape)
