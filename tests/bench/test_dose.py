"""``python -m ebsdlib bench dose`` at a tiny size, and its pieces."""

import numpy as np
import pandas as pd
import pytest

from ebsdlib.bench.dose import DoseBenchConfig, metrics_row, pair_accuracy, summary_table


def test_quick_dose_benchmark_writes_every_dose_and_method(dose_doc, bench_artifacts):
    cfg = DoseBenchConfig.quick()
    rows = pd.DataFrame(dose_doc["rows"])
    assert set(zip(rows["dose"], rows["method"], strict=True)) == {(d, m) for d in cfg.doses for m in cfg.methods}
    correct = rows["accuracy"] * rows["n_test"]  # a count of right test patterns
    assert np.allclose(correct, correct.round()) and (rows["n_test"] == 6).all()  # 3 phases × 8 × 0.25
    assert (rows["accuracy_low"] <= rows["accuracy"]).all() and (rows["accuracy"] <= rows["accuracy_high"]).all()
    assert (rows["n_test"] > 0).all() and (rows["seconds"] > 0).all()
    assert set(rows["label"]) == {
        "cross-entropy",
        "supervised contrastive (SupCon)",
        "contrastive (batch-hard mining, the seed's)",
        "dictionary indexing",
        "refined dictionary indexing",
        "dictionary indexing + pattern fit (PC and orientation)",
        "Hough/Radon indexing (PyEBSDIndex)",
    }
    di = rows[rows["method"].str.startswith("dictionary")]
    assert di["temperature"].gt(0).all() and di["dictionary_build_seconds"].notna().all()
    hough = rows[rows["method"] == "hough"]  # one process, temperature fitted on the dose's training patterns
    assert len(hough) == len(cfg.doses) and hough["temperature"].gt(0).all() and (hough["processes"] == 1).all()
    oracle = {o["dose"]: o for o in dose_doc["oracle"]}
    assert set(oracle) == set(cfg.doses)
    # the oracle decides each of 2 × oracle_patterns = 8 patterns right or wrong
    assert all((8 * o["oracle_Ni_vs_Ni3Fe"]).is_integer() for o in oracle.values())
    limit = pd.DataFrame(dose_doc["limit"])  # every cue at every dose and pattern-centre σ, 2 × 4 decisions each
    given = limit[~limit["pc_fitted"]]
    assert set(zip(given["cue"], given["pc_sigma"], given["dose"], strict=True)) == {
        (c, s, d) for c in ("real", "order", "lattice") for s in cfg.limit_pc_sigmas for d in cfg.doses
    }
    assert (limit["n"] == 8).all() and (limit["low"] <= limit["pair_accuracy"]).all()
    assert dose_doc["config"]["forward_model"] == "kinematical"  # the quick benchmark's fast masters
    assert dose_doc["config"]["doses"] == list(cfg.doses) and dose_doc["environment"]["device"] == "cpu"
    assert dose_doc["complete"] is True
    csv = pd.read_csv(bench_artifacts / "bench" / "dose.csv")
    assert len(csv) == len(rows) and {"dose", "method", "accuracy", "ni_ni3fe_confusion"} <= set(csv.columns)
    assert not list((bench_artifacts / "scratch").glob("bench-dose-*"))  # the work folder is removed


def test_summary_table_lists_every_row(dose_doc):
    text = summary_table(dose_doc)
    assert text.count("refined dictionary indexing") == 2 and "oracle pair acc" in text


def test_pair_accuracy_from_a_confusion_matrix():
    cm = np.array([[8, 1, 2], [0, 9, 0], [4, 0, 6]])  # rows true Ni, Ni3Al, Ni3Fe
    assert pair_accuracy(cm, ["Ni", "Ni3Al", "Ni3Fe"]) == pytest.approx((8 + 6) / (8 + 2 + 4 + 6))
    assert pair_accuracy(cm, ["A", "B", "C"]) is None
    assert pair_accuracy(np.zeros((3, 3)), ["Ni", "Ni3Al", "Ni3Fe"]) is None
    from ebsdlib.bench.dose import pair_count
    from ebsdlib.bench.robustness import accuracy_fields

    assert pair_count(cm, ["Ni", "Ni3Al", "Ni3Fe"]) == 8 + 2 + 4 + 6 and pair_count(cm, ["A", "B", "C"]) is None
    fields = accuracy_fields(
        {"confusion_matrix": cm.tolist(), "phase_names": ["Ni", "Ni3Al", "Ni3Fe"], "accuracy": 0.7}
    )
    assert fields["pair_n"] == 20 and fields["pair_accuracy"] == pytest.approx(0.7)  # rows store what the pair is over


def test_metrics_row_reads_compute_metrics():
    from ebsdlib.metrics import compute_metrics

    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.eye(3)[[0, 2, 1, 1, 0, 2]].astype(np.float32)
    row = metrics_row(12.0, "ce", compute_metrics(y, proba, ["Ni", "Ni3Al", "Ni3Fe"], n_boot=200), 3.5)
    assert row["accuracy"] == pytest.approx(4 / 6) and row["ni_ni3fe_confusion"] == pytest.approx(0.5)
    assert row["pair_accuracy"] == pytest.approx(0.5) and row["label"] == "cross-entropy"
    assert (row["recall_Ni"], row["recall_Ni3Al"], row["recall_Ni3Fe"]) == pytest.approx((0.5, 1.0, 0.5))
    assert row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"doses": ()}, r"doses \(\) must be one or more positive numbers"),
        ({"doses": (12.0, -1.0)}, r"doses \(12\.0, -1\.0\) must be one or more positive numbers"),
        (
            {"methods": ("ce", "transformer")},
            r"methods \['ce', 'transformer'\] are not allowed; choose from \['ce', 'supcon', 'contrastive', "
            r"'dictionary', 'dictionary_refined', 'dictionary_fitted', 'hough'\]",
        ),
        ({"n_per_phase": 2}, r"n_per_phase 2 must be an integer of at least 4"),
        ({"limit_pc_sigmas": (0.0, 0.2)}, r"limit_pc_sigmas \[0\.0, 0\.2\] must be one or more values in \[0, 0\.1\]"),
        ({"limit_patterns": 1}, r"limit_patterns 1 must be an integer of at least 2"),
        ({"forward_model": "mixed"}, r"mixed"),
        ({"contrastive_init": "imagenet"}, r"contrastive_init 'imagenet' is not one of \['ce', 'scratch'\]"),
        (
            {"contrastive_init": "ce", "methods": ("supcon", "dictionary")},
            r"contrastive_init 'ce' starts SupCon and contrastive from the cross-entropy network of each dose; "
            r"add 'ce' to methods",
        ),
        ({"ce_init": "imagenet"}, r"ce_init 'imagenet' is not one of \['scratch', 'higher_dose'\]"),
        (
            {"ce_init": "higher_dose", "methods": ("dictionary",)},
            r"ce_init 'higher_dose' fine-tunes each dose's cross-entropy network from the previous dose's; "
            r"add 'ce' to methods",
        ),
        (
            {"ce_init": "higher_dose", "doses": (250.0, 4000.0, 250.0)},
            r"doses \[4000\.0, 250\.0, 250\.0\]: ce_init 'higher_dose' needs each dose once; drop the repeats",
        ),
        ({"contrastive_epochs": -1}, r"contrastive_epochs -1 must be 0 \(as epochs\) or a positive integer"),
        ({"contrastive_lr": -1e-3}, r"contrastive_lr -0\.001 must be 0 \(as lr\) or a positive learning rate"),
    ],
)
def test_bad_settings_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        DoseBenchConfig(**change)


def test_cli_rejects_bad_doses(tmp_path, monkeypatch, capsys):
    from ebsdlib.cli import main

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path))
    assert main(["bench", "dose", "--quick", "--doses", "0", "--no-progress"]) == 2
    assert "doses (0.0,) must be one or more positive numbers" in capsys.readouterr().err


def test_the_networks_can_be_stream_trained_per_dose(tmp_path, monkeypatch, capsys):
    import json

    from ebsdlib.bench.dose import run_dose_bench

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    cfg = DoseBenchConfig.quick(doses=(64000.0,), methods=("ce",), oracle=False, limit=False, stream=True)
    doc = run_dose_bench(cfg, tmp_path / "out", work_dir=tmp_path / "work", keep=True, progress=True)
    assert doc["config"]["stream"] is True and [r["method"] for r in doc["rows"]] == ["ce"]
    ((folder, config),) = [
        (p.parent, json.loads(p.read_text())) for p in (tmp_path / "work" / "runs").glob("*/config.json")
    ]
    assert config["stream"] is True and config["name"].endswith("stream")
    # the network's training shows its own bar beside the benchmark's (a long step is not silent)
    shown = capsys.readouterr().err
    assert "dose benchmark" in shown and f"{folder.name}:" in shown and "step/s" in shown
    with pytest.raises(ValueError, match=r"stream_patterns 3 must be 0 .* or at least batch_size \(4\)"):
        DoseBenchConfig.quick(stream=True, stream_patterns=3)


def test_contrastive_networks_can_start_from_the_doses_cross_entropy_encoder(tmp_path, monkeypatch):
    import json

    from ebsdlib.bench.dose import run_dose_bench

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    cfg = DoseBenchConfig.quick(
        doses=(64000.0,),
        methods=("ce", "supcon", "contrastive"),
        oracle=False,
        limit=False,
        epochs=2,
        contrastive_init="ce",
        contrastive_epochs=1,
        contrastive_lr=3e-4,
    )
    doc = run_dose_bench(cfg, tmp_path / "out", work_dir=tmp_path / "work", keep=True, progress=False)
    rows = {r["method"]: r for r in doc["rows"]}
    assert rows["ce"]["init"] == "scratch" and rows["ce"]["epochs"] == 2
    assert rows["supcon"]["init"] == rows["contrastive"]["init"] == "ce"
    assert rows["supcon"]["epochs"] == rows["contrastive"]["epochs"] == 1
    configs = {
        c["loss"]: c for c in (json.loads(p.read_text()) for p in (tmp_path / "work" / "runs").glob("*/config.json"))
    }
    ce_run = next(
        p.parent
        for p in (tmp_path / "work" / "runs").glob("*/config.json")
        if json.loads(p.read_text())["loss"] == "ce"
    )
    assert configs["ce"]["pretrained"] is None and configs["ce"]["lr"] == cfg.lr
    for loss in ("supcon", "contrastive"):
        assert configs[loss]["pretrained"].endswith(f"{ce_run.name}/checkpoint_best.pt")
        assert configs[loss]["lr"] == 3e-4 and configs[loss]["warmup_epochs"] == 0 and configs[loss]["epochs"] == 1
    # a benchmark stored before the choice reads as it ran: from scratch
    assert DoseBenchConfig.from_dict({"doses": [250.0]}).contrastive_init == "scratch"


def test_cross_entropy_networks_can_start_from_the_higher_doses(tmp_path, monkeypatch):
    import json

    from ebsdlib.bench.dose import run_dose_bench

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    cfg = DoseBenchConfig.quick(
        doses=(4000.0, 250.0, 64000.0), methods=("ce",), oracle=False, limit=False, ce_init="higher_dose"
    )
    assert cfg.doses == (64000.0, 4000.0, 250.0)  # run from high to low
    doc = run_dose_bench(cfg, tmp_path / "out", work_dir=tmp_path / "work", keep=True, progress=False)
    assert [r["init"] for r in doc["rows"]] == ["scratch", "ce at dose 64000", "ce at dose 4000"]
    stored = [(p.parent, json.loads(p.read_text())) for p in (tmp_path / "work" / "runs").glob("*/config.json")]
    runs = {config["name"]: (folder, config) for folder, config in stored}
    first, second, third = (runs[f"dose {d:g} ce"] for d in cfg.doses)
    assert first[1]["pretrained"] is None
    assert second[1]["pretrained"].endswith(f"{first[0].name}/checkpoint_best.pt")
    assert third[1]["pretrained"].endswith(f"{second[0].name}/checkpoint_best.pt")
    assert doc["config"]["ce_init"] == "higher_dose"
    assert DoseBenchConfig.from_dict({"doses": [250.0]}).ce_init == "scratch"


def test_each_dose_can_stream_its_own_number_of_patterns(tmp_path, monkeypatch):
    import json

    from ebsdlib.cli import main

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    argv = ["bench", "dose", "--quick", "--doses", "250", "4000", "--methods", "ce", "--ce-init", "higher_dose"]
    argv += ["--stream", "--stream-patterns", "12", "8", "--no-oracle", "--no-limit", "--no-progress"]
    argv += ["--out", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work"), "--keep"]
    assert main(argv) == 0
    doc = json.loads((tmp_path / "out" / "dose.json").read_text())
    # the doses run from high to low, and each keeps the count it was given with
    assert doc["config"]["doses"] == [4000.0, 250.0] and doc["config"]["stream_patterns"] == [8, 12]
    stored = [json.loads(p.read_text()) for p in (tmp_path / "work" / "runs").glob("*/config.json")]
    assert {c["name"]: c["stream_patterns"] for c in stored} == {"dose 4000 ce stream": 8, "dose 250 ce stream": 12}
    config = DoseBenchConfig.from_dict(doc["config"])
    assert config.stream_patterns == (8, 12) and config.stream_patterns_at(250) == 12
    assert DoseBenchConfig.quick(stream_patterns=[16]).stream_patterns == 16  # one for all, as before
    with pytest.raises(
        ValueError, match=r"stream_patterns \[8, 12, 16\]: give one number for every dose or one per dose"
    ):
        DoseBenchConfig.quick(stream=True, stream_patterns=(8, 12, 16))
    with pytest.raises(ValueError, match=r"doses \[250\.0, 250\.0\] repeat a dose, so a count per dose is ambiguous"):
        DoseBenchConfig.quick(doses=(250.0, 250.0), stream=True, stream_patterns=(8, 12))
    with pytest.raises(ValueError, match=r"stream_patterns 2 must be 0 .* or at least batch_size \(4\)"):
        DoseBenchConfig.quick(stream=True, stream_patterns=(8, 2))


@pytest.fixture
def stored_dose(dose_doc, bench_artifacts, tmp_path, monkeypatch):
    """A copy of the session's quick benchmark in its own folder, with the caches of the session."""
    import shutil

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(bench_artifacts))
    out = tmp_path / "bench"
    out.mkdir()
    shutil.copy(bench_artifacts / "bench" / "dose.json", out / "dose.json")
    return out


def _write(path, doc):
    import json

    path.write_text(json.dumps(doc))


def test_update_measures_only_the_given_methods_again(stored_dose, dose_doc):
    import json

    from ebsdlib.bench.dose import update_dose_bench

    tampered = json.loads((stored_dose / "dose.json").read_text())
    assert set(tampered["patterns_sha256"]) == {f"{d:g}" for d in tampered["config"]["doses"]}
    for row in tampered["rows"]:
        row["accuracy"] = -1.0  # what the update must replace for Hough and keep for the others
    _write(stored_dose / "dose.json", tampered)
    doc = update_dose_bench(["hough"], stored_dose, work_dir=stored_dose.parent / "work", progress=False)
    assert [(r["dose"], r["method"]) for r in doc["rows"]] == [(r["dose"], r["method"]) for r in dose_doc["rows"]]
    before = {(r["dose"], r["method"]): r for r in dose_doc["rows"]}
    for row in doc["rows"]:
        if row["method"] == "hough":  # the same data and indexer: the same accuracy as the original run
            assert row["accuracy"] == before[row["dose"], "hough"]["accuracy"] >= 0
            assert row["min_band_intensity"] == 0.05
        else:
            assert row["accuracy"] == -1.0
    (update,) = doc["updates"]
    assert update["methods"] == ["hough"] and update["data_checked"] is True and update["seconds"] > 0
    assert update["patterns_sha256"] == doc["patterns_sha256"]
    assert doc["oracle"] == dose_doc["oracle"] and doc["limit"] == dose_doc["limit"]
    assert json.loads((stored_dose / "dose.json").read_text()) == doc
    csv = pd.read_csv(stored_dose / "dose.csv")
    assert len(csv) == len(doc["rows"]) and (csv.loc[csv["method"] != "hough", "accuracy"] == -1).all()
    assert not (stored_dose.parent / "work").exists()


def test_update_of_a_curriculum_benchmark_indexes_without_the_network_chain(stored_dose, dose_doc):
    """The checkpoints of ce_init 'higher_dose' are not stored; indexing methods do not need them."""
    import json

    from ebsdlib.bench.dose import update_dose_bench

    curriculum = json.loads((stored_dose / "dose.json").read_text())
    curriculum["config"]["ce_init"] = "higher_dose"
    _write(stored_dose / "dose.json", curriculum)
    doc = update_dose_bench(["hough"], stored_dose, progress=False)
    before = {(r["dose"], r["method"]): r["accuracy"] for r in dose_doc["rows"]}
    assert {(r["dose"], r["method"]): r["accuracy"] for r in doc["rows"]} == before
    assert doc["config"]["ce_init"] == "higher_dose" and doc["updates"][0]["methods"] == ["hough"]


def test_update_refuses_data_the_simulator_no_longer_makes(stored_dose):
    import json

    from ebsdlib.bench.dose import update_dose_bench

    doc = json.loads((stored_dose / "dose.json").read_text())
    first = next(iter(doc["patterns_sha256"]))
    doc["patterns_sha256"][first] = "0" * 64
    _write(stored_dose / "dose.json", doc)
    before = (stored_dose / "dose.json").read_bytes()
    with pytest.raises(ValueError, match=rf"other patterns at dose {first} .* without --update"):
        update_dose_bench(["hough"], stored_dose, progress=False)
    assert (stored_dose / "dose.json").read_bytes() == before and not (stored_dose / "dose.csv").exists()


def test_update_needs_a_finished_benchmark(stored_dose, tmp_path):
    import json

    from ebsdlib.bench.dose import update_dose_bench

    with pytest.raises(FileNotFoundError, match=r"no dose benchmark to update; run .* first"):
        update_dose_bench(["hough"], tmp_path / "empty", progress=False)
    doc = json.loads((stored_dose / "dose.json").read_text())
    _write(stored_dose / "dose.json", {**doc, "complete": False})
    with pytest.raises(ValueError, match=r"not a finished dose benchmark .* complete False"):
        update_dose_bench(["hough"], stored_dose, progress=False)
    _write(stored_dose / "dose.json", {**doc, "config": {**doc["config"], "dose_units": "Gy"}})
    with pytest.raises(ValueError, match=r"unknown fields \['dose_units'\]"):
        update_dose_bench(["hough"], stored_dose, progress=False)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--methods", "hough", "--n-per-phase", "10"], "drop --n-per-phase"),
        (["--methods", "hough", "--quick"], "drop --quick"),
        ([], "--update needs --methods"),
    ],
)
def test_cli_update_takes_its_settings_from_the_stored_file(stored_dose, argv, message, capsys):
    from ebsdlib.cli import main

    before = (stored_dose / "dose.json").read_bytes()
    assert main(["bench", "dose", "--update", "--out", str(stored_dose), "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err and (stored_dose / "dose.json").read_bytes() == before


def _without_fit(doc: dict) -> dict:
    """``doc`` as a benchmark stored before the fitted-PC curves: no such rows, no ``limit_fit_pc``
    (the quick benchmark's few fit steps are kept: the test is of the update, not of the fit)."""
    config = {k: v for k, v in doc["config"].items() if k != "limit_fit_pc"}
    limit = [{k: v for k, v in r.items() if k != "pc_fitted"} for r in doc["limit"] if not r["pc_fitted"]]
    return {**doc, "config": config, "limit": limit}


def test_the_quick_benchmark_fits_the_pattern_centre_for_a_curve_per_cue(dose_doc):
    cfg = DoseBenchConfig.quick()
    fitted = pd.DataFrame([r for r in dose_doc["limit"] if r["pc_fitted"]])
    assert set(zip(fitted["cue"], fitted["pc_sigma"], fitted["dose"], strict=True)) == {
        (c, 0.01, d) for c in ("real", "order", "lattice") for d in cfg.doses
    }
    assert (fitted["n"] == 8).all() and (fitted["pc_error_fitted"] >= 0).all() and (fitted["pc_error_start"] > 0).all()
    assert dose_doc["config"]["limit_fit_pc"] is True and dose_doc["config"]["limit_fit_steps"] == 20


def test_a_stored_benchmark_reads_as_without_fitted_curves():
    old = DoseBenchConfig.from_dict({"doses": [100.0]}, where="old dose.json")
    assert old.limit_fit_pc is False and DoseBenchConfig().limit_fit_pc is True


def test_update_limit_adds_the_fitted_curves_paired_with_the_stored_ones(stored_dose, dose_doc):
    import json

    from ebsdlib.bench.dose import update_dose_limit
    from ebsdlib.cli import main

    _write(stored_dose / "dose.json", _without_fit(dose_doc))
    assert main(["bench", "dose", "--update-limit", "--out", str(stored_dose), "--no-progress"]) == 0
    doc = json.loads((stored_dose / "dose.json").read_text())
    fitted = [r for r in doc["limit"] if r["pc_fitted"]]
    assert len(fitted) == 3 * len(doc["config"]["doses"]) and doc["config"]["limit_fit_pc"] is True
    given = {(r["cue"], r["pc_sigma"], r["dose"]): r["pair_accuracy"] for r in dose_doc["limit"] if not r["pc_fitted"]}
    assert {
        (r["cue"], r["pc_sigma"], r["dose"]): r["pair_accuracy"] for r in doc["limit"] if not r["pc_fitted"]
    } == given
    assert doc["rows"] == dose_doc["rows"] and doc["oracle"] == dose_doc["oracle"]
    (update,) = doc["updates"]
    assert update["limit"] == "fitted pattern centres" and update["seconds"] > 0
    # a stored curve the simulator no longer reproduces stops the update before anything is written
    tampered = _without_fit(dose_doc)
    tampered["limit"][0]["pair_accuracy"] = 0.123
    _write(stored_dose / "dose.json", tampered)
    before = (stored_dose / "dose.json").read_bytes()
    with pytest.raises(ValueError, match=r"came out .* against the stored 0\.123; the simulator draws other patterns"):
        update_dose_limit(stored_dose, progress=False)
    assert (stored_dose / "dose.json").read_bytes() == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--update-limit", "--limit-patterns", "10"], "--update-limit takes its settings from the stored dose.json"),
        (["--update-limit", "--update", "--methods", "hough"], "--update and --update-limit are separate runs"),
    ],
)
def test_cli_update_limit_refuses_other_settings(stored_dose, argv, message, capsys):
    from ebsdlib.cli import main

    before = (stored_dose / "dose.json").read_bytes()
    assert main(["bench", "dose", "--out", str(stored_dose), "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err and (stored_dose / "dose.json").read_bytes() == before
