"""`audioprobe-eval`: parse, call the runner, print. Everything here is callable from Python.

Exit codes: 0 success; 2 a user error (`AudioprobeError`, bad options: one message naming the
file, key or sound, no traceback); 3 a run that computed nothing (every task not applicable);
4 some tasks failed (each named in one line, its traceback in `DIR/failures/`; the others finished);
130 interrupted.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click
from tabulate import tabulate

from audioprobe.errors import AudioprobeError, disk_error_exit, shorten

SYNTHETIC_NOTE = "SYNTHETIC stimuli and simulated judgments: not a finding about human perception."

#: Exit code of a run in which no task could be scored (every one "not applicable").
EXIT_NOTHING_COMPUTED = 3
#: Exit code of a run in which some tasks failed unexpectedly (the others finished and were printed).
EXIT_TASKS_FAILED = 4


class NothingComputed(AudioprobeError):
    """A run that scored no task: not a success (exit code EXIT_NOTHING_COMPUTED)."""

    exit_code = EXIT_NOTHING_COMPUTED


class TasksFailed(AudioprobeError):
    """A run in which some tasks raised unexpectedly (exit code EXIT_TASKS_FAILED): the rest are saved."""

    exit_code = EXIT_TASKS_FAILED


class TaskProgress:
    """Progress over tasks on stderr: which task, how many done, elapsed time.

    On a terminal the running task is shown on a line that the finished one replaces; otherwise one
    plain line per task. Silent when `quiet`.
    """

    def __init__(self, total: int, quiet: bool = False, stream=None):
        self.total, self.quiet = total, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.start = time.perf_counter()

    def _elapsed(self) -> str:
        s = int(time.perf_counter() - self.start)
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"

    def _write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()

    def begin(self, model: str, task: str) -> None:
        if self.tty:
            self._write(f"\r\033[K[{self.done + 1}/{self.total}] {model} / {task}: running (elapsed {self._elapsed()})")

    def finish(self, model: str, task: str, status: str, n: int = 1) -> None:
        self.done += n
        clear = "\r\033[K" if self.tty else ""
        self._write(f"{clear}[{self.done}/{self.total}] {model} / {task}: {status} (elapsed {self._elapsed()})\n")


def cli_runner(options, progress: TaskProgress):
    """The runner with what the command line adds (an observer): progress over tasks, and a task's
    dimensions checked against the set its own file names before any model runs."""
    from audioprobe.runner import Runner, RunObserver
    from audioprobe.taskconfig import check_names_in_set

    class CliObserver(RunObserver):
        def set_used(self, spec, stimset, task):
            if task is not None and not options.data:
                check_names_in_set(task, stimset)

        def model_done(self, model, results):
            reused = sum(1 for r in results if r.get("_reused"))
            if reused:
                progress.finish(model, f"{reused} task(s)", "reused (same run key)", n=reused)

        def task_started(self, model, task):
            progress.begin(model, task.name)

        def task_not_applicable(self, model, task):
            progress.finish(model, task.name, "not applicable")

        def task_evaluated(self, model, task, seconds):
            progress.finish(model, task.name, f"done in {seconds:.1f} s")

    return Runner(options, observers=(CliObserver(),))


def results_table(results: list[dict]) -> str:
    """A plain-text table of headline scores, one row per (model, task)."""
    from audioprobe.results import (  # not at the top: listing must not load the task types
        format_score,
        result_label,
        unreliable_labels,
    )

    rows = []
    undefined: dict[str, list[str]] = {}  # why -> tasks
    flagged: dict[str, list[str]] = {}  # flag -> tasks
    # one order whatever finished first (a sweep's jobs, a suite's sets): set, model, task
    results = sorted(results, key=lambda r: (r["dataset"].get("name", ""), r["dataset"].get("fingerprint", ""),
                                             result_label(r), r["task"]["name"]))
    for r in results:
        ds = r["dataset"]
        where = f"{ds['name']}{' (synthetic)' if ds.get('synthetic') else ''}{' [partial]' if ds.get('partial') else ''}"
        if "not_applicable" in r:
            rows.append([result_label(r), r["task"]["name"], "n/a", "—", "—", where, ds["n_sounds"], "not applicable"])
            continue
        if "failed" in r:
            rows.append([result_label(r), r["task"]["name"], "FAILED", "—", "—", where, ds["n_sounds"], "failed"])
            continue
        h = r["scores"]["headline"]
        ci = h.get("ci")
        flags = unreliable_labels(r["scores"])
        for f in flags:
            flagged.setdefault(f, []).append(r["task"]["name"])
        if h["value"] is None:
            why = next((e.get("note") for e in r["scores"].get("per_layer", []) if e.get("note")), None)
            undefined.setdefault(why or h.get("selection") or "no layer has a score", []).append(
                f"{r['model']['name']} / {r['task']['name']}")
        status = ("reused" if r.get("_reused") else ("cached acts" if r["timing"]["activations_cached"] else "computed"))
        rows.append([
            result_label(r), r["task"]["name"],
            (format_score(h["value"]) + (" ↓" if r["scores"].get("lower_is_better") else "")
             if h["value"] is not None else "undefined") + (" ⚠" if flags else ""),
            f"[{format_score(ci[0], 3)}, {format_score(ci[1], 3)}]" if ci else "—", h["layer"] or "—", where,
            ds["n_sounds"], status if h["value"] is not None else f"undefined ({status})",
        ])
    table = tabulate(rows, headers=["model", "task", "score", "interval", "layer", "stimulus set", "sounds", "status"])
    notes = [f"{r['task']['name']}: not applicable: {r['not_applicable']}" for r in results if "not_applicable" in r]
    notes += [f"{r['model']['name']} / {r['task']['name']}: FAILED: {r['failed']}" for r in results if "failed" in r]
    notes += [f"undefined ({len(where)}: {', '.join(where)}): {why}" for why, where in undefined.items()]
    notes += [f"⚠ {flag} ({', '.join(sorted(set(tasks)))}): a score there says more about the listeners' noise "
              f"than about the model." for flag, tasks in flagged.items()]
    results = [r for r in results if "not_applicable" not in r and "failed" not in r]
    if any(r["dataset"].get("synthetic") for r in results):
        notes.append(SYNTHETIC_NOTE)
    if any(r["scores"].get("lower_is_better") for r in results):
        notes.append("↓ an error rate (ABX): lower is better, chance 0.5.")
    methods = sorted({"cross-validated (the layer is picked on one half of the sounds and scored on the other)"
                      if r["scores"].get("statistics", {}).get("cv_splits") else
                      "the best layer on all sounds (not cross-validated: optimistic)" for r in results})
    if methods:
        notes.append("Headline layer: " + "; ".join(methods) + ".")
    return table + ("\n\n" + "\n".join(notes) if notes else "")


def data_sets(data: tuple[str, ...]):
    """--data values -> (stimulus-set specs, the suite they come from or None). A suite file brings its sets;
    it cannot be mixed with other sets (its result would not be the suite's)."""
    from audioprobe.suites import is_suite_file, load_suite

    suites = [d for d in data if is_suite_file(d)]
    if not suites:
        return list(data), None
    if len(data) > 1:
        raise AudioprobeError(f"--data {suites[0]}: a suite file is given alone (its sets are the suite); add sets to "
                              f"the suite file instead of repeating --data.")
    suite = load_suite(Path(suites[0]))
    return list(suite.sets), suite


def suite_table(output_dir: Path, suite_name: str, models, tasks) -> str:
    """The suite results just written: per (model, task) the leave-one-set-out mean over sets."""
    from audioprobe.results import format_score
    from audioprobe.suites import read_suite_result, suite_path

    rows = []
    for m in models:
        for t in tasks:
            path = suite_path(output_dir, suite_name, m, t.name)
            if not path.is_file():
                continue
            r = read_suite_result(path)
            loso, mean = r["leave_one_set_out"], r["mean_of_set_headlines"]
            ci = loso["ci"]
            rows.append([m, t.name, format_score(loso["value"]),
                         f"[{format_score(ci[0], 3)}, {format_score(ci[1], 3)}]" if ci else "—",
                         format_score(mean["value"]), f"{loso['n_sets']}/{len(r['sets'])}"])
    head = (f"Suite {suite_name}: leave-one-set-out mean (each set at the layer best on the other sets; interval: "
            f"bootstrap over sets), and the mean of the sets' own headlines. Files: "
            f"{output_dir}/suites/{suite_name}/<model>/<task>.suite.json")
    return head + "\n" + tabulate(rows, headers=["model", "task", "suite score", "interval", "mean of set headlines",
                                                  "sets"])


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "models", multiple=True, metavar="NAME", help="Model name (repeatable); see `list models`.")
@click.option("--model-args", default="", metavar="K=V,...", help="Arguments for the model(s), e.g. checkpoint=PATH.")
@click.option("--tasks", default=None, metavar="SPEC", help="all, task names, tags or globs, comma-separated.")
@click.option("--data", "data", multiple=True, metavar="SPEC",
              help="Run the tasks on this stimulus set (folder, name or hf:ORG/NAME; repeatable), or on every set of a "
                   "suite file (SUITE.yaml: a suite result per model and task is written too).")
@click.option("--output-dir", default="results", type=click.Path(file_okay=False, path_type=Path), show_default=True,
              help="Result files go to DIR/<set>-<fingerprint[:8]>/<model>/<task>.json.")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
@click.option("--precision", default="fp32", type=click.Choice(["fp32", "fp16", "bf16"]), show_default=True,
              help="Forward-pass precision (autocast); fp16/bf16 are for GPUs.")
@click.option("--batch-size", default=16, type=click.IntRange(min=1), show_default=True)
@click.option("--limit", default=None, type=click.IntRange(min=2), help="Use only the first N sounds (results marked partial).")
@click.option("--seed", default=0, type=click.IntRange(0, 2**32 - 1), show_default=True)
@click.option("--overwrite", is_flag=True, help="Recompute results that already exist.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the activation cache.")
@click.option("--save-activations", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Write DIR/<set>-<fp8>/<model>/activations.npz (mean-pooled, one array per layer).")
@click.option("--include-path", "include_paths", multiple=True, type=click.Path(path_type=Path),
              help="Extra task YAML file or folder (repeatable).")
@click.option("--allow-control", "allowed_controls", multiple=True, metavar="NAME",
              help="Let task files use model NAME as their control (repeatable). Without it a task file may "
                   "name only a weight-free baseline (logmel, mfcc, spectrogram): never code or a download.")
@click.option("--launcher", default="local", type=click.Choice(["local", "slurm"]), show_default=True,
              help="slurm: one job per (model, stimulus set), submitted as one SLURM job array (submitit; see "
                   "docs/cluster.md). local: this process, or --max-parallel worker processes.")
@click.option("--max-parallel", default=None, type=click.IntRange(min=1), metavar="N",
              help="Jobs running at once (local: worker processes, one GPU each where there are several; slurm: "
                   "the array's limit). Default: local 1 (no sweep: today's single process), slurm all.")
@click.option("--slurm-partition", default=None, metavar="NAME", help="SLURM partition (default: the cluster's).")
@click.option("--gpus-per-job", default=0, type=click.IntRange(min=0), show_default=True, help="SLURM: GPUs per job.")
@click.option("--cpus-per-job", default=4, type=click.IntRange(min=1), show_default=True, help="SLURM: CPUs per job.")
@click.option("--mem", default="16G", show_default=True, metavar="SIZE", help="SLURM: memory per job (as sbatch --mem).")
@click.option("--time", "time_limit", default="2:00:00", show_default=True, metavar="TIME",
              help="SLURM: time limit per job (minutes or [D-]HH:MM:SS); a job that reaches it is requeued and "
                   "resumes.")
@click.option("--no-wait", is_flag=True, help="SLURM: submit and return; follow with `audioprobe-eval status DIR`.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr (warnings and errors still show).")
@click.pass_context
def cli(ctx, models, model_args, tasks, data, output_dir, device, precision, batch_size, limit, seed, overwrite, no_cache,
        save_activations, include_paths, allowed_controls, launcher, max_parallel, slurm_partition, gpus_per_job,
        cpus_per_job, mem, time_limit, no_wait, verbose, quiet):
    """Probe audio models against human judgments, layer by layer.

    \b
    audioprobe-eval --model logmel --tasks all
    audioprobe-eval list models|tasks|datasets

    \b
    Exit codes: 0 done; 2 a bad input (the message names it); 3 nothing computed (every task
    was not applicable, e.g. on a --limit subset); 4 a sweep job failed (its log is named);
    130 interrupted.
    """
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"include_paths": list(include_paths), "allowed_controls": frozenset(allowed_controls)}
    if ctx.invoked_subcommand is not None:
        return
    if not models or not tasks:
        raise click.UsageError("give --model NAME and --tasks SPEC (or a sub-command such as `list models`).")
    from audioprobe.files import check_writable
    from audioprobe.models.base import parse_model_args
    from audioprobe.runner import RunOptions
    from audioprobe.taskconfig import discover_tasks, select_tasks

    selected = select_tasks(tasks, discover_tasks(include_paths, frozenset(allowed_controls)))
    data_specs, suite = data_sets(data)
    setless = [t.name for t in selected if not t.dataset] if not data_specs else []
    if setless and len(setless) == len(selected):
        raise AudioprobeError(f"task(s) {', '.join(setless)} name no stimulus set: give one with --data (a folder, a "
                              f"registered name, hf:ORG/NAME or a suite file).")
    selected = [t for t in selected if t.name not in setless]
    args = parse_model_args(model_args)
    from audioprobe.extract import stderr_status

    check_writable(output_dir, f"--output-dir {output_dir}")  # before any work: no result computed in vain
    if save_activations is not None:
        check_writable(save_activations, f"--save-activations {save_activations}")
    options = RunOptions(output_dir=output_dir, device=device, batch_size=batch_size, limit=limit, seed=seed,
                         overwrite=overwrite, use_cache=not no_cache, save_activations=save_activations,
                         data=data_specs or None, suite=suite, progress=sys.stderr.isatty() and not quiet,
                         precision=precision, status=None if quiet or sys.stderr.isatty() else stderr_status)
    slurm_only = [f"--{n.replace('_', '-')}" for n in ("slurm_partition", "gpus_per_job", "cpus_per_job", "mem",
                                                       "no_wait") if ctx.get_parameter_source(n).name != "DEFAULT"]
    if ctx.get_parameter_source("time_limit").name != "DEFAULT":
        slurm_only.append("--time")
    if launcher == "local" and slurm_only:
        raise click.UsageError(f"{', '.join(slurm_only)}: only with --launcher slurm.")
    if launcher == "slurm" or (max_parallel or 1) > 1:
        sweep(launcher, max_parallel, options, [(m, args) for m in models], selected, data_specs, suite, no_wait,
              quiet, dict(partition=slurm_partition, gpus=gpus_per_job, cpus=cpus_per_job, mem=mem,
                          time_limit=time_limit))
        if setless:
            click.echo(f"\nNot run: {', '.join(setless)} (they take their stimulus set from --data).")
        return
    progress = TaskProgress(len(models) * len(selected) * max(1, len(data_specs)), quiet=quiet)
    results = cli_runner(options, progress).run([(m, args) for m in models], selected)
    click.echo(results_table(results))
    if suite is not None:
        click.echo("\n" + suite_table(output_dir, suite.name, models, selected))
    failed = [r for r in results if "failed" in r]
    if failed:
        if setless:
            click.echo(f"\nNot run: {', '.join(setless)} (they take their stimulus set from --data).")
        raise TasksFailed(f"{len(failed)} of {len(results)} task(s) failed (named above, tracebacks in "
                          f"{output_dir}/failures/); the other results are saved in {output_dir}/. Please report the "
                          f"traceback.")
    if results and all("not_applicable" in r for r in results):
        raise NothingComputed(
            f"nothing was computed: all {len(results)} task(s) were not applicable to this stimulus set"
            f"{f' cut to --limit {limit} sounds' if limit else ''} (reasons above). Use more sounds, or tasks "
            f"that fit the set."
        )
    if setless:
        click.echo(f"\nNot run: {', '.join(setless)} (they take their stimulus set from --data).")
    click.echo(f"\nResults in {output_dir}/. Leaderboard: audioprobe-leaderboard {output_dir}")


def sweep(launcher, max_parallel, options, models, tasks, data_specs, suite, no_wait, quiet, slurm) -> None:
    """The run as jobs, one per (model, stimulus set): on SLURM, or in local worker processes (launch.py)."""
    from audioprobe.launch import check_statuses, parse_minutes, plan_sweep, run_sweep
    from audioprobe.sweep_slurm import slurm_parameters

    plan = plan_sweep(options, models, tasks, data_specs, suite)
    parallel = max_parallel or (len(plan.jobs) if launcher == "slurm" else 1)
    params = None
    if launcher == "slurm":
        params = slurm_parameters(slurm["partition"], slurm["gpus"], slurm["cpus"], slurm["mem"],
                                  parse_minutes(slurm["time_limit"]), parallel, f"audioprobe-{plan.id}")
    results, statuses = run_sweep(plan, launcher, parallel, params, wait=not no_wait, quiet=quiet, echo=click.echo)
    if no_wait:
        return
    if results:
        click.echo(results_table(results))
    if suite is not None:
        click.echo("\n" + suite_table(plan.options.output_dir, suite.name, [m for m, _ in models], tasks))
    check_statuses(statuses)
    if results and all("not_applicable" in r for r in results):
        raise NothingComputed(f"nothing was computed: all {len(results)} task(s) were not applicable (reasons above).")
    click.echo(f"\nResults in {options.output_dir}/. Leaderboard: audioprobe-leaderboard {options.output_dir}")


@cli.command("status")
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sweep", "sweep_id", default=None, metavar="ID", help="This sweep (default: the latest).")
def status_cmd(results_dir, sweep_id):
    """What a results folder holds, per stimulus set and model: results current, stale (an older task version
    or schema), undefined, failed and missing; then, if the folder has sweeps (--launcher slurm, or local
    --max-parallel), the jobs of the latest (or --sweep ID): done, running, pending or failed, failed jobs
    with their log and error. Writes the suite results of models whose jobs have all finished."""
    from audioprobe.sweep_state import (
        SWEEPS_FOLDER,
        current_statuses,
        failures_text,
        list_sweeps,
        load_sweep,
        status_table,
        summary_line,
        write_finished_suites,
    )

    click.echo(results_inventory(results_dir))
    if sweep_id is None and not (results_dir / SWEEPS_FOLDER).is_dir():
        return
    click.echo("")
    folder, record = load_sweep(results_dir, sweep_id)
    statuses = current_statuses(folder, record)
    written = write_finished_suites(folder, record, statuses)
    click.echo(f"Sweep {record['id']} ({record['launcher']}, started {record['created']}): {summary_line(statuses)}")
    click.echo(status_table(statuses))
    failed = failures_text(statuses)
    if failed:
        click.echo("\nFailed (run the same command again to retry what is missing):\n" + failed)
    if written:
        click.echo(f"\nSuite results written for {', '.join(written)}.")
    others = [s for s in list_sweeps(results_dir) if s != record["id"]]
    if others:
        click.echo(f"\nOther sweeps here: {', '.join(others)} (--sweep ID).")


def results_inventory(results_dir: Path) -> str:
    """Per stimulus set and model: the result files, how many are current (this schema and the task file's
    version), which are stale (recomputed by the next run), undefined (no score), failed (a traceback in
    DIR/failures/) or missing (another model of the set has them)."""
    from audioprobe.identity import SCHEMA_VERSION
    from audioprobe.results import collect_files, result_label, safe_name
    from audioprobe.runner import FAILURES_FOLDER
    from audioprobe.taskconfig import discover_tasks

    files = collect_files(results_dir)
    if not files:
        return f"{results_dir}: no result files here yet."
    current_tasks = discover_tasks()
    failed_logs = {p.stem for p in (Path(results_dir) / FAILURES_FOLDER).glob("*.log")}
    by: dict[tuple[str, str], list[dict]] = {}
    for _, r in files:
        ds = r["dataset"]
        by.setdefault((f"{ds['name']} ({ds.get('fingerprint', '')[:8]})", result_label(r)), []).append(r)
    tasks_of_set: dict[str, set[str]] = {}
    for (where, _), rs in by.items():
        tasks_of_set.setdefault(where, set()).update(r["task"]["name"] for r in rs)
    rows, details = [], []
    for (where, model), rs in sorted(by.items()):
        stale = []
        for r in rs:
            task = current_tasks.get(r["task"]["name"])
            if r["schema_version"] != SCHEMA_VERSION:
                stale.append(f"{r['task']['name']} (schema {r['schema_version']})")
            elif task is not None and task.version != r["task"].get("version"):
                stale.append(f"{r['task']['name']} (v{r['task'].get('version')}, now v{task.version})")
        undefined = [r["task"]["name"] for r in rs if (r["scores"].get("headline") or {}).get("value") is None]
        set_name = where.split(" (")[0]
        failed = sorted(t for t in current_tasks
                        if f"{safe_name(set_name)}-{safe_name(model)}-{safe_name(t)}" in failed_logs)
        missing = sorted(tasks_of_set[where] - {r["task"]["name"] for r in rs})
        rows.append([where, model, len(rs), len(rs) - len(stale), len(stale), len(undefined), len(failed), len(missing)])
        for what, names in (("stale", stale), ("failed", failed), ("missing", missing)):
            if names:
                details.append(f"{where} / {model}: {what}: {', '.join(names)}")
    table = tabulate(rows, headers=["stimulus set", "model", "results", "current", "stale", "undefined", "failed",
                                    "missing"])
    notes = ("\nStale results are recomputed by the next run of their task; failed tasks have their traceback in "
             f"{Path(results_dir) / FAILURES_FOLDER}; missing: results another model of the set has.")
    return f"Results in {results_dir}:\n{table}" + ("\n\n" + "\n".join(details) if details else "") + notes


#: Width of `list`'s tables without --verbose: a terminal's, with room to spare.
LIST_WIDTH = 100


def fit_table(rows: list[list], headers: list[str], width: int = LIST_WIDTH) -> str:
    """A plain table no wider than `width`: its last column (a description) cut with an ellipsis to fit."""
    table = tabulate(rows, headers=headers)
    if max(map(len, table.splitlines())) <= width:
        return table
    others = tabulate([r[:-1] for r in rows], headers=headers[:-1])
    room = max(12, width - max(map(len, others.splitlines())) - 2)
    cut = [[*r[:-1], r[-1] if len(str(r[-1])) <= room else str(r[-1])[: room - 1] + "…"] for r in rows]
    return tabulate(cut, headers=headers)


@cli.command("list")
@click.argument("what", type=click.Choice(["models", "tasks", "datasets"]))
@click.option("-v", "--verbose", is_flag=True, help="Every column in full (licence and weights of models); wide.")
@click.pass_context
def list_cmd(ctx, what, verbose):
    """List registered models, tasks or stimulus sets with a line about each (fits 100 columns; -v: all)."""
    show = (lambda rows, headers: tabulate(rows, headers=headers)) if verbose else fit_table
    if what == "models":
        from audioprobe.models.registry import describe_models

        rows = []
        for name, meta, problem in describe_models():
            if meta is None:
                rows.append([name, "", "", "", "", problem])
                continue
            params = f"{meta.n_parameters / 1e6:.1f}M" if meta.n_parameters else ("0" if meta.n_parameters == 0 else "?")
            repo = ("spaces/" if getattr(meta, "repo_type", "model") == "space" else "") + (meta.repo_id or "")
            source = f"{repo}@{meta.revision[:10]}" if meta.repo_id and meta.revision else (repo or "—")
            rows.append([name, meta.family, meta.training, params, meta.license, source, meta.description])
        if not verbose:  # licence and weights behind -v
            rows = [[r[0], r[1], r[2], r[3], r[-1]] for r in rows]
        click.echo(show(rows, ["name", "family", "training", "params", "license", "weights", "description"] if verbose
                        else ["name", "family", "training", "params", "description"]))
    elif what == "tasks":
        from audioprobe.taskconfig import discover_tasks

        tasks = discover_tasks(ctx.obj["include_paths"], ctx.obj["allowed_controls"])
        rows = [[t.name, t.type, ",".join(t.tags), t.dataset or "(--data)", t.description]
                for t in sorted(tasks.values(), key=lambda t: t.name)]
        click.echo(show(rows, ["task", "type", "tags", "dataset", "description"]))
    else:
        from audioprobe.stimuli import DATASETS

        rows = [[name, DATASETS.entry(name).description] for name in DATASETS.names()]
        click.echo(show(rows, ["dataset", "description"]))
        click.echo("\nAlso accepted wherever a dataset is named: a folder path, or hf:ORG/NAME[@REVISION].")


#: export-dataset's name of a synthetic dissimilarity study: similarity-study:SOUNDS[:SEED]
STUDY_PREFIX = "similarity-study:"


def synthetic_study(spec: str):
    """The synthetic similarity study `similarity-study:SOUNDS[:SEED]` names (tones and their known
    dissimilarity matrix; `stimuli.synthetic.studies`), or a named error."""
    from audioprobe.stimuli.synthetic.studies import similarity_study

    parts = spec[len(STUDY_PREFIX):].split(":")
    try:
        n, seed = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        if len(parts) > 2 or not 3 <= n <= 500 or seed < 0:
            raise ValueError
    except ValueError:
        raise AudioprobeError(f"{spec!r}: write {STUDY_PREFIX}SOUNDS[:SEED], SOUNDS from 3 to 500 and SEED >= 0, e.g. "
                              f"{STUDY_PREFIX}12:1.") from None
    return similarity_study(f"synthetic-study-{n}-{seed}", n, seed)


@cli.command("export-dataset")
@click.argument("name")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace DIRECTORY if it exists and is not empty.")
def export_dataset(name, directory, overwrite):
    """Write stimulus set NAME to DIRECTORY in the folder format. NAME may also be similarity-study:SOUNDS[:SEED],
    a synthetic dissimilarity study (tones and their known rdm.csv), to try the rdm tasks and suites.

    It is written into a temporary folder beside DIRECTORY and renamed into place at the end; an
    existing non-empty DIRECTORY is refused unless --overwrite.
    """
    from audioprobe.stimuli import export_folder, resolve_dataset

    stimset = synthetic_study(name) if name.startswith(STUDY_PREFIX) else resolve_dataset(name)
    export_folder(stimset, directory, overwrite=overwrite)
    click.echo(f"Wrote {len(stimset)} sounds of {stimset.name!r} to {directory} (fingerprint {stimset.fingerprint()[:12]}).")


@cli.command("validate-model")
@click.argument("name")
@click.option("--model-args", default="", metavar="K=V,...", help="Arguments for the model, e.g. checkpoint=PATH.")
@click.option("--device", default="cpu", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
@click.option("--tiny", is_flag=True, help="Validate the wrapper's tiny random variant (no download).")
def validate_model_cmd(name, model_args, device, tiny):
    """Check that model NAME meets the wrapper contract (shapes, finiteness, determinism, batch invariance)."""
    from audioprobe.models.base import parse_model_args
    from audioprobe.runner import resolve_device
    from audioprobe.validate import validate_model

    report = validate_model(name, parse_model_args(model_args), resolve_device(device), tiny=tiny)
    click.echo(report.text())
    if not report.ok:
        raise AudioprobeError(f"model {name!r} does not meet the wrapper contract; see the FAIL lines above.")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors exit 2 with one clear message, never a traceback."""
    try:
        cli.main(args=argv, prog_name="audioprobe-eval", standalone_mode=False)
    except AudioprobeError as exc:
        click.echo(f"Error: {shorten(exc)}", err=True)
        return getattr(exc, "exit_code", 2)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("\nInterrupted. Finished results are saved; run the same command again to resume.", err=True)
        return 130
    except OSError as exc:  # a full, read-only or closed disk: one line, not a traceback (anything else: a bug)
        return disk_error_exit(exc)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
