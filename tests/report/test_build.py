"""The report's sections: what each says for trained runs, and in place of a part a run lacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.report import build_report
from ebsdlib.report.tables import flatten_config
from ebsdlib.runs import open_run

SECTIONS = ["runs", "config", "accuracy", "confusion", "umap", "phasemap", "limit"]


def copy_run(root: Path, run_id: str, new_id: str, **config) -> str:
    """A copy of a run folder under another id, with ``config`` entries changed."""
    shutil.copytree(root / "runs" / run_id, root / "runs" / new_id)
    path = root / "runs" / new_id / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return new_id


def as_indexing_run(root: Path, run_id: str, new_id: str) -> str:
    """A copy of a trained run recorded as a dictionary-indexing run: its evaluation and phase map
    kept, no embeddings, UMAP, checkpoints or history (what an indexing run's folder holds)."""
    copy_run(root, run_id, new_id, method="dictionary", loss=None, model="NCC dictionary 5°", name="tiny dictionary")
    for name in ("embeddings.npy", "umap.npy", "checkpoint_best.pt", "checkpoint_last.pt", "history.csv"):
        (root / "runs" / new_id / name).unlink(missing_ok=True)
    return new_id


def test_two_runs_have_every_section_and_the_dashboard_figures(lab):
    report = build_report([lab["ce"], lab["supcon"]], lab["root"])
    assert [s.key for s in report.sections] == SECTIONS
    counts = {s.key: len(s.figures) for s in report.sections}
    assert counts == {"runs": 0, "config": 0, "accuracy": 1, "confusion": 3, "umap": 2, "phasemap": 2, "limit": 1}
    assert len(report.figures) == 9
    assert all(not s.notes for s in report.sections)  # nothing is missing for two trained runs
    kinds = [f.figure.data[0].type for f in report.section("confusion").figures]
    assert kinds == ["heatmap"] * 3
    diff = np.asarray(report.section("confusion").figures[2].figure.data[0].z)
    assert diff.shape == (3, 3) and np.allclose(diff.sum(axis=1), 0)  # row-normalised A − B: rows sum to 0
    assert {t.type for t in report.section("umap").figures[0].figure.data} == {"scattergl"}
    assert report.section("phasemap").figures[0].figure.data[0].type == "image"
    assert "ideal matcher" in report.section("limit").figures[0].figure.layout.yaxis.title.text


def test_accuracy_table_has_both_intervals_around_the_stored_accuracy(lab):
    report = build_report([lab["ce"], lab["supcon"]], lab["root"])
    overall, per_phase = (b.frame for b in report.section("accuracy").blocks if hasattr(b, "frame"))
    assert list(overall["run id"]) == [lab["ce"], lab["supcon"]]
    for _, row in overall.iterrows():
        metrics = open_run(row["run id"], lab["root"]).metrics()
        assert row["accuracy"] == pytest.approx(metrics["accuracy"]) and row["patterns"] == metrics["n"]
        for column in ("95% CI (bootstrap)", "95% CI (Wilson)"):
            low, high = (float(v) for v in row[column].split("–"))
            assert low <= round(row["accuracy"], 3) <= high
    ce_metrics = open_run(lab["ce"], lab["root"]).metrics()
    ni = per_phase[(per_phase["run"] == overall["run"].iloc[0]) & (per_phase["phase"] == "Ni")].iloc[0]
    assert ni["recall"] == pytest.approx(ce_metrics["per_class"]["Ni"]["recall"])
    assert ni["support"] == ce_metrics["per_class"]["Ni"]["support"]
    low, high = (float(v) for v in ni["recall 95% CI (Wilson)"].split("–"))
    assert 0 <= low <= round(ni["recall"], 3) <= high <= 1


def test_config_table_puts_the_settings_that_differ_first(lab):
    report = build_report([lab["ce"], lab["supcon"]], lab["root"])
    differ, everything = (b for b in report.section("config").blocks if hasattr(b, "frame"))
    loss = differ.frame.set_index("setting").loc["loss"]
    assert list(loss) == ["ce", "supcon"]
    assert "model" not in set(differ.frame["setting"]) and "model" in set(everything.frame["setting"])
    assert "preprocess.size" in set(everything.frame["setting"]) and everything.collapsed
    assert flatten_config({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": None}) == {
        "a.b": "1",
        "a.c": "[1, 2]",
        "d": "x",
        "e": "null",
    }


def test_each_run_is_compared_with_the_first(lab):
    third = copy_run(lab["root"], lab["ce"], "tiny-ce-copy", name="tiny ce copy")
    report = build_report([lab["supcon"], lab["ce"], third], lab["root"])
    titles = [f.figure.layout.title.text for f in report.section("confusion").figures]
    assert len(titles) == 5 and titles[3:] == [
        "Difference tiny ce − tiny supcon",
        "Difference tiny ce copy − tiny supcon",
    ]
    assert len(report.section("umap").figures) == 3 and len(report.section("phasemap").figures) == 3


def test_parts_a_run_lacks_are_plain_sentences(lab):
    root = lab["root"]
    dictionary = as_indexing_run(root, lab["ce"], "tiny-dictionary")
    bare = copy_run(root, lab["supcon"], "tiny-supcon-bare", name="tiny bare", umap=False)
    (root / "runs" / bare / "umap.npy").unlink()
    shutil.rmtree(root / "runs" / bare / "phasemaps")
    (root / "bench" / "dose.json").unlink()
    report = build_report([lab["ce"], dictionary, bare], root)
    umap_notes = report.section("umap").notes
    assert umap_notes == [
        "tiny dictionary is a dictionary indexing run, not a trained network: it has no embeddings, so no UMAP.",
        "tiny bare has embeddings but no UMAP of them (it was trained with UMAP off); "
        "`python -m ebsdlib evaluate tiny-supcon-bare` with UMAP on in its config makes one.",
    ]
    assert report.section("phasemap").notes == [
        "tiny bare has no phase map; `python -m ebsdlib predict --run tiny-supcon-bare --data SCAN.h5` makes one."
    ]
    assert len(report.section("phasemap").figures) == 2  # the dictionary run keeps its map
    assert "No dose benchmark at" in report.section("limit").notes[0] and not report.section("limit").figures
    assert len(report.section("confusion").figures) == 5  # an indexing run has a confusion matrix like any run


def test_a_run_without_evaluation_and_one_without_limit_curves(lab):
    root = lab["root"]
    pending = copy_run(root, lab["ce"], "tiny-pending", name="tiny pending")
    for name in ("metrics.json", "predictions.csv"):
        (root / "runs" / pending / name).unlink()
    doc = json.loads((root / "bench" / "dose.json").read_text())
    (root / "bench" / "dose.json").write_text(json.dumps({**doc, "limit": []}))
    report = build_report([lab["ce"], pending], root)
    assert (
        "tiny pending" in report.section("runs").notes[0]
        and "python -m ebsdlib evaluate tiny-pending" in (report.section("runs").notes[0])
    )
    assert report.section("confusion").notes == ["tiny pending: no confusion matrix, the run has no evaluation."]
    assert len(report.section("confusion").figures) == 1
    assert len(report.section("accuracy").blocks[1].frame) == 1
    assert "no physical-limit curves" in report.section("limit").notes[0]


def test_unknown_repeated_or_no_run_ids_are_refused(lab):
    with pytest.raises(FileNotFoundError, match=r"run 'no-such-run' not found under .*`python -m ebsdlib runs`"):
        build_report([lab["ce"], "no-such-run"], lab["root"])
    with pytest.raises(ValueError, match=r"run ids \['" + lab["ce"] + r"'\] are given more than once"):
        build_report([lab["ce"], lab["ce"]], lab["root"])
    with pytest.raises(ValueError, match="at least one run id"):
        build_report([], lab["root"])
    with pytest.raises(ValueError, match=r"confusion normalisation 'percent' is not allowed"):
        build_report([lab["ce"]], lab["root"], confusion="percent")
