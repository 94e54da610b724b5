"""`audioprobe-report RESULTS_DIR -o REPORT_DIR`: the paper's figures and tables as one HTML page.

Reads result files and their replicates only (through `audioprobe-compare`'s report), never a model
or an activation. Writes into REPORT_DIR:

- `index.html`: self-contained (figures inline as PNG data URIs, inline CSS, no script, no font, no
  network request); opens from disk and prints;
- `report.md`: the same text, figures as relative links to `figures/*.png`;
- `figures/<set>-<fp8>__<figure>.{png,svg,json}`: every figure as PNG and SVG, and a JSON sidecar of
  what it plots (read back from the drawn artists).

One section per stimulus set, inside it one per experiment (`rsa`, `rsa-partial`, `transfer`, `abx`)
with the HTML anchor `anchor(set, fingerprint, experiment)`, which the leaderboard links to.
Not drawn: figure A1 (correlations between the target RDMs) and RDM heatmaps need the RDMs, which
result files do not hold.

The report's parts: `report_tables` (tables), `report_figures` (figures), `report_suites` (suite
sections), `report_render` (HTML and markdown); this module builds each set's sections and claims
and writes the files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import time
from pathlib import Path
from typing import Any

import click

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes
from audioprobe.leaderboard import figure_kinds
from audioprobe.leaderboard import figures as F
from audioprobe.leaderboard.leaderboard_text import anchor
from audioprobe.leaderboard.report_figures import (
    _SVG,
    _pairwise_figures,
    _rdm_figures,
    _save,
)
from audioprobe.leaderboard.report_render import render_html, render_markdown
from audioprobe.leaderboard.report_suites import build_suites
from audioprobe.leaderboard.report_tables import (
    Table,
    _by_task,
    _ci,
    _contrast_tables,
    _f,
    _headline_table,
    _measures_table,
    _p,
)
from audioprobe.results import (
    collect_files,
    experiment_of,
    now_utc,
    set_folder,
    unreliable_labels,
)
from audioprobe.studies import study_of
from audioprobe.tasktypes import presentation

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Section:
    experiment: str
    title: str
    anchor: str
    intro: str
    figures: list[F.Figure] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    pairwise: list[F.Figure] = dataclasses.field(default_factory=list)
    rdms: list[F.Figure] = dataclasses.field(default_factory=list)
    note: str = ""


@dataclasses.dataclass
class SetReport:
    name: str
    fingerprint: str
    n_sounds: int
    synthetic: bool
    partial: bool
    models: list[str]
    controls: list[str]
    sections: list[Section]
    claims: list[str] = dataclasses.field(default_factory=list)

    @property
    def anchor(self) -> str:
        return set_folder(self.name, self.fingerprint).lower()


def section_text(experiment: str, results: list[dict]) -> tuple[str, str]:
    """A section's heading and reading guide: the study's, where all its results' tasks belong to one study
    that words this experiment (its intro, else the task type's), else the task type's."""
    shown = presentation.experiment(experiment, results)
    study = study_of({r["task"]["name"] for r in results})
    spec = study.sections.get(experiment) if study else None
    title, intro = (spec.title, spec.intro or shown.intro) if spec else (shown.title, shown.intro)
    return title, presentation.fill(intro, results)


def _section(stem: str, ds: dict, fp: str, exp: str, results: list[dict], styles, synthetic: bool, cmp: dict,
             figure_dir: Path, set_dir: Path | None = None, summary: dict | None = None) -> Section:
    """One experiment on one stimulus set: its figures (written now), headline table, contrasts, pairwise matrices.
    Results with no score at any layer (partial RSA of a model that is its own control) are said once in the
    section's note, not drawn as blank panels or tables of dashes."""
    title, intro = section_text(exp, results)
    empty = [r for r in results if r["scores"]["headline"].get("value") is None
             and all(e.get("score") is None for e in r["scores"].get("per_layer", []))]
    note = _undefined_note(empty)
    results = [r for r in results if r not in empty]
    if not results:
        return Section(exp, title, anchor(ds["name"], fp, exp), intro, note=note)
    by_task = _by_task(results)
    tasks = F.task_order(by_task)
    tables = {t["task"]: t for t in cmp["tasks"]}
    contrast_rows = [row for c in cmp["contrasts"] for row in c["rows"]]
    shown = presentation.experiment(exp, results)
    figs = figure_kinds.draw(figure_kinds.FigureRequest(stem, exp, by_task, styles, synthetic, contrast_rows,
                                                        study_of(by_task), presentation.of(results[0]).words(results),
                                                        shown.caption), shown.figures)
    for f in figs:
        _save(f, figure_dir)
    section = Section(exp, title, anchor(ds["name"], fp, exp), intro, figs, note=note)
    section.tables.append(_headline_table("Headline scores", tasks, by_task, tables, styles))
    measures = _measures_table(tasks, by_task, styles)
    if measures:
        section.tables.append(measures)
    section.tables += _contrast_tables(cmp["contrasts"], set(tasks))
    section.pairwise = _pairwise_figures(stem, tasks, tables, synthetic, figure_dir)
    section.rdms = _rdm_figures(stem, tasks, by_task, styles, synthetic, set_dir, summary, figure_dir)
    return section


#: How the report's summary names each kind of contrast's claim.
CLAIM_KINDS = {"tasks": "task contrast", "baseline": "transfer against its baseline", "depth": "change over depth",
               "control": "above a control"}


def _q(q) -> str:
    """'q = 0.012' or 'q < 0.001'."""
    text = _p(q)
    return f"q {text[0]} {text[1:]}" if text.startswith("<") else f"q = {text}"


def _claims(cmp: dict, flagged: set[str]) -> list[str]:
    """The claims the compare results support, one sentence each: the pairwise differences that pass the
    experiment's Benjamini-Hochberg correction (per task), then every contrast row whose verdict is an effect
    (beyond its margin where the contrast file states one). Tasks read against an unreliable target or label
    are marked ⚠."""
    out = []
    for t in cmp.get("tasks", []):
        pw = t.get("pairwise")
        if not pw:
            continue
        models, lower = t["models"], bool(t.get("lower_is_better"))
        said = []
        for i in range(len(models)):
            for j in range(i + 1, len(models)):
                if not pw["reject"][i][j] or pw["difference"][i][j] is None:
                    continue
                d = pw["difference"][i][j]
                lo, hi = pw["ci"][i][j]
                better, worse = (i, j) if (d > 0) != lower else (j, i)
                mag, (a, b) = abs(d), sorted((abs(lo), abs(hi)))
                said.append(f"{models[better]} {'<' if lower else '>'} {models[worse]} (by {_f(mag)}, 95% CI "
                            f"[{_f(a) if (lo > 0) == (hi > 0) else '0'}, {_f(b)}], {_q(pw['q_value'][i][j])})")
        if said:
            out.append(f"{t['task']}{' ⚠' if t['task'] in flagged else ''}: " + "; ".join(said) + ".")
    for c in cmp.get("contrasts", []):
        for r in c["rows"]:
            v = r.get("verdict") or ""
            if "effect" not in v or v.startswith("no effect"):
                continue
            res = r["result"]
            test = res if c["kind"] == "depth" else res.get("headline") or {}
            est = test.get("change" if c["kind"] == "depth" else "difference")
            what = f"{r['a']} − {r['b']}" if r.get("b") else f"{r['a']}, change from the first to the last layer"
            out.append(f"{c['contrast']} ({CLAIM_KINDS.get(c['kind'], c['kind'])}){' ⚠' if r['a'] in flagged else ''}: "
                       f"{r['model']}, {what} = {_f(est)} {_ci(test.get('ci'))}, {_q(res.get('row_q_value'))}: {v}.")
    return out


def _measures_claims(cmp: dict, supported_only: bool = True) -> list[str]:
    """The summary's sentences on claims across measures: per target, the measures' agreement and each claim
    some measure makes, with its verdict (audioprobe-compare's `measures`); supported_only: the targets where
    some measure makes a claim (the summary says what the data support), else every target."""
    out = []
    for m in cmp.get("measures", []):
        if supported_only and not m["claims"]:
            continue
        conc = m["concordance"]
        w = (f"Kendall's W {_f(conc['w'])}{' ' + _ci(conc['w_ci']) if conc.get('w_ci') else ''}"
             if conc.get("w") is not None else "Kendall's W undefined")
        said = []
        for c in m["claims"]:
            if c["verdict"] == "holds under every measure":
                said.append(f"{c['better']} > {c['worse']} under every measure")
            elif c["reversed_by"]:
                if c["better"] < c["worse"]:  # a reversed pair once, from its first model's side
                    said.append(f"{c['better']} > {c['worse']} under {', '.join(c['supported_by'])} but < under "
                                f"{', '.join(c['reversed_by'])} (reversed by the measure)")
            else:
                said.append(f"{c['better']} > {c['worse']} under {', '.join(c['supported_by'])} only")
        some = m.get("unreliable") or []
        flag = ("" if not some else " ⚠ (the listeners do not agree on this target" +
                ("" if len(some) == len(m["measures"]) else f": flagged under {', '.join(some)}") + ")")
        out.append(f"Across measures of {m['target']}{flag} ({', '.join(m['measures'])}; {w}): "
                   + ("; ".join(said) if said else "no measure separates any two models") + ".")
    return out


def _measures_section(stem: str, ds: dict, fp: str, cmp: dict, styles, synthetic: bool, figure_dir: Path,
                      alpha: float) -> Section | None:
    """Claims across measures: the rankings figure and, per target, the table of scores and ranks."""
    measures = cmp.get("measures") or []
    if not measures:
        return None
    caption = ("Each model's rank under each measure of alignment with one target (1 best; models tied at a rank "
               "drawn a little apart): a line that crosses another is a ranking that flips with the measure. In "
               "the panel's title, Kendall's W of the measures' rankings (1: the same under every measure) with its "
               "percentile interval over the resamples of the sounds the measures share.")
    figure = F.measures_figure(f"{stem}__measures", measures, styles, synthetic, caption)
    _save(figure, figure_dir)
    section = Section("measures", "Claims across measures", anchor(ds["name"], fp, "measures"),
                      "Does a model's advantage hold under every measure of alignment with a target (RSA, CKA, an "
                      "encoding model), or does it depend on the measure? Read the crossings in the figure, then each "
                      "claim's verdict.", [figure])
    for m in measures:
        rows = [[model] + [f"{_f(m['scores'][k][i])} (rank {m['ranks'][k][i]:g})" if m["ranks"][k][i] is not None
                           else "—" for k in range(len(m["measures"]))] for i, model in enumerate(m["models"])]
        section.tables.append(Table(f"{m['target']}", ["model"] + m["measures"], rows,
                                    note=" ".join(_measures_claims({"measures": [m]}, supported_only=False))))
    section.note = (f"A claim is a difference a measure's table finds significant (q < {alpha}), read in its direction: "
                    "it holds under every measure when every measure's table makes it (an intersection-union test, "
                    "Berger 1982), else it depends on the measure.")
    return section


def _undefined_note(empty: list[dict]) -> str:
    """One sentence per reason for the results of a section that have no score at any layer."""
    if not empty:
        return ""
    why: dict[str, list[str]] = {}
    for r in empty:
        reason = next((e.get("note") for e in r["scores"].get("per_layer", []) if e.get("note")), None)
        why.setdefault(reason or r["scores"]["headline"].get("selection") or "no layer has a score", []).append(
            f"{r['model']['name']} on {r['task']['name']}")
    return " ".join(f"Undefined, so not drawn ({len(w)}: {', '.join(w)}): {reason}." for reason, w in why.items())


def _dataset_section(stem: str, ds: dict, fp: str, summary: dict, synthetic: bool, figure_dir: Path) -> Section:
    """Appendix A of the paper: how the set's targets relate (figure A1)."""
    corr = summary["correlations"]
    caption = (f"Pearson correlation between the upper triangles ({corr['n_pairs']} pairs of sounds) of the set's "
               f"standard target RDMs: per judged dimension the symmetric KL divergence of listeners' response "
               f"distributions (smoothing 0.5) and the 0/1 distance of modal responses, per label column the 0/1 "
               f"distance of the physical labels. Spearman correlations are in the figure's JSON file. High "
               f"correlations between targets mean their RSA scores cannot be told apart by the data.")
    figure = F.target_correlation_figure(f"{stem}__figA1", corr, synthetic, caption)
    _save(figure, figure_dir)
    intro = ("Which targets does the stimulus set let one tell apart? Read how strongly perceived and physical "
             "targets of one dimension agree, and whether dimensions are confounded with each other.")
    return Section("dataset", "The stimulus set's targets (figure A1, appendix A)", anchor(ds["name"], fp, "dataset"),
                   intro, [figure])


def build_sets(files: list[tuple[Path, dict]], comparison: dict[str, Any], figure_dir: Path) -> list[SetReport]:
    """Every stimulus set's sections and figures (written into figure_dir as they are drawn), from result
    files and the comparison report; full sets first, then --limit cuts."""
    from audioprobe.summaries import read_summary

    by_set: dict[str, list[dict]] = {}
    set_dirs: dict[str, Path] = {}
    for path, r in files:
        if r["schema_version"] >= 2:
            by_set.setdefault(r["dataset"]["fingerprint"], []).append(r)
            set_dirs.setdefault(r["dataset"]["fingerprint"], path.parent.parent)  # DIR/<set>-<fp8>/<model>/<task>.json
    cmp_sets = {s["fingerprint"]: s for s in comparison.get("sets", [])}
    out = []
    for fp, rs in sorted(by_set.items(), key=lambda kv: (kv[1][0]["dataset"].get("partial", False),
                                                         kv[1][0]["dataset"]["name"], kv[0])):
        ds = rs[0]["dataset"]
        synthetic = any(r["dataset"].get("synthetic") for r in rs)
        stem = set_folder(ds["name"], fp)
        styles = F.styles_for(rs)
        by_exp: dict[str, list[dict]] = {}
        for r in rs:
            by_exp.setdefault(experiment_of(r), []).append(r)
        cmp = cmp_sets.get(fp, {"tasks": [], "contrasts": []})
        try:
            summary = read_summary(set_dirs[fp])
        except AudioprobeError as exc:
            log.warning("%s; figure A1 and the RDM heatmaps of this set are left out", exc)
            summary = None
        # figure A1 compares the set's targets with each other: only where there are at least two
        sections = ([_dataset_section(stem, ds, fp, summary, synthetic, figure_dir)]
                    if summary and len(summary["correlations"]["targets"]) >= 2 else [])
        sections += [_section(stem, ds, fp, exp, by_exp[exp], styles, synthetic, cmp, figure_dir, set_dirs[fp], summary)
                     for exp in presentation.experiment_order(by_exp)]
        across = _measures_section(stem, ds, fp, cmp, styles, synthetic, figure_dir, comparison.get("alpha", 0.05))
        sections += [across] if across else []
        order = F.model_order(styles)
        flagged = {r["task"]["name"] for r in rs if unreliable_labels(r["scores"])}
        out.append(SetReport(ds["name"], fp, ds["n_sounds"], synthetic, bool(ds.get("partial")),
                             [m for m in order if not styles[m].control], [m for m in order if styles[m].control],
                             sections, _claims(cmp, flagged) + _measures_claims(cmp)))
    return out


# ---------------------------------------------------------------------------------------------
# Writing

#: The figures a report wrote into REPORT_DIR/figures (a JSON list of names): the next report removes those it
#: no longer draws, and nothing else.
FIGURE_MANIFEST = ".audioprobe-figures.json"


def write_report(results_dir: Path, output_dir: Path, contrast_paths=(), alpha: float = 0.05,
                 command: str | None = None, svg: bool = False) -> dict[str, Any]:
    """Write index.html, report.md and figures/ into output_dir; return what was written and how long it took."""
    from audioprobe import __version__
    from audioprobe.leaderboard.compare import compare
    from audioprobe.leaderboard.contrasts import discover_contrasts

    start = time.perf_counter()
    results_dir, output_dir = Path(results_dir), Path(output_dir)
    files = collect_files(results_dir)
    if not any(r["schema_version"] >= 2 for _, r in files):
        raise AudioprobeError(f"{results_dir}: no result files of schema 2 here; run audioprobe-eval first.")
    comparison = compare(results_dir, discover_contrasts(contrast_paths), alpha=alpha)
    t_compare = time.perf_counter() - start
    figure_dir = output_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    token = _SVG.set(svg)
    try:
        sets = build_sets(files, comparison, figure_dir)
    finally:
        _SVG.reset(token)
    all_figures = [f for s in sets for sec in s.sections for f in (*sec.figures, *sec.pairwise, *sec.rdms)]
    written = {p for f in all_figures for p in f.paths.values()}
    # figures of an earlier report that this one no longer has: only those a report wrote (its manifest), never
    # a file of the user's that happens to sit in the folder
    manifest = figure_dir / FIGURE_MANIFEST
    try:
        earlier = set(json.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        earlier = set()
    for name in earlier - {p.name for p in written}:
        stale = figure_dir / Path(name).name  # a bare name: nothing outside the folder
        if stale.is_file() and not stale.is_symlink():
            stale.unlink()
    atomic_write_bytes(manifest, lambda fh: fh.write(json.dumps(sorted(p.name for p in written)).encode("utf-8")))
    meta = {"n_results": sum(r["schema_version"] >= 2 for _, r in files), "results_dir": str(results_dir),
            "alpha": alpha, "version": __version__, "created": now_utc(),
            "command": command or " ".join(shlex.quote(str(x)) for x in [
                "audioprobe-report", results_dir, "-o", output_dir,
                *(a for c in contrast_paths for a in ("--contrasts", c)), *(["--alpha", alpha] if alpha != 0.05 else []),
                *(["--svg"] if svg else [])])}
    suites = build_suites(results_dir, files, comparison)
    page = render_html(sets, meta, suites).encode("utf-8")
    markdown = render_markdown(sets, meta, suites).encode("utf-8")
    atomic_write_bytes(output_dir / "index.html", lambda fh: fh.write(page))
    atomic_write_bytes(output_dir / "report.md", lambda fh: fh.write(markdown))
    return {"index": output_dir / "index.html", "markdown": output_dir / "report.md", "figures": len(all_figures),
            "sets": [s.anchor for s in sets], "anchors": [sec.anchor for s in sets for sec in s.sections],
            "seconds": time.perf_counter() - start, "compare_seconds": t_compare}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output-dir", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for index.html, report.md and figures/ (created if needed).")
@click.option("--contrasts", "contrast_paths", multiple=True, type=click.Path(path_type=Path),
              help="Extra contrast YAML file or folder (repeatable); the built-in ones are always read.")
@click.option("--alpha", default=0.05, type=click.FloatRange(0, 1, min_open=True, max_open=True), show_default=True,
              help="False discovery rate of the Benjamini-Hochberg corrections.")
@click.option("--svg", is_flag=True, help="Also write every figure as SVG (vector, for papers; larger files).")
def report_cmd(results_dir, output_dir, contrast_paths, alpha, svg):
    """An HTML report (and markdown) of the result files under RESULTS_DIR: the paper's figures per stimulus
    set and experiment, headline tables, contrasts and pairwise comparisons. index.html links the figures in
    figures/ (PNG; SVG too with --svg): keep the folder together."""
    done = write_report(results_dir, output_dir, contrast_paths, alpha, svg=svg)
    click.echo(f"Wrote {done['index']}, {done['markdown'].name} and {done['figures']} figure(s) as PNG"
               f"{' and SVG' if svg else ''} in {output_dir / 'figures'} ({done['seconds']:.1f} s).")
