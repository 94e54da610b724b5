"""The models' ranking under each measure of alignment with one target (audioprobe-compare's "claims across
measures"): one panel per target, the measures along x, each model's rank (1 at the top) joined across them,
so a crossing line is a ranking that flips with the measure. Kendall's W with its interval in the panel's
title; the scores themselves are in the report's table beside it."""

from __future__ import annotations

import numpy as np

from audioprobe.leaderboard.figures.figure import Figure, _finish, _header_data, _new_figure
from audioprobe.leaderboard.figures.style import RC, WIDTH, _pyplot


def _w_text(conc: dict) -> str:
    if conc.get("w") is None:
        return "Kendall's W undefined"
    ci = conc.get("w_ci")
    return f"Kendall's W {conc['w']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def measures_figure(name: str, measures: list[dict], styles: dict, synthetic: bool, caption: str) -> Figure:
    """measures: audioprobe-compare's `measures` of one set (one entry per target); styles: the models' styles."""
    plt = _pyplot()
    ncols = min(2, len(measures))
    title = "The models' ranking under each measure of alignment"
    # the page's width, three quarters of it for one panel (as every figure of the report)
    fig, _, axes, texts = _new_figure(title, synthetic, len(measures), ncols, panel_h=2.5,
                                      width=WIDTH if len(measures) > 1 else 0.75 * WIDTH)
    panels = []
    order = [m for m in styles if any(m in t["models"] for t in measures)]
    with plt.rc_context(RC):
        for ax, target in zip(axes, measures):
            k, n = len(target["measures"]), len(target["models"])
            xs = np.arange(k)
            series = []
            table = np.array([[np.nan if r is None else r for r in row] for row in target["ranks"]], dtype=float)
            for i, model in enumerate(target["models"]):
                ranks = table[:, i]
                # models tied at a rank under a measure are drawn a little apart there, so that every line shows
                tied = np.array([np.sum(table[m] == ranks[m]) > 1 for m in range(k)])
                shown = ranks + np.where(tied, (i - (n - 1) / 2) * 0.08, 0.0)
                ax.plot(xs, shown, label=model, gid=f"ranks:{model}", **styles[model].line())
                series.append({"model": model, "ranks": [None if not np.isfinite(r) else float(r) for r in ranks]})
            ax.set_xticks(xs, [m + (" ↓" if low else "") for m, low in zip(target["measures"],
                                                                         target["lower_is_better"])],
                          rotation=20, ha="right", rotation_mode="anchor")
            ax.set_ylim(n + 0.5, 0.5)
            ax.set_yticks(range(1, n + 1))
            ax.set_ylabel("rank (1 best)")
            ax.set_xlim(-0.3, k - 0.7)
            flag = "\n⚠ unreliable target" if target.get("unreliable") else ""
            ax.set_title(f"{target['target']}\n{_w_text(target['concordance'])}{flag}", fontsize=7.5)
            panels.append({"target": target["target"], "measures": target["measures"], "series": series,
                           "unreliable": list(target.get("unreliable") or []),
                           "w": target["concordance"].get("w"), "w_ci": target["concordance"].get("w_ci")})
        _finish(fig, axes, order)
    data = {**_header_data(texts, synthetic, fig), "kind": "measure-rankings", "panels": panels}
    return Figure(name, title, caption, fig, data, alt=title)
