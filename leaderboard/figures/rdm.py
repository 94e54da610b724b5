"""Dissimilarity matrices as heatmaps: percentile ranks, sounds ordered by category."""

from __future__ import annotations

from typing import Any

import numpy as np

from audioprobe.leaderboard.figures.figure import Figure, _finish, _header_data, _json_floats, _new_figure
from audioprobe.leaderboard.figures.style import RC, WIDTH, _pyplot

# ---------------------------------------------------------------------------------------------
# RDM heatmaps: the target beside each model's headline-layer RDM, sounds ordered by category

def percentile_ranks(condensed) -> Any:
    """Each dissimilarity's rank among the RDM's pairs, scaled to [0, 1] (ties averaged; NaN kept): RDMs of
    different scales (KL, cosine, 0/1) share one colour scale (the display of Kriegeskorte et al. 2008)."""
    from scipy.stats import rankdata

    x = np.asarray(condensed, dtype=float)
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    if ok.sum() > 1:
        out[ok] = (rankdata(x[ok]) - 1) / (ok.sum() - 1)
    elif ok.sum() == 1:
        out[ok] = 0.5
    return out


def square(condensed, order) -> Any:
    """The square RDM of a condensed one (upper triangle row by row), rows and columns in `order`."""
    from scipy.spatial.distance import squareform

    return squareform(np.asarray(condensed, dtype=float), checks=False)[np.ix_(order, order)]


def category_order(groups: list[list[str]]) -> tuple[list[int], list[tuple[str, int, int]]]:
    """Sounds sorted by their categories (first grouping first; '' last; the set's order within a category),
    and the blocks `(category, start, stop)` of the first grouping."""
    n = len(groups[0])
    key = lambda i: tuple((g[i] == "", g[i]) for g in groups)  # noqa: E731
    order = sorted(range(n), key=key)
    blocks: list[tuple[str, int, int]] = []
    for pos, i in enumerate(order):
        name = groups[0][i]
        if blocks and blocks[-1][0] == name:
            blocks[-1] = (name, blocks[-1][1], pos + 1)
        else:
            blocks.append((name, pos, pos + 1))
    return order, blocks


def rdm_figure(name: str, title: str, target: tuple[str, Any], panels: list[tuple[str, Any]], order: list[int],
               blocks: list[tuple[str, int, int]], grouping: str, synthetic: bool, caption: str,
               unknown: str = "none") -> Figure:
    """The target RDM beside model RDMs (condensed arrays), sounds in `order` with the category blocks marked
    (`unknown`: the name of the block of sounds without a category); each RDM shown as percentile ranks of its
    own dissimilarities."""
    plt = _pyplot()

    allp = [target, *panels]
    ncols = min(4, len(allp))
    panel_w = (WIDTH - 1.3) / 4  # four panels across the page, whatever their number
    fig, sub, axes, texts = _new_figure(title, synthetic, len(allp), ncols, panel_h=panel_w + 0.4,
                                        width=max(ncols * panel_w + 1.3, 4.2))
    shown = []
    with plt.rc_context(RC):
        cmap = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
        image = None
        for k, (ax, (label, condensed)) in enumerate(zip(axes, allp)):
            matrix = square(percentile_ranks(condensed), order)
            np.fill_diagonal(matrix, np.nan)
            image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0, vmax=1, interpolation="nearest",
                              gid=f"rdm:{k}")
            ax.grid(False)
            ax.set_title(label, fontsize=7)
            ax.spines[:].set_visible(False)
            ax.tick_params(length=0)
            for _, start, _stop in blocks[1:]:
                for line in (ax.axhline, ax.axvline):
                    line(start - 0.5, color="white", linewidth=0.6)
            mids = [(start + stop - 1) / 2 for _, start, stop in blocks]
            names = [b[0] or unknown for b in blocks]
            ax.set_xticks([])
            if k % ncols == 0 and len(blocks) <= 12:
                ax.set_yticks(mids, names, fontsize=6)
            else:
                ax.set_yticks([])
            drawn = np.ma.filled(image.get_array().astype(float), np.nan)
            shown.append({"label": label, "row_means": _json_floats(np.round(np.nanmean(drawn, axis=1), 6)),
                          "corner": [_json_floats(np.round(row, 6)) for row in drawn[:5, :5]]})
        bar = sub.colorbar(image, ax=axes, shrink=0.7, pad=0.02)
        bar.set_label("dissimilarity (percentile rank)", fontsize=7)
        bar.ax.tick_params(labelsize=6.5)
        _finish(fig, axes, [])
    # the drawn matrices are n x n: the sidecar keeps each panel's row means and top-left corner to check them by
    data = {**_header_data(texts, synthetic, fig), "kind": "rdms", "grouping": grouping, "order": list(order),
            "blocks": [list(b) for b in blocks], "panels": shown}
    return Figure(name, title, caption, fig, data, alt=title, palette=True)
