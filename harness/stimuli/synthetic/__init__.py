"""The embedded synthetic stimulus set: modal-synthesis impact sounds (`impacts`) judged by
simulated listeners (`listeners`). Not human data: results on it say so everywhere.

The synthesiser: `modal_laws` (physics) -> `impact_design` (the design table) -> `rendering`
(samples); `impacts` makes the set and caches it. `tone_studies` makes small synthetic dissimilarity studies
(tones of known brightness and attack) for the similarity-study tasks and suites."""
