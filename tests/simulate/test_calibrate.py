"""Calibration measurements: noise against dose, and the physics of the phase pairs."""

import pytest

from ebsdlib.simulate.calibrate import calibrate, format_table


def test_calibration_tracks_dose_and_phase_pairs(tiny_config):
    rows = calibrate([3.0, 1e6], n_per_phase=24, base=tiny_config, logreg=True)
    low, high = rows
    assert low["corr_clean"] < 0.6 < high["corr_clean"]
    assert low["corr_repeat"] < high["corr_repeat"]
    # noise-free enough: the ideal matcher separates every pair; Ni3Al from Ni at least as well as Ni3Fe
    assert high["oracle_Ni_vs_Ni3Al"] > 0.9
    assert high["oracle_Ni_vs_Ni3Al"] >= high["oracle_Ni_vs_Ni3Fe"]
    # logistic regression scored on the held-out half (12 + 12 patterns), so a count of 24; at dose 3 the
    # pixels are noise (corr_clean near 0), so near chance, where a score on the training half would be 1
    held_out = low["logreg_Ni_vs_Ni3Fe"] * 24
    assert held_out == pytest.approx(round(held_out)) and 0.25 <= low["logreg_Ni_vs_Ni3Fe"] <= 0.75
    table = format_table(rows)
    assert "corr_clean" in table and "1000000.000" in table
