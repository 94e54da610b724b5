"""What a stimulus-set folder says about itself and its sounds: dataset.yaml and labels.csv.

dataset.yaml (name, license, the judged dimensions and their categories, what rdm.csv holds,
the sample rate) is read first, by the one safe YAML reader, and the set's files are checked not
to lead out of the folder before any is read. labels.csv gives the sounds' order and their
physical labels. Both are small and checked whole, with errors naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

from audioprobe.errors import AudioprobeError
from audioprobe.files import check_inside, read_config_yaml
from audioprobe.stimuli.folder.csv_files import read_csv
from audioprobe.stimuli.folder.sounds import unknown_sound
from audioprobe.stimuli.stimulus_set import RDM_KINDS


def read_meta(folder: Path) -> tuple[dict, dict[str, list[str]], str]:
    """dataset.yaml, checked: (its keys, the judged dimensions and their categories, what rdm.csv holds). The
    set's files are checked not to lead out of the folder before any is read."""
    if not folder.is_dir():
        raise AudioprobeError(f"{folder}: not a folder. A stimulus set is a folder with dataset.yaml.")
    meta_path = folder / "dataset.yaml"
    if not meta_path.is_file():
        raise AudioprobeError(f"{folder}: no dataset.yaml; see docs/stimuli.md for the folder format.")
    meta = read_config_yaml(meta_path, "stimulus set's dataset.yaml", inside=folder) or {}
    for name in ("labels.csv", "judgments.csv", "responses.csv", "rdm.csv"):  # never read through a link out of the set
        if (folder / name).exists() or (folder / name).is_symlink():
            check_inside(folder / name, folder, "stimulus set's file")
    if not isinstance(meta, dict):
        raise AudioprobeError(f"{meta_path}: must be a mapping of keys to values.")
    allowed = {"name", "description", "license", "citation", "sample_rate", "dimensions", "synthetic", "rdm"}
    bad = sorted(set(meta) - allowed)
    if bad:
        raise AudioprobeError(f"{meta_path}: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(allowed))}.")
    dims = meta.get("dimensions") or {}
    for d, cats in (dims.items() if isinstance(dims, dict) else []):
        flags = [c for c in (cats if isinstance(cats, list) else []) if isinstance(c, bool)]
        if flags or isinstance(d, bool):  # YAML 1.1 reads an unquoted yes, no, on, off, true, false as a boolean
            raise AudioprobeError(
                f"{meta_path}: dimension {d!r} has a category that YAML read as {flags[0] if flags else d!r} (an unquoted "
                f"yes, no, on, off, true or false becomes a boolean); quote it, e.g. ['yes', 'no'].")
    if not isinstance(dims, dict) or not all(
        isinstance(v, list) and v and all(isinstance(c, (str, int)) for c in v) for v in dims.values()
    ):
        raise AudioprobeError(
            f"{meta_path}: 'dimensions' must map each judged dimension to its list of categories, "
            f"e.g. material: [wood, metal, glass]."
        )
    dimensions = {str(d): [str(c) for c in cats] for d, cats in dims.items()}
    for d, cats in dimensions.items():
        if len(set(cats)) != len(cats):
            raise AudioprobeError(f"{meta_path}: dimension {d!r} lists a category twice.")
    rdm_kind = meta.get("rdm", "dissimilarity")
    if rdm_kind not in RDM_KINDS:
        raise AudioprobeError(
            f"{meta_path}: rdm must be 'dissimilarity' (the default) or 'similarity' (what rdm.csv and rdm/ hold), "
            f"got {rdm_kind!r}.")
    if not isinstance(meta.get("synthetic", False), bool):
        raise AudioprobeError(f"{meta_path}: synthetic must be true or false (unquoted), got {meta['synthetic']!r}; a "
                              f"quoted \"no\" is a string, which would mark the set synthetic.")
    declared_rate = meta.get("sample_rate")
    if declared_rate is not None and (not isinstance(declared_rate, int) or declared_rate <= 0):
        raise AudioprobeError(f"{meta_path}: sample_rate must be a positive integer (Hz), got {declared_rate!r}.")
    return meta, dimensions, rdm_kind


def read_labels(labels_path: Path, files: dict[str, Path], dimensions: dict[str, list[str]]
                ) -> tuple[list[str], dict[str, list[str]]]:
    """labels.csv: the sounds in its row order, and its label columns (one row per sound of sounds/)."""
    rows = read_csv(labels_path, ["sound_id"])
    columns = [c for c in rows[0] if c != "sound_id"] if rows else []
    for line, row in enumerate(rows, start=2):
        if None in row:
            raise AudioprobeError(f"{labels_path}, line {line}: more cells than the header has columns.")
    order: list[str] = []
    for line, row in enumerate(rows, start=2):
        sid = row["sound_id"]
        if sid not in files:
            raise unknown_sound(labels_path, line, sid)
        if sid in order:
            raise AudioprobeError(f"{labels_path}, line {line}: sound_id {sid!r} appears twice.")
        order.append(sid)
        for c in columns:
            if row[c] is None:
                raise AudioprobeError(f"{labels_path}, line {line}: the row has fewer cells than the header.")
    missing = [s for s in files if s not in set(order)]
    if missing:
        raise AudioprobeError(
            f"{labels_path}: no row for sound(s) {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}; every sound in sounds/ needs its labels."
        )
    labels = {c: [row[c] for row in rows] for c in columns}
    for c, values in labels.items():
        if c in dimensions:
            for line, v in enumerate(values, start=2):
                if v not in dimensions[c]:
                    raise AudioprobeError(
                        f"{labels_path}, line {line}: {c} {v!r} is not one of dimension {c!r}'s categories "
                        f"({', '.join(dimensions[c])}). A label column named like a dimension must use its "
                        f"categories; rename the column to keep other values."
                    )
    return order, labels
