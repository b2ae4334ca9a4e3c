"""The physical-limit panel: frame, figure and the plain-words findings computed from the curves."""

import pandas as pd
import pytest

from ebsdlib.views.limit import first_separating_dose, limit_figure, limit_findings, limit_frame

DOSES = (250.0, 4000.0, 64000.0)
# cue → σ → pair accuracy per dose: order separates from 4000, lattice only with an exact PC at 64000
CURVES = {
    "real": {0.0: (0.52, 0.80, 0.99), 0.01: (0.51, 0.70, 0.90)},
    "order": {0.0: (0.50, 0.75, 0.97), 0.01: (0.50, 0.66, 0.85)},
    "lattice": {0.0: (0.51, 0.53, 0.70), 0.01: (0.50, 0.51, 0.52)},
}


def _doc() -> dict:
    rows = []
    for cue, by_sigma in CURVES.items():
        for sigma, accs in by_sigma.items():
            for dose, acc in zip(DOSES, accs, strict=True):
                half = 0.04  # so an accuracy above 0.54 is above chance
                rows.append(
                    {
                        "cue": cue,
                        "pc_sigma": sigma,
                        "dose": dose,
                        "pair_accuracy": acc,
                        "low": acc - half,
                        "high": min(1.0, acc + half),
                        "n": 400,
                        "candidates": ["Ni", "x"],
                    }
                )
    return {"limit": rows[::-1]}  # any order on disk


def test_frame_is_sorted_and_empty_without_rows():
    frame = limit_frame(_doc())
    assert list(frame["cue"].unique()) == ["real", "order", "lattice"] and len(frame) == 18
    assert list(frame["dose"][:3]) == list(DOSES) and list(frame["pc_sigma"][:3]) == [0.0] * 3
    assert limit_frame({}).empty and limit_frame({"limit": []}).empty and limit_findings(limit_frame({})) == []


def test_first_separating_dose_is_where_the_curve_stays_above_chance():
    frame = limit_frame(_doc())
    assert first_separating_dose(frame, "order", 0.0) == 4000.0
    assert first_separating_dose(frame, "lattice", 0.0) == 64000.0
    assert first_separating_dose(frame, "lattice", 0.01) is None
    dipping = frame.copy()  # above chance at 250, not at 4000: only the stretch to the top counts
    dipping.loc[(dipping["cue"] == "lattice") & (dipping["pc_sigma"] == 0.0) & (dipping["dose"] == 250.0), "low"] = 0.6
    assert first_separating_dose(dipping, "lattice", 0.0) == 64000.0


def test_findings_say_what_the_curves_show():
    text = "\n".join(limit_findings(limit_frame(_doc()), default_dose=4000.0))
    assert "0.99 with both cues, 0.97 on chemical order alone and 0.70 on lattice parameter alone" in text
    assert "chemical order is the stronger cue" in text
    assert "chemical order alone from 4,000 e⁻/px; lattice parameter alone from 64,000 e⁻/px" in text
    assert "lattice parameter alone 0.70 → 0.52" in text and "both 0.99 → 0.90" in text
    assert "At the default dose** (4,000 e⁻/px) the limit is 0.80 with an exact PC and 0.70 with ±0.01" in text
    swapped = _doc()
    for r in swapped["limit"]:  # make lattice the stronger cue: the verdict follows the numbers
        if r["cue"] == "lattice":
            r["pair_accuracy"] = 0.99
    assert "the lattice parameter is the stronger cue" in "\n".join(limit_findings(limit_frame(swapped)))


def test_figure_has_a_panel_per_sigma_and_a_line_and_band_per_cue():
    fig = limit_figure(limit_frame(_doc()))
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 6 and len(fig.data) == 12  # 3 cues × 2 σ, each with its band
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 6 and all(t.mode == "lines" for t in bands)  # a band draws no stray markers
    assert {a.text for a in fig.layout.annotations} >= {"PC known exactly", "PC known to ±0.01"}
    assert sum(t.showlegend is not False for t in lines) == 3
    assert fig.layout.xaxis.type == "log" and pytest.approx(list(lines[0].x)) == list(DOSES)
    assert isinstance(limit_frame(_doc()), pd.DataFrame)


def _doc_with_fit() -> dict:
    """:func:`_doc` plus fitted curves from ±0.01 that give back most of the exact PC's accuracy."""
    doc = _doc()
    fitted = {"real": (0.52, 0.78, 0.98), "order": (0.50, 0.74, 0.96), "lattice": (0.50, 0.52, 0.69)}
    for cue, accs in fitted.items():
        for dose, acc in zip(DOSES, accs, strict=True):
            doc["limit"].append(
                {
                    "cue": cue,
                    "pc_sigma": 0.01,
                    "pc_fitted": True,
                    "dose": dose,
                    "pair_accuracy": acc,
                    "low": acc - 0.04,
                    "high": min(1.0, acc + 0.04),
                    "n": 400,
                    "candidates": ["Ni", "x"],
                    "pc_error_start": 0.015,
                    "pc_error_fitted": 0.0012,
                }
            )
    return doc


def test_rows_stored_before_the_fit_read_as_not_fitted_and_fitted_ones_get_their_own_panel():
    frame = limit_frame(_doc_with_fit())
    assert len(frame) == 27 and frame["pc_fitted"].sum() == 9
    assert not limit_frame(_doc())["pc_fitted"].any()
    # the σ = 0.01 curves as given and as fitted stay apart
    assert first_separating_dose(frame, "real", 0.01) == 4000.0
    assert first_separating_dose(frame, "lattice", 0.01, fitted=True) == 64000.0
    fig = limit_figure(frame)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["PC known exactly", "PC known to ±0.01", "PC fitted to the pattern (from ±0.01)"]
    assert len([t for t in fig.data if t.mode == "lines+markers"]) == 9


def test_findings_say_what_fitting_the_pattern_centre_gives_back():
    text = "\n".join(limit_findings(limit_frame(_doc_with_fit()), default_dose=4000.0))
    assert "**Pattern centre fitted to the pattern:** starting from ±0.01" in text
    assert "median PC error 0.0150 → 0.0012" in text
    assert "lattice parameter alone 0.52 → 0.69; chemical order alone 0.85 → 0.96; both 0.90 → 0.98" in text
    assert "Fitted, both cues separate from 4,000 e⁻/px" in text
    # the σ sentences still compare the curves as given, not the fitted ones
    assert "both 0.99 → 0.90" in text and "with ±0.01, both cues separate from 4,000" in text.replace("With", "with")
    assert "Pattern centre fitted" not in "\n".join(limit_findings(limit_frame(_doc())))
