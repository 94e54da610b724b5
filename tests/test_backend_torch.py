"""The torch statistics (`--device cuda`) against the numpy ones (`pearson`, `mantel`) (an independent
implementation: squares tiled on the device vs products per layer) and against brute force on tiny
data (explicitly resampled and permuted RDMs). Run on torch's CPU device, so no GPU is needed; the
last test repeats the comparison on cuda where one is present."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from audioprobe.metrics import mantel, pearson, resampling
from tests.factories import make_set

torch = pytest.importorskip("torch")
from audioprobe.metrics import backend_torch  # noqa: E402  (after the skip: needs torch)

TOL = 1e-10
#: budgets (bytes) that force tiles of one column or row, a few, and the default (one tile)
BUDGETS = [8, 4000, None]


def data(rng, n=16, layers=3, missing=0.0):
    x = np.stack([pdist(rng.normal(size=(n, 4))) for _ in range(layers)])
    y = x[0] + pdist(rng.normal(size=(n, 2)))
    if missing:
        y[rng.random(y.size) < missing] = np.nan
    return x, y


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b), initial=0.0) < TOL


def blocks_of(rng, n, m):
    counts = resampling.bootstrap_counts(rng, n, m)
    halves = resampling.random_halves(rng, n, m)
    return [counts * halves, counts * ~halves]


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("missing", [0.0, 0.25])
def test_blocks_equal_numpy(rng, budget, missing):
    x, y = data(rng, missing=missing)
    present = None if not missing else np.isfinite(y)
    blocks = blocks_of(rng, 16, 12)
    for a, b in zip(pearson.weighted_pearson_blocks(x, y, blocks, present),
                    backend_torch.weighted_pearson_blocks(x, y, blocks, present, device="cpu", chunk_bytes=budget)):
        close(a, b)


def test_blocks_equal_explicit_resample(rng):
    """Brute force: r of the resampled RDMs (every pair of drawn copies of different sounds)."""
    x, y = data(rng, n=10, layers=2)
    counts = resampling.bootstrap_counts(rng, 10, 6)
    got = backend_torch.weighted_pearson_blocks(x, y, [counts], device="cpu", chunk_bytes=4000)[0]
    for b in range(6):
        draws = np.repeat(np.arange(10), counts[b])
        keep = np.triu_indices(draws.size, 1)
        different = (draws[:, None] != draws[None, :])[keep]
        ys = squareform(y)[np.ix_(draws, draws)][keep][different]
        for k in range(2):
            xs = squareform(x[k])[np.ix_(draws, draws)][keep][different]
            assert got[b, k] == pytest.approx(np.corrcoef(xs, ys)[0, 1], abs=TOL)


def test_fewer_than_three_sounds_is_nan(rng):
    x, y = data(rng, n=8)
    w = np.zeros((3, 8))
    w[0, :2] = [3, 1]  # two distinct sounds: one pair
    w[1, :3] = 1  # three: defined
    w[2, 5] = 4  # one sound
    for present in (None, np.isfinite(y)):
        got = backend_torch.weighted_pearson_blocks(x, y, [w], present, device="cpu")
        close(got[0], pearson.weighted_pearson_blocks(x, y, [w], present)[0])
        assert np.isnan(got[0][[0, 2]]).all() and np.isfinite(got[0][1]).all()


def test_constant_layer_is_nan_as_in_numpy(rng):
    x, y = data(rng)
    x[1] = 0.5  # a constant RDM: variance zero
    blocks = blocks_of(rng, 16, 5)
    for a, b in zip(pearson.weighted_pearson_blocks(x, y, blocks), backend_torch.weighted_pearson_blocks(x, y, blocks)):
        close(a, b)
        assert np.isnan(b[:, 1]).all()


def test_finite_layers_only_as_the_caller_passes_them(rng):
    """rsa_statistics passes only the finite layers; their results equal those of the full stack."""
    x, y = data(rng, layers=4)
    blocks = blocks_of(rng, 16, 5)
    full = backend_torch.weighted_pearson_blocks(x, y, blocks)
    part = backend_torch.weighted_pearson_blocks(x[[0, 2]], y, blocks)
    for a, b in zip(full, part):
        close(a[:, [0, 2]], b)


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("missing", [0.0, 0.25])
def test_permutations_equal_numpy_and_brute_force(rng, budget, missing):
    x, y = data(rng, missing=missing)
    present = None if not missing else np.isfinite(y)
    perms = resampling.random_permutations(rng, 16, 20)
    got = backend_torch.permuted_pearson(x, y, perms, present, device="cpu", chunk_bytes=budget)
    close(got, mantel.permuted_pearson(x, y, perms, present))
    ysq = squareform(np.where(np.isfinite(y), y, np.nan), checks=False)
    for b in (0, 7):
        yp = ysq[np.ix_(perms[b], perms[b])][np.triu_indices(16, 1)]
        keep = np.isfinite(yp)
        for k in range(3):
            assert got[b, k] == pytest.approx(np.corrcoef(x[k][keep], yp[keep])[0, 1], abs=TOL)


def test_spearman_permutations_via_ranks(rng):
    """Complete target: Spearman's Mantel test is Pearson's on the ranks (as rsa_statistics calls it)."""
    from audioprobe.metrics import geometry

    x, y = data(rng)
    perms = resampling.random_permutations(rng, 16, 10)
    xr, yr = geometry.rank_rows(x), geometry.rank_rows(y)
    close(backend_torch.permuted_pearson(xr, yr, perms), mantel.permuted_pearson(xr, yr, perms))


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall_tau_a"])
def test_paired_rows_equal_numpy(rng, budget, method):
    a = rng.normal(size=(9, 40))
    b = a + rng.normal(size=(9, 40))
    b[:, :5] = b[:, 5:10]  # ties for the ranks
    close(backend_torch.paired_rows(a, b, method, device="cpu", chunk_bytes=budget), pearson.paired_rows(a, b, method))
    single = backend_torch.paired_rows(a, b[0], method, device="cpu")  # one row against each (broadcast)
    close(single, pearson.paired_rows(a, np.broadcast_to(b[0], a.shape), method))


def test_on_binds_the_device(rng):
    x, y = data(rng)
    impl = backend_torch.on("cpu", chunk_bytes=4000)
    perms = resampling.random_permutations(rng, 16, 4)
    close(impl.permuted_pearson(x, y, perms), mantel.permuted_pearson(x, y, perms))
    assert impl.device == "cpu" and backend_torch.available("cpu")
    assert not backend_torch.available("tpu")


def test_importing_metrics_does_not_import_torch():
    code = "import sys, audioprobe.metrics, audioprobe.metrics.backend_torch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_runner_passes_its_device_to_the_task(tmp_path, monkeypatch):
    from audioprobe.cli import main as eval_main
    from audioprobe.tasktypes import TASK_TYPES
    from tests.toymodels import FrameProjection, register_toy

    register_toy(monkeypatch, "toy-frames", FrameProjection, {})
    seen = []
    rsa_type = TASK_TYPES["rsa"]

    def evaluate(acts, stimset, params, ctx):
        seen.append(ctx.device)
        return rsa_type.evaluate(acts, stimset, params, ctx)

    monkeypatch.setitem(TASK_TYPES, "rsa", dataclasses.replace(rsa_type, evaluate=evaluate))
    code = eval_main(["--model", "toy-frames", "--tasks", "rsa-material", "--limit", "12", "--device", "cpu",
                      "--output-dir", str(tmp_path), "-q"])
    assert code == 0 and seen == ["cpu"]


@pytest.mark.skipif(not backend_torch.available("cuda"), reason="no CUDA device")
def test_cuda_equals_numpy(rng):
    x, y = data(rng, n=40, layers=5)
    present = np.isfinite(np.where(rng.random(y.size) < 0.2, np.nan, y))
    blocks = blocks_of(rng, 40, 30)
    for mask in (None, present):
        for a, b in zip(pearson.weighted_pearson_blocks(x, y, blocks, mask),
                        backend_torch.weighted_pearson_blocks(x, y, blocks, mask, device="cuda")):
            close(a, b)
        perms = resampling.random_permutations(rng, 40, 50)
        close(backend_torch.permuted_pearson(x, y, perms, mask, device="cuda"), mantel.permuted_pearson(x, y, perms, mask))
    targets = y + rng.normal(size=(30, y.size))
    for method in ("pearson", "spearman"):
        close(backend_torch.paired_rows(targets, targets[::-1], method, device="cuda"),
              pearson.paired_rows(targets, targets[::-1], method))


def test_an_rsa_task_on_the_torch_backend_equals_numpy(monkeypatch):
    """The wiring: a task run with --device cuda hands its products to backend_torch (here on torch's CPU
    device, standing in for the GPU) and gives the numpy results within float rounding."""
    from audioprobe.metrics import backend_torch
    from audioprobe.tasktypes import TASK_TYPES, EvalContext
    from audioprobe.tasktypes.rsa.params import RSA_PARAMS

    rng = np.random.default_rng(5)
    n, n_listeners = 30, 6
    responses = {"d": rng.integers(0, 3, size=(n_listeners, n))}
    s = make_set({"d": ["a", "b", "c"]}, responses=responses, name="t", audio=False)
    acts = {"mean": {f"layer{k}": rng.normal(size=(n, 8)) for k in range(3)}}
    calls = []
    real_on, real_paired = backend_torch.on, backend_torch.paired_rows
    monkeypatch.setattr(backend_torch, "on", lambda device, chunk_bytes=None: calls.append(device) or real_on("cpu"))
    monkeypatch.setattr(backend_torch, "paired_rows", lambda a, b, method, device="cpu", chunk_bytes=None:
                        calls.append(device) or real_paired(a, b, method, device="cpu"))
    for comparison in ("pearson", "spearman"):
        params = {k: v.default for k, v in RSA_PARAMS.items()}
        params.update(dimensions="d", comparison=comparison, bootstrap=50, permutations=40, cv_splits=10,
                       ceiling_splits=10)
        outs = {}
        for device in ("cpu", "cuda"):
            ctx = EvalContext("t", 0, None, device=device)
            outs[device] = TASK_TYPES["rsa"].evaluate(acts, s, params, ctx)
        for a, b in zip(outs["cpu"]["per_layer"], outs["cuda"]["per_layer"]):
            assert a["score"] == pytest.approx(b["score"], abs=1e-10)
            assert a["ci"] == pytest.approx(b["ci"], abs=1e-10)
            assert a["p_value"] == pytest.approx(b["p_value"], abs=1e-10)
        assert outs["cpu"]["headline"]["value"] == pytest.approx(outs["cuda"]["headline"]["value"], abs=1e-10)
        assert outs["cpu"]["noise_ceiling"]["value"] == pytest.approx(outs["cuda"]["noise_ceiling"]["value"], abs=1e-10)
    assert "cuda" in calls  # the torch path was taken
