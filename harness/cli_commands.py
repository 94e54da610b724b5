"""The sub-commands of `audioprobe-eval` that run no model: `status` (what a results folder holds),
`list` (models, tasks, stimulus sets), `export-dataset` and `validate-model`.

Each is a plain `click.command` that `cli.py` adds to its group: that module keeps a run's options and
exit codes, this one the commands that answer questions about models, tasks, sets and results folders.
"""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from audioprobe.errors import AudioprobeError


@click.command("status")
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


@click.command("list")
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
    dissimilarity matrix; `stimuli.synthetic.tone_studies`), or a named error."""
    from audioprobe.stimuli.synthetic.tone_studies import similarity_study

    parts = spec[len(STUDY_PREFIX):].split(":")
    try:
        n, seed = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        if len(parts) > 2 or not 3 <= n <= 500 or seed < 0:
            raise ValueError
    except ValueError:
        raise AudioprobeError(f"{spec!r}: write {STUDY_PREFIX}SOUNDS[:SEED], SOUNDS from 3 to 500 and SEED >= 0, e.g. "
                              f"{STUDY_PREFIX}12:1.") from None
    return similarity_study(f"synthetic-study-{n}-{seed}", n, seed)


@click.command("export-dataset")
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


@click.command("validate-model")
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
