"""One style for every figure: the Okabe-Ito palette with a marker per model, controls in greys with
dashes and hollow markers, page sizes, matplotlib's settings, and the synthetic-data marks."""

from __future__ import annotations

import dataclasses

from audioprobe.errors import AudioprobeError
from audioprobe.results import result_label

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


CHANCE_DASHES = (10, 2.5)  # long dashes: no model's line style


# ---------------------------------------------------------------------------------------------
# Figure 1B: perceived (solid) vs physical (dashed)

PERCEIVED_DASHES = ()


PHYSICAL_DASHES = (4, 2)


# ---------------------------------------------------------------------------------------------
# Figure 2: transfer, no-transfer baseline, chance

BASELINE_DASHES = (1.2, 1.4)


# ---------------------------------------------------------------------------------------------
# Pairwise comparison matrix of one task

#: How much a non-significant cell of a pairwise matrix keeps of its colour (the rest is white): the eye
#: goes to the differences the tests support, and a large but uncertain difference still shows its sign.
MUTED = 0.3
