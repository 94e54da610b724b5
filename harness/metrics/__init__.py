"""Metrics: arrays in, arrays out. They never see a model, a task or a stimulus set.

rsa (dissimilarity matrices and their comparison), stats (bootstrap, permutations, ceilings,
cross-validated layer choice), transfer (linear probes), abx (triplet discriminability),
responses (per-listener answers to per-sound counts).
"""
