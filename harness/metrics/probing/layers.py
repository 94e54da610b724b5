"""Every probe of a transfer task, for every layer at once: the transfer probe, the baseline's outer-fold
probes and the matched-size probes, cut into independent jobs run in worker processes.

Jobs are independent fits (`probe.fit_probe`), so the results do not depend on the number of workers.
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics.probing.baseline import baseline_folds
from audioprobe.metrics.probing.labels import fold_count
from audioprobe.metrics.probing.matched import MatchedPredictions, matched_plan
from audioprobe.metrics.probing.probe import fit_probe


def release_workers() -> None:
    """Shut down the worker processes the probes ran in (joblib's reusable loky executor). They would
    otherwise idle for loky's timeout (300 s) and keep a finishing process, such as a local sweep's job
    worker, from exiting for as long; a later probe starts new ones."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def _workers(n_jobs: int | None) -> int:
    import os

    if n_jobs is None:
        n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, n_jobs)


def all_layer_predictions(layers: list[np.ndarray], train: np.ndarray, test: np.ndarray, y_train, y_test, c_grid,
                          inner_folds: int, n_baseline_folds: int, seed: int, max_iter: int,
                          n_jobs: int | None = None) -> list[tuple]:
    """(transfer predictions, chosen C, baseline out-of-fold predictions or None, `MatchedPredictions`
    or None) for every layer; the last two are None where there is no baseline (a test class of one
    sound).

    The work is cut into independent probes, one per (layer, transfer or baseline outer fold, matched
    probe of a fold), so a one-layer model keeps every core busy too; each probe runs single-threaded
    in a worker process (the fits are small: processes are the parallelism that helps), largest
    first. Matched probes (`matched_plan`) are fitted only where they are not a probe already there:
    per fold at most one more per layer (trained on m_f sounds, the smaller of the two sizes); a
    matched transfer probe uses inner folds as the transfer probe does (`fold_count` of its own labels),
    a subsampled matched baseline probe likewise. Results do not depend on the number of workers.
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(np.unique(y_train)) < 2:
        raise ValueError("the training subset has a single class: nothing to learn")
    plan = baseline_folds(y_test, n_baseline_folds, inner_folds, seed)
    matched = matched_plan(y_train, y_test, n_baseline_folds, inner_folds, seed)
    jobs = _probe_jobs(layers, train, test, y_train, y_test, c_grid, inner_folds, seed, max_iter, plan, matched)
    by_layer = _run_jobs(jobs, len(layers), n_jobs)
    return [_layer_result(by_layer[k], plan, matched, y_test) for k in range(len(layers))]


def _probe_jobs(layers, train, test, y_train, y_test, c_grid, inner_folds: int, seed: int, max_iter: int, plan,
                matched) -> list[tuple]:
    """Every probe to fit, as (layer, key, `fit_probe`'s arguments); key: -1 the transfer probe, f baseline outer
    fold f's probe, ("matched" or "matched_baseline", f) a matched probe that is not one of those already."""
    n_transfer_folds = fold_count(y_train, inner_folds)
    jobs = []  # (layer, -1 transfer / fold f baseline / ("matched" or "matched_baseline", f), fit_probe's arguments)
    for k, x in enumerate(layers):
        x = np.asarray(x, dtype=np.float64)
        jobs.append((k, -1, (x[train], y_train, x[test], c_grid, n_transfer_folds, seed, max_iter)))
        if plan is not None:
            xt = x[test]
            for f, (fit, held) in enumerate(plan[0]):
                jobs.append((k, f, (xt[fit], y_test[fit], xt[held], c_grid, plan[1], seed, max_iter)))
            for f, mf in enumerate(matched):
                if mf.fitted and not mf.transfer_reused:
                    y_sub = y_train[mf.transfer]
                    jobs.append((k, ("matched", f), (x[train[mf.transfer]], y_sub, xt[mf.held], c_grid,
                                                     fold_count(y_sub, inner_folds), seed, max_iter)))
                if mf.fitted and not mf.baseline_reused:
                    y_sub = y_test[mf.baseline]
                    jobs.append((k, ("matched_baseline", f), (xt[mf.baseline], y_sub, xt[mf.held], c_grid,
                                                              fold_count(y_sub, inner_folds), seed, max_iter)))
    return jobs


def _run_jobs(jobs: list[tuple], n_layers: int, n_jobs: int | None) -> dict[int, dict]:
    """Fit every job, largest first (in worker processes unless one is enough) -> {layer: {key: (predictions,
    C)}}."""
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][2][0].shape[0])  # largest first (stable)
    n_jobs = min(_workers(n_jobs), len(jobs))
    if n_jobs == 1:
        fitted = [fit_probe(*jobs[i][2]) for i in order]
    else:
        from joblib import Parallel, delayed

        fitted = Parallel(n_jobs=n_jobs, backend="loky")(delayed(fit_probe)(*jobs[i][2]) for i in order)
    results = dict(zip(order, fitted))
    by_layer: dict[int, dict] = {k: {} for k in range(n_layers)}
    for i, (layer, f, _) in enumerate(jobs):
        by_layer[layer][f] = results[i]
    return by_layer


def _layer_result(fits: dict, plan, matched, y_test: np.ndarray) -> tuple:
    """One layer's (transfer predictions, C, baseline predictions, `MatchedPredictions`) from its fitted jobs:
    the baseline's outer folds put together, and each fold's matched pair (reused probes' predictions where
    a matched probe is the transfer probe or the fold's baseline probe)."""
    pred, best_c = fits[-1]
    base = pairs = None
    if plan is not None:
        base = np.empty_like(y_test)
        for f, (_, held) in enumerate(plan[0]):
            base[held] = fits[f][0]
        pairs = MatchedPredictions(np.zeros_like(y_test), np.zeros_like(y_test), np.zeros(y_test.size, bool))
        for f, mf in enumerate(matched):
            if not mf.fitted:
                continue
            pairs.transfer[mf.held] = pred[mf.held] if mf.transfer_reused else fits[("matched", f)][0]
            pairs.baseline[mf.held] = base[mf.held] if mf.baseline_reused else fits[("matched_baseline", f)][0]
            pairs.defined[mf.held] = True
    return pred, best_c, base, pairs
