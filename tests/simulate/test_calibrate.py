"""Calibration measurements: noise against dose, and the physics of the phase pairs."""

from ebsdlib.simulate.calibrate import calibrate, format_table


def test_calibration_tracks_dose_and_phase_pairs(tiny_config):
    rows = calibrate([3.0, 1e6], n_per_phase=24, base=tiny_config, logreg=True)
    low, high = rows
    assert low["corr_clean"] < 0.6 < high["corr_clean"]
    assert low["corr_repeat"] < high["corr_repeat"]
    # noise-free enough: the ideal matcher separates every pair; Ni3Al from Ni at least as well as Ni3Fe
    assert high["oracle_Ni_vs_Ni3Al"] > 0.9
    assert high["oracle_Ni_vs_Ni3Al"] >= high["oracle_Ni_vs_Ni3Fe"]
    assert 0.0 <= low["logreg_Ni_vs_Ni3Fe"] <= 1.0
    table = format_table(rows)
    assert "corr_clean" in table and "1000000.000" in table
