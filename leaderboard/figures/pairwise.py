"""Comparison matrices: a task's models compared pair by pair, and the correlations between a set's targets."""

from __future__ import annotations

import numpy as np

from audioprobe.leaderboard.figures.figure import Figure, _finish, _header_data, _json_floats, _new_figure, _num
from audioprobe.leaderboard.figures.style import MUTED, RC, WIDTH, _pyplot


def pairwise_figure(name: str, table: dict, synthetic: bool, caption: str, vmax: float | None = None) -> Figure:
    """The compare report's pairwise table of one task: row − column headline differences, each pair once (the
    models best first, the upper triangle), on a diverging scale (blue: the row model better) whose range
    `vmax` the caller shares across the tasks of a set that are on one scale (so a matrix of differences of
    0.006 is not painted as strongly as one of 0.4); FDR-significant cells outlined with a star, the others
    muted."""
    plt = _pyplot()
    from matplotlib import cm, colors

    lower = bool(table.get("lower_is_better"))
    pw = table["pairwise"]
    k0 = len(table["models"])
    diff0 = np.array([[_num(v) for v in row] for row in pw["difference"]], dtype=float)
    reject0 = np.array([[bool(v) for v in row] for row in pw["reject"]], dtype=bool)
    heads = np.array([_num(v) for v in table.get("headline") or [None] * k0], dtype=float)
    key = np.where(np.isfinite(heads), heads if lower else -heads, np.inf)
    order = list(np.argsort(key, kind="stable"))  # best first; undefined headlines last
    models = [table["models"][i] for i in order]
    diff, reject = diff0[np.ix_(order, order)], reject0[np.ix_(order, order)]
    k = len(models)
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    side = min(WIDTH * 0.6, 1.0 + 0.42 * k)
    title = f"{table['task']}: pairwise differences"
    fig, sub, (ax,), texts = _new_figure(title, synthetic, 1, 1, panel_h=side + 0.9, width=max(side + 2.3, 5.0))
    with plt.rc_context(RC):
        if vmax is None or not vmax > 0:
            finite = np.abs(diff[upper & np.isfinite(diff)])
            vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        norm = colors.Normalize(-vmax, vmax)
        cmap = plt.get_cmap("RdBu_r" if lower else "RdBu")
        rgba = _difference_colours(diff, reject, upper, vmax, norm, cmap)
        # the upper triangle without its empty last row and first column
        ax.imshow(rgba[:-1, 1:], gid="differences", extent=(0.5, k - 0.5, k - 1.5, -0.5))
        ax.grid(False)
        ax.set_xticks(range(1, k), models[1:], rotation=35, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(k - 1), models[:-1])
        ax.tick_params(length=0)
        ax.set_xlabel("column model")
        ax.set_ylabel("row model (models best first)")
        ax.spines[:].set_visible(False)
        cells = _annotate_differences(ax, diff, reject, vmax, models, table["models"])
        bar = sub.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.8, pad=0.03)
        bar.set_label("row − column" + (" (an error: blue = row better)" if lower else " (blue = row better)")
                      + "; pale: not significant", fontsize=7)
        bar.ax.tick_params(labelsize=6.5)
        _finish(fig, [ax], [])
    data = {**_header_data(texts, synthetic, fig), "kind": "pairwise", "task": table["task"],
            "models": list(table["models"]), "shown_order": models,
            "difference": [_json_floats(row) for row in diff0], "significant_cells": cells,
            "colour_range": [-vmax, vmax], "alpha": pw.get("alpha"), "lower_is_better": lower}
    return Figure(name, title, caption, fig, data, alt=title)


def _difference_colours(diff: np.ndarray, reject: np.ndarray, upper: np.ndarray, vmax: float, norm, cmap) -> np.ndarray:
    """The matrix's RGBA cells: the upper triangle's differences on the diverging scale, those not significant
    muted, undefined ones light grey, the rest white (apart, so `pairwise_figure` reads as the figure's layout)."""
    k = len(diff)
    rgba = np.ones((k, k, 4))
    shown = upper & np.isfinite(diff)
    rgba[shown] = cmap(norm(np.clip(diff[shown], -vmax, vmax)))
    muted = shown & ~reject
    rgba[muted, :3] = 1.0 - MUTED * (1.0 - rgba[muted, :3])
    rgba[upper & ~np.isfinite(diff), :3] = 0.95  # undefined difference: light grey
    return rgba


def _annotate_differences(ax, diff: np.ndarray, reject: np.ndarray, vmax: float, models: list[str],
                          table_models: list[str]) -> list[list[int]]:
    """Each defined difference written in its cell, a significant one starred, bold and outlined (its outline's
    gid names the pair in the table's model order); returns those significant pairs, in the table's order, for
    the sidecar."""
    from matplotlib.patches import Rectangle

    k = len(models)
    cells = []
    for i in range(k):
        for j in range(i + 1, k):
            if not np.isfinite(diff[i, j]):
                continue
            sig = bool(reject[i, j])
            text = (f"{diff[i, j]:+.2f}".replace("-", "\u2212") if abs(diff[i, j]) >= 0.005 else "0.00")
            text += "*" if sig else ""
            dark = sig and abs(diff[i, j]) / vmax > 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5 if k > 6 else 7.5,
                    fontweight="bold" if sig else "normal", color="white" if dark else ("black" if sig else "#666666"))
            if sig:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.4,
                                       gid=f"significant:{table_models.index(models[i])}:"
                                           f"{table_models.index(models[j])}"))
                cells.append([table_models.index(models[i]), table_models.index(models[j])])
    return cells


# ---------------------------------------------------------------------------------------------
# Figure A1: how the stimulus set's target RDMs agree with each other

def target_correlation_figure(name: str, correlations: dict, synthetic: bool, caption: str) -> Figure:
    """The Pearson correlations between the set's target RDMs (set summary), annotated, on a diverging scale
    fixed at [-1, 1] so sets compare by eye."""
    plt = _pyplot()

    labels = [t["name"] for t in correlations["targets"]]
    k = len(labels)
    values = np.array([[_num(v) for v in row] for row in correlations["pearson"]], dtype=float).reshape(k, k)
    side = min(WIDTH - 2.4, 0.8 + 0.38 * k)  # the matrix; labels left and below, the colour bar right
    title = "Figure A1: correlations between the stimulus set's target RDMs"
    fig, sub, (ax,), texts = _new_figure(title, synthetic, 1, 1, panel_h=side + 1.3, width=max(side + 2.4, 5.0))
    with plt.rc_context(RC):
        cmap = plt.get_cmap("RdBu").with_extremes(bad="#f2f2f2")
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1, vmax=1, gid="correlations")
        ax.grid(False)
        ax.set_xticks(range(k), labels, rotation=40, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(k), labels)
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
        for i in range(k):
            for j in range(k):
                v = values[i, j]
                text = "—" if not np.isfinite(v) else f"{v:.2f}" if round(v, 2) != 0 else "0.00"
                ax.text(j, i, text.replace("-", "\u2212"), ha="center",
                        va="center", fontsize=6.5 if k > 8 else 7.5,
                        color="white" if np.isfinite(v) and abs(v) > 0.6 else "black")
        bar = sub.colorbar(image, ax=ax, shrink=0.8, pad=0.03)
        bar.set_label("Pearson r of the upper triangles", fontsize=7)
        bar.ax.tick_params(labelsize=6.5)
        _finish(fig, [ax], [])
    data = {**_header_data(texts, synthetic, fig), "kind": "target-correlations", "targets": labels,
            "pearson": [_json_floats(row) for row in np.ma.filled(image.get_array().astype(float), np.nan)],
            "spearman": correlations["spearman"], "n_pairs": correlations["n_pairs"]}
    return Figure(name, title, caption, fig, data, alt=title)
