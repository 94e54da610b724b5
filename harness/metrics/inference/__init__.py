"""Paired inference on scores: from bootstrap replicates to claims (differences, tables, ranks).

Arrays in, plain JSON-friendly values out; nothing here sees a model, a task or a file. Follows
Schütt et al. (2023, eLife 12:e82566, "Statistical inference on representational geometries") as
implemented in rsatoolbox (`rsatoolbox.util.inference_util`, `rsatoolbox.inference.evaluate`);
the code is ours, the formulas are theirs (the tests check both on the same numbers).

**Replicates.** A score computed on all the data is the *estimate*; the same score recomputed on
resample b is replicate b. Paired inference needs *shared* resamples: row b of every replicate
array that is compared came from the same resample (of sounds, and of listeners where there are
any). Replicates are given in one of these designs:

- one factor: an array `[n_resamples, ...]` (e.g. sounds resampled with replacement; or sounds and
  listeners resampled together in one bootstrap, rsatoolbox's `eval_bootstrap`);
- split replicates of a cross-validated score: `Splits(values [n_resamples, n_splits, ...],
  cv_splits)`, the score of each of the same few half-splits in each resample (a plain array pairs
  with them as one split repeated);
- two factors (the *dual bootstrap*, rsatoolbox's `eval_dual_bootstrap`): a mapping with keys
  `"both"` (sounds and listeners resampled), `"sounds"` (sounds only, every listener kept) and
  `"listeners"` (listeners only, every sound kept), each `[n_resamples, ...]` (or `Splits`), row b
  of the three from the same draw of indices.

NaN marks a replicate that is undefined (a resample where the score cannot be computed); it is
dropped pairwise: for a contrast, the resamples where the contrast is defined are used (in the
dual design, those where all three kinds are defined, as rsatoolbox keeps `eval_ok` rows).

**Variance of a contrast** (a score, or a difference of scores formed replicate by replicate;
the formulas live in `intervals`). One factor: the variance over resamples (ddof 1, as `np.cov`;
for split replicates `intervals.split_variance`, the splits' noise removed) times n / (n - 1), n
the number of sampled units (rsatoolbox `_correct_1d`; n = min(n_sounds, n_listeners) when both
are given and the replicates come from one joint bootstrap, no correction when no n is given).
Two factors (Schütt et al. 2023, eq. for the dual bootstrap; rsatoolbox `_dual_bootstrap`), with
v_b, v_s, v_l the bootstrap variances of "both", "sounds", "listeners" and S, L the numbers of
sounds and listeners:

    v = L/(L-1) v_l + S/(S-1) v_s - S L/((S-1)(L-1)) (v_b - v_l - v_s)
    clipped to [max(L/(L-1) v_l, S/(S-1) v_s), v_b]

and, when S or L is not given, the large-sample form v = 2 (v_l + v_s) - v_b clipped to
[max(v_l, v_s), v_b]. The t-test uses t = estimate / sqrt(max(v, eps)). Degrees of freedom: one
factor, n - 1 (rsatoolbox); two factors, Satterthwaite's (1946) for the dual variance
(`intervals.dual_dof`: between min(S, L) - 1 and about S L, where rsatoolbox uses min(S, L) - 1
throughout); with no n given the normal distribution (dof infinite, reported as None).

**Conventions that differ from rsatoolbox**, on purpose: (1) the contrast's estimate is the score
on all the data, not the mean of the bootstrap replicates (rsatoolbox's `t_tests` take the mean of
`evaluations`); (2) p-values use the survival function, 2 sf(|t|), not 2 (1 - cdf(|t|)) (equal
to rounding, but exact for small p); (3) the bootstrap p-value drops undefined resamples, where
rsatoolbox counts them in the denominator; (4) when every replicate difference is exactly 0 the
bootstrap p-value is 1 (rsatoolbox: NaN); (5) Satterthwaite's dof for the dual variance.

Every returned value is a float, an int, a bool, None (undefined: never NaN) or a (nested) list
of those, so a caller can write it to JSON as it is.

The package, by concept: `paired` (designs, contrasts and their tests), `multiplicity`
(Benjamini-Hochberg), `ranking` (pairwise tables, rank intervals, the best set), `depth` (layer
contrasts, the depth trend, the attainable ratio), `agreement` (models ranked under several measures:
Kendall's W, pairwise tau, the verdict on a claim across measures). Callers use the names below.
"""

from audioprobe.metrics.inference.agreement import (
                                                    VERDICTS,
                                                    claims_across_measures,
                                                    concordance,
                                                    kendalls_w,
                                                    pairwise_rank_agreement,
)
from audioprobe.metrics.inference.depth import attainable_ratio, depth_trend, layer_contrast
from audioprobe.metrics.inference.multiplicity import benjamini_hochberg
from audioprobe.metrics.inference.paired import DUAL_KEYS, OverPairs, Splits, contrast_statistics, paired_difference
from audioprobe.metrics.inference.ranking import (
                                                  SIMULTANEOUS_DRAWS,
                                                  SIMULTANEOUS_SEED,
                                                  average_ranks,
                                                  best_set,
                                                  pairwise_table,
                                                  rank_intervals,
                                                  simultaneous_pairs,
)

__all__ = ["DUAL_KEYS", "SIMULTANEOUS_DRAWS", "SIMULTANEOUS_SEED", "VERDICTS", "OverPairs", "Splits",
           "attainable_ratio", "average_ranks", "benjamini_hochberg", "best_set", "claims_across_measures", "concordance",
           "contrast_statistics", "depth_trend", "kendalls_w", "layer_contrast", "paired_difference",
           "pairwise_rank_agreement", "pairwise_table", "rank_intervals", "simultaneous_pairs"]
