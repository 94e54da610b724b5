"""`python -m audioprobe.stimuli SPEC`: load a stimulus set, check all of it, say what it holds.

SPEC is anything `--data` accepts: a registered name, a folder path or `hf:ORG/NAME[@revision]`.
Loading runs every check of the folder format (or the Hub convention) and `StimulusSet.validate`;
the fingerprint then decodes every sound, so NaN samples or undecodable files are found too.
Exit code 0 when the set can be used, 2 with one message naming the problem otherwise.
"""

from __future__ import annotations

import sys

import numpy as np

from audioprobe.errors import AudioprobeError, shorten
from audioprobe.stimuli.catalog import resolve_dataset
from audioprobe.stimuli.stimulus_set import StimulusSet


def summary(stimset: StimulusSet) -> str:
    """A few lines on what a set holds (and its fingerprint, which decodes every sound)."""
    lines = [f"{stimset.name}: {len(stimset)} sounds{' (SYNTHETIC)' if stimset.synthetic else ''}, "
             f"source {stimset.source or '(in memory)'}"]
    for dim, cats in stimset.dimensions.items():
        per_sound = stimset.judgments[dim].sum(axis=1)
        modal = np.bincount(stimset.judgments[dim].argmax(axis=1), minlength=len(cats))
        answers = f"{per_sound.min()}" if per_sound.min() == per_sound.max() else f"{per_sound.min()}-{per_sound.max()}"
        lines.append(f"  {dim}: {answers} answers per sound; sounds per modal answer: "
                     + ", ".join(f"{c} {m}" for c, m in zip(cats, modal)))
    if stimset.listeners:
        lines.append(f"  per-listener responses: {len(stimset.listeners)} listeners (noise ceilings available)")
    if stimset.labels:
        lines.append(f"  label columns: {', '.join(stimset.labels)}")
    if stimset.rdm is not None:
        lines.append(f"  dissimilarity matrix: {stimset.rdm.shape[0]} x {stimset.rdm.shape[1]}")
    lines.append(f"  fingerprint {stimset.fingerprint()} (every sound decoded)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    try:
        print(summary(resolve_dataset(args[0])))
    except AudioprobeError as exc:
        print(f"Error: {shorten(exc)}", file=sys.stderr)
        return 2
    print("OK: usable with --data " + args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
