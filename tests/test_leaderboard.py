"""The markdown leaderboard as a reader meets it: legend, layers, widths, empty cells, transfer, links.

Tiny result folders come from the CLI (`--limit 24`); widths are checked on the committed
3-model example (leaderboard/synthetic-baselines) and on a many-model copy of it.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from audioprobe.cli import main as eval_main
from audioprobe.leaderboard.build import build, collect, render_markdown
from audioprobe.leaderboard.compare import compare
from audioprobe.leaderboard.leaderboard_tables import MAX_WIDTH, MISSING, UNDEFINED, score_cell
from audioprobe.leaderboard.leaderboard_text import anchor
from audioprobe.results import format_score, result_label
from tests.toymodels import FrameProjection, register_toy

N = 24
TOY = "toy-frames"  # two layers: its cells name their layer
TASKS = ["rsa-material", "partial-rsa-material", "transfer-material-full-to-hollow", "transfer-material-hollow-to-full",
         "abx-material"]
BEST_LAYER_TASK = ("task: rsa-material-best-layer\nversion: 1\ndescription: rsa-material, best layer on all sounds\n"
                   "dataset: impacts\ntype: rsa\ntarget: kl\ndimensions: material\ncv_splits: 0\n")
COMMITTED = Path(__file__).resolve().parent.parent / "leaderboard" / "synthetic-baselines"


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    """logmel and toy-frames on every task; mfcc on all but abx-material (a missing cell); logmel's partial
    RSA against its own RDM is undefined; one extra task picks the best layer without cross-validation."""
    root = tmp_path_factory.mktemp("board")
    out, extra = root / "r", root / "extra"
    extra.mkdir()
    (extra / "rsa-material-best-layer.yaml").write_text(BEST_LAYER_TASK)
    with pytest.MonkeyPatch.context() as mp:
        register_toy(mp, TOY, FrameProjection, {})
        for model, tasks in (("logmel", TASKS), (TOY, TASKS), ("mfcc", TASKS[:-1])):
            assert eval_main(["--model", model, "--tasks", ",".join(tasks + ["rsa-material-best-layer"]), "--limit",
                              str(N), "--output-dir", str(out), "--include-path", str(extra)]) == 0
    return out


@pytest.fixture(scope="module")
def board(results_dir):
    return build(results_dir, report_url="report/index.html")


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every pipe table of a markdown text: (header, rows), cells stripped."""
    found, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in block]
            found.append((cells[0], cells[2:]))
            block = []
    return found


def cell_of(text: str, model: str, task: str) -> str:
    """The cell of `model` on `task`, whichever way the tables turn (tasks or models as rows)."""
    found = []
    for header, rows in tables(text):
        for row in rows:
            cells = dict(zip(header, row))
            if header[0] == "task" and row[0] == task and model in cells:
                found.append(cells[model])
            elif header[0] == "model" and row[0] == model and task in cells:
                found.append(cells[task])
    (cell,) = found
    return cell


def reference_of(text: str, task: str, name: str) -> str:
    """The reference level (`name`: chance or ceiling) of `task`, whichever way the tables turn."""
    found = []
    for header, rows in tables(text):
        if header[0] == "task":
            found += [dict(zip(header, row))[name] for row in rows if row[0] == task and name in header]
        elif task in header:
            found += [dict(zip(header, row))[task] for row in rows if row[0] == f"*{name}*"]
    (cell,) = found
    return cell


def without_flags(cell: str) -> str:
    """A cell without its unreliable-label flag (⚠ ...)."""
    return re.sub(r" ⚠ .*$", "", cell)


def load(results_dir: Path, model: str, task: str) -> dict:
    (path,) = results_dir.glob(f"*/{model}/{task}.json")
    return json.loads(path.read_text())


def legend_line(text: str, needle: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("- ") and needle in line]
    return line[2:]


def sentences(line: str) -> list[str]:
    return [s for s in re.split(r"(?<=\.)\s+(?=[A-Z])", line.strip()) if s]


def test_legend_says_each_way_of_choosing_the_headline_layer_once(board):
    line = legend_line(board, "headline layer is")
    said = sentences(line)
    # two ways here: cross-validated (rsa, abx: "best" and "lowest-error" are one method) and cv_splits 0;
    # the undefined partial RSA (a "no finite score" selection) chose no layer and adds nothing
    assert len(said) == 2, said
    assert "cross-validated over sounds" in said[0] and "100 random halves" in said[0] and "↓" in said[0]
    assert "best layer on all sounds" in said[1] and "optimistic" in said[1]
    assert "no finite score" not in board and "Headline layer: cross-validated" not in board
    committed = build(COMMITTED)
    (only,) = sentences(legend_line(committed, "headline layer is"))
    assert only.startswith("The headline layer is cross-validated over sounds") and only.endswith(".")


def test_one_layer_model_names_its_layer_once(board, results_dir):
    assert board.count("fbank") == 1 and "logmel (one layer, `fbank`)" in board
    for header, rows in tables(board):
        if "logmel" in header:
            cells = [row[header.index("logmel")] for row in rows]
            assert not any("fbank" in c for c in cells), cells
    layer = load(results_dir, TOY, "rsa-material")["scores"]["headline"]["layer"]
    assert layer in ("proj1", "proj2") and f"({layer})" in cell_of(board, TOY, "rsa-material")  # several: named
    assert f"{TOY} (2 layers)" in board


def test_no_table_line_is_wider_than_a_page(results_dir, board):
    """MAX_WIDTH (200 characters) bounds every table line, on the committed example and on 12 models,
    where the tables turn (models as rows) and cut their task columns, keeping every score."""
    assert MAX_WIDTH == 200
    committed = build(COMMITTED, report_url="report/index.html")
    old_widest = 1_100  # the 10-task RSA table this layout replaced
    for text in (committed, board):
        widths = [len(line) for line in text.splitlines() if line.startswith("|")]
        assert widths and max(widths) <= MAX_WIDTH < old_widest
    # the toy board's layout depends on its flags (24 sounds: unreliable labels widen the transfer cells)
    assert tables(committed)[0][0][0] == "model"  # 5 models: tasks as rows would not fit, models as rows
    results = collect(COMMITTED)
    many = []
    for k in range(4):
        for r in results:
            r = copy.deepcopy(r)
            r["model"]["name"] = f"{r['model']['name']}-{k}"
            many.append(r)
    text = render_markdown(many)
    assert max(len(line) for line in text.splitlines() if line.startswith("|")) <= MAX_WIDTH
    found = tables(text)
    assert all(header[0] == "model" for header, _ in found)  # 12 models: models as rows
    cells = {(row[0], task): cell for header, rows in found for row in rows for task, cell in zip(header, row)}
    for r in many:  # rows are model labels: a name this process does not know shows its arguments
        assert cells[(result_label(r), r["task"]["name"])] == score_cell(
            r, show_layer=len(r["scores"]["per_layer"]) > 1)


def test_undefined_and_missing_cells_differ(board, results_dir):
    partial = load(results_dir, "logmel", "partial-rsa-material")
    assert partial["scores"]["headline"]["value"] is None  # a result file exists, its score is undefined
    assert not list(results_dir.glob("*/mfcc/abx-material.json"))  # no file at all
    assert cell_of(board, "logmel", "partial-rsa-material") == UNDEFINED
    assert cell_of(board, "mfcc", "abx-material") == MISSING
    assert UNDEFINED != MISSING
    line = legend_line(board, "no result file")
    note = partial["scores"]["per_layer"][0]["note"]
    assert line.startswith(f"{MISSING} means no result file") and f"{UNDEFINED} means the result file exists" in line
    assert f"logmel (1 task): {note}; logmel is its own control." in line


def test_transfer_cell_shows_chance_and_the_no_transfer_baseline_of_the_result_file(board, results_dir):
    task = "transfer-material-full-to-hollow"
    for model in ("logmel", "mfcc", TOY):
        scores = load(results_dir, model, task)["scores"]
        cell = without_flags(cell_of(board, model, task))
        assert reference_of(board, task, "chance") == format_score(scores["chance"]["accuracy"], 3)
        (at_headline,) = [e for e in scores["per_layer"] if e["layer"] == scores["headline"]["layer"]]
        baseline = at_headline["baseline_accuracy"]
        assert baseline is not None and cell.endswith(f"; baseline {format_score(baseline, 3)}"), cell
        assert cell.replace("**", "").startswith(format_score(scores["headline"]["value"], 3))
    line = legend_line(board, "*baseline* is the no-transfer probe")
    assert "majority-class share" in line
    # 24 sounds leave one test class of hollow-to-full with a single sound: no baseline, and the legend says why
    scores = load(results_dir, "logmel", "transfer-material-hollow-to-full")["scores"]
    note = scores["per_layer"][0]["baseline_note"]
    assert scores["per_layer"][0]["baseline_accuracy"] is None
    assert without_flags(cell_of(board, "logmel", "transfer-material-hollow-to-full")).endswith("; no baseline")
    assert f"No baseline: {note} (transfer-material-hollow-to-full)." in line


def test_headings_link_to_the_report_section_of_their_table(board, results_dir):
    result = load(results_dir, "logmel", "rsa-material")
    name, fp = result["dataset"]["name"], result["dataset"]["fingerprint"]
    assert anchor(name, fp, "rsa-partial") == f"impacts-{fp[:8]}-rsa-partial"
    assert anchor("hf:Org/Impacts", fp, "abx") == f"hf_org__impacts-{fp[:8]}-abx"  # as its result folder, lowercase
    headings = [line for line in board.splitlines() if line.startswith("### ")]
    expected = [f"### [{title}](report/index.html#{anchor(name, fp, e)})" for title, e in
                (("RSA", "rsa"), ("Partial RSA", "rsa-partial"), ("Transfer", "transfer"), ("ABX", "abx"))]
    assert headings == expected
    assert "](" not in "".join(line for line in build(results_dir).splitlines() if line.startswith("#"))
    with pytest.raises(ValueError):
        anchor(name, fp, "RSA partial")


def test_best_group_in_bold_as_audioprobe_compare_finds_it():
    committed = build(COMMITTED)
    assert "**Bold**: the best group of a task, a confidence set for the best model" in committed
    tied = legend_line(committed, "No model is separated").split("from the best on: ")[1].rstrip(".").split(", ")
    (s,) = compare(COMMITTED, [])["sets"]
    for t in s["tasks"]:
        in_group = dict(zip(t["models"], t["best_group"]["in_group"]))
        everyone = all(in_group.values())  # nobody stands out: nothing in bold, and the legend lists the task
        for model, cell in ((m, cell_of(committed, m, t["task"])) for m in t["models"]):
            assert cell.startswith("**") == (in_group[model] and not everyone), (t["task"], model, cell)
        assert (t["task"] in tied) == everyone


def test_cells_read_against_an_unreliable_target_or_label_are_flagged(board, results_dir):
    """24 sounds: the listeners' split halves do not agree on material or hollowness well enough (the 2.5th
    percentile of the split-half reliability is below the floor): every cell on those tasks says which
    label, the ceiling row says unreliable, no share of the ceiling is printed, the legend names the labels."""
    rsa = load(results_dir, "logmel", "rsa-material")["scores"]
    nc = rsa["noise_ceiling"]
    assert nc["reliable"] is False and nc["interval"][0] < nc["reliability_floor"] <= nc["interval"][1] + 1
    assert rsa["headline_over_ceiling"]["ratio"] is None and "unreliable" in rsa["headline_over_ceiling"]["reason"]
    assert cell_of(board, "logmel", "rsa-material").endswith(" ⚠ target")
    assert not any("attainable" in line for line in board.splitlines() if line.startswith("|"))
    assert reference_of(board, "rsa-material", "ceiling").endswith("(unreliable)")
    transfer = load(results_dir, "logmel", "transfer-material-full-to-hollow")["scores"]["label_reliability"]
    assert {k: v["dimension"] for k, v in transfer.items()} == {"target": "material", "split": "hollowness"}
    flags = [role for role, b in transfer.items() if b["reliable"] is False]
    assert flags and cell_of(board, "logmel", "transfer-material-full-to-hollow").endswith(" ⚠ " + ", ".join(flags))
    line = legend_line(board, "*unreliable*")
    assert "transfer-material-full-to-hollow: target label 'material' unreliable" in line
    # the label's reliability is the one an rsa task with a modal target on that dimension reports
    modal = load(results_dir, "logmel", "abx-material")["scores"]["label_reliability"]["labels"]
    assert modal["value"] == pytest.approx(transfer["target"]["value"]) and modal["dimension"] == "material"
