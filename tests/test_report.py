"""audioprobe-report: the figures plot what the result files hold, and the page stands alone.

One small results folder is built through the CLI (logmel, mfcc and the two-layer toy model, 30 sounds,
tasks of figures 1A, 1B, 2 and appendix B, and ABX); the report is written once. Each figure's JSON
sidecar is read back from the drawn matplotlib artists, so comparing it with the result files checks
the picture, not a copy of the input.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from audioprobe.cli import main as eval_main
from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard import figures as F
from audioprobe.leaderboard.compare import compare
from audioprobe.leaderboard.contrasts import discover_contrasts
from audioprobe.leaderboard.report import anchor, report_cmd
from audioprobe.leaderboard.report_figures import RDM_HEADING
from audioprobe.summaries import load_rdm, read_summary
from audioprobe.tasktypes import presentation
from tests.toymodels import FrameProjection, register_toy

#: the built-in task types' experiments (each a section of the report)
EXPERIMENTS = presentation.experiment_order(["rsa", "rsa-partial", "transfer", "abx"])

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

N = 30
TOY = "toy-frames"
MODELS = ("logmel", "mfcc", TOY)
# rsa-physical-material is not applicable on these 30 sounds (one material): its result is missing
TASKS = ("rsa-material,rsa-average,rsa-modal-material,rsa-physical-material,rsa-modal-hollowness,"
         "rsa-physical-hollowness,transfer-material-hollow-to-full,transfer-material-full-to-hollow,"
         "partial-rsa-material,abx-material")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(results folder, report folder): results through audioprobe-eval, then the report."""
    root = tmp_path_factory.mktemp("report")
    results, report = root / "results", root / "report"
    with pytest.MonkeyPatch.context() as mp:
        register_toy(mp, TOY, FrameProjection, {})
        mp.setenv("AUDIOPROBE_CACHE", str(root / "cache"))
        for model in MODELS:
            assert eval_main(["--model", model, "--tasks", TASKS, "--limit", str(N), "--output-dir", str(results)]) == 0
    report_cmd.main([str(results), "-o", str(report), "--svg"], standalone_mode=False)
    return results, report


def results_of(results: Path) -> dict[tuple[str, str], dict]:
    """(model, task) -> result, read straight from the files."""
    return {(p.parent.name, p.stem): json.loads(p.read_text()) for p in results.glob("*/*/*.json")}


def sidecar(report: Path, figure: str) -> dict:
    (path,) = (report / "figures").glob(f"*__{figure}.json")
    return json.loads(path.read_text())


def nulls(values) -> list:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]


def assert_series_is_result(series: dict, per_layer: list[dict], key: str = "score", ci: str | None = "ci"):
    """A drawn series holds the per-layer values of its result: at relative depth i / (n - 1), or as a
    level line (a one-layer model); null scores as gaps (null), never as zero."""
    values = [e.get(key) for e in per_layer]
    assert series["layers"] == [e["layer"] for e in per_layer]
    if len(per_layer) == 1:
        assert series["one_layer"] and series["y"] == nulls(values * 2) and series["x"][0] == 0.0
    else:
        assert series["y"] == pytest.approx(nulls(values)) if None not in values else series["y"] == nulls(values)
        assert series["x"] == pytest.approx([i / (len(values) - 1) for i in range(len(values))])
    if ci is not None and "band_low" in series:
        lows = [e[ci][0] if e.get(ci) else None for e in per_layer]
        assert series["band_low"][: len(lows)] == pytest.approx(lows)


# ---------------------------------------------------------------------------------------------
# The figures plot the result files

def test_figure_1a_plots_each_models_per_layer_scores_and_the_ceiling(built):
    results, report = built
    files = results_of(results)
    fig = sidecar(report, "fig1a")
    assert fig["synthetic"] and fig["banner"] == F.SYNTHETIC_MARK
    assert [p["task"] for p in fig["panels"]] == ["rsa-average", "rsa-material"]  # the paper's panel order
    for panel in fig["panels"]:
        assert sorted(s["model"] for s in panel["series"]) == sorted(m for m, t in files if t == panel["task"])
        for s in panel["series"]:
            assert_series_is_result(s, files[(s["model"], panel["task"])]["scores"]["per_layer"])
        nc = files[(TOY, panel["task"])]["scores"]["noise_ceiling"]
        assert panel["ceiling"]["value"] == pytest.approx(nc["value"])
        assert panel["ceiling"]["reliable"] == nc["reliable"]
        assert "lower_bound" not in panel["ceiling"]  # single-listener scale: not drawn against the panel score
    toy = next(s for s in fig["panels"][1]["series"] if s["model"] == TOY)
    assert toy["n_layers"] == 2 and not toy["one_layer"]
    logmel = next(s for s in fig["panels"][1]["series"] if s["model"] == "logmel")
    assert logmel["one_layer"] and logmel["y"][0] == logmel["y"][1]  # a level line, not a lone dot


def test_figure_1b_pairs_perceived_with_physical_and_leaves_a_missing_result_out(built):
    results, report = built
    files = results_of(results)
    assert (TOY, "rsa-physical-material") not in files  # not applicable on 30 sounds: no file
    fig = sidecar(report, "fig1b")
    panels = {p["dimension"]: p for p in fig["panels"]}
    assert list(panels) == ["material", "hollowness"]
    assert panels["material"]["physical_task"] is None
    assert {s["role"] for s in panels["material"]["series"]} == {"perceived"}  # absent, not drawn as zero
    for panel in panels.values():
        for s in panel["series"]:
            assert s["task"] == panel[f"{s['role']}_task"]
            assert_series_is_result(s, files[(s["model"], s["task"])]["scores"]["per_layer"])
    # the marks are the fig1b contrast's per-layer rejections, as audioprobe-compare finds them
    (cmp_set,) = compare(results, discover_contrasts())["sets"]
    (contrast,) = [c for c in cmp_set["contrasts"] if c["contrast"] == "fig1b-perceived-vs-physical"]
    for row in contrast["rows"]:
        panel = next(p for p in panels.values() if p["perceived_task"] == row["a"])
        marked = next((m["layers"] for m in panel["significant"] if m["model"] == row["model"]), [])
        expected = [n for n, r in zip(row["result"]["layer_names"], row["result"]["layers"]["reject"]) if r]
        assert marked == expected


def test_figure_1b_marks_the_layers_a_contrast_rejects(built):
    """The strip of significance marks, on a contrast row made up here: one mark per rejected layer, on the
    side of the difference, at the layer's relative depth."""
    results, _ = built
    files = results_of(results)
    by_task = {t: [r for (m, task), r in files.items() if task == t] for t in ("rsa-modal-hollowness",
                                                                              "rsa-physical-hollowness")}
    rows = [{"model": TOY, "a": "rsa-modal-hollowness", "b": "rsa-physical-hollowness",
             "result": {"layer_names": ["proj1", "proj2"],
                        "layers": {"difference": [0.2, -0.1], "reject": [True, False]}}},
            {"model": "logmel", "a": "rsa-modal-hollowness", "b": "rsa-physical-hollowness",
             "result": {"layer_names": ["fbank"], "layers": {"difference": [-0.3], "reject": [True]}}}]
    styles = F.styles_for([r for rs in by_task.values() for r in rs])
    figure = F.perceived_physical_figure("t", "t", [("hollowness", "rsa-modal-hollowness", "rsa-physical-hollowness")],
                                         by_task, styles, rows, True, "")
    marks = {m["model"]: m for m in figure.data["panels"][0]["significant"]}
    F.style._pyplot().close(figure.fig)
    assert marks[TOY] == {"model": TOY, "layers": ["proj1"], "x_higher": [0.0], "x_lower": []}
    assert marks["logmel"]["layers"] == ["fbank"] and len(marks["logmel"]["x_lower"]) == 1
    assert marks["logmel"]["x_lower"][0] > 1  # a one-layer model's mark sits at its point, right of depth 1


def test_figure_2_plots_transfer_baseline_and_chance(built):
    results, report = built
    files = results_of(results)
    panels = sidecar(report, "fig2")["panels"]
    assert [p["task"] for p in panels] == ["transfer-material-hollow-to-full", "transfer-material-full-to-hollow"]
    baselines = 0
    for panel in panels:
        task = panel["task"]
        chance = files[(TOY, task)]["scores"]["chance"]
        assert chance["accuracy"] != chance["balanced_accuracy"]  # the test tells the two apart
        assert panel["chance"]["value"] == pytest.approx(chance["accuracy"])
        roles = {(s["model"], s["role"]): s for s in panel["series"]}
        for model in MODELS:
            per_layer = files[(model, task)]["scores"]["per_layer"]
            assert_series_is_result(roles[(model, "transfer")], per_layer)
            assert_series_is_result(roles[(model, "transfer")], per_layer, key="accuracy")
            if any(e["baseline_accuracy"] is not None for e in per_layer):
                assert_series_is_result(roles[(model, "baseline")], per_layer, key="baseline_accuracy", ci=None)
                baselines += 1
            else:  # no baseline (a test class of one sound): none drawn
                assert (model, "baseline") not in roles
    assert baselines >= 3


def test_figure_a2_leaves_undefined_scores_as_gaps(built):
    results, report = built
    files = results_of(results)
    (panel,) = sidecar(report, "figA2")["panels"]
    assert panel["task"] == "partial-rsa-material"
    series = {s["model"]: s for s in panel["series"]}
    for model, s in series.items():
        assert_series_is_result(s, files[(model, "partial-rsa-material")]["scores"]["per_layer"])
    # logmel with its own RDM regressed out: every score null: not drawn at all (no blank line, never 0), and
    # the section says once why
    assert files[("logmel", "partial-rsa-material")]["scores"]["per_layer"][0]["score"] is None
    assert "logmel" not in series and series
    page = (report / "report.md").read_text()
    note = files[("logmel", "partial-rsa-material")]["scores"]["per_layer"][0]["note"]
    assert f"Undefined, so not drawn (1: logmel on partial-rsa-material): {note}." in page


def set_dir_of(results: Path) -> Path:
    (folder,) = [p for p in results.iterdir() if p.is_dir()]
    return folder


def test_figure_a1_draws_the_set_summary(built):
    results, report = built
    summary = read_summary(set_dir_of(results))
    drawn = sidecar(report, "figA1")
    corr = summary["correlations"]
    assert drawn["targets"] == [t["name"] for t in corr["targets"]]
    assert len(drawn["targets"]) == 10  # KL, modal, physical of three dimensions, and the object label column
    assert drawn["pearson"] == [pytest.approx(nulls(row)) for row in corr["pearson"]]
    assert drawn["banner"] == F.SYNTHETIC_MARK


def percentile_ranks_here(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return (rankdata(x) - 1) / (len(x) - 1)


def test_rdm_heatmaps_draw_the_kept_rdms_in_category_order(built):
    """Each panel is the stored RDM (target first, then the headline layer of each model with one) as
    percentile ranks, rows and columns in category order; categories contiguous, sorted, ties last."""
    results, report = built
    files = results_of(results)
    set_dir = set_dir_of(results)
    summary = read_summary(set_dir)
    for task in ("rsa-material", "rsa-physical-hollowness", "partial-rsa-material"):
        drawn = sidecar(report, f"rdms__{task}")
        kept = {m: r for (m, t), r in files.items() if t == task and "model_sha256" in r["scores"]["rdms"]}
        order_of_models = F.model_order(F.styles_for(list(files.values())))  # trained models first, then controls
        assert kept and [p["label"].split("\n")[0] for p in drawn["panels"][1:]] == [
            m for m in order_of_models if m in kept]
        assert drawn["panels"][0]["label"] == "target"
        if task == "partial-rsa-material":
            assert "logmel" not in kept  # its own RDM regressed out: no residual
        target_sha = {r["scores"]["rdms"]["target_sha256"] for r in kept.values()}
        assert len(target_sha) == 1
        arrays = [load_rdm(set_dir, target_sha.pop())] + [
            load_rdm(set_dir, kept[p["label"].split("\n")[0]]["scores"]["rdms"]["model_sha256"])
            for p in drawn["panels"][1:]]
        order = drawn["order"]
        column = "hollowness" if task == "rsa-physical-hollowness" else "material"
        source = summary["labels" if "physical" in task else "modal"][column]
        cats = [source[i] for i in order]
        known = [c for c in cats if c]
        assert known == sorted(known) and all(not c for c in cats[len(known):])  # sorted, unknown last
        assert [b[0] for b in drawn["blocks"]] == list(dict.fromkeys(cats))
        n = len(order)
        for panel, condensed in zip(drawn["panels"], arrays):
            square = np.zeros((n, n))
            square[np.triu_indices(n, 1)] = percentile_ranks_here(condensed)
            square = square + square.T
            square = square[np.ix_(order, order)]
            np.fill_diagonal(square, np.nan)
            assert panel["row_means"] == pytest.approx(np.round(np.nanmean(square, axis=1), 6), abs=2e-6)
            assert nulls(panel["corner"][0])[1:] == pytest.approx(np.round(square[0, 1:5], 6), abs=2e-6)


def test_pairwise_matrices_are_the_compare_report(built):
    results, report = built
    (cmp_set,) = compare(results, discover_contrasts())["sets"]
    tables = [t for t in cmp_set["tasks"] if t["pairwise"] is not None]
    assert {t["task"] for t in tables} >= {"rsa-material", "abx-material", "transfer-material-full-to-hollow"}
    for t in tables:
        fig = sidecar(report, f"pairwise__{t['task']}")
        assert fig["models"] == t["models"]
        diff = np.array(nulls([v for row in t["pairwise"]["difference"] for v in row]), dtype=float)
        drawn = np.array(nulls([v for row in fig["difference"] for v in row]), dtype=float)
        np.testing.assert_allclose(drawn, diff, equal_nan=True)
        # each pair once (the matrix is antisymmetric), its significance as compare's
        assert sorted(map(sorted, fig["significant_cells"])) == sorted(
            [i, j] for i, row in enumerate(t["pairwise"]["reject"]) for j, r in enumerate(row) if r and i < j)
        assert len({frozenset(c) for c in fig["significant_cells"]}) == len(fig["significant_cells"])
        assert fig["lower_is_better"] == (t["task"] == "abx-material")
        # models best first, and one colour range per experiment: at least this task's largest difference
        heads = [h for h in t["headline"]]
        order = sorted(range(len(heads)), key=lambda i: heads[i] if t.get("lower_is_better") else -heads[i])
        assert fig["shown_order"] == [t["models"][i] for i in order]
        assert fig["colour_range"][1] >= np.nanmax(np.abs(diff)) - 1e-12
    from audioprobe.results import experiment_of

    files = results_of(results)
    by_experiment: dict[str, set] = {}
    for t in tables:
        exp = experiment_of(files[(t["models"][0], t["task"])])
        by_experiment.setdefault(exp, set()).add(tuple(sidecar(report, f"pairwise__{t['task']}")["colour_range"]))
    assert all(len(ranges) == 1 for ranges in by_experiment.values()), by_experiment


# ---------------------------------------------------------------------------------------------
# The files: PNG and SVG, the self-contained page, the markdown

class Page(HTMLParser):
    """Tags, ids, URL attributes and text of an HTML page; fails on a closing tag that closes nothing open."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.urls, self.images, self.text = [], set(), [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            assert attrs["id"] not in self.ids, f"duplicate id {attrs['id']}"
            self.ids.add(attrs["id"])
        for key in ("src", "href", "data", "srcset", "poster", "action"):
            if attrs.get(key):
                self.urls.append(attrs[key])
        if tag == "img":
            self.images.append(attrs["src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_index_html_links_every_figure_once_and_needs_no_network(built):
    results, report = built
    raw = (report / "index.html").read_text(encoding="utf-8")
    page = Page()
    page.feed(raw)
    page.close()
    assert page.stack == [], page.stack
    assert "http://" not in raw and "https://" not in raw and "@import" not in raw and "<script" not in raw
    assert all(u.startswith(("#", "figures/")) for u in page.urls), page.urls
    assert "data:image" not in raw  # each figure stored once: in figures/, linked from the page
    pngs = sorted((report / "figures").glob("*.png"))
    assert sorted(page.images) == sorted(f"figures/{p.name}" for p in pngs)
    rsa_tasks = ("rsa-material", "rsa-average", "rsa-modal-material", "rsa-modal-hollowness", "rsa-physical-hollowness",
                 "partial-rsa-material")
    assert {p.stem.split("__", 1)[1] for p in pngs} == {
        "fig1a", "fig1b", "fig2", "figA1", "figA2", "abx-1", *(f"rdms__{t}" for t in rsa_tasks),
        "measures",  # rsa-material and rsa-modal-material measure one target: the claims across measures
        *(f"pairwise__{t}" for t in (*rsa_tasks, "transfer-material-hollow-to-full",
                                     "transfer-material-full-to-hollow", "abx-material"))}
    # a section per experiment, at the anchor the leaderboard links to, and links to each
    result = next(iter(results_of(results).values()))
    name, fp = result["dataset"]["name"], result["dataset"]["fingerprint"]
    for experiment in (*EXPERIMENTS, "dataset"):
        assert anchor(name, fp, experiment) in page.ids
        assert f"#{anchor(name, fp, experiment)}" in page.urls
    text = " ".join(page.text)
    assert text.count(F.SYNTHETIC_BANNER) >= 2  # the page's banner and the set's
    assert "Figure A1" in text and RDM_HEADING in text


def test_report_md_links_figures_relatively(built):
    _, report = built
    text = (report / "report.md").read_text(encoding="utf-8")
    links = [line.split("](", 1)[1].split(")", 1)[0] for line in text.splitlines() if line.startswith("![")]
    assert links and all(link.startswith("figures/") and (report / link).is_file() for link in links)
    assert f"> **{F.SYNTHETIC_BANNER}.**" in text and "http" not in text


def test_every_figure_is_a_non_blank_png_of_its_size_and_an_svg(built):
    _, report = built
    for png in sorted((report / "figures").glob("*.png")):
        data = json.loads(png.with_suffix(".json").read_text())
        with Image.open(png) as im:
            assert list(im.size) == data["size_px"], png.name
            pixels = np.asarray(im.convert("L"))
        assert pixels.std() > 5 and len(np.unique(pixels)) > 20, f"{png.name} is blank"
        if data.get("kind") not in ("pairwise", "target-correlations", "rdms"):  # profiles: the page's width
            assert data["size_px"][0] == round(F.WIDTH * F.DPI * (1 if len(data["panels"]) > 1 else 0.75))
        assert data["size_px"][0] <= F.WIDTH * F.DPI  # no figure wider than the page
        assert data["banner"] == F.SYNTHETIC_MARK
        svg = ET.parse(png.with_suffix(".svg")).getroot()
        assert svg.tag.endswith("svg") and any(e.get("id") == "synthetic-banner" for e in svg.iter())


@pytest.mark.slow
def test_a_rerun_is_byte_identical_and_removes_stale_figures(built, tmp_path):
    results, report = built
    copy = tmp_path / "report"
    shutil.copytree(report, copy)
    # a figure an earlier report wrote and this one no longer draws (in the report's manifest): removed
    (copy / "figures" / "impacts-00000000__fig9.png").write_bytes(b"old")
    manifest = copy / "figures" / ".audioprobe-figures.json"
    manifest.write_text(json.dumps([*json.loads(manifest.read_text()), "impacts-00000000__fig9.png"]))
    # the user's own files, whatever their names: kept
    (copy / "figures" / "notes.txt").write_text("mine")
    (copy / "figures" / "my__plot.png").write_bytes(b"mine too")
    report_cmd.main([str(results), "-o", str(copy), "--svg"], standalone_mode=False)
    assert not (copy / "figures" / "impacts-00000000__fig9.png").exists()
    assert (copy / "figures" / "notes.txt").read_text() == "mine"
    assert (copy / "figures" / "my__plot.png").read_bytes() == b"mine too"
    names = [sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) for folder in (copy, report)]
    assert names[0] == sorted([*names[1], Path("figures/notes.txt"), Path("figures/my__plot.png")])
    for name in names[1]:  # PNG, SVG (seeded ids), sidecars and pages: the same bytes on every run, but for the
        # line that says which command made the page and when
        def body(folder):
            data = (folder / name).read_bytes()
            if name.suffix in (".html", ".md"):
                data = re.sub(rb"(<p class=\"provenance\">|Made by `).*\n", b"", data)
            return data

        assert body(copy) == body(report), name


def test_anchor_rule(built):
    fp = "401f9999b6e7a635"
    assert anchor("impacts", fp, "rsa-partial") == "impacts-401f9999-rsa-partial"
    assert anchor("hf:Org/Impacts", fp, "abx") == "hf_org__impacts-401f9999-abx"
    with pytest.raises(ValueError):
        anchor("impacts", fp, "RSA partial")
    from audioprobe.leaderboard import leaderboard_text

    if hasattr(leaderboard_text, "anchor"):  # the leaderboard's links and the report's sections agree
        for name in ("impacts", "hf:Org/Impacts", "my set.v2"):
            for experiment in EXPERIMENTS:
                assert leaderboard_text.anchor(name, fp, experiment) == anchor(name, fp, experiment)


def test_no_results_is_one_clear_error(tmp_path):
    with pytest.raises(AudioprobeError, match="no result files"):
        report_cmd.main([str(tmp_path), "-o", str(tmp_path / "r")], standalone_mode=False)


# ---------------------------------------------------------------------------------------------
# A real browser

def test_headless_chromium_opens_the_page_from_disk(built, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it): "
                    "the page is not opened in a browser here")
    _, report = built
    shot = tmp_path / "page.png"
    done = subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                           "--disable-extensions", "--disable-background-networking", "--disable-sync",
                           "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
                           "--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}",
                           (report / "index.html").resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1200, 1600)
        pixels = np.asarray(im.convert("RGB"))
    grey = pixels.mean(axis=2)
    assert grey.std() > 10 and len(np.unique(grey)) > 50, "the screenshot is blank"
    # the synthetic banner's pink (#fde0dd) is on screen: the page's styles were applied
    assert np.any(np.all(np.abs(pixels.astype(int) - [0xfd, 0xe0, 0xdd]) <= 3, axis=2))


def test_committed_example_report_agrees_with_its_result_files():
    """leaderboard/report/ is the report of leaderboard/synthetic-baselines: every profile it plots
    is a result file's per-layer scores, every figure it embeds exists, and it links the sections
    the committed leaderboard links to."""
    import json as _json
    import re as _re

    from audioprobe.results import collect_files

    root = Path(__file__).resolve().parent.parent / "leaderboard"
    results = {(r["model"]["name"], r["task"]["name"]): r for _, r in collect_files(root / "synthetic-baselines")}
    figures = root / "report" / "figures"
    checked = 0
    for sidecar in sorted(figures.glob("*.json")):
        if sidecar.name.startswith("."):  # the report's manifest of the figures it wrote
            assert sorted(_json.loads(sidecar.read_text())) == sorted(
                p.name for p in figures.iterdir() if not p.name.startswith("."))
            continue
        data = _json.loads(sidecar.read_text())
        assert (figures / f"{data['figure']}.png").is_file()
        for panel in data.get("panels", []):
            for series in panel.get("series", []):
                r = results.get((series.get("model"), panel.get("task")))
                if r is None or series.get("one_layer") is None or "y" not in series:
                    continue
                key = {"baseline": "baseline_accuracy"}.get(series.get("role"), "score")  # figure 2 draws both
                scores = [e.get(key) for e in r["scores"]["per_layer"]]
                y = series["y"][:1] if series["one_layer"] else series["y"]
                assert y == pytest.approx([s if s is not None else None for s in scores][:len(y)], abs=1e-12), \
                    (sidecar.name, series["model"], panel["task"])
                checked += 1
    assert checked >= 20  # the profiles of five models on the paper's figures
    page = (root / "report" / "index.html").read_text(encoding="utf-8")
    board = (root / "LEADERBOARD.md").read_text(encoding="utf-8")
    for target in _re.findall(r"\]\(report/index\.html#([a-z0-9-]+)\)", board):
        assert f'id="{target}"' in page, target


def test_a_flat_profile_is_drawn_flat():
    """A panel whose scores span 0.0748 to 0.0754 (13 layers of random-beats on rsa-material) keeps at least
    MIN_SPAN of y range: the tiny rise is not stretched over the panel's height."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    y = np.linspace(0.0748, 0.0754, 13)
    ax.plot(np.linspace(0, 1, 13), y)
    F.primitives._zero(ax)
    lo, hi = ax.get_ylim()
    assert hi - lo == pytest.approx(F.primitives.MIN_SPAN) and lo < y.min() and hi > y.max()
    drawn_rise = (y.max() - y.min()) / (hi - lo)
    assert drawn_rise < 0.01  # under 1% of the panel's height
    ax.set_ylim(-0.2, 0.6)
    F.primitives._zero(ax)
    assert ax.get_ylim() == (-0.2, 0.6)  # a wide range is left alone
    plt.close(fig)


def test_the_report_says_what_is_supported_and_who_made_it(built):
    """The summary at the top of each set: one sentence per supported claim, each a pairwise difference that
    passes BH (from compare) or a contrast row whose verdict is an effect; the command, version and date."""
    from audioprobe import __version__

    results, report = built
    page = (report / "report.md").read_text()
    (cmp_set,) = compare(results, discover_contrasts())["sets"]
    assert "#### What the data support (synthetic set: claims about the harness, not about hearing)" in page
    summary = page.split("#### What the data support")[1].split("### ")[0]
    claims = [line[2:] for line in summary.splitlines() if line.startswith("- ")]
    n_pairs = sum(1 for t in cmp_set["tasks"] if t.get("pairwise") for i, row in enumerate(t["pairwise"]["reject"])
                  for j, r in enumerate(row) if r and i < j)
    n_rows = sum(1 for c in cmp_set["contrasts"] for r in c["rows"]
                 if "effect" in (r.get("verdict") or "") and not r["verdict"].startswith("no effect"))
    tasks_with_pairs = {t["task"] for t in cmp_set["tasks"] if t.get("pairwise") and any(map(any, t["pairwise"]["reject"]))}
    n_targets = sum(1 for m in cmp_set.get("measures", []) if m["claims"])  # claims across measures: one per target
    assert len(claims) == len(tasks_with_pairs) + n_rows + n_targets
    assert sum(c.count(" (by ") for c in claims) == n_pairs
    if not claims:
        assert "No pairwise difference or contrast is supported" in summary
    assert re.search(rf"Made by `audioprobe-report {re.escape(str(results))} -o {re.escape(str(report))}( --svg)?` with "
                     rf"audioprobe {re.escape(__version__)} on \d{{4}}-\d\d-\d\d", page)


def test_claims_are_the_significant_pairs_and_the_effect_verdicts():
    """_claims on a constructed comparison: the one pair that passes BH is said with its direction (an error
    rate: lower is better), the contrast rows are said only when their verdict is an effect; ⚠ marks a task
    read against an unreliable label."""
    from audioprobe.leaderboard.report import _claims

    cmp = {"tasks": [{"task": "abx-material", "lower_is_better": True, "models": ["a", "b", "c"],
                      "pairwise": {"reject": [[False, True, False], [True, False, False], [False, False, False]],
                                   "difference": [[None, -0.1, 0.01], [0.1, None, 0.11], [-0.01, -0.11, None]],
                                   "ci": [[None, [-0.15, -0.05], [-0.02, 0.04]], [[0.05, 0.15], None, [-0.1, 0.3]],
                                          [[-0.04, 0.02], [-0.3, 0.1], None]],
                                   "q_value": [[None, 0.01, 0.7], [0.01, None, 0.2], [0.7, 0.2, None]]}}],
           "contrasts": [{"contrast": "depth-trend", "kind": "depth", "rows": [
               {"model": "a", "a": "rsa-material", "verdict": "positive effect beyond the margin 0.02",
                "result": {"change": 0.1, "ci": [0.05, 0.15], "row_q_value": 0.001}},
               {"model": "b", "a": "rsa-material", "verdict": "no effect as large as the margin 0.02 (equivalence)",
                "result": {"change": 0.001, "ci": [-0.01, 0.01], "row_q_value": 0.03}},
               {"model": "c", "a": "rsa-material", "verdict": "inconclusive",
                "result": {"change": 0.03, "ci": [-0.01, 0.07], "row_q_value": 0.3}}]}]}
    claims = _claims(cmp, flagged={"abx-material"})
    assert claims == [
        "abx-material ⚠: a < b (by 0.100, 95% CI [0.050, 0.150], q = 0.010).",
        "depth-trend (change over depth): a, rsa-material, change from the first to the last layer = 0.100 "
        "[0.050, 0.150], q = 0.001: positive effect beyond the margin 0.02."]


def test_one_headline_and_one_interval_everywhere(built):
    """The same (model, task) has the same headline and interval in the CLI's table, the leaderboard, compare
    and the report (one function computes them: tasktypes.common.headline); a one-layer model's headline is
    its layer's full-set score."""
    from audioprobe.leaderboard.build import build
    from audioprobe.results import format_score
    from audioprobe.run_summary import results_table

    results, report = built
    files = results_of(results)
    cli = results_table(list(files.values()))
    board = build(results)
    page = (report / "report.md").read_text()
    (cmp_set,) = compare(results, discover_contrasts())["sets"]
    tables = {t["task"]: t for t in cmp_set["tasks"]}
    checked = 0
    for (model, task), r in files.items():
        h = r["scores"]["headline"]
        if h["value"] is None or h["ci"] is None:
            continue
        if len(r["scores"]["per_layer"]) == 1:
            assert h["value"] == r["scores"]["per_layer"][0]["score"], (model, task)
        v3, (lo, hi) = format_score(h["value"], 3), (format_score(x, 3) for x in h["ci"])
        ci3 = f"[{lo}, {hi}]"
        # the CLI (4 digits for the score, 3 for the interval)
        (line,) = [x for x in cli.splitlines() if x.split()[:2] == [model, task]]
        assert format_score(h["value"]) in line and ci3 in line, line
        # the leaderboard's cell
        cells = [x for x in board.splitlines() if x.startswith("|") and ci3 in x and v3 in x]
        assert cells, (model, task)
        # compare
        t = tables[task]
        if t.get("pairwise") is not None and model in t["models"]:
            i = t["models"].index(model)
            assert t["headline"][i] == pytest.approx(h["value"])
            assert t["pairwise"]["score"]["ci"][i] == pytest.approx(h["ci"])
        # the report's headline table
        name = model + (" (control)" if F.styles_for(list(files.values()))[model].control else "")
        rows = [x for x in page.splitlines() if re.match(rf"\| {re.escape(task)}( ⚠)? \| {re.escape(name)} \|", x)]
        assert rows and f"| {v3}" in rows[0] and ci3 in rows[0], (model, task, rows)
        checked += 1
    assert checked >= 20


def test_without_svg_only_png_and_sidecars_are_written(built, tmp_path):
    results, _ = built
    report_cmd.main([str(results), "-o", str(tmp_path / "r")], standalone_mode=False)
    suffixes = {p.suffix for p in (tmp_path / "r" / "figures").iterdir() if not p.name.startswith(".")}
    assert suffixes == {".png", ".json"}
    assert "[SVG]" not in (tmp_path / "r" / "report.md").read_text()
