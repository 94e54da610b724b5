"""The transfer-vs-baseline contrast at matched training sizes: its headline and replicates.

Matched transfer minus matched baseline at the layer the transfer score picks, that pick made on one
half of the test sounds and the contrast read on the other (`held_out_contrast`), so that the
contrast is never read where its layer was chosen.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from audioprobe.tasktypes.common import json_float

CONTRAST_WHAT = ("matched transfer minus matched baseline: the task's score of probes trained on the same number of "
                 "sounds (m_f of baseline fold f: the transfer probe on a class-stratified subsample of the training "
                 "subset, the baseline on the fold's training part), on the same test sounds, paired sound by sound")


def held_out_contrast(pick_a: np.ndarray, pick_b: np.ndarray, diff_a: np.ndarray, diff_b: np.ndarray):
    """The contrast of the layer with the best transfer score, picked on one half and scored on the other.

    pick_a, pick_b `[..., n_layers]`: each layer's transfer score on the two halves of each split;
    diff_a, diff_b: its contrast (matched transfer minus matched baseline) on the same halves. Both ways
    round: the layer picked on half a (highest pick_a, the first on ties, as the headline picks it)
    scored by diff_b, and the other way. -> (held-out contrasts `[2, ...]`, chosen layers `[2, ...]`;
    NaN and -1 where no layer has a transfer score on the picking half). The picking half's contrast is
    never read.
    """
    held, chosen = [], []
    for pick, judge in ((pick_a, diff_b), (pick_b, diff_a)):
        idx = _nan_pick(np.asarray(pick, dtype=np.float64))
        val = np.take_along_axis(np.asarray(judge, dtype=np.float64), np.maximum(idx, 0)[..., None], -1)[..., 0]
        held.append(np.where(idx >= 0, val, np.nan))
        chosen.append(idx)
    return np.stack(held), np.stack(chosen)


def _nanmean(a: np.ndarray, axis=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice: NaN, left out later
        return np.nanmean(a, axis=axis)


def _nan_pick(scores: np.ndarray) -> np.ndarray:
    """Index of the highest finite score along the last axis (first on ties), -1 where none is finite."""
    finite = np.isfinite(scores)
    return np.where(finite.any(axis=-1), np.argmax(np.where(finite, scores, -np.inf), axis=-1), -1)


def baseline_contrast(transfer_score: np.ndarray, contrast: np.ndarray, names: list[str], params: dict[str, Any], *,
                      cv: tuple | None, boot: tuple | None, n_test: int) -> tuple[dict, np.ndarray | None]:
    """The headline of the transfer-vs-baseline contrast at matched sizes, and its replicates.

    transfer_score, contrast `[n_layers]` on all test sounds (contrast: matched transfer minus matched
    baseline, the task's score). cv: (pick_a, pick_b, diff_a, diff_b), each `[cv_splits, n_layers]` on
    the estimate's half-splits; boot: (transfer `[B, L]`, contrast `[B, L]`, and, with cv_splits > 0, the
    four half arrays `[B, K, L]` on the first K splits of each resample), or None without bootstrap.

    - One layer with a transfer score: its contrast on all test sounds, replicates `[B]` (no choice).
    - cv_splits > 0: the layer with the best transfer score is picked on one half of the test sounds
      (as the headline picks it) and its contrast scored on the other, both ways round; the value is
      the mean over the splits, `layer` the one picked most often; replicates `[B, K]`, the same on the
      first K splits of each resample (`inference.Splits`).
    - cv_splits 0: the contrast of the layer with the best transfer score on all test sounds
      (optimistic), replicates `[B]` redoing that choice in every resample.
    """
    defined = np.flatnonzero(np.isfinite(transfer_score))
    block: dict[str, Any] = {"value": None, "layer": None, "ci": None, "selection": "", "what": CONTRAST_WHAT}
    reps = None
    splits = None
    if not defined.size:
        block["selection"] = "no layer has a transfer score"
        if boot is not None:
            reps = np.full(boot[0].shape[0], np.nan)
    elif defined.size == 1:
        k = int(defined[0])
        block.update(value=json_float(contrast[k]), layer=names[k],
                     selection="the only layer with a transfer score: no layer is chosen")
        if boot is not None:
            reps = boot[1][:, k]
    elif params["cv_splits"] > 0:
        reps, splits = _cross_validated_contrast(block, names, params, cv, boot)
    else:
        pick = int(defined[np.argmax(transfer_score[defined])])
        block.update(value=json_float(contrast[pick]), layer=names[pick],
                     selection="the layer with the best transfer score on all test sounds (not cross-validated: "
                               "optimistic; its interval redoes the choice in every resample)")
        if boot is not None:
            idx = _nan_pick(boot[0])
            reps = np.where(idx >= 0, np.take_along_axis(boot[1], np.maximum(idx, 0)[:, None], 1)[:, 0], np.nan)
    if block["value"] is None and defined.size:
        block["layer"] = None
        block.pop("layer_frequency", None)
        block["selection"] += " (no value: no matched predictions, see matched.note)"
    if reps is not None and block["value"] is not None and np.isfinite(reps).any():
        _add_interval(block, reps, splits, n_test, params["ci_level"])
    order = ("value", "layer", "layer_frequency", "selection", "what", "ci", "se", "dof", "ci_method")
    return {key: block[key] for key in order if key in block}, reps


def _cross_validated_contrast(block: dict, names: list[str], params: dict[str, Any], cv: tuple | None,
                              boot: tuple | None) -> tuple[np.ndarray | None, int | None]:
    """`baseline_contrast` with cv_splits > 0: fills block (the mean held-out contrast, the layer picked most
    often) -> (replicates `[B, K]` or None, the number of splits they stand for)."""
    reps = splits = None
    held, chosen = held_out_contrast(*cv)
    ok = np.isfinite(held) & (chosen >= 0)
    block["selection"] = ("cross-validated over test sounds: the layer with the best transfer score picked on one "
                          "half, its contrast scored on the other, both ways round")
    if ok.any():
        freq = np.bincount(chosen[ok], minlength=len(names)) / ok.sum()
        best = int(np.argmax(freq))
        block.update(value=json_float(np.mean(held[ok])), layer=names[best], layer_frequency=json_float(freq[best]))
    if boot is not None:
        reps = _nanmean(held_out_contrast(*boot[2:])[0], axis=0)  # [B, K]
        splits = params["cv_splits"]
    return reps, splits


def _add_interval(block: dict, reps: np.ndarray, splits: int | None, n_test: int, level: float) -> None:
    """The contrast's t interval, standard error and dof from its replicates (`inference.contrast_statistics`;
    split replicates with their split noise removed), added to block."""
    from audioprobe.metrics import inference

    st = inference.contrast_statistics(block["value"], inference.Splits(reps, splits) if reps.ndim == 2 else reps,
                                       n_sounds=n_test, level=level)
    block.update(ci=st["ci"] if None not in (st["ci"] or [None]) else None, se=st["se"], dof=st["dof"],
                 ci_method="t interval: value -/+ t(dof) se, se from the bootstrap variance of its replicates x "
                           "n/(n-1), n - 1 dof" + ("; replicates on fixed half-splits of each resample, their "
                                                  "split noise removed" if reps.ndim == 2 else ""))
