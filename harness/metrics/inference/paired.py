"""Paired tests of scores from shared replicates: the replicate designs (one factor, split replicates,
the dual bootstrap; `OverPairs` for statistics over pairs of sounds), the variance of a contrast and its
t-test or bootstrap p-value (`contrast_statistics`, `paired_difference`). Conventions: the package
docstring."""

from __future__ import annotations

import dataclasses
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
