"""Metrics: arrays in, arrays out. They never see a model, a task or a stimulus set.

One module (or package) per concept: geometry (dissimilarity matrices and their comparisons),
resampling (the draws every model on a set shares), pearson and split_pearson (the Pearson engine and the
headline's replicates), mantel, ceiling, layer_selection, intervals, rsa_inference (every statistic of an RSA
score), targets (listeners' counts to target RDMs), inference/ (claims from shared replicates), probing/ (linear
probes), discrimination (ABX triplets), similarity (measures beside the RSA), cka (centred kernel alignment), responses (per-listener answers to
per-sound counts). docs/architecture.md has the full map.
"""
