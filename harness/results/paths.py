"""Where results live and how models are named: `DIR/<set>-<fp8>/<model folder>/<task>.json`, the model's
label (its name and the arguments that distinguish it) and its folder, replicates beside each result."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any


def safe_name(name: str) -> str:
    """A model, task or set name as a file or folder name (`hf:org/name` -> `hf_org__name`)."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name.replace("/", "__"))


def set_folder(dataset_name: str, fingerprint: str) -> str:
    """The folder of one stimulus set's results: its name and a short fingerprint."""
    return f"{safe_name(dataset_name)}-{fingerprint[:8]}"


def distinguishing_args(name: str, args: dict[str, Any] | None) -> dict[str, Any]:
    """The --model-args that make this setting of a model another model: every argument whose value is not
    the one the name presets (`random-beats` presets random=true, `hf:ORG/NAME` its repository), so a model
    run as registered has none. A name this process does not know keeps all its arguments."""
    if not args:
        return {}
    from audioprobe.models.registry import preset_args  # names only: no wrapper (nor torch) is imported

    preset = preset_args(name) or {}
    return {k: v for k, v in sorted(args.items()) if k not in preset or preset[k] != v}


def model_label(name: str, args: dict[str, Any] | None = None) -> str:
    """How results, tables and figures name a model: its registered name, and after it, in brackets, the
    arguments that distinguish this setting (`distinguishing_args`): "clap[checkpoint=ft.pt]". Two settings
    of one model are then two models everywhere (folders, leaderboard rows, comparisons), never one
    replacing the other."""
    extra = distinguishing_args(name, args)
    if not extra:
        return name
    return f"{name}[{','.join(f'{k}={v}' for k, v in extra.items())}]"


def result_label(result: dict) -> str:
    """A result's model label (`model_label` of its model's name and arguments)."""
    model = result["model"]
    return model_label(model["name"], model.get("args"))


def model_folder(label: str) -> str:
    """A model label as a folder name: the name alone as before; with arguments, the name, '@', the
    arguments shortened to 40 characters and 8 hex digits of their SHA-256 (readable, never two settings in
    one folder, and short whatever a path argument's length)."""
    name, bracket, rest = label.partition("[")
    if not bracket:
        return safe_name(label)
    digest = hashlib.sha256(rest[:-1].encode()).hexdigest()[:8]
    return f"{safe_name(name)}@{safe_name(rest[:-1])[:40]}-{digest}"


def model_dir(output_dir: Path, dataset_name: str, fingerprint: str, model_name: str) -> Path:
    """`DIR/<set>-<fp8>/<model>/`: a model's results (and saved activations) on one stimulus set; model_name
    is its label (`model_label`), whose folder is `model_folder`'s."""
    return Path(output_dir) / set_folder(dataset_name, fingerprint) / model_folder(model_name)


def result_path(output_dir: Path, dataset_name: str, fingerprint: str, model_name: str, task_name: str) -> Path:
    return model_dir(output_dir, dataset_name, fingerprint, model_name) / f"{safe_name(task_name)}.json"


def replicates_path(path: Path) -> Path:
    """The array file beside a result file: `<task>.replicates.npz`."""
    path = Path(path)
    return path.with_name(path.stem + ".replicates.npz")


#: a stimulus set's summary beside its model folders (written and read by audioprobe.summaries)
SUMMARY_FILE = "dataset.json"


#: a suite result's file name ends so (written and read by audioprobe.suites)
SUITE_SUFFIX = ".suite.json"


def is_set_summary(path: Path) -> bool:
    """A stimulus set's summary, which lies among the results but is none."""
    if path.name != SUMMARY_FILE:
        return False
    try:
        with open(path, "rb") as fh:
            return b'"summary_version"' in fh.read(64)
    except OSError:  # a folder or a dangling link of that name: not a summary, and not a result either
        return True
