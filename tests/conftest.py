"""Shared fixtures. Nothing here touches the network: the Hub is faked with a local cache."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Each test gets its own activation cache and an offline, empty Hub cache."""
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path_factory.mktemp("cache")))
    hub = tmp_path_factory.mktemp("hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(hub), raising=False)
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True, raising=False)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty fake Hub cache; fill it with tests.hubfake.add_to_hub_cache."""
    import huggingface_hub.constants as hc

    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(hub), raising=False)
    return hub


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def make_set():
    """The stimulus-set factory (tests/factories.py): `make_set(categories, truth=..., responses=...)`."""
    from tests.factories import make_set

    return make_set
