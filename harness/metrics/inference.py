"""Paired inference on scores: from bootstrap replicates to claims (differences, tables, ranks).

Arrays in, plain JSON-friendly values out; nothing here sees a model, a task or a file. Follows
Schütt et al. (2023, eLife 12:e82566, "Statistical inference on representational geometries") as
implemented in rsatoolbox (`rsatoolbox.util.inference_util`, `rsatoolbox.inference.evaluate`);
the code is ours, the formulas are theirs (the tests check both on the same numbers).

**Replicates.** A score computed on all the data is the *estimate*; the same score recomputed on
resample b is replicate b. Paired inference needs *shared* resamples: row b of every replicate
array that is compared came from the same resample (of sounds, and of listeners where there are
any). Replicates are given in one of these designs:

- one factor: an array `[n_resamples, ...]` (e.g. sounds resampled with replacement; or sounds and
  listeners resampled together in one bootstrap, rsatoolbox's `eval_bootstrap`);
- split replicates of a cross-validated score: `Splits(values [n_resamples, n_splits, ...],
  cv_splits)`, the score of each of the same few half-splits in each resample (a plain array pairs
  with them as one split repeated);
- two factors (the *dual bootstrap*, rsatoolbox's `eval_dual_bootstrap`): a mapping with keys
  `"both"` (sounds and listeners resampled), `"sounds"` (sounds only, every listener kept) and
  `"listeners"` (listeners only, every sound kept), each `[n_resamples, ...]` (or `Splits`), row b
  of the three from the same draw of indices.

NaN marks a replicate that is undefined (a resample where the score cannot be computed); it is
dropped pairwise: for a contrast, the resamples where the contrast is defined are used (in the
dual design, those where all three kinds are defined, as rsatoolbox keeps `eval_ok` rows).

**Variance of a contrast** (a score, or a difference of scores formed replicate by replicate;
the formulas live in `intervals`). One factor: the variance over resamples (ddof 1, as `np.cov`;
for split replicates `intervals.split_variance`, the splits' noise removed) times n / (n - 1), n
the number of sampled units (rsatoolbox `_correct_1d`; n = min(n_sounds, n_listeners) when both
are given and the replicates come from one joint bootstrap, no correction when no n is given).
Two factors (Schütt et al. 2023, eq. for the dual bootstrap; rsatoolbox `_dual_bootstrap`), with
v_b, v_s, v_l the bootstrap variances of "both", "sounds", "listeners" and S, L the numbers of
sounds and listeners:

    v = L/(L-1) v_l + S/(S-1) v_s - S L/((S-1)(L-1)) (v_b - v_l - v_s)
    clipped to [max(L/(L-1) v_l, S/(S-1) v_s), v_b]

and, when S or L is not given, the large-sample form v = 2 (v_l + v_s) - v_b clipped to
[max(v_l, v_s), v_b]. The t-test uses t = estimate / sqrt(max(v, eps)). Degrees of freedom: one
factor, n - 1 (rsatoolbox); two factors, Satterthwaite's (1946) for the dual variance
(`intervals.dual_dof`: between min(S, L) - 1 and about S L, where rsatoolbox uses min(S, L) - 1
throughout); with no n given the normal distribution (dof infinite, reported as None).

**Conventions that differ from rsatoolbox**, on purpose: (1) the contrast's estimate is the score
on all the data, not the mean of the bootstrap replicates (rsatoolbox's `t_tests` take the mean of
`evaluations`); (2) p-values use the survival function, 2 sf(|t|), not 2 (1 - cdf(|t|)) (equal
to rounding, but exact for small p); (3) the bootstrap p-value drops undefined resamples, where
rsatoolbox counts them in the denominator; (4) when every replicate difference is exactly 0 the
bootstrap p-value is 1 (rsatoolbox: NaN); (5) Satterthwaite's dof for the dual variance.

Every returned value is a float, an int, a bool, None (undefined: never NaN) or a (nested) list
of those, so a caller can write it to JSON as it is.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

import numpy as np

from audioprobe.metrics import intervals
from audioprobe.metrics.intervals import percentile_interval

#: Keys of a dual-bootstrap replicate mapping: both factors, sounds only, listeners only.
DUAL_KEYS = ("both", "sounds", "listeners")


# ----------------------------------------------------------------------------------------------
# JSON-friendly output

def _json(x):
    """numpy values to float / int / bool / None (non-finite floats) / nested lists."""
    if isinstance(x, Mapping):
        return {k: _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return _json(x.item())
        return [_json(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if np.isfinite(x) else None
    return x


def _float_array(x, name: str) -> np.ndarray:
    """An array of float64, with None read as NaN."""
    if x is None:
        raise ValueError(f"{name} is missing")
    arr = np.asarray(x, dtype=object if _has_none(x) else None)
    if arr.dtype == object:
        arr = np.where(arr == None, np.nan, arr)  # noqa: E711 (elementwise)
    return np.asarray(arr, dtype=np.float64)


def _has_none(x) -> bool:
    if x is None:
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_none(v) for v in x)
    return False


# ----------------------------------------------------------------------------------------------
# Designs: one factor or the dual bootstrap; plain or split replicates

@dataclasses.dataclass(frozen=True)
class OverPairs:
    """Replicates (any design below) of a statistic over the pairs of the sounds (an RSA score), with the
    sound counts of their resamples `[n_resamples, n_sounds]` (in the dual design, those of the "both" and
    "sounds" kinds). Their variance removes twice the pairs' own noise, which a bootstrap of sounds counts
    three times where it happens once (`intervals`, "Statistics over pairs of sounds"). A contrast keeps
    the correction when every replicate set in it carries the same counts (results on the same resamples),
    and drops it otherwise (then it is conservative).

    columns: which scores (the last axis) are such statistics, a bool per score (None: all). A table that
    mixes them corrects each score's own variance, and no difference, covariance or reduction of scores:
    correcting one side of a difference alone could count less noise than it has."""

    replicates: object
    sound_counts: np.ndarray
    columns: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Splits:
    """Replicates of a cross-validated score, `[n_resamples, n_splits, *S]`: in each resample the score
    of each of the same n_splits half-splits of the sounds (`layer_selection.split_held_out`); the estimate
    averages `cv_splits` splits. Their variance is `intervals.split_variance`: the splits' own noise is
    removed, so the test has the power of the statistic, not of one noisy split per resample."""

    values: np.ndarray
    cv_splits: int | None = None


def _is_dual(replicates) -> bool:
    return isinstance(replicates, Mapping)


def _as_split_array(x, name: str) -> tuple[np.ndarray, int | None]:
    """(values `[n_resamples, n_splits, *S]`, cv_splits): plain replicates get a split axis of length 1."""
    if isinstance(x, Splits):
        arr = _float_array(x.values, name)
        if arr.ndim < 2:
            raise ValueError(f"{name}: split replicates need `[n_resamples, n_splits, ...]`, got shape {arr.shape}")
        return arr, x.cv_splits
    arr = _float_array(x, name)
    if arr.ndim < 1:
        raise ValueError(f"{name}: replicates need a leading resample axis `[n_resamples, ...]`")
    return arr[:, None], None


@dataclasses.dataclass(frozen=True)
class _Design:
    """Replicates normalised: `[n_resamples, n_splits, *S]` arrays (one, or one per dual kind)."""

    arrays: np.ndarray | dict
    cv_splits: int | None
    sound_counts: np.ndarray | None = None  # `OverPairs`: the resamples' sound counts
    pair_columns: np.ndarray | None = None  # `OverPairs.columns`: None, or some scores only

    @property
    def dual(self) -> bool:
        return isinstance(self.arrays, dict)

    @property
    def shared_counts(self) -> np.ndarray | None:
        """The counts when the correction holds for every score (and so for their combinations)."""
        return None if self.pair_columns is not None and not np.all(self.pair_columns) else self.sound_counts

    @property
    def main(self) -> np.ndarray:
        """The replicates over every resampled factor ("both" in the dual design)."""
        return self.arrays["both"] if self.dual else self.arrays

    def map(self, fn) -> "_Design":
        return _Design({k: fn(v) for k, v in self.arrays.items()} if self.dual else fn(self.arrays), self.cv_splits,
                       self.shared_counts)


def _replicate_arrays(replicates, name: str = "replicates") -> _Design:
    """The normalised design of one-factor, split or dual replicates; checks shapes."""
    if isinstance(replicates, _Design):
        return replicates
    if isinstance(replicates, OverPairs):
        inner = _replicate_arrays(replicates.replicates, name)
        counts = np.asarray(replicates.sound_counts)
        if counts.ndim != 2 or counts.shape[0] != inner.main.shape[0]:
            raise ValueError(f"{name}: sound counts must be `[n_resamples, n_sounds]` with {inner.main.shape[0]} rows, "
                             f"got shape {counts.shape}")
        columns = None
        if replicates.columns is not None:
            columns = np.asarray(replicates.columns, dtype=bool)
            if columns.shape != inner.main.shape[-1:]:
                raise ValueError(f"{name}: columns must be one bool per score ({inner.main.shape[-1]}), got shape "
                                 f"{columns.shape}")
        return dataclasses.replace(inner, sound_counts=replicates.sound_counts, pair_columns=columns)
    if _is_dual(replicates):
        missing = [k for k in DUAL_KEYS if k not in replicates]
        extra = [k for k in replicates if k not in DUAL_KEYS]
        if missing or extra:
            raise ValueError(f"{name}: a dual-bootstrap mapping needs exactly the keys {list(DUAL_KEYS)}"
                             f" (missing {missing}, unknown {extra})")
        parts = {k: _as_split_array(replicates[k], f"{name}[{k!r}]") for k in DUAL_KEYS}
        arrays = {k: a for k, (a, _) in parts.items()}
        if len({a.shape for a in arrays.values()}) != 1:
            raise ValueError(f"{name}: 'both', 'sounds' and 'listeners' must have the same shape, got"
                             f" {[arrays[k].shape for k in DUAL_KEYS]}")
        return _Design(arrays, _min_splits(c for _, c in parts.values()))
    arr, cv = _as_split_array(replicates, name)
    return _Design(arr, cv)


def _min_splits(values) -> int | None:
    given = [v for v in values if v]
    return min(given) if given else None


def _broadcast_splits(*arrays: np.ndarray) -> list[np.ndarray]:
    """Arrays `[n_resamples, n_splits, *S]` with one split (a plain score) broadcast to the others' splits."""
    k = max(a.shape[1] for a in arrays)
    if any(a.shape[1] not in (1, k) for a in arrays):
        raise ValueError(f"split replicates of {sorted({a.shape[1] for a in arrays})} splits cannot be paired")
    return [np.broadcast_to(a, (a.shape[0], k) + a.shape[2:]) for a in arrays]


def _shared_counts(designs) -> np.ndarray | None:
    """The sound counts every design carries, when they are the same draws (else None: no correction)."""
    first = designs[0].shared_counts
    if first is None:
        return None
    for d in designs[1:]:
        c = d.shared_counts
        if c is None or not (c is first or (c.shape == first.shape and np.array_equal(c, first))):
            return None
    return first


def _combine(fn, *reps) -> _Design:
    """Apply fn to corresponding arrays of one or several replicate sets of the same design (fn sees
    `[n_resamples, n_splits, *S]` arrays)."""
    designs = [_replicate_arrays(r) for r in reps]
    if any(d.dual for d in designs) and not all(d.dual for d in designs):
        raise ValueError("replicates mix the one-factor and the dual-bootstrap designs")
    cv = _min_splits(d.cv_splits for d in designs)
    counts = _shared_counts(designs)
    if designs[0].dual:
        return _Design({k: fn(*_broadcast_splits(*(d.arrays[k] for d in designs))) for k in DUAL_KEYS}, cv, counts)
    return _Design(fn(*_broadcast_splits(*(d.arrays for d in designs))), cv, counts)


def _paired_subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape[:1] + a.shape[2:] != b.shape[:1] + b.shape[2:]:
        raise ValueError(f"paired replicates must have the same shape (got {a.shape} and {b.shape})")
    return a - b


def _n_checked(n, name):
    if n is None:
        return None
    n = int(n)
    if n < 2:
        raise ValueError(f"{name} must be at least 2 (got {n})")
    return n


def _dof(n_sounds, n_listeners):
    """One factor: dof = min(given n) - 1 (rsatoolbox), inf when no n is given (normal distribution)."""
    given = [n for n in (n_sounds, n_listeners) if n is not None]
    return float(min(given) - 1) if given else np.inf


def _corrected_1d(variance, n_sounds=None, n_listeners=None):
    """One-factor small-sample correction v n / (n - 1), n = min(given n) (rsatoolbox `_correct_1d`).

    variance: any shape; n_sounds, n_listeners: the numbers of units that were resampled (None: not
    resampled or not known). Returns the corrected array (unchanged when no n is given).
    """
    given = [n for n in (n_sounds, n_listeners) if n is not None]
    v = np.asarray(variance, dtype=np.float64)
    if not given:
        return v
    n = min(given)
    return (n / (n - 1.0)) * v


def _bootstrap_p(d: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p of d = 0 over axis 0 (rsatoolbox `bootstrap_pair_tests`):
    prop = #(d < 0) / (n - #(d = 0)); p = 2 min(prop, 1 - prop); p = (n - 1)/n p + 1/n."""
    n = valid.sum(axis=0).astype(np.float64)
    less = (valid & (d < 0)).sum(axis=0)
    ties = (valid & (d == 0)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = less / (n - ties)
        p = 2.0 * np.minimum(prop, 1.0 - prop)
        p = (n - 1.0) / n * p + 1.0 / n
    p = np.where(n - ties == 0, 1.0, p)  # every difference exactly 0: no evidence either way
    return np.where(n >= 1, p, np.nan)


def _percentile(samples: np.ndarray, valid: np.ndarray, level: float) -> np.ndarray:
    """Percentile interval over axis 0 of the valid entries -> `[..., 2]` (intervals.percentile_interval)."""
    shape = samples.shape[1:]
    flat = np.where(valid, samples, np.nan).reshape(samples.shape[0], -1)
    return percentile_interval(flat, level).reshape(*shape, 2)


def _check_level(level):
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (got {level})")
    return level


def _variance_and_dof(design: _Design, n_sounds, n_listeners) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(variance, dof, valid `[n_resamples, *S]`) of replicates in any design (module docstring)."""
    if design.pair_columns is not None and design.sound_counts is not None and not np.all(design.pair_columns):
        # some scores only: each marked one corrected on its own (its own valid resamples), the rest plain
        variance, dof, valid = _variance_and_dof(dataclasses.replace(design, sound_counts=None, pair_columns=None),
                                                 n_sounds, n_listeners)
        every = dataclasses.replace(design, pair_columns=None)
        for j in np.flatnonzero(design.pair_columns):
            v, d, _ = _variance_and_dof(every.map(lambda a, j=j: a[..., j:j + 1]), n_sounds, n_listeners)
            variance[..., j], dof[..., j] = v[..., 0], d[..., 0]
        return variance, dof, valid
    cv = design.cv_splits
    if design.dual:
        reps = design.arrays
        valid = np.all(np.isfinite(reps["both"]) & np.isfinite(reps["sounds"]) & np.isfinite(reps["listeners"]),
                       axis=1)
        variance, dof = intervals.dual_variance_of(reps["both"], reps["listeners"], reps["sounds"], n_listeners,
                                                   n_sounds, cv, split_axis=True, sound_counts=design.sound_counts)
        return variance, dof, valid
    valid = np.all(np.isfinite(design.arrays), axis=1)
    noise = (None if design.sound_counts is None else
             intervals.pair_noise_variance(design.arrays, design.sound_counts, valid))
    variance = _corrected_1d(intervals.split_variance(design.arrays, cv, valid, pair_noise=noise), n_sounds,
                             n_listeners)
    return variance, np.full(np.shape(variance), _dof(n_sounds, n_listeners)), valid


def _contrast_arrays(estimate, replicates, n_sounds=None, n_listeners=None, level=0.95) -> dict:
    """Array form of `contrast_statistics` (NaN for undefined); see there for the keys."""
    from scipy import stats as sstats  # scipy.stats costs ~0.3 s to import: only when used

    level = _check_level(level)
    n_sounds, n_listeners = _n_checked(n_sounds, "n_sounds"), _n_checked(n_listeners, "n_listeners")
    est = np.asarray(estimate, dtype=np.float64)
    design = _replicate_arrays(replicates)
    main = design.main
    if main.shape[2:] != est.shape:
        raise ValueError(f"replicates have shape {main.shape[:1] + main.shape[2:]} but the estimate has shape "
                         f"{est.shape}; expected replicates `[n_resamples, *estimate.shape]`")
    variance, dof, valid = _variance_and_dof(design, n_sounds, n_listeners)
    variance = np.where(np.isfinite(est), variance, np.nan)
    se = np.sqrt(np.maximum(variance, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = est / np.sqrt(np.maximum(variance, np.finfo(float).eps))
    p = 2.0 * sstats.t.sf(np.abs(t), dof)
    q = sstats.t.ppf(0.5 + level / 2.0, dof)
    ci = np.stack([est - q * se, est + q * se], axis=-1)
    boot_valid = valid & np.isfinite(est)[None]
    if main.shape[1] == 1:  # plain replicates: their percentile interval and bootstrap p are defined
        boot = main[:, 0]
        ci_percentile, p_bootstrap = _percentile(boot, boot_valid, level), _bootstrap_p(boot, boot_valid)
    else:  # split replicates carry the splits' noise: no percentile statistics of them
        ci_percentile, p_bootstrap = np.full(est.shape + (2,), np.nan), np.full(est.shape, np.nan)
    return {
        "estimate": est, "variance": variance, "se": se, "dof": np.where(np.isfinite(est), dof, np.nan), "t": t,
        "p_value": p, "ci": ci, "ci_percentile": ci_percentile, "p_bootstrap": p_bootstrap,
        "n_resamples": np.where(np.isfinite(est), boot_valid.sum(axis=0), 0),
        "design": ("dual" if design.dual else "one-factor") + (" (split replicates)" if main.shape[1] > 1 else ""),
        "level": level,
    }


def _dof_json(dof):
    """dof values for JSON: None where infinite (the normal distribution) or undefined, else rounded to 0.1."""
    d = np.asarray(dof, dtype=np.float64)
    return _json(np.where(np.isfinite(d), np.round(d, 1), np.nan))


def _contrast_json(arrays: dict, difference_key: str = "estimate") -> dict:
    out = {difference_key: arrays["estimate"]}
    for key in ("variance", "se", "ci", "t", "p_value", "ci_percentile", "p_bootstrap", "n_resamples"):
        out[key] = arrays[key]
    out["dof"] = _dof_json(arrays["dof"])
    out["design"] = arrays["design"]
    out["level"] = arrays["level"]
    return _json(out)


# ----------------------------------------------------------------------------------------------
# 1. One contrast, one paired difference

def contrast_statistics(estimate, replicates, *, n_sounds=None, n_listeners=None, level=0.95) -> dict:
    """Variance, t-test and bootstrap test of a score or contrast (Schütt et al. 2023; rsatoolbox).

    The variance is rsatoolbox's `extract_variances` (`_correct_1d` / `_dual_bootstrap`), the t-test
    its `t_tests`, the bootstrap p its `bootstrap_pair_tests`, applied to one quantity.

    estimate: the score or contrast on all the data (scalar or array, shape `S`); replicates:
    `[n_resamples, *S]` (one factor), `Splits` of `[n_resamples, n_splits, *S]`, or a mapping "both" /
    "sounds" / "listeners" of such (dual bootstrap). n_sounds, n_listeners: the numbers of sampled units (give the ones that were
    resampled; both for the dual design's small-sample formula). Vectorised over `S`.

    Returns (each value of shape `S`, or `S + [2]` for intervals; None where undefined):
    estimate; variance (module docstring); se = sqrt(variance); t = estimate / se; p_value
    (two-sided t-test of 0, dof); ci (estimate -/+ t_{dof, (1+level)/2} se); ci_percentile
    (percentile interval of the replicates: of "both" in the dual design; None for split replicates,
    which carry their splits' noise); p_bootstrap (two-sided bootstrap p of 0, rsatoolbox
    `bootstrap_pair_tests`; None for split replicates); n_resamples (resamples used); dof (None for
    the normal distribution); design ("one-factor" or "dual", "(split replicates)" added); level.
    """
    reps = _replicate_arrays(replicates)
    return _contrast_json(_contrast_arrays(_float_array(estimate, "estimate"), reps, n_sounds, n_listeners,
                                           level))


def paired_difference(estimate_a, estimate_b, replicates_a, replicates_b, *, n_sounds=None,
                      n_listeners=None, level=0.95) -> dict:
    """Paired a - b: variance of replicate differences, t and bootstrap tests (Schütt et al. 2023).

    Equal to rsatoolbox `extract_variances` on the pair's covariance, then `t_tests` and
    `bootstrap_pair_tests`.

    estimate_a, estimate_b: the two scores on all the data (scalars, or arrays of one shape `S` for
    many pairs at once); replicates_a, replicates_b: `[n_resamples, *S]` each, or dual-bootstrap
    mappings (module docstring), row b of both from the same resample. A resample where either is
    NaN is dropped.

    Returns the keys of `contrast_statistics`, with `difference` (a - b) in place of `estimate`.
    """
    ra, rb = _replicate_arrays(replicates_a, "replicates_a"), _replicate_arrays(replicates_b, "replicates_b")
    diff_reps = _combine(_paired_subtract, ra, rb)
    est = _float_array(estimate_a, "estimate_a") - _float_array(estimate_b, "estimate_b")
    arrays = _contrast_arrays(est, diff_reps, n_sounds, n_listeners, level)
    return _contrast_json(arrays, "difference")


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


def _estimates_and_reps(estimates, replicates) -> tuple[np.ndarray, _Design]:
    est = _float_array(estimates, "estimates")
    if est.ndim != 1:
        raise ValueError(f"estimates must be one value per model `[k]` (got shape {est.shape})")
    reps = _replicate_arrays(replicates)
    shape = reps.main.shape
    if len(shape) != 3 or shape[2] != est.size:
        raise ValueError(f"replicates must be `[n_resamples, {est.size}]` (one column per model), got "
                         f"{shape[:1] + shape[2:]}")
    return est, reps


#: Monte Carlo draws behind the simultaneous critical value (the quantile of the largest |t| over the
#: pairs): its 95% quantile then has a Monte Carlo standard error of about 0.01 (in t units).
SIMULTANEOUS_DRAWS = 200_000
#: Seed of those draws: the same critical value for the same correlations, run after run.
SIMULTANEOUS_SEED = 20240622


def _score_covariance(design: _Design, n_sounds, n_listeners) -> np.ndarray:
    """`[k, k]` covariance of k scores from their replicates `[n_resamples, n_splits, k]`, in the design's
    own terms (`intervals.split_covariance`; the dual combination of Schütt et al. 2023 without its clip),
    made positive semi-definite (negative eigenvalues set to 0)."""
    cv, counts = design.cv_splits, design.shared_counts
    if design.dual:
        rows = np.all(np.isfinite(np.stack([design.arrays[k] for k in DUAL_KEYS])), axis=(0, 2, 3))
        noise = (0.0 if counts is None else intervals.pair_noise_covariance(design.arrays["sounds"], counts, rows))
        c = {k: intervals.split_covariance(design.arrays[k], cv) - (2.0 * noise if k != "listeners" else 0.0)
             for k in DUAL_KEYS}
        if n_sounds is None or n_listeners is None:
            cov = 2.0 * (c["listeners"] + c["sounds"]) - c["both"]
        else:
            kl, ks = n_listeners / (n_listeners - 1.0), n_sounds / (n_sounds - 1.0)
            cov = kl * c["listeners"] + ks * c["sounds"] - kl * ks * (c["both"] - c["listeners"] - c["sounds"])
    else:
        cov = _corrected_1d(intervals.split_covariance(design.arrays, cv, counts), n_sounds, n_listeners)
    if not np.all(np.isfinite(cov)):
        return cov
    w, v = np.linalg.eigh(0.5 * (cov + cov.T))
    return (v * np.maximum(w, 0.0)) @ v.T


def _max_abs_t(correlation: np.ndarray, dof: float) -> np.ndarray:
    """Sorted draws of max_p |T_p| for T multivariate t with `dof` (normal when infinite) and the given
    correlation `[P, P]` (Hothorn, Bretz & Westfall 2008: the single-step max-t of simultaneous tests;
    multivariate t as in Dunnett 1955). Monte Carlo, seeded (SIMULTANEOUS_DRAWS, SIMULTANEOUS_SEED)."""
    w, v = np.linalg.eigh(correlation)
    root = v * np.sqrt(np.maximum(w, 0.0))
    rng = np.random.default_rng(SIMULTANEOUS_SEED)
    out = []
    chunk = max(1, 2_000_000 // max(correlation.shape[0], 1))
    for start in range(0, SIMULTANEOUS_DRAWS, chunk):
        m = min(chunk, SIMULTANEOUS_DRAWS - start)
        z = rng.standard_normal((m, root.shape[1])) @ root.T
        if np.isfinite(dof):
            z /= np.sqrt(rng.chisquare(dof, size=m) / dof)[:, None]
        out.append(np.abs(z).max(axis=1))
    return np.sort(np.concatenate(out))


def simultaneous_pairs(estimates, replicates, *, n_sounds=None, n_listeners=None, level=0.95) -> dict:
    """Every pairwise difference of k models tested at once, the family-wise error rate held at 1 - level
    (the single-step max-t procedure; Hothorn, Bretz & Westfall 2008, Biom. J. 50:346).

    Each pair's t is that of `paired_difference` (its variance and dof from the design, as the pairwise
    table); the critical value c is the `level` quantile of max |T| over all pairs of the defined models,
    T multivariate t with the correlation of the pair differences (from the models' covariance,
    `_score_covariance`) and the smallest dof of the pairs. With probability `level` every interval
    d -/+ c se covers its difference at once; `p_adjusted` is the share of draws whose max |T| reaches
    |t| (Westfall & Young 1993, single step). Two models: c is the t quantile, p_adjusted the t-test's p.

    estimates `[k]`, replicates `[n_resamples, k]` (or `Splits`, or a dual mapping). Returns `[k][k]` tables
    (entry [i][j] about i minus j): difference, t, ci_simultaneous, p_adjusted, better (i significantly
    above j); critical_value, dof (the one used), n_pairs, level.
    """
    level = _check_level(level)
    est, reps = _estimates_and_reps(estimates, replicates)
    k = est.size
    defined = np.flatnonzero(np.isfinite(est))
    diff_reps = _combine(lambda r: r[..., :, None] - r[..., None, :], reps)
    arrays = _contrast_arrays(est[:, None] - est[None, :], diff_reps, n_sounds, n_listeners, level)
    off = ~np.eye(k, dtype=bool)
    t, se = np.where(off, arrays["t"], np.nan), arrays["se"]
    iu = [(a, b) for ai, a in enumerate(defined) for b in defined[ai + 1:]
          if np.isfinite(t[a, b]) and se[a, b] > 0]
    out = {"difference": np.where(off, arrays["estimate"], np.nan), "t": t, "ci_simultaneous": np.full((k, k, 2), np.nan),
           "p_adjusted": np.full((k, k), np.nan), "better": np.zeros((k, k), dtype=bool),
           "critical_value": np.nan, "dof": None, "n_pairs": len(iu), "level": level}
    if not iu:
        return _json(out)
    cov = _score_covariance(reps, n_sounds, n_listeners)
    contrasts = np.zeros((len(iu), k))
    for p, (a, b) in enumerate(iu):
        contrasts[p, a], contrasts[p, b] = 1.0, -1.0
    pair_cov = contrasts @ np.where(np.isfinite(cov), cov, 0.0) @ contrasts.T
    sd = np.sqrt(np.maximum(np.diag(pair_cov), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(np.outer(sd, sd) > 0, pair_cov / np.outer(sd, sd), 0.0)
    np.fill_diagonal(corr, 1.0)
    dofs = np.array([arrays["dof"][a, b] for a, b in iu])
    dof = float(np.min(dofs)) if np.all(np.isfinite(dofs)) else (float(np.min(dofs[np.isfinite(dofs)]))
                                                                  if np.isfinite(dofs).any() else np.inf)
    draws = _max_abs_t(corr, dof)
    c = float(np.quantile(draws, level))
    for a, b in iu:
        p_adj = 1.0 - np.searchsorted(draws, abs(t[a, b]), side="left") / draws.size
        for i, j, sign in ((a, b, 1.0), (b, a, -1.0)):
            d = sign * arrays["estimate"][a, b]
            out["ci_simultaneous"][i, j] = [d - c * se[a, b], d + c * se[a, b]]
            out["p_adjusted"][i, j] = p_adj
            out["better"][i, j] = sign * t[a, b] > c
    out.update(critical_value=c, dof=None if not np.isfinite(dof) else round(dof, 1))
    return _json(out)


def pairwise_table(estimates, replicates, *, n_sounds=None, n_listeners=None, level=0.95, alpha=0.05,
                   test: str = "t") -> dict:
    """All k(k-1)/2 paired differences of k models, BH-corrected (Schütt et al. 2023; BH 1995).

    Per pair as `paired_difference` (rsatoolbox `extract_variances` + `t_tests` /
    `bootstrap_pair_tests`), with Benjamini-Hochberg FDR control across the pairs (a caller that makes
    claims over several tables corrects across them: `benjamini_hochberg` on the p-values).

    estimates `[k]`, replicates `[n_resamples, k]` (or `Splits` of `[n_resamples, n_splits, k]`, or a dual
    mapping of such), shared resamples. test: "t" (the t-test, default) or "bootstrap": which p-value
    the BH correction uses (the bootstrap p exists for plain replicates only).

    Returns `[k][k]` tables, entry [i][j] about model i minus model j (the diagonal None):
    difference, variance, se, ci (`[k][k][2]`, t-based), dof, p_value (t), ci_percentile, p_bootstrap,
    q_value (BH over the pairs i < j of the chosen test, mirrored), reject (q <= alpha; False on the
    diagonal); plus score: per-model statistics of the score itself (`contrast_statistics` keys:
    estimate, variance, se, ci, t, p_value against 0, ci_percentile, p_bootstrap, n_resamples, dof);
    n_resamples `[k][k]`; design, level, alpha, test, m (number of pairs).
    """
    if test not in ("t", "bootstrap"):
        raise ValueError(f"test must be 't' or 'bootstrap' (got {test!r})")
    est, reps = _estimates_and_reps(estimates, replicates)
    k = est.size
    diff_reps = _combine(lambda r: r[..., :, None] - r[..., None, :], reps)
    arrays = _contrast_arrays(est[:, None] - est[None, :], diff_reps, n_sounds, n_listeners, level)
    off = ~np.eye(k, dtype=bool)
    iu = np.triu_indices(k, 1)
    p_used = arrays["p_value"] if test == "t" else arrays["p_bootstrap"]
    q_upper = _bh_arrays(p_used[iu])
    q = np.full((k, k), np.nan)
    q[iu] = q_upper
    q[(iu[1], iu[0])] = q_upper
    table = {}
    for key in ("variance", "se", "t", "p_value", "p_bootstrap", "dof"):
        table[key] = np.where(off, arrays[key], np.nan)
    table["difference"] = np.where(off, arrays["estimate"], np.nan)
    for key in ("ci", "ci_percentile"):
        table[key] = np.where(off[..., None], arrays[key], np.nan)
    table["n_resamples"] = np.where(off, arrays["n_resamples"], 0)
    table["q_value"] = q
    table["reject"] = np.isfinite(q) & (q <= alpha)
    score = _contrast_json(_contrast_arrays(est, reps, n_sounds, n_listeners, level))
    out = _json({key: table[key] for key in ("difference", "variance", "se", "ci", "t", "p_value",
                                               "ci_percentile", "p_bootstrap", "q_value", "reject",
                                               "n_resamples")})
    out["dof"] = _dof_json(table["dof"])
    out.update(score=score, design=score["design"], level=float(level), alpha=float(alpha),
               test=test, m=int(np.isfinite(q_upper).sum()))
    return out


# ----------------------------------------------------------------------------------------------
# 3. Ranks with simultaneous rank intervals, and the set of the best

def _average_ranks(x: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """Average ranks along the last axis, 1 = best (ties share the mean of their ranks)."""
    from scipy.stats import rankdata

    return rankdata(x if lower_is_better else -x, method="average", axis=-1)


def rank_intervals(estimates, replicates, *, n_sounds=None, n_listeners=None, lower_is_better: bool = False,
                   level: float = 0.95, simultaneous: dict | None = None) -> dict:
    """Ranks (1 = best, ties averaged) with simultaneous rank intervals (Mogstad, Romano, Shaikh & Wilhelm
    2024, Rev. Econ. Stud. 91:476, "Inference for ranks").

    From the simultaneous intervals of every pairwise difference (`simultaneous_pairs`): model j's rank
    is at least 1 + the number of models significantly better than j, and at most the number of
    defined models less the number significantly worse. Because the pairwise intervals hold together
    with probability `level`, so do all the rank intervals: the true ranks lie in them at once (not
    one at a time, as percentile intervals of bootstrap ranks would say: Hall & Miller 2009 discuss
    why those undercover). Two intervals that do not overlap say that the ranks differ.

    estimates `[k]`, replicates `[n_resamples, k]`, `Splits` or a dual mapping; n_sounds, n_listeners as
    `paired_difference`. lower_is_better: for error rates (rank 1 = lowest). Models whose estimate is
    undefined get None and are left out of every ranking. simultaneous: `simultaneous_pairs`' result
    when the caller has it (same arguments).

    Returns: rank `[k]`; rank_interval `[k][2]`; share_best `[k]` (descriptive: the fraction of resamples
    in which the model is best, split replicates averaged over their splits; a tie counts 1/t);
    n_resamples; critical_value; lower_is_better; level; method.
    """
    level = _check_level(level)
    est, reps = _estimates_and_reps(estimates, replicates)
    sim = simultaneous if simultaneous is not None else simultaneous_pairs(
        est, reps, n_sounds=n_sounds, n_listeners=n_listeners, level=level)
    k = est.size
    defined = np.isfinite(est)
    rank = np.full(k, np.nan)
    interval = np.full((k, 2), np.nan)
    share = np.full(k, np.nan)
    better = np.array(sim["better"], dtype=bool)  # [i][j]: i significantly above j (higher score)
    above = better.T if lower_is_better else better  # [i][j]: i significantly better than j
    n_used = 0
    if defined.any():
        rank[defined] = _average_ranks(est[defined], lower_is_better)
        n_def = int(defined.sum())
        for j in np.flatnonzero(defined):
            interval[j] = [1 + above[defined, j].sum(), n_def - above[j, defined].sum()]
        if reps.main.shape[1] > 1:  # a resample whose splits are all undefined stays NaN (and is left out below)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                boot = np.nanmean(reps.main, axis=1)[:, defined]
        else:
            boot = reps.main[:, 0, defined]
        rows = np.all(np.isfinite(boot), axis=1)
        sub = boot[rows]
        n_used = int(sub.shape[0])
        if n_used:
            best = sub == (sub.min(axis=1) if lower_is_better else sub.max(axis=1))[:, None]
            share[defined] = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return _json({"rank": rank, "rank_interval": interval, "share_best": share, "n_resamples": n_used,
                  "critical_value": sim["critical_value"], "lower_is_better": bool(lower_is_better), "level": level,
                  "method": "simultaneous rank intervals (Mogstad et al. 2024) from single-step max-t intervals of "
                            "every pairwise difference"})


def best_set(estimates, replicates, *, n_sounds=None, n_listeners=None, alpha=0.05, lower_is_better: bool = False,
             simultaneous: dict | None = None) -> dict:
    """A confidence set for the best model: the models that no other model is significantly better than,
    at family-wise level alpha over all pairs (Mogstad et al. 2024: the models whose simultaneous rank
    interval includes 1).

    With probability at least 1 - alpha it holds every model that is truly best (all of them when
    several tie), whatever the others are: so when all models are equal it holds all of them with
    probability 1 - alpha, and a model left out is worse than some other model with that confidence.
    This is not the "best and those not separated from it": the best on these data is itself a noisy
    choice, and a set tested against it (with k - 1 corrected tests) is not a confidence set.

    Returns: best (index of the highest estimate, lowest with lower_is_better; None if nothing is
    defined); members (indices in the set, by estimate); in_group `[k]` bool; gap `[k]` (best's estimate
    minus the model's, lower_is_better: the reverse); beaten_by `[k]` (for a model left out, the model
    whose advantage over it is most significant; None otherwise); critical_value, dof; alpha;
    lower_is_better; method.
    """
    est, reps = _estimates_and_reps(estimates, replicates)
    sim = simultaneous if simultaneous is not None else simultaneous_pairs(
        est, reps, n_sounds=n_sounds, n_listeners=n_listeners, level=1.0 - alpha)
    k = est.size
    defined = np.isfinite(est)
    sign = -1.0 if lower_is_better else 1.0
    base = {"critical_value": sim["critical_value"], "dof": sim["dof"], "alpha": float(alpha),
            "lower_is_better": bool(lower_is_better),
            "method": "confidence set for the best: models no other model is significantly better than (single-step "
                      "max-t over all pairs; Mogstad et al. 2024)"}
    if not defined.any():
        return _json({"best": None, "members": [], "in_group": np.zeros(k, bool), "gap": np.full(k, np.nan),
                      "beaten_by": [None] * k, **base})
    better = np.array(sim["better"], dtype=bool)
    above = better.T if lower_is_better else better  # above[i][j]: i significantly better than j
    t = np.array(sim["t"], dtype=object)
    in_group = defined & ~above[:, :].any(axis=0)
    beaten_by = [None] * k
    for j in np.flatnonzero(defined & ~in_group):
        winners = np.flatnonzero(above[:, j])
        beaten_by[j] = int(max(winners, key=lambda i: abs(float(t[i][j])) if t[i][j] is not None else 0.0))
    best = int(np.nanargmax(sign * est))
    order = [int(i) for i in np.argsort(-sign * est, kind="stable") if in_group[i]]
    gap = np.where(defined, sign * (est[best] - est), np.nan)
    return _json({"best": best, "members": order, "in_group": in_group, "gap": gap, "beaten_by": beaten_by, **base})


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
