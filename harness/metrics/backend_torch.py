"""The torch backend of the Pearson engine (`backends.py`): the RSA statistics' heavy products, for
`--device cuda`.

Same functions, arguments and results as their namesakes in `pearson` and `mantel` (read pearson's module docstring: a
bootstrap resample is a count vector w and every sum a Pearson r needs is a quadratic form
w^T A w / 2 with A a square RDM of zero diagonal; missing pairs via a 0/1 mask), plus `device` and
`chunk_bytes`. Inputs and outputs are numpy arrays; everything on the device is float64, so the
results equal the CPU ones within float rounding (summation order only), which is why the device
is not part of a run's identity. What is cheap or branchy stays in numpy and is imported, not
copied: the standardisation of the RDMs (the device sees the very values the CPU path sees), the
Pearson r from its sums with its variance floor (`split_pearson.pearson_from_sums`) and the "fewer than 3
distinct sounds" rule (`pearson.single_pair`).

Memory: the inputs live on the device whole (the model RDMs: n_layers x n_pairs float64, 470 MB
at 3,000 sounds and 13 layers); every temporary is tiled so that one tile stays within
`chunk_bytes` (default `CHUNK_BYTES`). torch is imported only when a function runs, so importing
`audioprobe.metrics` never loads it.

Wiring: `on(device)` returns a backend with the three functions bound to that device and the numpy
backend's thread policy for the CPU work around them, a drop-in for `backends.NUMPY` in
`rsa_inference.rsa_statistics` (`backend.weighted_pearson_blocks(xf, y, blocks, mask)`: the
estimate's cross-validation; `backend.permuted_pearson`: the Mantel test). The bootstrap's sums on
the halves of each resample (`split_pearson`) stay in numpy. `backends.for_device` gives it to the
task types; statistics never import it.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from audioprobe.metrics import geometry, pearson, split_pearson

#: Bytes of device memory the temporaries of one tile may take (the inputs come on top).
CHUNK_BYTES = 2 ** 30


def available(device: str) -> bool:
    """Whether torch can compute on `device` here ("cpu", "cuda", "cuda:1")."""
    try:
        import torch
    except ImportError:
        return False
    if device == "cpu":
        return True
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return False
    index = device.partition(":")[2]
    return not index or (index.isdigit() and int(index) < torch.cuda.device_count())


def on(device: str, chunk_bytes: int | None = None) -> types.SimpleNamespace:
    """The backend on `device`: the three functions with `device` (and `chunk_bytes`) bound, called as the
    numpy ones, and the numpy backend's thread policy (`pearson.small_problem_threads`)."""
    bind = functools.partial
    return types.SimpleNamespace(
        weighted_pearson_blocks=bind(weighted_pearson_blocks, device=device, chunk_bytes=chunk_bytes),
        permuted_pearson=bind(permuted_pearson, device=device, chunk_bytes=chunk_bytes),
        paired_rows=bind(paired_rows, device=device, chunk_bytes=chunk_bytes),
        device=device, threads=pearson.small_problem_threads)


def _tensor(a, device):
    """A float64 copy on the device (a copy: numpy views may be read-only or run backwards)."""
    import torch

    return torch.from_numpy(np.array(a, dtype=np.float64, order="C")).to(device)


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _budget(chunk_bytes: int | None) -> int:
    """Float64 elements a tile may hold."""
    return max(1, int(CHUNK_BYTES if chunk_bytes is None else chunk_bytes) // 8)


def _condensed_index(n: int, cols, device):
    """`[n, len(cols)]` position in a condensed RDM of each cell (row r, column c) of the square, n_pairs
    (one past the end: the zero appended to the condensed rows) on the diagonal."""
    import torch

    r = torch.arange(n, device=device)[:, None]
    c = cols[None, :]
    lo, hi = torch.minimum(r, c), torch.maximum(r, c)
    k = lo * n - lo * (lo + 1) // 2 + hi - lo - 1
    return torch.where(r == c, n * (n - 1) // 2, k)


def _quad_forms(weights, base, derive, n_derived: int, chunk_bytes):
    """0.5 w^T A_s w for each weight row w of each `[m, n]` tensor in `weights` and each square A_s.

    base `[n_pairs + 1, B]`: condensed rows (transposed, a zero appended); derive(`[n, b, B]` gathered
    columns of their squares) -> `[n, b, S]` the squares A_s, S = n_derived (products of the base rows
    cell by cell). Returns (`[k, m, S]` per tensor, `[m, S]` for the sum of the tensors: (sum_k W_k)^T A
    (sum_k W_k) = sum_k (W_k A) . (sum_k W_k), from the same products). Tiled over columns of the
    squares (gathered once per tile) and rows of the weights.
    """
    import torch

    m, n = weights[0].shape
    B, S = base.shape[1], n_derived
    per = torch.zeros((len(weights), m, S), dtype=torch.float64, device=base.device)
    whole = torch.zeros((m, S), dtype=torch.float64, device=base.device)
    total = sum(weights[1:], weights[0])
    budget = _budget(chunk_bytes)
    rows = min(m, max(n, 1))
    # a tile: index n*b, gathered n*b*B, squares n*b*S, a product and its weighted copy 2*rows*b*S
    cols = budget // (n * (1 + B + S) + 2 * rows * S)
    if cols < 1:
        cols, rows = 1, max(1, (budget - n * (1 + B + S)) // (2 * S))
    cols = min(cols, n)
    for c0 in range(0, n, cols):
        col = torch.arange(c0, min(n, c0 + cols), device=base.device)
        squares = derive(base[_condensed_index(n, col, base.device)]).reshape(n, -1)  # [n, b*S]
        for r0 in range(0, m, rows):
            r = slice(r0, r0 + rows)
            t = total[r][:, col]
            for k, w in enumerate(weights):
                prod = (w[r] @ squares).reshape(-1, col.numel(), S)
                per[k, r] += 0.5 * torch.einsum("rb,rbs->rs", w[r][:, col], prod)
                whole[r] += 0.5 * torch.einsum("rb,rbs->rs", t, prod)
    return per, whole


def weighted_pearson_blocks(model_rdms, target_rdm, blocks, present=None, device: str = "cpu",
                            chunk_bytes: int | None = None) -> list[np.ndarray]:
    """`pearson.weighted_pearson_blocks` on `device`: per block and, last, for the blocks' sum, `[m, n_layers]`.

    One pass over column tiles of the squares X_l, X_l o X_l, X_l o Y, Y, Y o Y (and the mask) serves
    every layer, block and resample: a weight tile times a square tile is one matrix product.
    """
    import torch

    x = pearson.standardised_present(np.atleast_2d(model_rdms), present)
    y = pearson.standardised_present(target_rdm, present)
    n_layers, n_pairs = x.shape
    n = split_pearson.n_items(n_pairs)
    ws = [np.asarray(b, dtype=np.float64) for b in blocks]
    ws.append(np.sum(ws, axis=0))
    rows = [x, y[None]] + ([np.asarray(present, dtype=np.float64)[None]] if present is not None else [])
    base = _padded_columns(np.concatenate(rows), device)
    L = n_layers

    def derive(g):  # [n, b, B] -> x, x^2, x y, y, y^2 (, mask)
        xs, yv = g[..., :L], g[..., L:L + 1]
        return torch.cat([xs, xs * xs, xs * yv, yv, yv * yv, g[..., L + 1:]], dim=-1)

    n_sums = 3 * L + 2 + (present is not None)
    w_dev = [_tensor(w, device) for w in ws[:-1]]
    per, whole = _quad_forms(w_dev, base, derive, n_sums, chunk_bytes)
    sums = np.concatenate([_numpy(per), _numpy(whole)[None]])  # [k + 1, m, S]
    if present is None:
        s_w = [0.5 * (w.sum(axis=1) ** 2 - (w * w).sum(axis=1)) for w in ws]
        single = [pearson.single_pair(w) for w in ws]
    else:
        s_w = list(sums[..., 3 * L + 2])
        single = _few_present_pairs(ws, present, n, device, chunk_bytes)
    out = []
    for q in range(len(ws)):
        s = sums[q]
        r = split_pearson.pearson_from_sums(s_w[q][:, None], s[:, :L], s[:, 3 * L:3 * L + 1], s[:, L:2 * L],
                                     s[:, 3 * L + 1:3 * L + 2], s[:, 2 * L:3 * L])
        out.append(np.where(single[q][:, None], np.nan, r))
    return out


def _padded_columns(rows: np.ndarray, device):
    """Condensed rows `[B, n_pairs]` -> `[n_pairs + 1, B]` on the device (a zero row appended: the
    diagonal of every square), transposed there."""
    import torch

    t = _tensor(rows, device)
    return torch.cat([t, torch.zeros((t.shape[0], 1), dtype=t.dtype, device=t.device)], dim=1).T.contiguous()


def _few_present_pairs(ws, present, n, device, chunk_bytes) -> list[np.ndarray]:
    """`pearson.single_pair(w, mask)` for each weight array: fewer than 2 distinct present pairs among
    the drawn sounds (0.5 d^T M d, d the 0/1 drawn indicator), the product on the device."""
    mask = _padded_columns(np.asarray(present, dtype=np.float64)[None], device)
    drawn = [_tensor(np.asarray(w) != 0, device) for w in ws]
    per, _ = _quad_forms(drawn, mask, lambda g: g, 1, chunk_bytes)
    return list(_numpy(per)[..., 0] < 2)


def permuted_pearson(model_rdms, target_rdm, permutations, present=None, device: str = "cpu",
                     chunk_bytes: int | None = None) -> np.ndarray:
    """`mantel.permuted_pearson` on `device`: the permuted target of a tile of permutations is one
    gather from the square target (y_sq[p][:, p], condensed by the upper-triangle index), then one
    product with the model RDMs serves every layer. With missing pairs the permuted mask is gathered
    the same way and gives the model's sums over the pairs present (`mantel._permuted_pearson_present`)."""
    import torch

    x_np = pearson.standardised(np.atleast_2d(model_rdms))
    y_np = pearson.standardised_present(target_rdm, present)
    perms = torch.as_tensor(np.atleast_2d(permutations), dtype=torch.int64, device=device)
    n_perm, n = perms.shape
    n_layers, n_pairs = x_np.shape
    x = _tensor(x_np, device)
    i, j = torch.triu_indices(n, n, 1, device=device)

    def square(values):  # condensed -> flat square, zero diagonal
        sq = torch.zeros(n * n, dtype=torch.float64, device=device)
        v = _tensor(values, device)
        sq[i * n + j] = v
        sq[j * n + i] = v
        return sq

    y_sq = square(y_np)
    m_sq = None if present is None else square(np.asarray(present, dtype=np.float64))
    xx = None if present is None else x * x
    s_xy = torch.zeros((n_perm, n_layers), dtype=torch.float64, device=device)
    s_x, s_xx = torch.zeros_like(s_xy), torch.zeros_like(s_xy)
    budget = _budget(chunk_bytes)
    rows = min(n_perm, 256)
    # a tile per pair: 3 index arrays and 2 gathered values per permutation, 2 model squares, 2 indices
    block = budget // (5 * rows + 2 * n_layers + 2)
    if block < 1:
        rows, block = 1, max(1, budget // (7 + 2 * n_layers))
    for p0 in range(0, n_pairs, block):
        ii, jj = i[p0:p0 + block], j[p0:p0 + block]
        xb = x[:, p0:p0 + block]
        xxb = None if xx is None else xx[:, p0:p0 + block]
        for r0 in range(0, n_perm, rows):
            p = perms[r0:r0 + rows]
            flat = p[:, ii] * n + p[:, jj]  # [rows, pairs]: the permuted pair's cell in the square
            s_xy[r0:r0 + rows] += y_sq[flat] @ xb.T
            if m_sq is not None:
                mask = m_sq[flat]
                s_x[r0:r0 + rows] += mask @ xb.T
                s_xx[r0:r0 + rows] += mask @ xxb.T
    if present is None:
        return _numpy(s_xy)
    n_present = np.float64(np.count_nonzero(present))
    return split_pearson.pearson_from_sums(n_present, _numpy(s_x), (y_np).sum(), _numpy(s_xx), (y_np * y_np).sum(),
                                    _numpy(s_xy))


def paired_rows(a, b, method: str, device: str = "cpu", chunk_bytes: int | None = None) -> np.ndarray:
    """`pearson.paired_rows` on `device` for the linear comparisons (pearson; spearman: ranks by scipy on the
    CPU, then the Pearson r of the ranks); the others (kendall_tau_a) have no product form and run in numpy."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    b = np.broadcast_to(b, a.shape)  # one row against every row of a
    comparison = geometry.COMPARISONS[method]
    if not comparison.linear:
        return pearson.paired_rows(a, b, method)
    if comparison.ranks:
        a, b = geometry.rank_rows(a), geometry.rank_rows(b)
    out = np.empty(a.shape[0])
    rows = max(1, _budget(chunk_bytes) // (4 * max(a.shape[1], 1)))
    for r0 in range(0, a.shape[0], rows):
        r = slice(r0, r0 + rows)
        u, v = (_standardised_rows(_tensor(side[r], device)) for side in (a, b))
        out[r] = _numpy((u * v).sum(dim=1))
    return out


def _standardised_rows(t):
    """`pearson.standardised` for a device tensor (here the whole computation is this, so it runs there)."""
    t = t - t.mean(dim=-1, keepdim=True)
    return t / t.norm(dim=-1, keepdim=True)
