"""Drawing primitives shared by the figures: a model's profile over relative depth (bands, one-layer
level lines), ceilings, chance, undefined scores, the zero line and axis spans, layer marks."""

from __future__ import annotations

import math

from audioprobe.leaderboard.figures.figure import _json_floats, _num
from audioprobe.leaderboard.figures.style import CHANCE_DASHES, ModelStyle
from audioprobe.results import unreliable_roles


def _xs(n: int) -> list[float]:
    """Relative depth of n layers (first 0, last 1; one layer: 0.5)."""
    return [0.5] if n == 1 else [i / (n - 1) for i in range(n)]


def _interval(entry: dict, key: str = "ci") -> tuple[float, float]:
    ci = entry.get(key)
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
        return float(ci[0]), float(ci[1])
    return math.nan, math.nan


SLOT = 0.05  # relative depth between one-layer models' points, right of the depth axis


def _depth_axis(ax, n_slots: int = 0, show_label: bool = True) -> None:
    """Relative depth 0..1; one-layer models' points sit in a shaded margin right of 1."""
    right = 1.03 if not n_slots else 1.0 + SLOT * (n_slots + 0.6)
    ax.set_xlim(-0.03, right)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
    if n_slots:
        ax.axvspan(1.0 + SLOT * 0.45, right, color="#f3f3f3", zorder=0, linewidth=0)
    if show_label:
        ax.set_xlabel("relative depth (0 first, 1 last)")


# ---------------------------------------------------------------------------------------------
# Drawing one model's per-layer profile

def _profile(ax, style: ModelStyle, values: list, intervals: list[tuple[float, float]] | None, *, label: str,
             gid: str, role_dashes: tuple | None = None, band: bool = True, slot: int = 0, **line_kw) -> dict:
    """Plot values per layer at relative depth with an interval band; return what was drawn.

    A one-layer model is a level line across the axis ending at its point, with the interval as an error
    bar, in slot `slot` of the margin right of depth 1 (so one-layer models do not hide each other).
    """
    n = len(values)
    y = [_num(v) for v in values]
    lo = [iv[0] for iv in intervals] if intervals else [math.nan] * n
    hi = [iv[1] for iv in intervals] if intervals else [math.nan] * n
    if n == 1:
        x_end = 1.0 + SLOT * (slot + 1)
        line, = ax.plot([0.0, x_end], y * 2, label=label, gid=gid, markevery=[1],
                        **style.line(role_dashes, **line_kw))
    else:
        line, = ax.plot(_xs(n), y, label=label, gid=gid, **style.line(role_dashes, **line_kw))
    drawn = {"gid": gid, "label": label, "n_layers": n, "one_layer": n == 1,
             "x": _json_floats(line.get_xdata()), "y": _json_floats(line.get_ydata())}
    if not band or not any(math.isfinite(v) for v in lo + hi):
        return drawn
    if n == 1:
        if math.isfinite(y[0]) and math.isfinite(lo[0]) and math.isfinite(hi[0]):
            ax.errorbar([x_end], y, yerr=[[y[0] - lo[0]], [hi[0] - y[0]]], fmt="none", ecolor=style.color,
                        elinewidth=1.0, capsize=2.2, capthick=1.0, gid=gid + ":interval")
    else:
        ax.fill_between(_xs(n), lo, hi, color=style.color, alpha=0.10 if style.control else 0.16, linewidth=0,
                        gid=gid + ":band")
    drawn["band_low"], drawn["band_high"] = _json_floats(lo), _json_floats(hi)
    return drawn


def _ceiling(ax, nc: dict | None) -> dict | None:
    """The noise ceiling of an RSA target as a dotted line, marked where the target is unreliable; None where
    the result has none. The leave-one-listener-out bounds are not drawn: they compare one listener with
    the panel (the single-listener scale), so beside a score against the whole panel they would look like a
    ceiling the score exceeds (they stay in the result files)."""
    if not nc or nc.get("value") is None:
        return None
    value = nc["value"]
    line = ax.axhline(value, color="black", linewidth=1.0, dashes=(1, 1.3),
                      label="noise ceiling (split-half)", gid="ceiling")
    out = {"value": float(line.get_ydata()[0]), "reliable": nc.get("reliable")}
    text = f"ceiling {value:.2f}".replace("-", "\u2212")
    if nc.get("reliable") is False or (nc.get("reliable") is None and value <= 0.05):
        text += " (listeners do not agree: target unreliable)"
    ax.annotate(text, (0.0, value), xycoords=("axes fraction", "data"), xytext=(2, 2),
                textcoords="offset points", ha="left", va="bottom", fontsize=6.3)
    return out


def _undefined(ax, series: list[dict]) -> None:
    """Name the models drawn in a panel whose every score is null (nothing to see): not a missing result."""
    names = sorted({s["model"] for s in series} - {s["model"] for s in series if any(v is not None for v in s["y"])})
    if names:
        ax.text(0.01, 0.01, "no defined score: " + ", ".join(names), transform=ax.transAxes, ha="left",
                va="bottom", fontsize=6, color="#555555")


def _chance(ax, value: float | None, label: str) -> dict | None:
    if value is None:
        return None
    line = ax.axhline(value, color="black", linewidth=1.0, dashes=CHANCE_DASHES, label=label, gid="chance")
    ax.annotate(f"chance {value:.2f}", (0.0, value), xycoords=("axes fraction", "data"), xytext=(2, 2),
                textcoords="offset points", ha="left", va="bottom", fontsize=6.3)
    return {"value": float(line.get_ydata()[0]), "label": label}


#: The smallest y range of a score panel, in score units: matplotlib would stretch a panel whose lines differ
#: by 0.0006 over its whole height, making noise look like a trend; differences smaller than a tenth of the
#: scale stay visibly flat.
MIN_SPAN = 0.1


def _unreliable_suffix(result: dict) -> str:
    """A second title line for a panel whose target or label the listeners do not agree on (`unreliable_roles`)."""
    roles = unreliable_roles(result["scores"])
    return f"\n⚠ unreliable {', '.join(roles)}" if roles else ""


def _zero(ax) -> None:
    """At least MIN_SPAN of y range (centred on the data), then a zero line where 0 is in range."""
    lo, hi = ax.get_ylim()
    if hi - lo < MIN_SPAN:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_SPAN / 2, mid + MIN_SPAN / 2
        ax.set_ylim(lo, hi)
    if lo < 0 < hi:
        ax.axhline(0, color="#9a9a9a", linewidth=0.6, zorder=0.5)


def _strip(ax, rows: list[dict], styles: dict[str, ModelStyle]) -> list[dict]:
    """Significance marks at the top of a panel, one row per model: ^ where a > b at a layer, v where
    a < b (BH across layers, q <= alpha). rows: {model, layers, x, difference, reject}."""
    marked = [r for r in rows if any(r["reject"])]
    if not marked:
        return []
    step = 0.06
    lo, hi = ax.get_ylim()
    frac = step * (len(marked) + 0.5)
    ax.set_ylim(lo, hi + (hi - lo) * frac / (1 - frac))
    out = []
    for k, r in enumerate(marked):
        style = styles[r["model"]]
        y = 1 - step * (k + 0.7)
        xs_up = [x for x, d, rej in zip(r["x"], r["difference"], r["reject"]) if rej and (d or 0) > 0]
        xs_down = [x for x, d, rej in zip(r["x"], r["difference"], r["reject"]) if rej and (d or 0) < 0]
        for xs, marker in ((xs_up, "^"), (xs_down, "v")):
            if xs:
                ax.plot(xs, [y] * len(xs), linestyle="none", marker=marker, markersize=4.5, color=style.color,
                        markerfacecolor="white" if style.control else style.color, markeredgewidth=0.9,
                        transform=ax.get_xaxis_transform(), clip_on=False, gid=f"significant:{r['model']}")
        out.append({"model": r["model"],
                    "layers": [name for name, rej in zip(r["layers"], r["reject"]) if rej],
                    "x_higher": xs_up, "x_lower": xs_down})
    return out


def _layer_marks(row: dict | None, n_layers: int, slot: int = 0) -> dict | None:
    """A contrast row's per-layer tests as strip input (a one-layer model: at its point in the margin)."""
    res = (row or {}).get("result") or {}
    layers = res.get("layers")
    if not layers:
        return None
    xs = [1.0 + SLOT * (slot + 1)] if n_layers == 1 else _xs(n_layers)
    return {"model": row["model"], "layers": res.get("layer_names", []), "x": xs,
            "difference": layers["difference"], "reject": [bool(x) for x in layers["reject"]]}
