"""Claims about layers: one layer against another, the depth trend (a tested linear change over depth
with its effect size) and the share of the attainable score."""

from __future__ import annotations

import numpy as np

from audioprobe.metrics.inference.multiplicity import _bh_arrays
from audioprobe.metrics.inference.paired import (
    _check_level,
    _combine,
    _contrast_arrays,
    _contrast_json,
    _float_array,
    _json,
    _paired_subtract,
    _percentile,
    _replicate_arrays,
    paired_difference,
)

# ----------------------------------------------------------------------------------------------
# 5. Contrast within one result set (per layer and headline)

def layer_contrast(scores_a, scores_b, replicates_a, replicates_b, *, headline_a=None, headline_b=None,
                   headline_replicates_a=None, headline_replicates_b=None, n_sounds=None, n_listeners=None,
                   level=0.95, alpha=0.05, test: str = "t") -> dict:
    """Paired a - b per layer and for the headline, BH across layers (Schütt et al. 2023; BH 1995).

    Per layer as `paired_difference` on shared resamples, with Benjamini-Hochberg correction across
    the layers; the headline contrast is tested alone.

    For a perceived vs a physical target, transfer vs the no-transfer baseline, partial vs raw
    RSA, a model vs its control: a and b come from the same resamples. scores_a, scores_b `[L]`;
    replicates_a, replicates_b `[n_resamples, L]` (or dual mappings); headline_*: the headline
    scores (floats) and their replicates `[n_resamples]` or `Splits` (optional: give all four or none).

    Returns: layers: the `paired_difference` keys as `[L]` lists (difference, variance, se, ci, t,
    p_value, ci_percentile, p_bootstrap, n_resamples, dof, design, level) plus q_value `[L]` (BH
    across the layers of the chosen test's p) and reject `[L]` (q <= alpha); headline: the
    `paired_difference` keys for the headline contrast, or None; alpha; test.
    """
    if test not in ("t", "bootstrap"):
        raise ValueError(f"test must be 't' or 'bootstrap' (got {test!r})")
    sa, sb = _float_array(scores_a, "scores_a"), _float_array(scores_b, "scores_b")
    if sa.ndim != 1 or sa.shape != sb.shape:
        raise ValueError(f"scores_a and scores_b must be `[n_layers]` of one length (got {sa.shape}, {sb.shape})")
    ra, rb = _replicate_arrays(replicates_a, "replicates_a"), _replicate_arrays(replicates_b, "replicates_b")
    arrays = _contrast_arrays(sa - sb, _combine(_paired_subtract, ra, rb), n_sounds, n_listeners, level)
    q = _bh_arrays(arrays["p_value"] if test == "t" else arrays["p_bootstrap"])
    layers = _contrast_json(arrays, "difference")
    layers["q_value"] = _json(q)
    layers["reject"] = _json(np.isfinite(q) & (q <= alpha))
    heads = (headline_a, headline_b, headline_replicates_a, headline_replicates_b)
    headline = None
    if any(h is not None for h in heads):
        if headline_replicates_a is None or headline_replicates_b is None:
            raise ValueError("the headline contrast needs headline_replicates_a and headline_replicates_b")
        if headline_a is None or headline_b is None:  # an undefined headline score: the contrast is undefined
            headline_a = np.nan if headline_a is None else headline_a
            headline_b = np.nan if headline_b is None else headline_b
        headline = paired_difference(headline_a, headline_b, headline_replicates_a, headline_replicates_b,
                                     n_sounds=n_sounds, n_listeners=n_listeners, level=level)
    return {"layers": layers, "headline": headline, "alpha": float(alpha), "test": test}


# ----------------------------------------------------------------------------------------------
# 6. Depth trend

def _spearman_with_index(x: np.ndarray) -> np.ndarray:
    """Spearman rho of each row of x `[m, L]` with 0..L-1 over its finite entries (at least 3)."""
    from scipy.stats import rankdata

    x = np.atleast_2d(x)
    out = np.full(x.shape[0], np.nan)
    full = np.all(np.isfinite(x), axis=1)

    def rho(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
        r = rankdata(rows, method="average", axis=1)
        r = r - r.mean(axis=1, keepdims=True)
        i = rankdata(index) - rankdata(index).mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            val = (r @ i) / np.sqrt((r * r).sum(axis=1) * (i @ i))
        return np.where((r * r).sum(axis=1) > 0, val, np.nan)

    if x.shape[1] >= 3 and full.any():
        out[full] = rho(x[full], np.arange(x.shape[1], dtype=np.float64))
    for m in np.flatnonzero(~full):
        ok = np.isfinite(x[m])
        if ok.sum() >= 3:
            out[m] = rho(x[m, ok][None], np.flatnonzero(ok).astype(np.float64))[0]
    return out


def depth_trend(scores, replicates, *, n_sounds=None, n_listeners=None, level: float = 0.95) -> dict:
    """How the score changes with depth: the least-squares line through the per-layer scores, as the change
    it predicts from the first to the last defined layer (score units: an effect size), tested like any
    paired contrast; Spearman's rho (Spearman 1904) beside it as a description of monotonicity.

    The change is a fixed linear combination of the per-layer scores (weights (l - mean) / sum (l - mean)^2
    times the depth span), so its replicates are the same combination of the per-layer replicates and
    its test is `contrast_statistics` (variance of the design, t-test): calibrated as every paired test,
    where a bootstrap test of rho alone rewarded tiny but consistent differences between nearly equal
    layers (a rho near 1 over scores that differ by 1e-3).

    scores `[L]` (per-layer scores on all the data), replicates `[n_resamples, L]` or a dual mapping.
    Undefined layers are left out (at least 3 defined). Returns: change (last minus first, fitted),
    ci, se, p_value, dof, design; rho with rho_ci (percentile interval over the replicates; "both" in
    the dual design); n_resamples; n_layers (defined layers); span ([first, last] defined layer index).
    """
    level = _check_level(level)
    s = _float_array(scores, "scores")
    if s.ndim != 1:
        raise ValueError(f"scores must be `[n_layers]` (got shape {s.shape})")
    reps = _replicate_arrays(replicates)
    if reps.main.ndim != 3 or reps.main.shape[2] != s.size:
        raise ValueError(f"replicates must be `[n_resamples, {s.size}]`, got {reps.main.shape[:1] + reps.main.shape[2:]}")
    defined = np.flatnonzero(np.isfinite(s))
    out = {"change": None, "ci": [None, None], "se": None, "p_value": None, "dof": None, "design": None,
           "rho": None, "rho_ci": [None, None], "n_resamples": 0, "n_layers": int(defined.size), "span": None}
    if defined.size < 3:
        return out
    depth = defined.astype(np.float64)
    centred = depth - depth.mean()
    weights = np.zeros(s.size)
    weights[defined] = centred / (centred @ centred) * (depth[-1] - depth[0])
    change_reps = reps.map(lambda r: np.where(np.isfinite(r[..., defined]).all(axis=-1),
                                              np.nan_to_num(r) @ weights, np.nan))
    stats_ = _contrast_json(_contrast_arrays(float(s[defined] @ weights[defined]), change_reps, n_sounds, n_listeners,
                                             level))
    boot = reps.main[:, 0]
    rho_b = _spearman_with_index(boot)
    rho = _spearman_with_index(s)[0]
    valid = np.isfinite(rho_b) & np.isfinite(rho)
    out.update(change=stats_["estimate"], ci=stats_["ci"], se=stats_["se"], p_value=stats_["p_value"],
               dof=stats_["dof"], design=stats_["design"], rho=_json(rho),
               rho_ci=_json(_percentile(rho_b, valid, level)), n_resamples=stats_["n_resamples"],
               span=[int(defined[0]), int(defined[-1])])
    return out


# ----------------------------------------------------------------------------------------------
# 7. A score against the noise ceiling

def attainable_ratio(score, reliability) -> dict:
    """score / sqrt(reliability): the score as a fraction of what a perfect model would reach against the
    noisy target (classical test theory: a target of reliability r_tt correlates at most sqrt(r_tt) with
    anything, its own true values included; Spearman 1904's correction for attenuation; Lage-Castellanos
    et al. 2019, PLoS Comput. Biol. 15:e1006397, for noise ceilings). Dividing by r_tt itself, as a
    ratio "of the ceiling" often does, overstates the fraction by 1 / sqrt(r_tt) (a perfect model
    shows more than 100%).

    A descriptive ratio of point estimates, not a test: undefined (None) when the reliability is not
    positive. Scalars or arrays of one shape. Returns: ratio, attainable (sqrt(reliability)).
    """
    s = _float_array(score, "score")
    r = _float_array(reliability, "reliability")
    with np.errstate(invalid="ignore", divide="ignore"):
        attainable = np.where(r > 0, np.sqrt(np.where(r > 0, r, 1.0)), np.nan)
        ratio = s / attainable
    return _json({"ratio": ratio, "attainable": attainable})
