"""`audioprobe-eval`: parse, call the runner, print. Everything here is callable from Python.
Its sub-commands (`status`, `list`, `export-dataset`, `validate-model`) are in `cli_commands`, the
tables a run prints in `run_summary`.

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

from audioprobe.cli_commands import export_dataset, list_cmd, status_cmd, validate_model_cmd
from audioprobe.errors import AudioprobeError, disk_error_exit, shorten
from audioprobe.run_summary import results_table, suite_table

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
    from audioprobe.models.base import parse_model_args

    selected, data_specs, suite, setless = tasks_and_sets(tasks, data, include_paths, allowed_controls)
    args = parse_model_args(model_args)
    options = run_options(output_dir, device, precision, batch_size, limit, seed, overwrite, no_cache,
                          save_activations, data_specs, suite, quiet)
    slurm_only = slurm_only_options(ctx)
    if launcher == "local" and slurm_only:
        raise click.UsageError(f"{', '.join(slurm_only)}: only with --launcher slurm.")
    if launcher == "slurm" or (max_parallel or 1) > 1:
        sweep(launcher, max_parallel, options, [(m, args) for m in models], selected, data_specs, suite, no_wait,
              quiet, dict(partition=slurm_partition, gpus=gpus_per_job, cpus=cpus_per_job, mem=mem,
                          time_limit=time_limit))
        echo_not_run(setless)
        return
    run_here(options, [(m, args) for m in models], selected, data_specs, suite, setless, limit, quiet)


for _command in (status_cmd, list_cmd, export_dataset, validate_model_cmd):
    cli.add_command(_command)


def tasks_and_sets(tasks: str, data: tuple[str, ...], include_paths, allowed_controls):
    """(selected tasks, --data sets, their suite or None, tasks left out): a task that names no stimulus set runs
    only on --data; without it such tasks are left out (named at the end), or refused when nothing is left."""
    from audioprobe.taskconfig import discover_tasks, select_tasks

    selected = select_tasks(tasks, discover_tasks(include_paths, frozenset(allowed_controls)))
    data_specs, suite = data_sets(data)
    setless = [t.name for t in selected if not t.dataset] if not data_specs else []
    if setless and len(setless) == len(selected):
        raise AudioprobeError(f"task(s) {', '.join(setless)} name no stimulus set: give one with --data (a folder, a "
                              f"registered name, hf:ORG/NAME or a suite file).")
    return [t for t in selected if t.name not in setless], data_specs, suite, setless


def run_options(output_dir, device, precision, batch_size, limit, seed, overwrite, no_cache, save_activations,
                data_specs, suite, quiet):
    """The runner's options from the command line's, once the folders it writes are known to be writable: checked
    before any work, so that no result is computed in vain."""
    from audioprobe.extract import stderr_status
    from audioprobe.files import check_writable
    from audioprobe.runner import RunOptions

    check_writable(output_dir, f"--output-dir {output_dir}")
    if save_activations is not None:
        check_writable(save_activations, f"--save-activations {save_activations}")
    return RunOptions(output_dir=output_dir, device=device, batch_size=batch_size, limit=limit, seed=seed,
                      overwrite=overwrite, use_cache=not no_cache, save_activations=save_activations,
                      data=data_specs or None, suite=suite, progress=sys.stderr.isatty() and not quiet,
                      precision=precision, status=None if quiet or sys.stderr.isatty() else stderr_status)


def slurm_only_options(ctx) -> list[str]:
    """The SLURM options given on the command line (not left at their defaults): refused with --launcher local,
    where they would silently do nothing."""
    slurm_only = [f"--{n.replace('_', '-')}" for n in ("slurm_partition", "gpus_per_job", "cpus_per_job", "mem",
                                                       "no_wait") if ctx.get_parameter_source(n).name != "DEFAULT"]
    if ctx.get_parameter_source("time_limit").name != "DEFAULT":
        slurm_only.append("--time")
    return slurm_only


def echo_not_run(setless: list[str]) -> None:
    """Name the tasks left out for naming no stimulus set (when there are any), after the tables."""
    if setless:
        click.echo(f"\nNot run: {', '.join(setless)} (they take their stimulus set from --data).")


def run_here(options, models: list[tuple[str, dict]], tasks: list, data_specs: list[str], suite, setless: list[str],
             limit: int | None, quiet: bool) -> None:
    """The run in this process (no sweep): progress on stderr, the tables, then an exit code for what a table
    cannot say (some tasks failed, or none could be scored)."""
    output_dir = options.output_dir
    progress = TaskProgress(len(models) * len(tasks) * max(1, len(data_specs)), quiet=quiet)
    results = cli_runner(options, progress).run(models, tasks)
    click.echo(results_table(results))
    if suite is not None:
        click.echo("\n" + suite_table(output_dir, suite.name, [m for m, _ in models], tasks))
    failed = [r for r in results if "failed" in r]
    if failed:
        echo_not_run(setless)
        raise TasksFailed(f"{len(failed)} of {len(results)} task(s) failed (named above, tracebacks in "
                          f"{output_dir}/failures/); the other results are saved in {output_dir}/. Please report the "
                          f"traceback.")
    if results and all("not_applicable" in r for r in results):
        raise NothingComputed(
            f"nothing was computed: all {len(results)} task(s) were not applicable to this stimulus set"
            f"{f' cut to --limit {limit} sounds' if limit else ''} (reasons above). Use more sounds, or tasks "
            f"that fit the set."
        )
    echo_not_run(setless)
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
