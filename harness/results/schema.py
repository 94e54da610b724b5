"""The result schema as typed dicts: a result file's blocks (task, model, dataset, front end, resampling,
replicates, timing) and the versions read; the `scores` block is each task type's `scores_schema`."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from audioprobe.errors import AudioprobeError
from audioprobe.identity import SCHEMA_VERSION, RunKey
from audioprobe.tasktypes.common import Scores

#: schema versions `read_result` accepts; only SCHEMA_VERSION results carry a run key that can match a run
#: (reusable). Schema 2 (headline replicates of one random split per resample, ceiling ratios
#: to the reliability itself, no matched-size transfer baseline) is read as the earlier layout is, for display;
#: audioprobe-compare leaves its headlines out of paired tests. Schema 3 (no reliability of the
#: target or labels, partial RSA with the raw target's ceiling) is read as it is, its missing flags absent.
READABLE_VERSIONS = (1, 2, 3, 4, SCHEMA_VERSION)


LEGACY_REQUIRED_KEYS = ("schema_version", "task", "model", "dataset", "scores", "seed", "versions", "device",
                        "timing", "created")


class TaskInfo(TypedDict):
    name: Annotated[str, "the task's name"]
    version: Annotated[int, "bumped on any change that can change a score"]
    type: Annotated[str, "the task type (rsa, transfer, abx, ...)"]
    description: Annotated[str, "one line"]
    config: Annotated[dict[str, Any], "the resolved task configuration (include and defaults applied)"]
    config_hash: Annotated[str, "SHA-256 of config without the dataset key"]


class ModelInfo(TypedDict):
    name: Annotated[str, "the registered model name"]
    revision: Annotated[str | None, "the pinned revision asked for (for an unpinned Hub repository: the commit "
                                    "its branch pointed to)"]
    resolved_revision: Annotated[str | None, "the commit actually loaded (null: local or random weights)"]
    wrapper_version: Annotated[str, "the wrapper's code version"]
    args: Annotated[dict[str, Any], "--model-args, typed"]
    checkpoint_sha256: Annotated[dict[str, str], "model argument -> SHA-256 of the local file or folder it "
                                                 "names (a folder: of its files' relative paths and hashes)"]
    meta: Annotated[dict[str, Any], "the model's metadata (ModelMeta: family, training, license, citation, "
                                    "Hub repository, parameter count, ...)"]


class DatasetInfo(TypedDict):
    name: Annotated[str, "the stimulus set's name"]
    fingerprint: Annotated[str, "SHA-256 of ids, audio samples, labels and judgments"]
    n_sounds: Annotated[int, "sounds scored"]
    partial: Annotated[bool, "true when --limit cut the set"]
    synthetic: Annotated[bool, "true for simulated data (not human judgments)"]
    source: Annotated[str, "where the set came from (embedded generator version, folder, hf:ORG/NAME@commit)"]


class FrontendInfo(TypedDict):
    target_rate: Annotated[int, "the model's sample rate, every sound resampled to it"]
    resampler: Annotated[str, "resampling library"]
    quality: Annotated[str, "its quality recipe"]
    mono: Annotated[str, "how channels are mixed to mono"]
    soxr_version: Annotated[str, "resampler version"]


class Resampling(TypedDict):
    factors: Annotated[list[str], "what the bootstrap resamples: sounds (and listeners, where resampled)"]
    unit: Annotated[str, "the items of the sounds factor (sounds; test sounds for transfer)"]
    n_items: Annotated[int, "items resampled"]
    n_resamples: Annotated[int, "bootstrap resamples"]
    seed: Annotated[int, "the seed they were drawn from"]
    n_listeners: NotRequired[Annotated[int, "listeners resampled (two-factor bootstrap)"]]
    plan_sha256: Annotated[str, "SHA-256 of the draws: two results are paired row by row only when equal (same "
                                "seed and items: shared resamples)"]
    sounds_plan_sha256: Annotated[str, "SHA-256 of the sound draws alone: a sounds-only result pairs with a "
                                       "two-factor one on the same sounds (it does not vary with listeners)"]
    pair_statistic: NotRequired[Annotated[list[str], "the replicate arrays that are smooth statistics over pairs of "
                                                     "sounds (RSA: per_layer; headline when it is the only layer's), "
                                                     "drawn by `resampling.sound_draws`: comparisons of those remove the "
                                                     "pairs' noise, which the bootstrap counts three times, from their "
                                                     "variances"]]


class Replicates(TypedDict):
    file: Annotated[str, "the array file beside this one (`<task>.replicates.npz`)"]
    sha256: Annotated[str, "SHA-256 of that file: a replaced or damaged file is refused"]
    arrays: Annotated[dict[str, list[int]], "name -> shape: per_layer `[resamples, layers]` and headline "
                                            "(`[resamples, K]`: a cross-validated headline on K fixed half-splits "
                                            "of every resample; `[resamples]`: one layer, or cv_splits 0); "
                                            "two-factor RSA adds the _sounds and _listeners kinds of both; transfer "
                                            "adds baseline, matched, matched_baseline `[resamples, layers]` and "
                                            "baseline_contrast (shaped as headline)"]
    resampling: Annotated[Resampling, "the resamples the rows come from"]


class Timing(TypedDict):
    extract_s: Annotated[float, "seconds spent computing activations (0 when read from the cache)"]
    metric_s: Annotated[float, "seconds spent in the task's metric"]
    activations_cached: Annotated[bool, "true when the activations came from the cache"]


class Result(TypedDict):
    schema_version: Annotated[int, f"{SCHEMA_VERSION}"]
    run_key: Annotated[RunKey, "everything that can change a number; a result is reused only when the key of "
                               "the run asked for is equal"]
    task: Annotated[TaskInfo, "the task"]
    model: Annotated[ModelInfo, "the model"]
    dataset: Annotated[DatasetInfo, "the stimulus set"]
    frontend: Annotated[FrontendInfo, "the audio front end"]
    pooling: Annotated[list[str], "poolings over frames the task read"]
    precision: Annotated[Literal["fp32", "fp16", "bf16"], "forward-pass precision"]
    device: Annotated[str, "where the forward pass and the RSA statistics ran (cpu, cuda, cuda:1; not part of the run key: results agree within float rounding)"]
    scores: Annotated[Scores, "what the task type computed: see the task type's scores below"]
    seed: Annotated[int, "seed of every resampling statistic"]
    versions: Annotated[dict[str, str], "audioprobe, python, torch, numpy, scipy, scikit-learn"]
    timing: Annotated[Timing, "costs"]
    created: Annotated[str, "ISO 8601 UTC time stamp"]
    replicates: NotRequired[Annotated[Replicates, "the bootstrap replicates paired comparisons read (absent when "
                                                  "bootstrap is 0)"]]


def scores_schema(task_type: str) -> type:
    """The TypedDict of a task type's `scores` block."""
    from audioprobe.tasktypes import TASK_TYPES

    if task_type not in TASK_TYPES:
        raise AudioprobeError(f"task type {task_type!r} is not registered here; cannot check its scores.")
    return TASK_TYPES[task_type].scores_schema
