"""Model wrappers, one file per family, and the catalogue of built-in names.

- `meta.py`: `ModelMeta`, the one metadata shape, and the random-initialisation control's
  metadata (`random_control`, `RANDOM_SEED`). Torch-free.
- `catalog.py`: every built-in name's `ModelMeta` and wrapper ("module:Class"), read by
  `list models` without importing a wrapper. Add an entry there when you add a model
  (CONTRIBUTING.md).
- `base.py`: the wrapper contract (`AudioModel`); `_hub.py`: Hugging Face Hub helpers.
- one file per family: `logmel.py`, `baselines.py`, `beats.py`, `yamnet.py`, `clap.py`, `hf.py`,
  `hear.py`; `fbank.py` is the Kaldi filter bank they share. A family too large for one file keeps
  its wrapper there and the rest beside it: BEATs' network in `beats_network.py`, where its weights
  come from (official checkpoints, random draws) in `beats_weights.py`.
"""
