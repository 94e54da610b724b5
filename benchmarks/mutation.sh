#!/usr/bin/env bash
# Mutation score of the statistics and task-type modules: a benchmark, not part of CI.
#
# mutmut 3 (in-process: forks one worker per mutant and runs only the tests that reach the mutated
# function) on a *copy* of the sources, laid out as the installed package (`audioprobe/` with
# `metrics/`, `tasktypes/`, `models/`, ...), so the working tree is never touched. mutmut is
# installed in its own virtual environment that also sees the project's (.venv) packages.
#
# usage: benchmarks/mutation.sh [MODULE ...]   (default: the modules below; a module is a path
#        under harness/, e.g. metrics/pearson.py). Env: MUTATION_DIR (work folder, default
#        /tmp/audioprobe-mutation), MUTATION_JOBS (parallel workers, default 2), MUTATION_SAMPLE
#        (test a seeded random sample of that many mutants per module; default 0: all of them),
#        MUTATION_SEED (default 16), MUTATION_PREVIOUS (a summary.jsonl of an earlier run: re-test only
#        its mutants that were not killed, and report the earlier statuses updated with the new ones).
# A full run is slow (mutmut 3 made ~1,600 mutants of the statistics module alone, about 0.3-2 per
# second on 2 shared cores), hence the sample: its score estimates the full score (Wong & Mathur
# 1995, "Reducing the cost of mutation testing"), with a binomial standard error printed beside it.
# Prints one JSON line last: score = killed / (mutants - equivalent), with survivors listed.
# Not mutated: `raise XError(...)` statements (error messages; the conditions around them are).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${MUTATION_DIR:-/tmp/audioprobe-mutation}"
JOBS="${MUTATION_JOBS:-2}"
SAMPLE="${MUTATION_SAMPLE:-0}"
SEED="${MUTATION_SEED:-16}"
PREVIOUS="${MUTATION_PREVIOUS:-}"
PROJECT_PY="$ROOT/.venv/bin/python"
MODULES=("$@")
if [ ${#MODULES[@]} -eq 0 ]; then
  MODULES=(metrics/resampling.py metrics/pearson.py metrics/mantel.py metrics/ceiling.py metrics/layer_selection.py
           metrics/rsa_inference.py metrics/geometry.py metrics/inference/paired.py metrics/inference/ranking.py
           metrics/inference/depth.py metrics/inference/multiplicity.py tasktypes/common.py tasktypes/headline.py
           tasktypes/rsa/rdms.py tasktypes/rsa/evaluate.py tasktypes/rsa/params.py tasktypes/reliability.py
           tasktypes/transfer/params.py tasktypes/transfer/subsets.py tasktypes/transfer/evaluate.py
           tasktypes/transfer/contrast.py tasktypes/transfer/presentation.py tasktypes/abx.py)
fi
# the test files that exercise each module (the others never reach it)
STATS_TESTS="tests/test_statistics.py tests/test_properties.py tests/test_independent.py tests/test_rsa.py tests/test_real_matrices.py"
# a task type's presentation (how the leaderboard and the report show its results)
SHOWN_TESTS="tests/test_studies.py"
INFERENCE_TESTS="tests/test_inference.py tests/test_inference_independent.py tests/test_properties.py"
# the transfer task type and its probes
TRANSFER_TESTS="tests/test_transfer.py tests/test_transfer_matched.py tests/test_independent.py"
declare -A TESTS=(
  [metrics/resampling.py]="$STATS_TESTS"
  [metrics/pearson.py]="$STATS_TESTS"
  [metrics/mantel.py]="$STATS_TESTS"
  [metrics/ceiling.py]="$STATS_TESTS"
  [metrics/layer_selection.py]="$STATS_TESTS"
  [metrics/rsa_inference.py]="$STATS_TESTS tests/test_headline_replicates.py"
  [metrics/geometry.py]="tests/test_rsa.py tests/test_properties.py tests/test_independent.py tests/test_statistics.py tests/test_real_matrices.py"
  [metrics/inference/paired.py]="$INFERENCE_TESTS"
  [metrics/inference/ranking.py]="$INFERENCE_TESTS"
  [metrics/inference/depth.py]="$INFERENCE_TESTS"
  [metrics/inference/multiplicity.py]="$INFERENCE_TESTS"
  [metrics/probing/labels.py]="tests/test_transfer.py tests/test_independent.py"
  [metrics/probing/solver.py]="tests/test_transfer_speed.py tests/test_transfer.py tests/test_independent.py"
  [metrics/probing/probe.py]="tests/test_transfer.py tests/test_transfer_speed.py tests/test_independent.py"
  [metrics/probing/baseline.py]="$TRANSFER_TESTS"
  [metrics/probing/matched.py]="tests/test_transfer_matched.py tests/test_transfer.py tests/test_independent.py"
  [metrics/probing/layers.py]="tests/test_transfer.py tests/test_transfer_matched.py tests/test_transfer_speed.py tests/test_independent.py"
  [metrics/probing/accuracy.py]="tests/test_transfer.py tests/test_bench_transfer_variance.py tests/test_independent.py"
  [metrics/discrimination.py]="tests/test_abx.py"
  [metrics/cka.py]="tests/test_cka.py"
  [tasktypes/common.py]="tests/test_common.py tests/test_rsa.py tests/test_transfer.py tests/test_abx.py tests/test_independent.py tests/test_taskconfig.py"
  [tasktypes/headline.py]="tests/test_common.py tests/test_rsa.py tests/test_transfer.py tests/test_abx.py tests/test_independent.py tests/test_headline_replicates.py"
  [tasktypes/rsa/rdms.py]="tests/test_rsa.py tests/test_independent.py tests/test_paper_tasks.py tests/test_rdm_tasks.py tests/test_similarity.py tests/test_summaries.py"
  [tasktypes/rsa/evaluate.py]="tests/test_rsa.py tests/test_independent.py tests/test_paper_tasks.py tests/test_rdm_tasks.py tests/test_similarity.py"
  [tasktypes/rsa/params.py]="tests/test_rsa.py tests/test_taskconfig.py tests/test_contributing.py"
  [tasktypes/rsa/measures.py]="tests/test_similarity.py tests/test_rsa.py"
  [tasktypes/rsa/presentation.py]="$SHOWN_TESTS"
  [tasktypes/reliability.py]="tests/test_rsa.py tests/test_independent.py tests/test_statistics.py tests/test_listeners.py tests/test_transfer.py tests/test_abx.py tests/test_rdm_tasks.py tests/test_real_matrices.py"
  [tasktypes/transfer/params.py]="$TRANSFER_TESTS"
  [tasktypes/transfer/subsets.py]="$TRANSFER_TESTS"
  [tasktypes/transfer/evaluate.py]="$TRANSFER_TESTS"
  [tasktypes/transfer/contrast.py]="$TRANSFER_TESTS"
  [tasktypes/transfer/presentation.py]="tests/test_transfer.py $SHOWN_TESTS"
  [tasktypes/abx.py]="tests/test_abx.py tests/test_abx_resampling.py $SHOWN_TESTS"
  [extract.py]="tests/test_extract.py tests/test_identity.py"
  [cache.py]="tests/test_cache.py tests/test_cache_integrity.py tests/test_identity.py"
  [cli.py]="tests/test_pipeline.py tests/test_bad_inputs.py tests/test_task_failures.py tests/test_suites.py tests/test_cluster.py"
  [cli_commands.py]="tests/test_pipeline.py tests/test_validator.py tests/test_plugins.py tests/test_stimuli.py tests/test_cluster.py tests/test_suites.py"
  [run_summary.py]="tests/test_task_failures.py tests/test_report.py tests/test_pipeline.py tests/test_suites.py"
  [validate.py]="tests/test_validator.py"
  [launch.py]="tests/test_cluster.py tests/test_task_failures.py"
  [sweep_local.py]="tests/test_cluster.py tests/test_task_failures.py"
  [results/validator.py]="tests/test_results.py tests/test_abx.py tests/test_transfer.py"
)

# mutmut 3 in its own environment, which also sees the project's packages (not its editable
# install of audioprobe: the copy below is imported instead)
TOOL="$WORK/tool"
if [ ! -x "$TOOL/bin/mutmut" ]; then
  "$PROJECT_PY" -m venv "$TOOL"
  "$TOOL/bin/pip" install -q "mutmut==3.8.1"
  "$PROJECT_PY" -c "import site; print(site.getsitepackages()[0])" \
    > "$("$TOOL/bin/python" -c "import site; print(site.getsitepackages()[0])")/audioprobe-project.pth"
fi

START=$(date +%s)
SUMMARY="$WORK/summary.jsonl"
: > "$SUMMARY"
for MOD in "${MODULES[@]}"; do
  STAGE="$WORK/stage-${MOD//\//-}"
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  # the installed package layout (setup.cfg package_dir)
  cp -r "$ROOT/harness" "$STAGE/audioprobe"
  cp -r "$ROOT/models" "$STAGE/audioprobe/models"
  cp -r "$ROOT/leaderboard" "$STAGE/audioprobe/leaderboard"
  cp -r "$ROOT/tasks" "$STAGE/audioprobe/tasks"
  cp -r "$ROOT/tests" "$STAGE/tests"
  cp "$ROOT/CONTRIBUTING.md" "$STAGE/"  # tests run the guide's own code blocks
  mkdir -p "$STAGE/benchmarks"  # the transfer speed tests compare with the converged reference solver
  cp "$ROOT/benchmarks/reference_transfer.py" "$STAGE/benchmarks/"
  find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
  SEL="${TESTS[$MOD]:-tests/}"
  SELECTED=""
  for t in $SEL; do [ -e "$ROOT/$t" ] && SELECTED="$SELECTED\"$t\", "; done
  cat > "$STAGE/pyproject.toml" <<TOML
[tool.mutmut]
source_paths = ["audioprobe"]
only_mutate = ["audioprobe/$MOD"]
pytest_add_cli_args_test_selection = [${SELECTED%, }]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", "--deselect", "tests/test_statistics.py::test_two_factor_variance_agrees_with_rsatoolbox_eval_dual_bootstrap", "--deselect", "tests/test_inference.py::test_end_to_end_equals_rsatoolbox_eval_dual_bootstrap"]
timeout_multiplier = 5.0
# error messages are text for people (tests check them by pattern): their raise statements are not
# mutated; the conditions that raise them are
do_not_mutate_patterns = ['^\s*raise \w*(Error|Exception)\(']
process_isolation = "forkserver"
use_git_change_detection = false
also_copy = ["CONTRIBUTING.md", "benchmarks"]
TOML
  printf '[tool:pytest]\ntestpaths = tests\n' > "$STAGE/setup.cfg"
  cd "$STAGE"
  T0=$(date +%s)
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
  "$TOOL/bin/python" "$ROOT/benchmarks/mutation_sample.py" "$SAMPLE" "$SEED" > "$WORK/names-${MOD//\//-}.txt" \
    2> "$WORK/generate-${MOD//\//-}.log"
  grep '__mutmut_' "$WORK/names-${MOD//\//-}.txt" > "$WORK/names.tmp" || true
  mv "$WORK/names.tmp" "$WORK/names-${MOD//\//-}.txt"
  if [ -n "$PREVIOUS" ]; then  # the earlier run's survivors of this module
    "$TOOL/bin/python" "$ROOT/benchmarks/mutation_summary.py" survivors "$MOD" "$PREVIOUS" \
      > "$WORK/names-${MOD//\//-}.txt"
  fi
  mapfile -t NAMES < "$WORK/names-${MOD//\//-}.txt"
  if [ "$SAMPLE" = 0 ] && [ -z "$PREVIOUS" ]; then NAMES=(); fi
  if [ -n "$PREVIOUS" ] && [ ${#NAMES[@]} -eq 0 ]; then NAMES=("none-left__mutmut_0"); fi
  "$TOOL/bin/mutmut" run --max-children "$JOBS" "${NAMES[@]}" > "$WORK/run-${MOD//\//-}.log" 2>&1 || true
  T1=$(date +%s)
  "$TOOL/bin/mutmut" results --all true > "$WORK/results-${MOD//\//-}.txt" 2>&1 || true
  "$TOOL/bin/python" "$ROOT/benchmarks/mutation_summary.py" module "$MOD" "$WORK/results-${MOD//\//-}.txt" \
    "$((T1 - T0))" "$WORK/names-${MOD//\//-}.txt" $PREVIOUS >> "$SUMMARY"
  cd "$ROOT"
done
"$TOOL/bin/python" "$ROOT/benchmarks/mutation_summary.py" total "$SUMMARY" "$ROOT/benchmarks/mutation-survivors.md" \
  "$(( $(date +%s) - START ))" "MUTATION_SAMPLE=$SAMPLE MUTATION_SEED=$SEED${PREVIOUS:+ MUTATION_PREVIOUS=$PREVIOUS} benchmarks/mutation.sh ${MODULES[*]}"
