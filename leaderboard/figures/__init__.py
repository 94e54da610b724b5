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
`profiles` (any other tasks, and ABX), `pairwise` (one task's model comparison matrix), `measures`
(rankings under each measure of alignment, and their agreement), and
`plot_profiles` (the leaderboard's one-figure-per-task PNGs).

The package, by concept: `style` (palette, markers, sizes, matplotlib settings), `figure` (the figure
file and its sidecar, the page furniture), `primitives` (profiles, ceilings, chance, spans), `profiles`
(the per-layer figures), `pairwise` (comparison matrices), `rdm` (heatmaps), `measures` (the models' ranking under each measure
of alignment with one target). Callers use the names
below.
"""

from audioprobe.leaderboard.figures.figure import Figure
from audioprobe.leaderboard.figures.measures import measures_figure
from audioprobe.leaderboard.figures.pairwise import pairwise_figure, target_correlation_figure
from audioprobe.leaderboard.figures.profiles import (
                                                     dimension_label,
                                                     dimensions,
                                                     params,
                                                     perceived_physical_figure,
                                                     plot_profiles,
                                                     profiles_figure,
                                                     task_order,
                                                     task_title,
                                                     transfer_figure,
)
from audioprobe.leaderboard.figures.rdm import category_order, percentile_ranks, rdm_figure, square
from audioprobe.leaderboard.figures.style import (
                                                     DPI,
                                                     SYNTHETIC_BANNER,
                                                     SYNTHETIC_MARK,
                                                     WIDTH,
                                                     is_control,
                                                     model_order,
                                                     model_styles,
                                                     styles_for,
)

__all__ = ["DPI", "SYNTHETIC_BANNER", "SYNTHETIC_MARK", "WIDTH", "Figure",
           "category_order", "dimension_label", "dimensions", "is_control", "measures_figure", "model_order", "model_styles",
           "pairwise_figure", "params", "perceived_physical_figure", "percentile_ranks", "plot_profiles",
           "profiles_figure", "rdm_figure", "square", "styles_for", "target_correlation_figure", "task_order",
           "task_title", "transfer_figure"]
