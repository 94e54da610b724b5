"""The figure file: a `Figure` (PNG and SVG written atomically, palette-quantised, with a JSON sidecar
read back from the drawn artists) and the page furniture every figure shares (title, caption, marks)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

from audioprobe.files import atomic_write_bytes
from audioprobe.leaderboard.figures.style import DPI, HEADER_IN, MARK_IN, RC, SYNTHETIC_MARK, WIDTH, _pyplot

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
