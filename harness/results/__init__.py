"""The result file: one JSON per (model, task, stimulus set), the only thing the leaderboard,
comparisons and reports read.

The schema is this module's typed dicts (the `scores` block: the task type's `scores_schema`),
checked by `validate_result` on every write and every read, and rendered into docs/results.md
by `schema_markdown()` (a test keeps the two equal). `build_result` is the one function that
assembles a result; the runner calls it.

Files live at `DIR/<set>-<fingerprint[:8]>/<model>/<task>.json`, so results of different
stimulus sets (or of a `--limit` cut) never overwrite each other, nor those of two settings of one model
(`<model>` is `model_folder(model_label(name, args))`). Schema 1 files (the earlier
`DIR/<model>/<task>.json` layout, no run key) are still read, never reused.

The package, by concept: `schema` (the typed dicts), `paths` (where results live, model labels),
`store` (building, writing and reading results), `validator` (checking against the schema),
`interpret` (experiments and unreliable labels), `display` (numbers in tables), `docs`
(docs/results.md). Callers import the names below from `audioprobe.results`.
"""

from audioprobe.results.display import format_score, interval_text, p_text, score_text
from audioprobe.results.docs import schema_markdown
from audioprobe.results.interpret import experiment_of, reliability_blocks, unreliable_labels, unreliable_roles
from audioprobe.results.paths import (
    SUITE_SUFFIX,
    SUMMARY_FILE,
    distinguishing_args,
    is_set_summary,
    model_dir,
    model_folder,
    model_label,
    replicates_path,
    result_label,
    result_path,
    safe_name,
    set_folder,
)
from audioprobe.results.schema import (
    LEGACY_REQUIRED_KEYS,
    READABLE_VERSIONS,
    DatasetInfo,
    FrontendInfo,
    ModelInfo,
    Replicates,
    Resampling,
    Result,
    TaskInfo,
    Timing,
    scores_schema,
)
from audioprobe.results.store import (
    build_result,
    collect_files,
    load_json_strict,
    now_utc,
    package_versions,
    read_replicates,
    read_result,
    validate_file,
    write_json_file,
    write_result,
)
from audioprobe.results.validator import check_typed, validate_result

__all__ = ['DatasetInfo', 'FrontendInfo', 'LEGACY_REQUIRED_KEYS', 'ModelInfo', 'READABLE_VERSIONS', 'Replicates', 'Resampling', 'Result', 'SUITE_SUFFIX', 'SUMMARY_FILE', 'TaskInfo', 'Timing', 'build_result', 'check_typed', 'collect_files', 'distinguishing_args', 'experiment_of', 'format_score', 'interval_text', 'is_set_summary', 'load_json_strict', 'model_dir', 'model_folder', 'model_label', 'now_utc', 'p_text', 'package_versions', 'read_replicates', 'read_result', 'reliability_blocks', 'replicates_path', 'result_label', 'result_path', 'safe_name', 'schema_markdown', 'score_text', 'scores_schema', 'set_folder', 'unreliable_labels', 'unreliable_roles', 'validate_file', 'validate_result', 'write_json_file', 'write_result']
