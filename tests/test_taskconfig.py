"""Task YAML validation, include files and task selection."""

from __future__ import annotations

import pytest

from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.taskconfig import discover_tasks, load_task, select_tasks

GOOD = "task: t1\nversion: 2\ndescription: a task\ndataset: impacts\ntype: rsa\ndimensions: material\ntags: [x, y]\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_and_include(tmp_path):
    write(tmp_path, "_base.yaml", "dataset: impacts\ntype: rsa\nsmoothing: 2.0\n")
    t = load_task(write(tmp_path, "t.yaml", "include: _base.yaml\ntask: t\nversion: 1\ndescription: d\n"
                        "dimensions: material\nsmoothing: 1\n"))
    assert t.params["smoothing"] == 1.0  # the task file wins over the include, ints accepted as floats
    assert t.params["pooling"] == "mean" and t.dataset == "impacts"
    assert t.tags == ()


def test_config_hash_follows_parameters(tmp_path):
    a = load_task(write(tmp_path, "a.yaml", GOOD))
    b = load_task(write(tmp_path, "b.yaml", GOOD.replace("dimensions: material", "dimensions: material\nsmoothing: 1.0")))
    c = load_task(write(tmp_path, "c.yaml", GOOD.replace("version: 2", "version: 3")))
    d = load_task(write(tmp_path, "d.yaml", GOOD))
    assert a.config_hash() == d.config_hash()
    assert len({a.config_hash(), b.config_hash(), c.config_hash()}) == 3


@pytest.mark.parametrize("text, needles", [
    (GOOD + "colour: red\n", ["'colour'", "allowed:"]),
    (GOOD.replace("version: 2", "version: two"), ["'version'", "int"]),
    (GOOD.replace("task: t1\n", ""), ["missing required key 'task'"]),
    (GOOD.replace("dimensions: material\n", ""), ["'dimensions'", "required"]),
    (GOOD + "pooling: median\n", ["'pooling'", "mean, max, mean+std"]),
    (GOOD + "smoothing: 0\n", ["'smoothing'", "> 0"]),
    (GOOD.replace("type: rsa", "type: rsaa"), ["task type", "Did you mean 'rsa'"]),
    ("- just\n- a list\n", ["mapping"]),
    ("task: [unclosed\n", ["not valid YAML"]),
    (GOOD + "include: nowhere.yaml\n", ["nowhere.yaml", "cannot read"]),
])
def test_bad_files_name_file_and_key(tmp_path, text, needles):
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(AudioprobeError) as info:
        load_task(path)
    msg = str(info.value)
    assert str(path) in msg
    for needle in needles:
        assert needle in msg


def test_builtin_tasks_all_validate():
    tasks = discover_tasks()
    assert {"rsa-material", "rsa-hollowness", "rsa-extent", "rsa-average"} <= set(tasks)
    assert all(t.description for t in tasks.values())


def test_selection_by_name_tag_glob_and_all(tmp_path):
    write(tmp_path, "t1.yaml", GOOD)
    write(tmp_path, "t2.yaml", GOOD.replace("t1", "t2").replace("[x, y]", "[y]"))
    tasks = discover_tasks([tmp_path])
    assert [t.name for t in select_tasks("t2", tasks)] == ["t2"]
    assert [t.name for t in select_tasks("x", tasks)] == ["t1"]
    assert {t.name for t in select_tasks("y", tasks)} == {"t1", "t2"}
    assert [t.name for t in select_tasks("t?", tasks)] == ["t1", "t2"]
    assert [t.name for t in select_tasks("t2,t1,t2", tasks)] == ["t2", "t1"]
    assert len(select_tasks("all", tasks)) == len(tasks)
    with pytest.raises(UnknownNameError, match="Did you mean .*'t1'"):
        select_tasks("t3", tasks)


def test_duplicate_task_names_are_an_error(tmp_path):
    write(tmp_path, "one.yaml", GOOD)
    write(tmp_path, "two.yaml", GOOD)
    with pytest.raises(AudioprobeError, match="defined twice"):
        discover_tasks([tmp_path])


def test_set_groups_is_the_one_plan_of_a_run():
    """The runner (task_sets) and sweeps (set_groups) group a run's work the same way: every --data set
    with every task, or each task on the set its file names, in first-appearance order; tasks naming
    no set and given none come last under None."""
    from audioprobe.taskconfig import TaskConfig, set_groups, task_sets

    def task(name, dataset):
        return TaskConfig(name=name, version=1, description="", tags=(), dataset=dataset, type="rsa", params={},
                          path=None)

    a, b, c, d = task("a", "impacts"), task("b", "study"), task("c", "impacts"), task("d", None)
    assert set_groups([a, b, c, d], None) == [("impacts", (a, c)), ("study", (b,)), (None, (d,))]
    assert set_groups([a, b, d], ["x", "y"]) == [("x", (a, b, d)), ("y", (a, b, d))]
    assert set_groups([a, d], "x") == [("x", (a, d))]
    assert task_sets(d, None) == [] and task_sets(a, None) == ["impacts"] and task_sets(a, ("x",)) == ["x"]
