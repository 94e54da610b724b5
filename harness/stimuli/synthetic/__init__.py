"""The embedded synthetic stimulus set: modal-synthesis impact sounds (`impacts`) judged by
simulated listeners (`listeners`). Not human data: results on it say so everywhere."""
