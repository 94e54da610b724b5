"""Accuracy and balanced accuracy of predictions, under any number of weightings of the test sounds at once
(bootstrap counts, half-split memberships): what every transfer score is computed with."""

from __future__ import annotations

import numpy as np


def class_weights(labels: np.ndarray, on: np.ndarray | None = None) -> np.ndarray:
    """Each sound's weight in a balanced accuracy fixed on the full set: 1 / (sounds of its class among
    those `on`, a boolean mask, all by default), 0 for sounds not `on`. `[n]`."""
    on = np.ones(len(labels), dtype=bool) if on is None else np.asarray(on, dtype=bool)
    labels = np.asarray(labels)
    out = np.zeros(labels.size)
    if on.any():
        _, inverse, counts = np.unique(labels[on], return_inverse=True, return_counts=True)
        out[on] = 1.0 / counts[inverse]
    return out


def accuracies(values: np.ndarray, labels: np.ndarray, weights: np.ndarray,
               fixed_class_weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and balanced accuracy (mean per-class recall, Brodersen et al. 2010) per weight vector.

    values `[..., n]` each sound's correctness (bool or 0/1; or `class_stratified_values`' pseudo-values),
    labels `[n]` true classes, weights `[..., n]` (bootstrap counts of the test sounds, or 0/1 subset
    membership), broadcast against values -> two arrays of their broadcast shape less the sounds' axis
    (at least 1-d).

    Balanced accuracy, without `fixed_class_weights`: the mean recall over the classes present under
    each weighting (a class absent from a resample or half is left out of it). With them (`class_weights`
    of the full set): the accuracy with each sound weighted by 1 / its class's size on the full set,
    sum(w c v) / sum(w c), the same number on the full set, and under a resample or half a ratio of
    sums over the sounds drawn that never drops a class and keeps each class's share as on the full set
    (the estimand fixed on the full set, as ABX's cells are: docs/metrics.md, "Transfer").
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    shape = np.broadcast_shapes(v.shape, w.shape)
    w = np.broadcast_to(w, shape).reshape(-1, shape[-1])
    wv = np.broadcast_to(v, shape).reshape(w.shape) * w
    out_shape = shape[:-1] if len(shape) > 1 else (1,)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = wv.sum(axis=1) / w.sum(axis=1)
        if fixed_class_weights is not None:
            cw = np.asarray(fixed_class_weights, dtype=np.float64)
            balanced = (wv * cw).sum(axis=1) / (w * cw).sum(axis=1)
            return acc.reshape(out_shape), balanced.reshape(out_shape)
        classes = np.unique(labels)
        onehot = (np.asarray(labels)[:, None] == classes[None, :]).astype(np.float64)  # [n, k]
        hits = wv @ onehot
        totals = w @ onehot
        recall = np.where(totals > 0, hits / totals, np.nan)
        present = np.isfinite(recall).sum(axis=1)
        balanced = np.where(present > 0, np.nansum(recall, axis=1) / np.maximum(present, 1), np.nan)
    return acc.reshape(out_shape), balanced.reshape(out_shape)
