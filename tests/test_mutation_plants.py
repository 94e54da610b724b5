"""benchmarks/mutation_plants.py re-plants known bugs by text replacement; a plant whose text has moved
plants nothing and would report a bug as "caught" by a suite that never saw it. Every plant must find
its text exactly once in today's sources, and planting it must change the file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _plants_module():
    spec = importlib.util.spec_from_file_location("mutation_plants", ROOT / "benchmarks" / "mutation_plants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLANTS = _plants_module()


@pytest.mark.parametrize("name", sorted(PLANTS.PLANTS))
def test_plant_matches_todays_source_once(name):
    rel = PLANTS.PLANTS[name][0]
    path = PLANTS.source_path(rel)
    assert path.is_file(), f"plant {name}: {rel} is not a source file any more"
    text = path.read_text(encoding="utf-8")
    old, new = PLANTS.anchor(name, text)
    assert old != new and text.replace(old, new) != text


def test_anchor_refuses_text_that_is_not_there():
    with pytest.raises(ValueError, match="not there once"):
        PLANTS.anchor("alpha-not-halved", "nothing of the kind")
    with pytest.raises(ValueError, match="not there once"):
        text = "alpha = (1.0 - level) / 2.0\n"
        PLANTS.anchor("alpha-not-halved", text * 2)
