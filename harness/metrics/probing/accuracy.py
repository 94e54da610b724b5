"""Accuracy and balanced accuracy of predictions, under any number of weightings of the test sounds at once
(bootstrap counts, half-split memberships): what every transfer score is computed with."""

from __future__ import annotations

import numpy as np


def accuracies(values: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and balanced accuracy (mean per-class recall, Brodersen et al. 2010) per weight vector.

    values `[..., n]` each sound's correctness (bool or 0/1; or `class_stratified_values`' pseudo-values),
    labels `[n]` true classes, weights `[..., n]` (bootstrap counts of the test sounds, or 0/1 subset
    membership), broadcast against values -> two arrays of their broadcast shape less the sounds' axis
    (at least 1-d). Classes absent from a resample are left out of its balanced accuracy.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    shape = np.broadcast_shapes(v.shape, w.shape)
    w = np.broadcast_to(w, shape).reshape(-1, shape[-1])
    wv = np.broadcast_to(v, shape).reshape(w.shape) * w
    out_shape = shape[:-1] if len(shape) > 1 else (1,)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = wv.sum(axis=1) / w.sum(axis=1)
        classes = np.unique(labels)
        onehot = (np.asarray(labels)[:, None] == classes[None, :]).astype(np.float64)  # [n, k]
        hits = wv @ onehot
        totals = w @ onehot
        recall = np.where(totals > 0, hits / totals, np.nan)
        present = np.isfinite(recall).sum(axis=1)
        balanced = np.where(present > 0, np.nansum(recall, axis=1) / np.maximum(present, 1), np.nan)
    return acc.reshape(out_shape), balanced.reshape(out_shape)
