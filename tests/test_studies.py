"""Studies are folders of data, and task types present themselves: the leaderboard, the figures and the
report take a study's words and order from its study.yaml and a type's from its Presentation, and hold
none of their own (CONTRIBUTING.md, "Add a study")."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from audioprobe import leaderboard as leaderboard_package
from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard.build import render_markdown
from audioprobe.leaderboard.figure_kinds import FIGURE_KINDS
from audioprobe.studies import STUDIES, Study, all_studies, builtin_task_dir, study_of, task_files, task_rank
from audioprobe.tasktypes import TASK_TYPES, presentation
from tests.test_contributing import code_blocks

#: the committed example's results, found through the package (the repository's layout and an installed one)
COMMITTED = Path(leaderboard_package.__file__).resolve().parent / "synthetic-baselines"


def committed(task: str, model: str = "logmel") -> dict:
    (path,) = COMMITTED.glob(f"*/{model}/{task}.json")
    return json.loads(path.read_text())


def test_every_builtin_task_belongs_to_one_study_and_each_study_names_what_exists():
    studies = {s.name: s for s in all_studies()}
    assert {"bost2024", "similarity"} <= set(studies)
    names = {}
    for f in task_files(builtin_task_dir()):
        import yaml

        names[yaml.safe_load(f.read_text())["task"]] = f
    for task, f in names.items():
        owners = [s.name for s in studies.values() if task in s.tasks]
        assert len(owners) == 1, (task, owners)
        assert f.is_relative_to(studies[owners[0]].folder)
    experiments = {e.key: e for t in TASK_TYPES for e in presentation.presentation(t).experiments}
    for study in studies.values():
        assert set(study.sections) <= set(experiments), study.name
        for exp, kinds in study.figures.items():
            assert set(kinds) <= set(experiments[exp].figures), (study.name, exp)  # kinds the type draws
            assert all(kind in FIGURE_KINDS for kind in kinds)
        assert set(study.task_order) <= study.tasks
    assert studies["bost2024"].contrasts.is_dir()


def test_every_builtin_type_presents_itself():
    for name in TASK_TYPES:
        shown = TASK_TYPES[name].presentation
        assert shown is not None, name
        for e in shown.experiments:
            assert e.title and e.description and e.intro, (name, e.key)
            assert all(kind in FIGURE_KINDS for kind in e.figures)


@pytest.mark.parametrize("text, problem", [
    ("title: t\n", "missing required key 'study'"),
    ("study: s\ntitle: t\nsurprise: 1\n", "unknown key(s) 'surprise'"),
    ("study: s\ntitle: t\nsections: {rsa: {intro: x}}\n", "'sections.rsa.title'"),
    ("study: s\ntitle: t\nfigures: {rsa: {rsa-perceived: {name: f}}}\n", "'figures.rsa.rsa-perceived.title'"),
    ("study: s\ntitle: t\norder: {dimensions: material}\n", "'order.dimensions' must be a list"),
    ("study: s\ntitle: t\norder: {splits: []}\n", "key 'order' takes"),
    ("- a list\n", "a mapping"),
])
def test_a_bad_study_file_names_the_file_and_the_key(tmp_path, text, problem):
    (tmp_path / "study.yaml").write_text(text)
    with pytest.raises(AudioprobeError) as err:
        Study.from_folder(tmp_path)
    assert problem in str(err.value) and str(tmp_path / "study.yaml") in str(err.value)


def test_a_folder_without_study_file_says_what_is_missing(tmp_path):
    with pytest.raises(AudioprobeError, match="needs a study.yaml"):
        Study.from_folder(tmp_path)


def test_the_guides_study_file_is_valid(tmp_path):
    (block,) = code_blocks("# Add a study", "yaml")
    (tmp_path / "study.yaml").write_text(block)
    study = Study.from_folder(tmp_path)
    assert study.name == "mystudy" and study.figure("rsa", "rsa-perceived").name == "fig1"
    assert study.task_order == ("task-a", "task-b") and study.sections["rsa"].title == "Experiment 1: ..."


def test_a_study_orders_its_panels_and_a_task_of_no_study_is_ordered_by_name():
    bost = STUDIES["bost2024"]
    assert study_of(["rsa-material", "transfer-material-1D2D-to-3D"]) is bost
    assert study_of(["rsa-material", "rsa-rdm"]) is None and study_of(["my-own-task"]) is None
    rank = lambda study, task, dims: task_rank(study, task, dims)  # noqa: E731
    dims = {"rsa-average": ("material", "hollowness"), "rsa-extent": ("extent",), "rsa-material": ("material",)}
    assert sorted(dims, key=lambda t: rank(bost, t, dims[t])) == ["rsa-average", "rsa-material", "rsa-extent"]
    assert sorted(dims, key=lambda t: rank(None, t, dims[t])) == ["rsa-average", "rsa-extent", "rsa-material"]
    splits = ["transfer-material-full-to-hollow", "transfer-material-1D2D-to-3D", "transfer-material-hollow-to-full"]
    assert sorted(splits, key=lambda t: rank(bost, t, ())) == [
        "transfer-material-1D2D-to-3D", "transfer-material-hollow-to-full", "transfer-material-full-to-hollow"]


def test_section_words_come_from_the_study_only_when_every_result_is_its_own():
    from audioprobe.leaderboard.report import section_text

    paper = committed("rsa-material")
    own = copy.deepcopy(paper)
    own["task"]["name"] = "my-rsa-material"
    assert section_text("rsa", [paper]) == (STUDIES["bost2024"].sections["rsa"].title,
                                            STUDIES["bost2024"].sections["rsa"].intro)
    generic = presentation.experiment("rsa")
    assert section_text("rsa", [own]) == (generic.title, generic.intro)
    assert section_text("rsa", [paper, own]) == (generic.title, generic.intro)  # mixed: no study's words
    partial = committed("partial-rsa-material")
    title, intro = section_text("rsa-partial", [partial])  # the control's name: the type's words for its results
    assert title.startswith("Appendix B") and "(logmel: spectrogram distances)" in intro


def test_texts_take_their_words_from_the_task_type():
    """Placeholders in an experiment's texts are filled by its type's `words`: partial RSA names its control
    models; a placeholder that no type fills reads as nothing (not an error)."""
    partial = committed("partial-rsa-material")
    other = copy.deepcopy(partial)
    other["task"]["config"]["params"]["control"] = "mfcc"
    other["scores"]["control"]["model"] = "mfcc"
    assert presentation.of(partial).words([partial, other]) == {"control": "logmel", "controls": "logmel, mfcc"}
    assert presentation.fill("({controls}) and ({control}) {unknown}", [other, partial]) == "(logmel, mfcc) and (mfcc) "
    plain = committed("rsa-material")
    assert presentation.of(plain).words([plain])["control"] == ""
    assert presentation.fill("x {control}", [committed("abx-material")]) == "x "  # a type with no words


def test_experiments_come_from_the_type_and_an_unknown_type_is_shown_generically():
    assert presentation.experiment_of(committed("rsa-material")) == "rsa"
    assert presentation.experiment_of(committed("partial-rsa-material")) == "rsa-partial"
    assert presentation.experiment_of(committed("transfer-material-1D2D-to-3D")) == "transfer"
    assert presentation.experiment_order(["abx", "zeta", "transfer", "rsa-partial", "rsa"]) == [
        "rsa", "rsa-partial", "transfer", "abx", "zeta"]
    mystery = copy.deepcopy(committed("abx-material"))
    mystery["task"]["type"] = "Mystery Type"  # a plugin's result, read where the plugin is not installed
    assert presentation.experiment_of(mystery) == "mystery-type"
    text = render_markdown([mystery])
    assert "### Mystery Type" in text and "chance" not in text.split("### Mystery Type")[1].split("\n\n")[1]


def test_a_cell_shows_what_its_type_adds():
    r = committed("transfer-material-1D2D-to-3D")
    (values,) = [presentation.of(r).cell_values(r)]
    assert set(values) == {"baseline"}
    text = render_markdown([r])
    assert ("; no baseline" in text) if values["baseline"] is None else (f"; baseline {values['baseline']:.3f}" in text)


def test_a_figure_kind_added_to_the_registry_draws_the_tasks_it_takes(tmp_path, monkeypatch):
    """Add a figure kind by doing it: one function and one FIGURE_KINDS entry, named in the type's
    Experiment.figures; it draws the tasks it takes (its sidecar holds their results) and `profiles` the rest."""
    import dataclasses
    import shutil

    pytest.importorskip("matplotlib")
    from audioprobe.leaderboard import figures as F
    from audioprobe.leaderboard.report import write_report

    src = next(COMMITTED.glob("impacts-*"))
    dest = tmp_path / "results" / src.name
    for model in ("logmel", "mfcc"):
        (dest / model).mkdir(parents=True)
        for task in ("abx-material", "abx-material-by-extent"):
            for suffix in (".json", ".replicates.npz"):
                shutil.copy(src / model / f"{task}{suffix}", dest / model / f"{task}{suffix}")
    shutil.copy(src / "dataset.json", dest / "dataset.json")

    def plain_abx_figures(request):
        """Only the ABX tasks not split by another dimension."""
        mine = {t: rs for t, rs in request.by_task.items() if not F.params(rs[0]).get("by")}
        name, title = request.name_and_title("plain-abx", f"{request.experiment}-plain", "ABX without strata")
        return [F.profiles_figure(name, title, mine, request.styles, request.synthetic, "")], set(mine)

    FIGURE_KINDS.add("plain-abx", plain_abx_figures)
    abx, shown = TASK_TYPES["abx"], TASK_TYPES["abx"].presentation
    monkeypatch.setitem(TASK_TYPES, "abx", dataclasses.replace(abx, presentation=dataclasses.replace(
        shown, experiments=(dataclasses.replace(shown.experiments[0], figures=("plain-abx", "profiles")),))))
    try:
        write_report(tmp_path / "results", tmp_path / "report")
    finally:
        del FIGURE_KINDS["plain-abx"]
    sidecars = {p.name.split("__", 1)[1]: json.loads(p.read_text()) for p in (tmp_path / "report" / "figures").glob("*__*.json")}
    assert [p["task"] for p in sidecars["abx-plain.json"]["panels"]] == ["abx-material"]
    assert [p["task"] for p in sidecars["abx-1.json"]["panels"]] == ["abx-material-by-extent"]  # the study's name


def test_the_rsa_and_transfer_presentations_read_their_results_fields():
    """What the leaderboard and the figures ask a type, pinned on committed results (the tables and figures
    built from them are checked elsewhere; here each answer itself)."""
    rsa_r, avg = committed("rsa-material"), committed("rsa-average")
    shown = presentation.of(rsa_r)
    assert shown.y_label(rsa_r) == "RSA (Pearson)"
    spearman = copy.deepcopy(rsa_r)
    spearman["task"]["config"]["params"]["comparison"] = "spearman"
    assert shown.y_label(spearman) == "RSA (Spearman)"
    assert shown.reference(rsa_r) == rsa_r["scores"]["noise_ceiling"]["value"] is not None
    assert shown.dimensions(rsa_r) == ("material",) and len(shown.dimensions(avg)) == 3
    modal, other = committed("rsa-modal-material"), copy.deepcopy(committed("rsa-extent"))
    del other["task"]["config"]["params"]["target"]
    groups = shown.table_groups([avg, modal, rsa_r, other])
    assert [heading.split(" ")[0] for heading, _ in groups] == ["**Perceived**", "**Modal", "**Target**"]
    assert groups[0][1] == ["rsa-material", "rsa-average"]  # single dimensions before their average
    assert groups[2] == ("**Target** (`?`)", ["rsa-extent"])
    transfer_r = committed("transfer-material-1D2D-to-3D")
    shown = presentation.of(transfer_r)
    assert shown.reference(transfer_r) == transfer_r["scores"]["chance"]["accuracy"]
    params = transfer_r["task"]["config"]["params"]
    assert shown.panel_title(transfer_r) == (f"{', '.join(params['train_values'])} → {', '.join(params['test_values'])} "
                                            f"({params['split_dimension']})")
    abx_r = committed("abx-material-by-extent")
    assert presentation.of(abx_r).panel_title(abx_r) == "material, within extent\n(abx-material-by-extent)"
