"""Plugins: a package installed beside audioprobe adds a model, a task type, a stimulus set and a measure
through entry points, and the command line uses them with no change to audioprobe (CONTRIBUTING.md,
"Add a plugin": the package is built from the guide's own blocks, installed by pip, run by the CLI).
Also the Registry type itself: lazy entries, did-you-mean, plugin entries that never shadow built-ins."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.registry import Registry
from tests.test_contributing import code_blocks

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _yaml_name(block: str) -> str:
    """The file name of one of the guide's YAML blocks: study.yaml, or the task's name."""
    keys = dict(line.split(":", 1) for line in block.splitlines() if ":" in line and not line.startswith(" "))
    return "study.yaml" if "study" in keys else f"{keys['task'].strip()}.yaml"


def build_wheel(folder: Path) -> Path:
    """The guide's plugin as a wheel (written here: a build backend would need the network or setuptools), with
    what setuptools would put in it: the Python modules, and the data files only where the guide's
    `[tool.setuptools.package-data]` names them (a study folder left out of the wheel cannot load)."""
    (pyproject,) = code_blocks("# Add a plugin", "toml")
    init, study = code_blocks("# Add a plugin", "python")
    (knn,) = code_blocks("# Add a task type", "python")
    toml = tomllib.loads(pyproject)
    project, data = toml["project"], toml.get("tool", {}).get("setuptools", {}).get("package-data", {})
    dist = project["name"].replace("-", "_")
    info = f"{dist}-{project['version']}.dist-info"
    entry_points = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                           for group, eps in project["entry-points"].items())
    files = {
        "toyplug/__init__.py": init, "toyplug/knn.py": knn, "toyplug/study.py": study,
        **{f"toyplug/pitch/{_yaml_name(block)}": block for block in code_blocks("# Add a plugin", "yaml")
           if any(fnmatch.fnmatch(f"pitch/{_yaml_name(block)}", glob) for glob in data.get("toyplug", []))},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests/test_plugins.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": entry_points,
    }
    wheel = folder / f"{dist}-{project['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        record = []
        for name, text in files.items():
            zf.writestr(name, text)
            record.append(_record_line(name, text.encode()))
        zf.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return wheel


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """An environment in which the guide's plugin is installed (pip, into a folder on PYTHONPATH)."""
    root = tmp_path_factory.mktemp("plugin")
    wheel = build_wheel(root)
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, text=True)
    assert (target / "toyplug" / "__init__.py").is_file() and (target / "toyplug" / "pitch" / "study.yaml").is_file()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")])))
    return env, target


def cli(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "audioprobe.cli", *args], env=env, capture_output=True, text=True,
                          cwd=cwd)


def test_a_plugin_adds_names_that_list_without_importing_it(plugin_env):
    env, _ = plugin_env
    for kind, name in (("models", "frame-energy"), ("datasets", "chirps"), ("tasks", "knn-pitch")):
        out = cli(env, "list", kind)
        assert out.returncode == 0, out.stderr
        assert name in out.stdout, out.stdout
    code = ("import sys; from audioprobe.tasktypes import TASK_TYPES; from audioprobe.stimuli import DATASETS; "
            "from audioprobe.metrics.similarity import MEASURES; "
            "assert 'knn' in TASK_TYPES and 'chirps' in DATASETS and 'distance_pearson' in MEASURES; "
            "assert 'toyplug' not in sys.modules, 'listing imported the plugin'")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_a_plugin_runs_from_the_command_line(plugin_env, tmp_path):
    """The plugin's model on the plugin's set, through the plugin's task type and a built-in type asking for
    the plugin's measure; the numbers equal the plugin's functions on features computed here."""
    env, target = plugin_env
    out = tmp_path / "out"
    run = cli(env, "--model", "frame-energy", "--tasks", "knn-pitch,rsa-pitch", "--output-dir", str(out),
              "--save-activations", str(tmp_path / "acts"))  # the tasks: the plugin study's task files
    assert run.returncode == 0, run.stderr
    knn = json.loads(next(out.rglob("knn-pitch.json")).read_text())
    rsa = json.loads(next(out.rglob("rsa-pitch.json")).read_text())
    assert knn["model"]["name"] == "frame-energy" and knn["dataset"]["name"] == "chirps"
    assert knn["dataset"]["synthetic"] is True

    sys.path.insert(0, str(target))
    try:
        import toyplug
        from scipy.spatial.distance import cdist, pdist, squareform

        from audioprobe.cache import load_layers
        from audioprobe.metrics import geometry as rsa_metrics
        from audioprobe.metrics.probing import modal_labels

        stimset = toyplug.chirps()
        (npz,) = (tmp_path / "acts").rglob("activations.npz")
        pooled, _ = load_layers(npz)
        # knn: the nearest other sound's pitch class (cosine distance), as the plugin's task type defines it
        codes = np.array([{"low": 0, "high": 1}[c] for c in modal_labels(stimset.judgments["pitch"], ["low", "high"])])
        for row in knn["scores"]["per_layer"]:
            d = cdist(pooled[row["layer"]], pooled[row["layer"]], "cosine")
            np.fill_diagonal(d, np.inf)
            assert row["score"] == pytest.approx(np.mean(codes[d.argmin(1)] == codes), abs=1e-12)
        # the measure: the plugin's function on the model's and the target's distances
        target_rdm = rsa_metrics.symmetric_kl_rdm(stimset.judgments["pitch"], 0.5)  # rsa: target kl, smoothing 0.5
        for row in rsa["scores"]["measures"]["distance_pearson"]["per_layer"]:
            model = squareform(pdist(pooled[row["layer"]], "cosine"))
            assert row["value"] == pytest.approx(toyplug.distance_pearson(model, squareform(target_rdm)), abs=1e-9)
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m == "toyplug" or m.startswith("toyplug.")]:
            del sys.modules[name]


def test_a_plugin_study_names_its_sections_and_figures(plugin_env, tmp_path):
    """A second study is a second folder: the plugin's study.yaml words the report's sections and names its
    figures; its task type's presentation heads the leaderboard's table; nothing of the paper is said."""
    env, _ = plugin_env
    out = tmp_path / "out"
    assert cli(env, "--model", "frame-energy", "--tasks", "knn-pitch,rsa-pitch", "--output-dir", str(out)).returncode == 0
    code = ("import sys; from pathlib import Path; from audioprobe.leaderboard.report import write_report; "
            "from audioprobe.leaderboard.build import build; write_report(Path(sys.argv[1]), Path(sys.argv[2])); "
            "print(build(Path(sys.argv[1])))")
    run = subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path / "rep")], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert "### kNN" in run.stdout and "How often a sound's nearest neighbour in a layer has its category." in run.stdout
    page = (tmp_path / "rep" / "report.md").read_text()
    assert "Experiment 1: nearest neighbours of perceived pitch" in page
    assert "Experiment 2: the geometry of perceived pitch" in page
    assert "Do a layer's distances between tones follow the listeners' pitch judgments?" in page
    assert "Do the sounds nearest to each other in a layer share their category?" in page  # the type's own intro
    assert "Tasks of type knn" not in page and "Figure 1A" not in page and "Experiment 2: transfer" not in page
    figures = {p.name.split("__", 1)[1] for p in (tmp_path / "rep" / "figures").glob("*.png")}
    assert {"fig1-1.png", "rsa-perceived.png"} <= figures, figures


def test_a_broken_plugin_is_named_with_exit_2(plugin_env, tmp_path):
    """A plugin whose module cannot be imported: one line naming the plugin, its entry point and the error."""
    env, _ = plugin_env
    broken = tmp_path / "site"
    broken.mkdir()
    info = broken / "audioprobe_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: audioprobe-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[audioprobe.models]\nbroken-model = no_such_module:Model\n"
                                           "[audioprobe.stimulus_sets]\nimpacts = no_such_module:impacts\n")
    env = dict(env, PYTHONPATH=os.pathsep.join([str(broken), env["PYTHONPATH"]]))
    run = cli(env, "--model", "broken-model", "--tasks", "rsa-material", "--limit", "12", "--output-dir",
              str(tmp_path / "out"))
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr
    assert "'broken-model'" in run.stderr and "audioprobe-broken" in run.stderr and "no_such_module" in run.stderr
    # a plugin entry point never replaces a built-in name: the built-in set is listed, with a warning
    listed = cli(env, "list", "datasets")
    assert listed.returncode == 0 and "245 synthetic impact sounds" in listed.stdout
    assert "already registered" in listed.stderr and "audioprobe-broken" in listed.stderr


# ---------------------------------------------------------------------------------------------
# The Registry type


def test_registry_is_lazy_and_suggests_names(tmp_path, monkeypatch):
    (tmp_path / "lazy_target.py").write_text("VALUE = {'loaded': True}\nNOT_A_DICT = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("widget", "audioprobe.test_widgets",
                   check=lambda name, obj: "" if isinstance(obj, dict) else "not a dict")
    reg.add("spinner", "lazy_target:VALUE", "spins")
    assert "spinner" in reg and not reg.entry("spinner").loaded and "lazy_target" not in sys.modules
    assert reg["spinner"] == {"loaded": True} and reg.entry("spinner").loaded
    assert reg.entry("spinner").description == "spins" and list(reg) == ["spinner"] and len(reg) == 1
    with pytest.raises(UnknownNameError, match="unknown widget 'spiner'. Did you mean 'spinner'"):
        reg["spiner"]
    with pytest.raises(ValueError, match="already registered"):
        reg.add("spinner", {"other": 1})
    reg.add("spinner", reg["spinner"])  # the same object again: fine
    reg.add("three", "lazy_target:NOT_A_DICT")
    with pytest.raises(AudioprobeError, match="'three'.*not a dict"):
        reg["three"]
    reg.add("gone", "lazy_target:MISSING")
    with pytest.raises(AudioprobeError, match="'gone' is registered as 'lazy_target:MISSING', which cannot be"):
        reg["gone"]
