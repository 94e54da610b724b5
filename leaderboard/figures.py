"""The report's figures, drawn from result files and the comparison report only (never a model).

One style for every figure: the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design":
distinguishable under the common colour-vision deficiencies) with a marker per model, so a grey
print still tells models apart; controls (random-weights twins `random-*` and the spectrogram
baselines logmel, mfcc, spectrogram) dashed with hollow markers, in greys beside trained models.
Models differ in depth, so the x axis is relative depth (first layer 0, last layer 1), intervals
as bands; a one-layer model is a level line across the axis ending at its point, in a shaded
margin right of depth 1, with its interval as an error bar. A missing result is not drawn; an
undefined score (null) leaves a gap. Sizes are for a page (6.5 in wide, 160 dpi).

Each figure comes with a JSON sidecar of what it plots, read back from the matplotlib artists
(line data, image arrays, texts) after drawing: what the sidecar says is what the picture shows.

Figures: `fig1a` (per perceived target, KL RSA), `fig1b` (0/1 RSA, perceived vs physical),
`fig2` (transfer per split, no-transfer baseline, chance), `figA2` (partial RSA, as 1A),
`profiles` (any other tasks, and ABX), `pairwise` (one task's model comparison matrix), and
`plot_profiles` (the leaderboard's one-figure-per-task PNGs).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes
from audioprobe.results import result_label, safe_name, unreliable_roles

SYNTHETIC_BANNER = "SYNTHETIC stimuli and simulated judgments: not findings about human perception"
#: The mark in the corner of a figure of a synthetic set (the page and each set's section carry the banner once;
#: a figure copied out of the report still says what its data are).
SYNTHETIC_MARK = "SYNTHETIC data: not human perception"

#: Okabe & Ito (2008) "Color Universal Design", most distinct first; yellow last (faint in print)
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h", "<", ">")
CONTROL_GREYS = ("#333333", "#777777", "#555555", "#999999")
CONTROL_MARKERS = ("o", "s", "D", "^", "v", "P")
CONTROL_DASHES = ((5, 2), (1.2, 1.6), (6, 2, 1.2, 2), (3, 1.5, 1.2, 1.5, 1.2, 1.5))
BASELINE_MODELS = ("logmel", "mfcc", "spectrogram")

WIDTH = 6.5  # inches: the text width of an A4 or letter page with 2.5 cm margins
DPI = 160
HEADER_IN = 0.32  # inches above the panels for the title
MARK_IN = 0.14  # and for the synthetic mark

#: dimension order of the paper's panels
DIMENSION_ORDER = ("average", "material", "hollowness", "extent")
#: the paper's transfer splits, in figure 2's order
SPLIT_ORDER = ("transfer-material-1D2D-to-3D", "transfer-material-1D3D-to-2D", "transfer-material-2D3D-to-1D",
               "transfer-material-hollow-to-full", "transfer-material-full-to-hollow")

RC = {
    "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.color": "#e3e3e3",
    "grid.linewidth": 0.5, "axes.axisbelow": True, "lines.linewidth": 1.4, "lines.markersize": 4,
    "figure.dpi": DPI, "savefig.dpi": DPI, "svg.hashsalt": "audioprobe", "svg.fonttype": "path",
    "hatch.linewidth": 0.5,
}


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise AudioprobeError("figures need matplotlib: pip install 'audioprobe[plots]'.") from None
    return plt


# ---------------------------------------------------------------------------------------------
# Styles of models

def is_control(name: str, meta: dict | None = None) -> bool:
    """A control: a random-weights twin (`random-*`) or a spectrogram baseline (no learned weights)."""
    return name.startswith("random-") or name in BASELINE_MODELS or (meta or {}).get("family") == "baseline"


@dataclasses.dataclass(frozen=True)
class ModelStyle:
    color: str
    marker: str
    control: bool
    dashes: tuple | None = None  # None: solid

    def line(self, role_dashes: tuple | None = None, **extra) -> dict:
        """Keyword arguments of `ax.plot`: the model's colour and marker; `role_dashes` overrides the
        model's own line style where line style encodes something else (figure 1B, figure 2; `()`: solid)."""
        kw = dict(color=self.color, marker=self.marker, markersize=3.6 if self.control else 4,
                  markerfacecolor="white" if self.control else self.color, markeredgewidth=0.9,
                  linewidth=1.1 if self.control else 1.5)
        dashes = self.dashes if role_dashes is None else role_dashes  # (): solid
        if dashes:
            kw["dashes"] = dashes
        kw.update(extra)
        return kw


def model_styles(models: dict[str, bool]) -> dict[str, ModelStyle]:
    """name -> style, for {name: is_control}: trained models first in colour, controls in grey (in colour
    too where there is no trained model to set them apart from), dashed. Computed once per stimulus set
    so a model looks the same in every figure of the set."""
    trained = sorted(m for m, c in models.items() if not c)
    controls = sorted(m for m, c in models.items() if c)
    greys = CONTROL_GREYS if trained else OKABE_ITO
    styles = {}
    for i, m in enumerate(trained):
        cycle = i // len(OKABE_ITO)  # beyond eight models the colours repeat, dashed
        styles[m] = ModelStyle(OKABE_ITO[i % len(OKABE_ITO)], MARKERS[i % len(MARKERS)], False,
                               None if cycle == 0 else CONTROL_DASHES[(cycle - 1) % len(CONTROL_DASHES)])
    for j, m in enumerate(controls):
        styles[m] = ModelStyle(greys[j % len(greys)], CONTROL_MARKERS[j % len(CONTROL_MARKERS)],
                               True, CONTROL_DASHES[j % len(CONTROL_DASHES)])
    return styles


def styles_for(results: list[dict]) -> dict[str, ModelStyle]:
    return model_styles({result_label(r): is_control(r["model"]["name"], r["model"].get("meta"))
                         for r in results})


def model_order(styles: dict[str, ModelStyle]) -> list[str]:
    """Legend order: trained models, then controls."""
    return sorted(styles, key=lambda m: (styles[m].control, m))


# ---------------------------------------------------------------------------------------------
# What a figure is

@dataclasses.dataclass
class Figure:
    """A drawn figure, its file stem, caption and the sidecar of what it plots."""

    name: str
    title: str
    caption: str
    fig: Any
    data: dict[str, Any]
    alt: str = ""
    png: bytes = b""  # the PNG's bytes, once saved
    palette: bool = False  # PNG with a 256-colour palette: heatmaps of many cells, a third of the bytes
    paths: dict[str, Path] = dataclasses.field(default_factory=dict)  # and its files

    def save(self, directory: Path, svg: bool = False) -> dict[str, Path]:
        """Write `<name>.png` and `<name>.json` (and `<name>.svg` when asked) into `directory`; close the figure."""
        directory = Path(directory)
        paths = {}
        formats = (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None}))
        for fmt, meta in formats if svg else formats[:1]:
            buffer = io.BytesIO()
            with _pyplot().rc_context(RC):  # svg.hashsalt: the same ids on every run
                self.fig.savefig(buffer, format=fmt, dpi=DPI, metadata=meta)
            if self.palette:
                buffer = io.BytesIO(_palette_png(buffer.getvalue()) if fmt == "png" else
                                    _palette_svg_images(buffer.getvalue()))
            paths[fmt] = directory / f"{self.name}.{fmt}"
            atomic_write_bytes(paths[fmt], lambda fh, b=buffer.getvalue(): fh.write(b))
        self.png = paths["png"].read_bytes()
        sidecar = {"figure": self.name, "title": self.title, **self.data}
        paths["json"] = directory / f"{self.name}.json"
        text = json.dumps(sidecar, indent=1, allow_nan=False) + "\n"
        atomic_write_bytes(paths["json"], lambda fh: fh.write(text.encode()))
        _pyplot().close(self.fig)
        self.fig = None
        self.paths = paths
        return paths


def _palette_png(data: bytes) -> bytes:
    """The PNG with its colours mapped to a palette of at most 256 (no dithering): a viridis heatmap and
    antialiased text need no more, and the file is a third of the size."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    alpha = image.mode == "RGBA" and image.getextrema()[3][0] < 255
    out = io.BytesIO()
    if alpha:  # keep transparency exact: only the colours go to the palette
        image.quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out, "PNG",
                                                                                                    optimize=True)
    else:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                      dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    return out.getvalue()


def _palette_svg_images(data: bytes) -> bytes:
    """The SVG with each embedded PNG image (the heatmaps, drawn at one cell a pixel) palette-coded as above."""
    import base64
    import re

    def recode(match: re.Match) -> bytes:
        png = _palette_png(base64.b64decode(match.group(2)))
        return match.group(1) + base64.b64encode(png)

    return re.sub(rb'(data:image/png;base64,)([A-Za-z0-9+/=\s]+)', recode, data)


def _num(x) -> float:
    return math.nan if x is None else float(x)


def _json_floats(values) -> list[float | None]:
    return [None if not math.isfinite(float(v)) else float(v) for v in values]


def _xs(n: int) -> list[float]:
    """Relative depth of n layers (first 0, last 1; one layer: 0.5)."""
    return [0.5] if n == 1 else [i / (n - 1) for i in range(n)]


def _interval(entry: dict, key: str = "ci") -> tuple[float, float]:
    ci = entry.get(key)
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
        return float(ci[0]), float(ci[1])
    return math.nan, math.nan


def _new_figure(title: str, synthetic: bool, n_panels: int, ncols: int, panel_h: float, width: float = WIDTH):
    """A figure with a header (title, and the synthetic banner where the set is synthetic) above a grid
    of panels; returns (figure, panel subfigure, axes, header texts). `_finish` adds the legend."""
    plt = _pyplot()
    nrows = max(1, math.ceil(n_panels / ncols))
    header = HEADER_IN + (MARK_IN if synthetic else 0.0)
    body = nrows * panel_h
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(width, header + body), dpi=DPI, layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[header, body])
        texts = {}
        if synthetic:  # a small mark in the corner: the page carries the banner
            texts["banner"] = top.text(0.995, 1 - 0.5 * MARK_IN / header, SYNTHETIC_MARK, ha="right", va="center",
                                       fontsize=6.5, fontweight="bold", color="#7a0000", gid="synthetic-banner")
        texts["title"] = _fit(fig, top.text(0.5, 0.5 * HEADER_IN / header, title, ha="center", va="center",
                                            fontsize=9.5, fontweight="bold"), width - 0.2)
        axes = bottom.subplots(nrows, ncols, squeeze=False).ravel().tolist()
        for ax in axes[n_panels:]:
            ax.remove()
    fig._audioprobe_parts = (top, bottom, header, body)
    return fig, bottom, axes[:n_panels], texts


def _fit(fig, text, width_in: float):
    """Shrink a header text until it fits the figure's width: a narrow figure keeps its banner whole."""
    wide = text.get_window_extent(fig.canvas.get_renderer()).width / DPI
    if wide > width_in:
        text.set_fontsize(text.get_fontsize() * width_in / wide)
    return text


def _blank():
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="none"), ""


def _finish(fig, axes: list, models: list[str], keys: list | None = None) -> None:
    """One legend below the panels, laid out in rows: the models first, then the reference lines (ceiling,
    chance) and the keys of line styles and marks; as many columns as fit the page; the figure grows to
    hold it (a whole number of pixels high)."""
    found: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_"):
                found.setdefault(label, handle)
    for handle in keys or []:
        found.setdefault(handle.get_label(), handle)
    model_entries = [(found[m], m) for m in models if m in found]
    ref_entries = [(h, lab) for lab, h in found.items() if lab not in models]
    top, bottom, header, body = fig._audioprobe_parts
    width = fig.get_size_inches()[0]
    legend_h = 0.0
    if model_entries or ref_entries:
        renderer = fig.canvas.get_renderer()
        for ncols in range(min(6, max(len(model_entries), len(ref_entries))), 0, -1):
            grid = []
            for entries in (model_entries, ref_entries):
                for i in range(0, len(entries), ncols):
                    row = entries[i:i + ncols]
                    grid.append(row + [_blank()] * (ncols - len(row)))
            ordered = [grid[r][c] for c in range(ncols) for r in range(len(grid))]  # matplotlib fills by column
            with _pyplot().rc_context(RC):
                legend = bottom.legend([h for h, _ in ordered], [lab for _, lab in ordered], loc="outside lower center",
                                       ncols=ncols, handlelength=3.0, columnspacing=1.2, handletextpad=0.5,
                                       borderaxespad=0.2)
            box = legend.get_window_extent(renderer)
            if box.width / DPI <= width - 0.15 or ncols == 1:
                legend_h = box.height / DPI + 0.08
                break
            legend.remove()
    height = math.ceil((header + body + legend_h) * DPI) / DPI
    fig.set_size_inches(width, height)
    top._subplotspec.get_gridspec().set_height_ratios([header, height - header])


def _header_data(texts: dict, synthetic: bool, fig) -> dict:
    w, h = fig.get_size_inches()
    return {"synthetic": synthetic, "banner": texts["banner"].get_text() if "banner" in texts else None,
            "size_in": [float(w), float(h)], "dpi": DPI, "size_px": [round(w * DPI), round(h * DPI)]}


CHANCE_DASHES = (10, 2.5)  # long dashes: no model's line style
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


# ---------------------------------------------------------------------------------------------
# Task metadata read from result files

def params(result: dict) -> dict:
    return result["task"].get("config", {}).get("params", {})


def dimensions(result: dict) -> tuple[str, ...]:
    dims = params(result).get("dimensions", ())
    return (dims,) if isinstance(dims, str) else tuple(dims)


def dimension_label(result: dict) -> str:
    dims = dimensions(result)
    if len(dims) > 1:
        return f"average of {len(dims)} dimensions"
    return dims[0] if dims else result["task"]["name"]


def _dim_key(dims: tuple[str, ...]) -> tuple:
    name = "average" if len(dims) > 1 else (dims[0] if dims else "")
    return (DIMENSION_ORDER.index(name) if name in DIMENSION_ORDER else len(DIMENSION_ORDER), name, dims)


def task_order(results_by_task: dict[str, list[dict]]) -> list[str]:
    """The paper's panel order: average, material, hollowness, extent; splits as in figure 2; then by name."""
    def key(task):
        r = results_by_task[task][0]
        split = SPLIT_ORDER.index(task) if task in SPLIT_ORDER else len(SPLIT_ORDER)
        return (split, _dim_key(dimensions(r)) if r["task"]["type"] == "rsa" else (), task)
    return sorted(results_by_task, key=key)


def _y_label(results: list[dict]) -> str:
    r = results[0]
    kind = r["task"]["type"]
    if kind == "rsa":
        comparison = params(r).get("comparison", "pearson")
        return f"RSA ({comparison.capitalize() if comparison in ('pearson', 'spearman') else comparison})"
    if kind == "transfer":
        return params(r).get("score", "accuracy").replace("_", " ")
    if kind == "abx":
        return "ABX error (lower is better)"
    return "score"


# ---------------------------------------------------------------------------------------------
# Figures 1A, A2 and generic per-task profiles

def _slots(keys: list, n_layers: dict) -> dict:
    """Margin slot of each one-layer series, in drawing order."""
    one = [k for k in keys if n_layers[k] == 1]
    return {k: i for i, k in enumerate(one)}


def _profile_grid(title: str, synthetic: bool, n_panels: int, ncols: int):
    """The panel grid of per-layer profile figures (1A, A2, 2): one sizing rule for all of them."""
    return _new_figure(title, synthetic, n_panels, ncols, panel_h=2.45 if ncols > 1 else 2.9,
                       width=WIDTH if ncols > 1 else WIDTH * 0.75)


def profiles_figure(name: str, title: str, results_by_task: dict[str, list[dict]], styles: dict[str, ModelStyle],
                    synthetic: bool, caption: str, panel_titles: dict[str, str] | None = None,
                    ncols: int = 2) -> Figure:
    """One panel per task, one line per model (score per layer, interval band), the noise ceiling (RSA)
    or chance (transfer, ABX)."""
    tasks = task_order(results_by_task)
    ncols = min(ncols, len(tasks))
    fig, sub, axes, texts = _profile_grid(title, synthetic, len(tasks), ncols)
    panels = []
    with _pyplot().rc_context(RC):
        for i, (ax, task) in enumerate(zip(axes, tasks)):
            rs = {result_label(r): r for r in results_by_task[task]}
            first = next(iter(rs.values()))
            panel = {"task": task, "series": [], "ceiling": _ceiling(ax, _ceiling_of(list(rs.values()))),
                     "chance": _chance(ax, *_chance_of(first))}
            order = model_order({m: styles[m] for m in rs})
            slots = _slots(order, {m: len(rs[m]["scores"]["per_layer"]) for m in order})
            for model in order:
                per_layer = rs[model]["scores"]["per_layer"]
                drawn = _profile(ax, styles[model], [e["score"] for e in per_layer],
                                 [_interval(e) for e in per_layer], label=model, gid=f"score:{model}",
                                 slot=slots.get(model, 0))
                panel["series"].append({"model": model, "layers": [e["layer"] for e in per_layer], **drawn})
            _depth_axis(ax, len(slots), show_label=i + ncols >= len(tasks))
            if i % ncols == 0:
                ax.set_ylabel(_y_label([first]))
            ax.set_title(((panel_titles or {}).get(task) or task_title(first)) + _unreliable_suffix(first))
            _zero(ax)
            _undefined(ax, panel["series"])
            panels.append(panel)
        _finish(fig, axes, model_order(styles))
    return Figure(name, title, caption, fig, {**_header_data(texts, synthetic, fig), "kind": "profiles",
                                              "panels": panels}, alt=title)


def _ceiling_of(results: list[dict]) -> dict | None:
    """The noise ceiling of a task on a set: it depends on the target only, so every model's result holds
    the same; the first that has one."""
    for r in results:
        nc = r["scores"].get("noise_ceiling")
        if nc and nc.get("value") is not None:
            return nc
    return None


def _chance_of(result: dict) -> tuple[float | None, str]:
    chance = result["scores"].get("chance")
    if isinstance(chance, dict):
        kind = params(result).get("score", "accuracy")
        return chance.get(kind), f"chance ({'majority class' if kind == 'accuracy' else '1 / classes'})"
    if isinstance(chance, (int, float)):
        return float(chance), "chance"
    return None, ""


# ---------------------------------------------------------------------------------------------
# Figure 1B: perceived (solid) vs physical (dashed)

PERCEIVED_DASHES = ()
PHYSICAL_DASHES = (4, 2)


def perceived_physical_figure(name: str, title: str, pairs: list[tuple[str, str | None, str | None]],
                              results_by_task: dict[str, list[dict]], styles: dict[str, ModelStyle],
                              contrast_rows: list[dict], synthetic: bool, caption: str) -> Figure:
    """Per dimension (pairs: (dimension label, perceived task, physical task)), each model's RSA against
    the modal responses (solid) and the physical labels (dashed); ^/v at the top where the contrast
    row (a = perceived, b = physical) rejects at a layer."""
    from matplotlib.lines import Line2D

    ncols = min(3, len(pairs))
    fig, sub, axes, texts = _new_figure(title, synthetic, len(pairs), ncols, panel_h=2.6 if ncols > 1 else 2.9,
                                        width=WIDTH if ncols > 1 else WIDTH * 0.75)
    panels = []
    with _pyplot().rc_context(RC):
        for i, (ax, (dim, perceived, physical)) in enumerate(zip(axes, pairs)):
            panel = {"dimension": dim, "perceived_task": perceived, "physical_task": physical, "series": []}
            by_role = {role: {result_label(r): r for r in results_by_task.get(task, [])}
                       for role, task in (("perceived", perceived), ("physical", physical)) if task}
            present = set().union(*[set(v) for v in by_role.values()]) if by_role else set()
            order = model_order({m: styles[m] for m in present})
            keys = [(m, role) for m in order for role in ("perceived", "physical") if m in by_role.get(role, {})]
            slots = _slots(keys, {k: len(by_role[k[1]][k[0]]["scores"]["per_layer"]) for k in keys})
            marks = []
            for model in order:
                label = model
                for role, dashes in (("perceived", PERCEIVED_DASHES), ("physical", PHYSICAL_DASHES)):
                    r = by_role.get(role, {}).get(model)
                    if r is None:
                        continue
                    per_layer = r["scores"]["per_layer"]
                    drawn = _profile(ax, styles[model], [e["score"] for e in per_layer],
                                     [_interval(e) for e in per_layer], label=label, gid=f"{role}:{model}",
                                     role_dashes=dashes, slot=slots.get((model, role), 0))
                    label = "_" + model  # one legend entry per model
                    panel["series"].append({"model": model, "role": role, "task": r["task"]["name"],
                                            "layers": [e["layer"] for e in per_layer], **drawn})
                row = next((c for c in contrast_rows if c["model"] == model and c.get("a") == perceived
                            and c.get("b") == physical), None)
                mark = _layer_marks(row, len(by_role.get("perceived", {}).get(model, {}).get("scores", {})
                                             .get("per_layer", [None, None])), slots.get((model, "perceived"), 0))
                if mark:
                    marks.append(mark)
            _depth_axis(ax, len(slots), show_label=True)
            if i % ncols == 0:
                ax.set_ylabel("RSA (0/1 target, r)")
            perceived_results = list(by_role.get("perceived", {}).values())
            ax.set_title(dim + (_unreliable_suffix(perceived_results[0]) if perceived_results else ""))
            _zero(ax)
            _undefined(ax, panel["series"])
            panel["significant"] = _strip(ax, marks, styles)
            panels.append(panel)
        keys = [Line2D([], [], color="black", linewidth=1.3, label="perceived (modal response)"),
                Line2D([], [], color="black", linewidth=1.3, dashes=PHYSICAL_DASHES, label="physical label"),
                Line2D([], [], color="black", linestyle="none", marker="^", markersize=4.5,
                       label="perceived > physical (▼ <), q ≤ α")]
        _finish(fig, axes, model_order(styles), keys if any(p["significant"] for p in panels) else keys[:2])
    return Figure(name, title, caption, fig, {**_header_data(texts, synthetic, fig), "kind": "perceived-physical",
                                              "panels": panels}, alt=title)


# ---------------------------------------------------------------------------------------------
# Figure 2: transfer, no-transfer baseline, chance

BASELINE_DASHES = (1.2, 1.4)


def transfer_figure(name: str, title: str, results_by_task: dict[str, list[dict]], styles: dict[str, ModelStyle],
                    contrast_rows: list[dict], synthetic: bool, caption: str) -> Figure:
    """Per split, each model's transfer score per layer (solid, interval band), its no-transfer baseline
    (dotted, same colour) and chance (long dashes); ^/v where transfer differs from the baseline at a layer."""
    from matplotlib.lines import Line2D

    tasks = task_order(results_by_task)
    ncols = min(3, len(tasks))
    fig, sub, axes, texts = _profile_grid(title, synthetic, len(tasks), ncols)
    panels = []
    with _pyplot().rc_context(RC):
        for i, (ax, task) in enumerate(zip(axes, tasks)):
            rs = {result_label(r): r for r in results_by_task[task]}
            first = next(iter(rs.values()))
            kind = params(first).get("score", "accuracy")
            panel = {"task": task, "score": kind, "series": [], "chance": _chance(ax, *_chance_of(first))}
            order = model_order({m: styles[m] for m in rs})
            slots = _slots(order, {m: len(rs[m]["scores"]["per_layer"]) for m in order})
            marks = []
            for model in order:
                per_layer = rs[model]["scores"]["per_layer"]
                layers = [e["layer"] for e in per_layer]
                slot = slots.get(model, 0)
                drawn = _profile(ax, styles[model], [e["score"] for e in per_layer], [_interval(e) for e in per_layer],
                                 label=model, gid=f"transfer:{model}", role_dashes=(), slot=slot)
                panel["series"].append({"model": model, "role": "transfer", "layers": layers, **drawn})
                base = [e.get(f"baseline_{kind}") for e in per_layer]
                if any(v is not None for v in base):
                    drawn = _profile(ax, styles[model], base, None, label="_" + model, gid=f"baseline:{model}",
                                     role_dashes=BASELINE_DASHES, band=False, slot=slot, markersize=3,
                                     markerfacecolor="white", linewidth=1.2)
                    if len(per_layer) > 1:
                        ax.get_lines()[-1].set_marker("none")
                    panel["series"].append({"model": model, "role": "baseline", "layers": layers, **drawn})
                row = next((c for c in contrast_rows if c["model"] == model and c.get("a") == task
                            and c.get("b") == "no-transfer baseline"), None)
                mark = _layer_marks(row, len(per_layer), slot)
                if mark:
                    marks.append(mark)
            _depth_axis(ax, len(slots), show_label=i + ncols >= len(tasks))
            if i % ncols == 0:
                ax.set_ylabel(_y_label([first]))
            ax.set_title(task_title(first) + _unreliable_suffix(first))
            _undefined(ax, [x for x in panel["series"] if x["role"] == "transfer"])
            panel["significant"] = _strip(ax, marks, styles)
            panels.append(panel)
        keys = [Line2D([], [], color="black", linewidth=1.3, label="transfer")]
        if any(x["role"] == "baseline" for p in panels for x in p["series"]):
            keys.append(Line2D([], [], color="black", linewidth=1.3, dashes=BASELINE_DASHES,
                               label="no-transfer baseline"))
        if any(p["significant"] for p in panels):
            keys.append(Line2D([], [], color="black", linestyle="none", marker="v", markersize=4.5,
                               label="transfer < baseline (▲ >), q ≤ α"))
        _finish(fig, axes, model_order(styles), keys)
    return Figure(name, title, caption, fig, {**_header_data(texts, synthetic, fig), "kind": "transfer",
                                              "panels": panels}, alt=title)


def task_title(result: dict) -> str:
    """A panel title from the task's configuration."""
    p = params(result)
    kind = result["task"]["type"]
    if kind == "transfer":
        train, test = p.get("train_values", []), p.get("test_values", [])
        return f"{', '.join(map(str, train))} → {', '.join(map(str, test))} ({p.get('split_dimension', '')})"
    if kind == "abx":
        within = f", within {p['by']}" if p.get("by") else ""
        return f"{p.get('dimension', '')}{within}\n({result['task']['name']})"
    if kind == "rsa":
        return f"{dimension_label(result)}\n({result['task']['name']})"
    return result["task"]["name"]


# ---------------------------------------------------------------------------------------------
# Pairwise comparison matrix of one task

#: How much a non-significant cell of a pairwise matrix keeps of its colour (the rest is white): the eye
#: goes to the differences the tests support, and a large but uncertain difference still shows its sign.
MUTED = 0.3


def pairwise_figure(name: str, table: dict, synthetic: bool, caption: str, vmax: float | None = None) -> Figure:
    """The compare report's pairwise table of one task: row − column headline differences, each pair once (the
    models best first, the upper triangle), on a diverging scale (blue: the row model better) whose range
    `vmax` the caller shares across the tasks of a set that are on one scale (so a matrix of differences of
    0.006 is not painted as strongly as one of 0.4); FDR-significant cells outlined with a star, the others
    muted."""
    plt = _pyplot()
    import numpy as np
    from matplotlib import cm, colors
    from matplotlib.patches import Rectangle

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
        rgba = np.ones((k, k, 4))
        shown = upper & np.isfinite(diff)
        rgba[shown] = cmap(norm(np.clip(diff[shown], -vmax, vmax)))
        muted = shown & ~reject
        rgba[muted, :3] = 1.0 - MUTED * (1.0 - rgba[muted, :3])
        rgba[upper & ~np.isfinite(diff), :3] = 0.95  # undefined difference: light grey
        # the upper triangle without its empty last row and first column
        ax.imshow(rgba[:-1, 1:], gid="differences", extent=(0.5, k - 0.5, k - 1.5, -0.5))
        ax.grid(False)
        ax.set_xticks(range(1, k), models[1:], rotation=35, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(k - 1), models[:-1])
        ax.tick_params(length=0)
        ax.set_xlabel("column model")
        ax.set_ylabel("row model (models best first)")
        ax.spines[:].set_visible(False)
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
                                           gid=f"significant:{table['models'].index(models[i])}:"
                                               f"{table['models'].index(models[j])}"))
                    cells.append([table["models"].index(models[i]), table["models"].index(models[j])])
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


# ---------------------------------------------------------------------------------------------
# Figure A1: how the stimulus set's target RDMs agree with each other

def target_correlation_figure(name: str, correlations: dict, synthetic: bool, caption: str) -> Figure:
    """The Pearson correlations between the set's target RDMs (set summary), annotated, on a diverging scale
    fixed at [-1, 1] so sets compare by eye."""
    plt = _pyplot()
    import numpy as np

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


# ---------------------------------------------------------------------------------------------
# RDM heatmaps: the target beside each model's headline-layer RDM, sounds ordered by category

def percentile_ranks(condensed) -> Any:
    """Each dissimilarity's rank among the RDM's pairs, scaled to [0, 1] (ties averaged; NaN kept): RDMs of
    different scales (KL, cosine, 0/1) share one colour scale (the display of Kriegeskorte et al. 2008)."""
    import numpy as np
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
    import numpy as np
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
    import numpy as np

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


# ---------------------------------------------------------------------------------------------
# The leaderboard's per-task profiles (audioprobe-leaderboard --plots)

def plot_profiles(results: list[dict], directory: Path) -> list[Path]:
    """Write `<set>-<fp8>__<task>.png` into `directory`, one per (stimulus set, task); return the paths."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["dataset"]["name"], r["dataset"]["fingerprint"]), []).append(r)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for (set_name, fp), rs in sorted(groups.items()):
        styles = styles_for(rs)
        synthetic = any(r["dataset"].get("synthetic") for r in rs)
        by_task: dict[str, list[dict]] = {}
        for r in rs:
            by_task.setdefault(r["task"]["name"], []).append(r)
        for task, trs in sorted(by_task.items()):
            stem = f"{safe_name(set_name)}-{fp[:8]}__{safe_name(task)}"
            figure = profiles_figure(stem, f"{task} on {set_name}", {task: trs}, styles, synthetic, "", ncols=1)
            path = directory / f"{stem}.png"
            buffer = io.BytesIO()
            figure.fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
            atomic_write_bytes(path, lambda fh, b=buffer.getvalue(): fh.write(b))
            _pyplot().close(figure.fig)
            written.append(path)
    return written
