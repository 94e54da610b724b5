"""The fast paths give the numbers of the code they replaced.

- Transfer probes: the same chosen C and the same predictions as the reference pipeline
  (benchmarks/reference_transfer.py: GridSearchCV over StandardScaler + PCA + LogisticRegression at
  the converged tolerance, cold lbfgs fits), on several layers and splits of the embedded set and on
  constructed data; the warm-started path's coefficients equal cold fits at the optimum.
- `rsa_statistics` skips non-finite layers without changing any other number.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from audioprobe.metrics import probing, rsa_inference
from audioprobe.metrics.probing import probe as probe_module
from audioprobe.metrics.probing import solver

ROOT = Path(__file__).resolve().parents[1]


def reference():
    spec = importlib.util.spec_from_file_location("reference_transfer", ROOT / "benchmarks" / "reference_transfer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_same_probes(fast, slow, names=None):
    """Every layer: the same chosen C, transfer and baseline predictions, and matched-size predictions
    (transfer, baseline, and which sounds have them)."""
    names = names or [str(k) for k in range(len(fast))]
    for name, (p1, c1, b1, m1), (p2, c2, b2, m2) in zip(names, fast, slow):
        assert c1 == c2, name
        assert np.array_equal(p1, p2) and (b1 is None) == (b2 is None), name
        assert b1 is None or np.array_equal(b1, b2), name
        assert (m1 is None) == (m2 is None), name
        if m1 is not None:
            assert np.array_equal(m1.defined, m2.defined), name
            d = m1.defined
            assert np.array_equal(m1.transfer[d], m2.transfer[d]), name
            assert np.array_equal(m1.baseline[d], m2.baseline[d]), name


def layers_and_labels(rng, n=90, dims=(6, 30, 120), n_classes=4):
    """Layers from easy to hard (more features than sounds in the last, as in real models)."""
    y = np.array([f"c{k}" for k in rng.integers(0, n_classes, n)])
    codes = np.unique(y, return_inverse=True)[1]
    out = []
    for k, d in enumerate(dims):
        x = rng.normal(size=(n, d))
        x[np.arange(n), codes % d] += 1.5 / (k + 1)
        out.append(x)
    return out, y


@functools.cache
def embedded_layers():
    """The weight-free baselines' features of the embedded `impacts` set (about 2 s): three layers
    of 13 (mfcc), 128 (logmel) and 257 (spectrogram) features, and the set."""
    from audioprobe.extract import prepare_waveforms, run_model
    from audioprobe.frontend import FrontEnd
    from audioprobe.models.registry import create_model
    from audioprobe.stimuli import resolve_dataset

    stimset = resolve_dataset("impacts")
    layers = {}
    for name in ("mfcc", "logmel", "spectrogram"):
        model = create_model(name)
        model.load()
        acts = run_model(model, prepare_waveforms(stimset, FrontEnd(model.meta.sample_rate)), ["mean"], 64,
                         progress=False)["mean"]
        layers.update({f"{name}/{k}": v.astype(np.float64) for k, v in acts.items()})
    return layers, stimset


def embedded_split(task: str, every: int, every_test: int | None = None):
    """(train, test, labels) of a transfer task of the embedded set, every `every`-th sound of each
    subset (of the test subset: every `every_test`-th, if given; a smaller problem keeps the cold
    reference fits quick)."""
    from audioprobe.taskconfig import discover_tasks, select_tasks
    from audioprobe.tasktypes.transfer import transfer_subsets

    (cfg,) = select_tasks(task, discover_tasks())
    train, test, target, _ = transfer_subsets(embedded_layers()[1], cfg.params, task)
    return train[::every], test[::every_test or every], target


@pytest.mark.parametrize("task,every,every_test", [("transfer-material-1D2D-to-3D", 3, 2),
                                                   ("transfer-material-hollow-to-full", 4, 2)])
@pytest.mark.slow
def test_equal_to_the_converged_reference_on_the_embedded_set(task, every, every_test):
    """Three layers, two splits, C up to 1000 (the ill-conditioned end where an unconverged
    optimiser stops early): same chosen C, same transfer, baseline and matched-size predictions
    (1D2D-to-3D: the matched transfer probes are subsamples of the training subset; hollow-to-full:
    the matched baseline probes are subsamples of the folds' training parts)."""
    ref = reference()
    layers, _ = embedded_layers()
    train, test, target = embedded_split(task, every, every_test)
    args = (train, test, target[train], target[test], (0.01, 1.0, 100.0, 1000.0), 2, 2, 0, probing.MAX_ITER)
    fast = probing.all_layer_predictions(list(layers.values()), *args, n_jobs=1)
    slow = ref.all_layer_predictions(list(layers.values()), *args, n_jobs=1)
    plan = probing.matched_plan(target[train], target[test], 2, 2, 0)
    assert all(f.fitted for f in plan)
    subsampled = "transfer" if task.endswith("3D") else "baseline"  # the larger side of each fold is subsampled
    assert all(not getattr(f, f"{subsampled}_reused") for f in plan)
    assert_same_probes(fast, slow, list(layers))


def test_path_coefficients_equal_cold_fits_at_the_optimum():
    """Warm-started fits along the C path (in the order fit_probe runs them) against cold
    LogisticRegression fits at each C, run to a tighter tolerance by another solver: the same
    optimum. A warm start taken at the wrong C, or a path not run to convergence, fails here."""
    from sklearn.linear_model import LogisticRegression

    layers, _ = embedded_layers()
    train, _, target = embedded_split("transfer-material-2D3D-to-1D", 2)
    z = probe_module._preprocessor().fit_transform(layers["logmel/fbank"][train], target[train])
    y = target[train]
    probe = probe_module._path_probe(probing.MAX_ITER, probing.TOL)
    grid = (1e-3, 1e-1, 10.0, 1000.0)
    for c in grid:
        probe.set_params(C=c).fit(z, y)
        cold = LogisticRegression(C=c, solver="newton-cholesky", tol=1e-10, max_iter=1000).fit(z, y)
        warm, exact = np.c_[probe.coef_, probe.intercept_], np.c_[cold.coef_, cold.intercept_]
        assert np.max(np.abs(warm - exact)) <= 1e-5 * np.max(np.abs(exact)), c
        assert np.array_equal(probe.predict(z), cold.predict(z))


def ill_conditioned(rng, n, d, n_classes):
    """Features with scales 1e-3..1e3 (as PCA components' spread), classes partly separable."""
    y = rng.integers(0, n_classes, n)
    x = rng.normal(size=(n, d))
    x[np.arange(n), y % d] += 1.0
    return x * np.logspace(3, -3, d), y


def sklearn_gradient(coef, intercept, z, codes, c):
    """The objective's gradient in LogisticRegression's own arithmetic (LinearModelLoss)."""
    from sklearn._loss.loss import HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=coef.shape[0]), fit_intercept=True)
    w = np.c_[coef, intercept].ravel(order="F")
    return loss.gradient(w, z, codes.astype(np.float64), None, 1.0 / (c * z.shape[0]))


def count_calls(monkeypatch, module, name) -> list:
    """Wrap module.name so that each call appends to the returned list."""
    calls, inner = [], getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("preconditioner", ["adaptive", "diagonal", "factor"])
@pytest.mark.parametrize("n_classes,seed", [(3, 0), (5, 1), (7, 2)])
def test_multinomial_path_equals_logistic_regression_on_ill_conditioned_data(n_classes, seed, preconditioner,
                                                                             monkeypatch):
    """The path solver against cold LogisticRegression fits at a tighter tolerance (newton-cg, tol=1e-10;
    lbfgs stops far short of it on these scales, up to 1e-1 in gradient at C = 1000):
    the same coefficients within 1e-6 (relative) at every C, run to that tolerance; run to TOL, the
    gradient of the objective (scikit-learn's arithmetic) is at most TOL in every component. With
    either preconditioner forced (the diagonal throughout, or the Hessian's factor from the first
    Newton step) as with the adaptive choice: the preconditioner changes only the way there."""
    from sklearn.linear_model import LogisticRegression

    if preconditioner == "diagonal":
        monkeypatch.setattr(solver, "FACTOR_MAX_PARAMS", 0)
    elif preconditioner == "factor":
        monkeypatch.setattr(solver, "JACOBI_CG_CAP", 0)
    factored = count_calls(monkeypatch, solver, "multinomial_hessian")
    rng = np.random.default_rng(seed)
    z, codes = ill_conditioned(rng, 80, 12, n_classes)
    labels = np.array([f"class {k}" for k in range(n_classes)])[codes]
    grid = [1e-3, 1e-1, 1.0, 10.0, 1000.0]
    tight = probing.multinomial_path(z, codes, n_classes, grid, tol=1e-10)
    at_tol = probing.multinomial_path(z, codes, n_classes, grid)
    assert tight is not None and at_tol is not None
    if preconditioner == "diagonal":
        assert not factored
    else:  # factor: at every C of both paths; adaptive: at the hard C's of these scales
        assert len(factored) >= (2 * len(grid) if preconditioner == "factor" else 1)
    for c, (coef, intercept), (coef_tol, intercept_tol) in zip(grid, tight, at_tol):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = LogisticRegression(C=c, solver="newton-cg", tol=1e-10, max_iter=100000).fit(z, labels)
        mine = np.c_[coef, intercept - intercept.mean()]  # the intercepts' common shift is free
        theirs = np.c_[ref.coef_, ref.intercept_ - ref.intercept_.mean()]
        assert np.max(np.abs(mine - theirs)) <= 1e-6 * np.max(np.abs(theirs)), c
        assert np.max(np.abs(sklearn_gradient(coef_tol, intercept_tol, z, codes, c))) <= probing.TOL, c
        assert np.max(np.abs(sklearn_gradient(coef, intercept, z, codes, c))) <= 1e-10, c


def test_multinomial_hessian_equals_scikit_learns(rng):
    """The factored preconditioner's matrix is the objective's Hessian (scikit-learn's
    LinearModelLoss.gradient_hessian, reordered from its class-fastest layout) plus u u^T on the
    intercepts' common shift u, and positive definite where the Hessian is only semi-definite."""
    from sklearn._loss.loss import HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    n, d, k, l2 = 40, 6, 4, 0.05
    z, codes = ill_conditioned(rng, n, d, k)
    z = z / np.std(z, axis=0)
    w = rng.normal(size=(k, d + 1))
    loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=k), fit_intercept=True)
    _, theirs, _ = loss.gradient_hessian(w.ravel(order="F"), z, codes.astype(np.float64), None, l2)
    order = np.array([j * k + a for a in range(k) for j in range(d + 1)])  # ours: class-major
    theirs = theirs[np.ix_(order, order)]
    z1 = np.c_[z, np.ones(n)]
    raw = z1 @ w.T
    p = np.exp(raw - raw.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    penalised = np.r_[np.ones(d), 0.0]
    mine = probing.multinomial_hessian(z1, p, l2 * penalised, n)
    u = np.zeros(k * (d + 1))
    u[np.arange(k) * (d + 1) + d] = 1 / np.sqrt(k)
    assert np.max(np.abs(mine - np.outer(u, u) - theirs)) <= 1e-12 * np.max(np.abs(theirs))
    assert np.linalg.eigvalsh(theirs)[0] < 1e-12  # singular along u ...
    assert np.linalg.eigvalsh(mine)[0] > 1e-6     # ... but not with u u^T
    assert abs(u @ theirs @ u) < 1e-12
    upper = probing.multinomial_hessian(z1, p, l2 * penalised, n, full=False)  # what the path factors
    iu = np.triu_indices_from(mine)
    assert np.max(np.abs(upper[iu] - mine[iu])) <= 1e-12 * np.max(np.abs(mine))


def test_multinomial_path_survives_a_failed_factorisation(rng, monkeypatch):
    """A Hessian that is not positive definite in floating point (here: forced) falls back to the
    diagonal preconditioner for that Newton step, with the same optimum."""
    z, codes = ill_conditioned(rng, 60, 8, 5)
    grid = [1e-2, 1.0, 100.0]
    expected = probing.multinomial_path(z, codes, 5, grid)
    monkeypatch.setattr(solver, "JACOBI_CG_CAP", 0)
    monkeypatch.setattr(solver, "multinomial_hessian", lambda z1, p, reg, n, full=True: -np.eye(p.shape[1] * z1.shape[1]))
    got = probing.multinomial_path(z, codes, 5, grid)
    for (coef, _), (coef_got, _) in zip(expected, got):
        assert np.max(np.abs(coef - coef_got)) <= 1e-5 * np.max(np.abs(coef))


def test_path_predictions_keep_labels_and_ties_as_logistic_regression(rng, monkeypatch):
    """Integer, string and object labels come back as given (LogisticRegression's classes_ order);
    a sound on a tie of decision values goes to the first class, as np.argmax in predict."""
    from sklearn.linear_model import LogisticRegression

    z, codes = ill_conditioned(rng, 60, 5, 4)
    z_pred = rng.normal(size=(20, 5))
    for labels in (np.array([7, -2, 30, 4])[codes], np.array(["d", "b", "c", "a"])[codes],
                   np.array(["x1", "2.5", "y", "none"], dtype=object)[codes]):
        fast = probing.path_predictions(z, labels, z_pred, (0.1, 10.0))
        probe = LogisticRegression(solver="newton-cg", tol=probing.TOL, max_iter=probing.MAX_ITER, warm_start=True)
        for c in (0.1, 10.0):
            slow = probe.set_params(C=c).fit(z, labels).predict(z_pred)
            assert fast[c].dtype == slow.dtype and np.array_equal(fast[c], slow), (labels.dtype, c)
    # ties: classes 1 and 3 share the top decision value everywhere, class 1 wins (as sklearn's predict)
    coef, intercept = np.zeros((4, 5)), np.array([0.0, 1.0, -1.0, 1.0])
    monkeypatch.setattr(probe_module, "multinomial_path", lambda *args: [(coef, intercept)])
    labels = np.array(["d", "b", "c", "a"])[codes]
    tied = probing.path_predictions(z, labels, z_pred, (1.0,))[1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # only its classes_ and the form of coef_ are used
        probe = LogisticRegression(max_iter=1).fit(z, labels)
    probe.coef_, probe.intercept_ = coef, intercept
    assert np.all(tied == "b") and np.array_equal(tied, probe.predict(z_pred))


def test_multinomial_solver_gives_up_to_logistic_regression(rng, monkeypatch):
    """Where the solver does not reach TOL within its cap, the path is LogisticRegression's."""
    z, codes = ill_conditioned(rng, 50, 6, 3)
    z_pred = rng.normal(size=(10, 6))
    monkeypatch.setattr(solver, "NEWTON_CAP", 1)
    assert probing.multinomial_path(z, codes, 3, [1.0, 100.0]) is None
    fallback = probing.path_predictions(z, codes, z_pred, (1.0, 100.0))
    monkeypatch.setattr(solver, "NEWTON_CAP", 200)
    assert all(np.array_equal(fallback[c], p) for c, p in probing.path_predictions(z, codes, z_pred,
                                                                                   (1.0, 100.0)).items())


def test_validation_sounds_do_not_shape_the_inner_fits():
    """Inner folds fit the scaler on their fitting sounds only: validation sounds all of class b
    far out at 10 are all called b at every C; a scaler fitted with them would centre them (about
    half called a)."""
    rng = np.random.default_rng(3)
    x_fit = np.r_[rng.normal(0, 0.1, 20), rng.normal(1, 0.1, 20)][:, None]
    y_fit = np.array(["a"] * 20 + ["b"] * 20)
    x_val = rng.normal(10, 0.5, 30)[:, None]
    acc = probing.path_accuracies(x_fit, y_fit, x_val, np.array(["b"] * 30), (0.01, 1.0, 100.0))
    assert np.all(acc == 1.0)


@pytest.mark.parametrize("seed", [0, 3])
def test_transfer_and_baseline_equal_the_reference_pipeline(rng, seed):
    ref = reference()
    layers, y = layers_and_labels(rng)
    train, test = np.arange(0, 90, 3), np.setdiff1d(np.arange(90), np.arange(0, 90, 3))
    args = (train, test, y[train], y[test], (0.01, 1.0, 100.0), 3, 3, seed, probing.MAX_ITER)
    fast = probing.all_layer_predictions(layers, *args, n_jobs=1)
    slow = ref.all_layer_predictions(layers, *args, n_jobs=1)
    assert_same_probes(fast, slow)


def test_binary_probe_and_parallel_workers_equal_the_reference(rng):
    ref = reference()
    layers, y = layers_and_labels(rng, n=60, dims=(5, 40), n_classes=2)
    train, test = np.arange(0, 60, 2), np.arange(1, 60, 2)
    args = (train, test, y[train], y[test], (0.1, 1.0, 10.0), 3, 3, 0, probing.MAX_ITER)
    fast = probing.all_layer_predictions(layers, *args, n_jobs=2)
    slow = ref.all_layer_predictions(layers, *args, n_jobs=1)
    assert_same_probes(fast, slow)


def test_baseline_is_none_for_a_singleton_class(rng):
    x = rng.normal(size=(20, 4))
    y = np.array(["a"] * 10 + ["b"] * 9 + ["c"])
    assert probing.baseline_predictions(x, y) is None


@pytest.mark.parametrize("two_factor", [False, True])
def test_non_finite_layers_change_no_other_number(rng, two_factor):
    n, n_listeners = 14, 5
    pairs = n * (n - 1) // 2
    x = rng.random((3, pairs))
    target = rng.random(pairs)
    lis = rng.random((n_listeners, pairs))

    def listener_targets(w):
        return np.asarray(w, dtype=np.float64) @ lis

    kwargs = dict(comparison="pearson", seed=1, n_bootstrap=30, n_permutations=20, cv_splits=6, level=0.9,
                  listener_targets=listener_targets if two_factor else None,
                  n_listeners=n_listeners if two_factor else 0)
    with_nan = x.copy()
    with_nan[1] = np.nan
    full = rsa_inference.rsa_statistics(x, target, **kwargs)
    part = rsa_inference.rsa_statistics(with_nan, target, **kwargs)
    none = rsa_inference.rsa_statistics(np.full_like(x, np.nan), target, **kwargs)
    assert sorted(full) == sorted(part) == sorted(none)
    for key, value in part.items():
        value = np.asarray(value)
        if value.ndim == 2 and value.shape[1] == 3 and "counts" not in key:
            assert np.all(np.isnan(value[:, 1]))
            np.testing.assert_allclose(value[:, [0, 2]], np.asarray(full[key])[:, [0, 2]], atol=1e-12, rtol=0)
        elif key in ("score", "p_value", "variance"):
            assert np.isnan(value[1])
            np.testing.assert_allclose(value[[0, 2]], np.asarray(full[key])[[0, 2]], atol=1e-12, rtol=0)
        elif key == "ci":
            assert np.all(np.isnan(value[1]))
            np.testing.assert_allclose(value[[0, 2]], full[key][[0, 2]], atol=1e-12, rtol=0)
        assert np.asarray(none[key]).shape == np.asarray(full[key]).shape, key
    assert np.array_equal(none["bootstrap_counts"], full["bootstrap_counts"])
    assert np.all(np.isnan(none["bootstrap"])) and np.all(none["cv_choice"] == -1)
    if two_factor:
        assert np.array_equal(none["listener_counts"], full["listener_counts"])


@pytest.mark.parametrize("version", ["1.2.2", "2.0.0", "main"])
def test_path_solver_steps_aside_for_a_scikit_learn_it_was_not_checked_with(rng, monkeypatch, version):
    """The solver leans on scikit-learn's private loss classes: a release outside the checked range (or one
    whose version does not parse) gets no path solver, and the predictions are LogisticRegression's."""
    import sklearn

    z, codes = ill_conditioned(rng, 50, 6, 3)
    z_pred = rng.normal(size=(10, 6))
    assert probing.sklearn_private_loss() is not None  # the installed release is checked
    low, high = probing.SKLEARN_PRIVATE_LOSS_CHECKED
    assert low <= tuple(int(v) for v in sklearn.__version__.split(".")[:2]) <= high
    monkeypatch.setattr(solver, "NEWTON_CAP", 1)  # the fallback's predictions, as the solver gives up
    fallback = probing.path_predictions(z, codes, z_pred, (1.0, 100.0))
    monkeypatch.setattr(solver, "NEWTON_CAP", 200)
    monkeypatch.setattr(sklearn, "__version__", version)
    assert probing.sklearn_private_loss() is None
    assert probing.multinomial_path(z, codes, 3, [1.0, 100.0]) is None
    got = probing.path_predictions(z, codes, z_pred, (1.0, 100.0))
    assert all(np.array_equal(fallback[c], got[c]) for c in (1.0, 100.0))
