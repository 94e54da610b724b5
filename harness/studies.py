"""Studies: a published set of experiments as one declarative folder of data.

A study folder holds the study's task files (any depth), its contrast files (`contrasts/`) and a
`study.yaml` that says how its results are shown: the report's section titles and reading guides by
experiment, the names and titles of its figures by figure kind, and the order of its panels. The
leaderboard, the figures and the report hold no study's text: they ask the study its results' tasks
belong to, and show the results of tasks that belong to none generically (as their task type says).

The built-in studies are the folders of `tasks/` that hold a `study.yaml` (the paper's, `bost2024`;
the similarity studies, `similarity`). A package adds one without a pull request through the entry
point group `audioprobe.studies` (NAME = "module:STUDY", a `Study` made with `Study.from_folder`).
`study.yaml` is data: read by the safe reader (`files.read_config_yaml`), validated here, never run.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources
from pathlib import Path
from typing import Any

from audioprobe.errors import AudioprobeError
from audioprobe.files import read_config_yaml
from audioprobe.registry import Registry

STUDY_FILE = "study.yaml"
#: a folder of this name holds contrasts between tasks, not tasks
CONTRASTS_FOLDER = "contrasts"

#: study.yaml's keys: (type, required, meaning)
KEYS = {
    "study": (str, True, "the study's name (its folder's name)"),
    "title": (str, True, "the study, in words"),
    "citation": (str, False, "the reference readers cite"),
    "sections": (dict, False, "by experiment key (rsa, transfer, ...): {title, intro} of the report's section"),
    "figures": (dict, False, "by experiment key, then figure kind: {name, title} of the figure"),
    "order": (dict, False, "{dimensions: [...], tasks: [...]}: the order of panels and sub-tables"),
}


def task_files(root: Path) -> list[Path]:
    """The task files under `root` (a file or a folder): every `*.yaml` but defaults (`_*.yaml`), study
    files and contrast files. The one rule of what a task file is, for discovery and for studies."""
    root = Path(root)
    if root.is_file():
        return [root]
    return [f for f in sorted(root.rglob("*.yaml"))
            if not f.name.startswith("_") and f.name != STUDY_FILE
            and CONTRASTS_FOLDER not in f.relative_to(root).parts[:-1]]


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    intro: str = ""


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    name: str
    title: str


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AudioprobeError(f"{where}: key {key!r} must be a non-empty string, got {value!r}.")
    return value


def _mapping(where: str, key: str, value: Any) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise AudioprobeError(f"{where}: key {key!r} must be a mapping of names to values, got {value!r}.")
    return value


def _names(where: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AudioprobeError(f"{where}: key {key!r} must be a list of names, got {value!r}.")
    return tuple(value)


@dataclasses.dataclass(frozen=True)
class Study:
    """One study folder. Its task names are read on first use (the folder's task files' `task:` keys)."""

    name: str
    title: str
    folder: Path
    citation: str = ""
    sections: dict[str, Section] = dataclasses.field(default_factory=dict)
    figures: dict[str, dict[str, FigureSpec]] = dataclasses.field(default_factory=dict)
    dimension_order: tuple[str, ...] = ()
    task_order: tuple[str, ...] = ()

    @classmethod
    def from_folder(cls, folder: Path) -> Study:
        """Read and validate `folder/study.yaml`; every error names the file and the key."""
        folder = Path(folder)
        path = folder / STUDY_FILE
        where = str(path)
        if not path.is_file():
            raise AudioprobeError(f"{folder}: a study folder needs a {STUDY_FILE} (docs: CONTRIBUTING.md, "
                                  f"\"Add a study\").")
        data = read_config_yaml(path, "study file", folder)
        if not isinstance(data, dict):
            raise AudioprobeError(f"{where}: a study file is a mapping of keys to values.")
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise AudioprobeError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                                  f"{', '.join(KEYS)}.")
        for key, (_, required, meaning) in KEYS.items():
            if required and key not in data:
                raise AudioprobeError(f"{where}: missing required key {key!r} ({meaning}).")
        sections = {}
        for exp, spec in _mapping(where, "sections", data.get("sections", {})).items():
            spec = _mapping(where, f"sections.{exp}", spec)
            sections[exp] = Section(_text(where, f"sections.{exp}.title", spec.get("title")),
                                    _text(where, f"sections.{exp}.intro", spec["intro"]) if "intro" in spec else "")
        figures: dict[str, dict[str, FigureSpec]] = {}
        for exp, kinds in _mapping(where, "figures", data.get("figures", {})).items():
            for kind, spec in _mapping(where, f"figures.{exp}", kinds).items():
                spec = _mapping(where, f"figures.{exp}.{kind}", spec)
                figures.setdefault(exp, {})[kind] = FigureSpec(
                    _text(where, f"figures.{exp}.{kind}.name", spec.get("name")),
                    _text(where, f"figures.{exp}.{kind}.title", spec.get("title")))
        order = _mapping(where, "order", data.get("order", {}))
        if set(order) - {"dimensions", "tasks"}:
            raise AudioprobeError(f"{where}: key 'order' takes 'dimensions' and 'tasks', got {sorted(order)}.")
        return cls(name=_text(where, "study", data["study"]), title=_text(where, "title", data["title"]),
                   folder=folder, citation=_text(where, "citation", data["citation"]) if "citation" in data else "",
                   sections=sections, figures=figures,
                   dimension_order=_names(where, "order.dimensions", order.get("dimensions", [])),
                   task_order=_names(where, "order.tasks", order.get("tasks", [])))

    @functools.cached_property
    def tasks(self) -> frozenset[str]:
        """The names of the study's tasks (the `task:` key of each of its task files)."""
        names = set()
        for f in task_files(self.folder):
            data = read_config_yaml(f, "task file", self.folder)
            if isinstance(data, dict) and isinstance(data.get("task"), str):
                names.add(data["task"])
        return frozenset(names)

    @property
    def contrasts(self) -> Path:
        """The study's contrast files' folder (it may not exist)."""
        return self.folder / CONTRASTS_FOLDER

    def figure(self, experiment: str, kind: str) -> FigureSpec | None:
        return self.figures.get(experiment, {}).get(kind)

    def task_rank(self, task: str, dimensions: tuple[str, ...]) -> tuple:
        """Where a task's panel and row come: listed tasks first in their order, then by the study's order of
        dimensions (several dimensions: as "average"), then by name."""
        listed = self.task_order.index(task) if task in self.task_order else len(self.task_order)
        dim = "average" if len(dimensions) > 1 else (dimensions[0] if dimensions else "")
        known = self.dimension_order
        return (listed, (known.index(dim) if dim in known else len(known), dim, dimensions), task)


def _check_study(name: str, obj: Any) -> str:
    if not isinstance(obj, Study):
        return f"{obj!r} is not a Study (audioprobe.studies.Study.from_folder)"
    return "" if obj.name == name else f"the study is named {obj.name!r}; its entry point must be named so too"


def builtin_task_dir() -> Path:
    return Path(str(resources.files("audioprobe.tasks")))


#: study name -> Study: the built-in folders of tasks/ with a study.yaml, and plugins (entry-point group
#: `audioprobe.studies`)
STUDIES: Registry[Study] = Registry("study", "audioprobe.studies", check=_check_study,
                                    hint="Studies are the folders of tasks/ with a study.yaml, and plugins.")


def _add_builtin() -> None:
    """Register the folders of tasks/ that hold a study.yaml (read now: two small files; their task names are
    read on first use)."""
    for path in sorted(builtin_task_dir().glob(f"*/{STUDY_FILE}")):
        study = Study.from_folder(path.parent)
        if study.name != path.parent.name:
            raise AudioprobeError(f"{path}: key 'study' is {study.name!r}; it must be the folder's name "
                                  f"({path.parent.name!r}).")
        STUDIES.add(study.name, study, study.title)


_add_builtin()


def all_studies() -> list[Study]:
    """Every study: the built-in ones and the plugins'."""
    return [STUDIES[name] for name in STUDIES.names()]


def plugin_study_folders() -> list[Path]:
    """The folders of studies that plugins add (their task files are tasks like the built-in ones)."""
    builtin = builtin_task_dir().resolve()
    return [s.folder for s in all_studies() if builtin not in s.folder.resolve().parents]


def study_of(tasks) -> Study | None:
    """The one study all these task names belong to (None: none, or several)."""
    tasks = set(tasks)
    found = [s for s in all_studies() if tasks and tasks <= s.tasks]
    return found[0] if len(found) == 1 else None


def task_rank(study: Study | None, task: str, dimensions: tuple[str, ...]) -> tuple:
    """A task's place among its study's (`Study.task_rank`), or, with no study, by its dimensions and name."""
    return (study or _UNORDERED).task_rank(task, dimensions)


_UNORDERED = Study("", "", Path("."))
