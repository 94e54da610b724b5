"""Corrections for multiple comparisons: Benjamini-Hochberg (1995) adjusted p-values over a family of tests."""

from __future__ import annotations

import numpy as np

from audioprobe.metrics.inference.paired import _float_array, _json

# ----------------------------------------------------------------------------------------------
# 2. Benjamini-Hochberg and the table of all pairs

def _bh_numpy(p: np.ndarray) -> np.ndarray:
    """BH adjusted p of a 1-D array of finite p-values (fallback when scipy has no
    `false_discovery_control`): q_(i) = min_{j >= i} p_(j) m / j, capped at 1."""
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def _bh_arrays(p_values) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return q
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    try:
        from scipy.stats import false_discovery_control  # scipy >= 1.11
    except ImportError:  # pragma: no cover (the installed scipy has it)
        q[ok] = _bh_numpy(p[ok])
    else:
        q[ok] = false_discovery_control(p[ok], method="bh")
    return q


def benjamini_hochberg(p_values, alpha: float = 0.05) -> dict:
    """BH q_(i) = min_{j>=i} m p_(j) / j and rejections q <= alpha (Benjamini & Hochberg 1995).

    Benjamini & Hochberg (1995, J. R. Stat. Soc. B 57:289); computed by scipy
    `false_discovery_control(method="bh")`; controls the false discovery rate at alpha.

    p_values: any shape; None / NaN entries are not tests (left out of m, q None, reject False).
    Returns: q_value (same shape), reject (bool, same shape), m (number of tests), alpha.
    """
    p = _float_array(p_values, "p_values")
    q = _bh_arrays(p)
    return _json({"q_value": q, "reject": np.isfinite(q) & (q <= alpha), "m": int(np.isfinite(p).sum()),
                  "alpha": float(alpha)})
