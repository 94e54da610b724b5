"""The simulated listener panel: cues measured on constructed sounds, the choice rule, the panel's behaviour."""

from __future__ import annotations

import math

import numpy as np

from audioprobe.stimuli.synthetic import listeners
from audioprobe.stimuli.synthetic.impacts import load_impacts
from audioprobe.stimuli.synthetic.rendering import render_modes

SR = 44100


def modal(freqs, decays, amps=None):
    amps = np.ones(len(freqs)) if amps is None else np.asarray(amps, float)
    return render_modes(np.asarray(freqs, float), amps, np.asarray(decays, float), SR)


def cue(wave, name):
    return listeners.measure_cues(wave, SR)[listeners.CUE_NAMES.index(name)]


def test_band_decay_recovers_known_decay_rates():
    wave = modal([1000.0, 4000.0], [20.0, 80.0], [1.0, 0.5])
    centres, alphas, _ = listeners.band_decay_rates(wave, SR)
    for f, alpha in [(1000.0, 20.0), (4000.0, 80.0)]:
        band = np.argmin(np.abs(np.log(centres / f)))
        assert abs(alphas[band] / alpha - 1) < 0.1, (f, alphas[band])


def test_loss_factor_cue_reads_a_constant_q_sound():
    for eta in (1e-3, 1e-2, 5e-2):
        f = np.array([430.0, 1185.0, 2320.0, 3840.0])
        wave = modal(f, math.pi * f * eta)
        assert abs(cue(wave, "log_loss") - math.log10(eta)) < 0.15, eta


def test_pitch_and_inharmonicity_cues():
    harmonic = modal([200.0, 400.0, 600.0, 800.0], [5.0] * 4)
    bar = modal(300.0 * np.array([1, 2.757, 5.404, 8.933]), [5.0] * 4)
    assert cue(harmonic, "inharmonicity") < 0.02
    assert cue(bar, "inharmonicity") > 0.2
    assert abs(2 ** cue(bar, "log_ratio21") - 2.757) < 0.01
    assert abs(2 ** cue(bar, "log_f_low") - 300.0) < 2.0
    dense = modal(np.geomspace(200, 6000, 30), [10.0] * 30)
    assert cue(dense, "log_density") > cue(bar, "log_density") + 1
    assert cue(modal([500.0], [300.0]), "log_decay_time") < cue(modal([500.0], [3.0]), "log_decay_time") - 1


def test_choice_rule_prefers_the_nearest_prototype():
    cues = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    protos = listeners.Prototypes(cues, ["a", "a", "b", "b"], ["a", "b"])
    p = listeners.choice_probabilities(protos.standardise(cues), protos, np.ones(2), np.zeros(2))
    np.testing.assert_allclose(p.sum(axis=1), 1)
    assert (p[:2, 0] > 0.99).all() and (p[2:, 1] > 0.99).all()
    # a listener's bias shifts the choice between equidistant prototypes
    mid = protos.standardise(np.array([[2.55, 2.5]]))
    p_bias = listeners.choice_probabilities(mid, protos, np.ones(2), np.array([0.0, 1.0]))
    assert p_bias[0, 1] > 0.6


def test_responses_come_from_cues_not_labels(rng):
    """Two sounds with identical cues but different labels get the same response distribution."""
    cues = rng.standard_normal((60, len(listeners.CUE_NAMES)))
    labels = ["x" if i < 30 else "y" for i in range(60)]
    cues[59] = cues[0]  # sound 59 is labelled y but sounds exactly like sound 0 (labelled x)
    resp = listeners.simulate_panel(None, SR, {"d": labels}, {"d": ["x", "y"]}, seed=3, n_listeners=4000, cues=cues)["d"]
    p0, p59 = np.mean(resp[:, 0] == 0), np.mean(resp[:, 59] == 0)
    assert abs(p0 - p59) < 0.04  # 4000 trials: sd of a difference ~0.011
    assert resp.shape == (4000, 60) and resp.min() >= 0 and resp.max() <= 1


def test_panel_is_deterministic_per_seed(rng):
    cues = rng.standard_normal((20, len(listeners.CUE_NAMES)))
    labels = {"d": ["x", "y"] * 10}
    a = listeners.simulate_panel(None, SR, labels, {"d": ["x", "y"]}, seed=1, cues=cues)["d"]
    b = listeners.simulate_panel(None, SR, labels, {"d": ["x", "y"]}, seed=1, cues=cues)["d"]
    c = listeners.simulate_panel(None, SR, labels, {"d": ["x", "y"]}, seed=2, cues=cues)["d"]
    np.testing.assert_array_equal(a, b)
    assert a.shape == (listeners.N_LISTENERS, 20) and not np.array_equal(a, c)


def _kappa(truth, pred, k):
    m = np.zeros((k, k))
    np.add.at(m, (truth, pred), 1)
    m /= m.sum()
    chance = m.sum(1) @ m.sum(0)
    return (np.trace(m) - chance) / (1 - chance)


def test_panel_reproduces_the_qualitative_pattern():
    """Material judged well with the reported confusions, hollowness moderately, extent poorly."""
    s = load_impacts()
    kappa, wrong = {}, {}
    for dim, cats in s.dimensions.items():
        truth = np.array([cats.index(x) for x in s.labels[dim]])
        modal_resp = s.judgments[dim].argmax(axis=1)
        kappa[dim] = _kappa(truth, modal_resp, len(cats))
        wrong[dim] = np.mean(modal_resp != truth)
        if dim == "material":
            conf = np.zeros((len(cats), len(cats)), int)
            np.add.at(conf, (truth, modal_resp), 1)
            pair = lambda a, b: conf[cats.index(a), cats.index(b)] + conf[cats.index(b), cats.index(a)]  # noqa: E731
            for a, b in [("glass", "ceramic"), ("stone", "ceramic"), ("plastic", "wood")]:
                assert pair(a, b) >= 5, (a, b, conf)
            assert pair("metal", "cardboard") == 0 and pair("glass", "plastic") == 0
            assert np.mean(modal_resp == truth) > 0.45  # chance 1/7
    assert kappa["material"] > kappa["hollowness"] > kappa["extent"] > 0.1, kappa
    assert all(w > 0.2 for w in wrong.values()), wrong  # perception differs from physics
