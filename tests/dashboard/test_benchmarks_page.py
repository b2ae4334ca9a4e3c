"""The Benchmarks page with Streamlit's AppTest, on artifacts made by the tiny bench runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebsdlib.methods import method_label

HOME = str(Path(__file__).resolve().parents[2] / "dashboard" / "Home.py")
PAGE = "app_pages/benchmarks.py"


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory, bench_artifacts, dose_doc, speed_doc, robustness_doc, scaling_doc) -> Path:
    """An artifacts folder with the session's ``bench dose --quick``, ``bench speed --quick`` and
    ``bench robustness --quick`` results (tests/conftest.py), a tiny dictionary-indexing run (with
    a scan's phase map) and a tiny cross-entropy run of the same data."""
    import shutil

    from ebsdlib.baseline import DictionaryConfig, index_run
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.simulate import ScanConfig, SimulationConfig, simulate_dataset, simulate_scan
    from ebsdlib.train.config import TrainConfig
    from ebsdlib.train.loop import train

    root = tmp_path_factory.mktemp("bench_page")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EBSDLIB_ARTIFACTS", str(root))
        shutil.copytree(bench_artifacts / "bench", root / "bench")
        small = dict(pattern_size=32, master_half_size=40, dose=4000.0)
        data = simulate_dataset(
            SimulationConfig(n_per_phase=10, patterns_per_grain=1, **small),
            root / "datasets" / "tiny.h5",
            progress=False,
        )
        scan = simulate_scan(
            ScanConfig(shape=(4, 5), n_grains=3, **small), root / "datasets" / "scan.h5", progress=False
        )
        index_run(
            data,
            DictionaryConfig(resolution=30.0, device="cpu", calibration_patterns=10),
            scans=[scan],
            root=root,
            progress=False,
        )
        train(
            TrainConfig(
                data=str(data),
                loss="ce",
                model="test_efficientnet",
                epochs=1,
                batch_size=4,
                device="cpu",
                umap=False,
                preprocess=PreprocessConfig(size=32),
            ),
            progress=False,
            root=root,
        )
    return root


def open_page(root: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
    at = AppTest.from_file(HOME, default_timeout=120)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def charts_of(at) -> tuple[list, list, list]:
    """The page's Plotly charts: those of the dose benchmarks, the scaling loss curves (the
    streamed loss against patterns seen, which the quick scaling benchmark records) and the pair
    accuracy trends against patterns seen."""
    charts = list(at.get("plotly_chart"))
    scaling = [c for c in charts if "fresh patterns seen" in c.proto.spec]
    losses = [c for c in scaling if "streamed training loss" in c.proto.spec]
    trends = [c for c in scaling if c not in losses]
    return [c for c in charts if c not in scaling], losses, trends


def shown(at) -> str:
    return "\n".join(
        str(e.value) for kind in ("title", "subheader", "markdown", "caption", "info", "error") for e in at.get(kind)
    )


def test_page_shows_dose_curves_throughput_and_the_baseline(bench_root, dose_doc, monkeypatch):
    at = open_page(bench_root, monkeypatch)
    assert at.title[0].value == "Benchmarks"
    charts, losses, trends = charts_of(at)
    assert not trends  # the quick scaling benchmark has two budgets per model: no trend
    assert len(charts) == 3  # accuracy and Ni↔Ni3Fe confusion against dose, the physical limit taken apart
    assert len(losses) == 1 and "sure of all but one pair" in losses[0].proto.spec
    tables = [d.value for d in at.dataframe]
    dose = next(t for t in tables if "label" in t.columns)
    labels = {method_label(m) for m in dose_doc["config"]["methods"]}
    assert set(dose["label"]) == labels and len(dose) == len(labels) * len(dose_doc["config"]["doses"])
    assert "oracle_pair_accuracy" in dose.columns
    ratios = next(t for t in tables if "end-to-end ÷ model alone" in t.columns)
    assert set(ratios["stage"]) == {"inference", "training", "training (stream)"}
    assert set(ratios["verdict"]) <= {"meets the goal", "below the goal"}
    throughput = next(t for t in tables if "patterns/s" in t.columns and "pipeline" in t.columns)
    assert "dictionary indexing" in set(throughput["pipeline"]) and (throughput["patterns/s"] > 0).all()
    methods = next(t for t in tables if "method" in t.columns)
    assert {"dictionary indexing", "cross-entropy"} <= set(methods["method"])
    text = shown(at)
    assert "oracle" in text and "run picker" in text and "No indexing-baseline run yet" not in text
    assert "The physical limit, taken apart" in text and "**Which cue:**" in text and "**From which dose**" in text
    limit = next(t for t in tables if "cue" in t.columns)
    assert set(limit["cue"]) == {"real", "order", "lattice"} and len(limit) == len(dose_doc["limit"])
    robust = next(t for t in tables if "trained on" in t.columns)
    assert list(robust["trained on"]) == ["kinematical", "randomised"]
    assert {"accuracy on dynamical", "Ni called Ni, kinematical"} <= set(robust.columns)
    assert "Robustness: trained on one forward model, tested on another" in text and "Ni patterns Ni" in text
    matcher = next(t for t in tables if "templates from" in t.columns)
    assert list(matcher["templates from"]) == ["dynamical", "kinematical"]
    assert "The ideal matcher across forward models" in text and "with kinematical templates calls" in text
    scaling = next(t for t in tables if "patterns seen" in t.columns and "parameters" in t.columns)
    assert list(scaling["patterns seen"]) == [16, 48] and "per tenfold more patterns" in text


def test_a_dose_benchmark_without_limit_curves_says_how_to_get_them(bench_root, tmp_path, monkeypatch):
    import json
    import shutil

    shutil.copytree(bench_root / "bench", tmp_path / "bench")
    doc = json.loads((tmp_path / "bench" / "dose.json").read_text())
    doc.pop("limit")  # a file written before the curves existed
    (tmp_path / "bench" / "dose.json").write_text(json.dumps(doc))
    at = open_page(tmp_path, monkeypatch)
    assert any("no physical-limit curves" in i.value for i in at.info)
    assert len(charts_of(at)[0]) == 2


def test_a_robustness_benchmark_without_the_ideal_matcher_says_how_to_add_it(bench_root, tmp_path, monkeypatch):
    import json
    import shutil

    shutil.copytree(bench_root / "bench", tmp_path / "bench")
    doc = json.loads((tmp_path / "bench" / "robustness.json").read_text())
    doc.pop("ideal_matcher")  # a file written before the matcher was part of the benchmark
    (tmp_path / "bench" / "robustness.json").write_text(json.dumps(doc))
    at = open_page(tmp_path, monkeypatch)
    assert "python -m ebsdlib bench robustness --update-ideal --out FOLDER" in shown(at)
    assert not any("templates from" in d.value.columns for d in at.dataframe)


def test_page_says_which_command_makes_each_part(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    text = shown(at)
    assert "python -m ebsdlib bench dose" in text and "python -m ebsdlib bench speed" in text
    assert "python -m ebsdlib bench robustness" in text and "python -m ebsdlib bench scaling" in text
    assert "python -m ebsdlib index --data" in text
    assert not list(at.get("plotly_chart"))


def test_an_unfinished_dose_benchmark_is_flagged(bench_root, tmp_path, monkeypatch):
    import json
    import shutil

    shutil.copytree(bench_root / "bench", tmp_path / "bench")
    doc = json.loads((tmp_path / "bench" / "dose.json").read_text())
    doc["rows"] = [r for r in doc["rows"] if r["dose"] == doc["config"]["doses"][0]]
    doc["complete"] = False
    (tmp_path / "bench" / "dose.json").write_text(json.dumps(doc))
    at = open_page(tmp_path, monkeypatch)
    assert any("has 1 of its 2 doses" in w.value for w in at.warning)
    assert len(charts_of(at)[0]) == 3


def test_unreadable_results_are_reported(tmp_path, monkeypatch):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "dose.json").write_text('{"rows": [')  # a write cut short
    at = open_page(tmp_path, monkeypatch)
    errors = [e.value for e in at.error]
    assert any("dose.json cannot be read" in e and "bench dose" in e for e in errors)


def test_the_committed_conditions_are_shown_and_a_broken_one_is_named(tmp_path, monkeypatch):
    """The scaling and robustness runs under other conditions (pattern size, dose, …), each in one table,
    and the 128-pixel dose benchmark with its findings."""
    import shutil

    from ebsdlib.views.bench import conditions_dir

    repo_artifacts = Path(__file__).resolve().parents[2] / "artifacts"
    for kind in ("scaling", "robustness", "dose"):
        shutil.copytree(conditions_dir(kind, repo_artifacts), conditions_dir(kind, tmp_path))
    (conditions_dir("scaling", tmp_path) / "cut-short").mkdir()
    (conditions_dir("scaling", tmp_path) / "cut-short" / "scaling.json").write_text('{"rows": [')
    at = open_page(tmp_path, monkeypatch)
    tables = [d.value for d in at.dataframe if "condition" in d.value.columns]
    scaling = next(t for t in tables if "patterns seen" in t.columns and "network input px" in t.columns)
    assert set(scaling["condition"]) == {p.name for p in conditions_dir("scaling", repo_artifacts).iterdir()}
    assert {64, 128} <= set(scaling["pattern px"]) and "dynamical-4000-64px-in128-100k" in set(scaling["condition"])
    robust = next(t for t in tables if "trained on" in t.columns)
    assert set(robust["condition"]) == {"128px", "128px-randomised"} and set(robust["pattern px"]) == {128}
    assert {"dynamical", "kinematical", "randomised"} == set(robust["trained on"])
    matcher = next(
        t for t in tables if "templates from" in t.columns
    )  # committed: no template model reads the other's Ni
    assert set(matcher["condition"]) == {"128px, 128px-randomised"}  # the same test sets: shown once
    assert (matcher["Ni called Ni, kinematical"][matcher["templates from"] == "dynamical"] < 0.95).all()
    assert any("cut-short/scaling.json cannot be read" in e.value for e in at.error)
    text = shown(at)
    assert "The same measurement under other conditions" in text and "128px-randomised: Trained on" in text
    assert "128px, 128px-randomised: So the two forward models differ by more than the phases do" in text
    assert "The same benchmark under other conditions: 128px-stream" in text
    assert "The best network is at least as accurate as refined dictionary indexing at 3 of 5 doses" in text
    # the curriculum: the same data, each dose's network fine-tuned from the next-higher dose's
    assert "The same benchmark under other conditions: 128px-stream-curriculum" in text
    assert "The best network is at least as accurate as refined dictionary indexing at 4 of 5 doses" in text
    assert "each dose's cross-entropy network fine-tuned from the next-higher dose's" in text
    assert "The same benchmark under other conditions: 128px-stream-curriculum-200k" in text
    assert "at 3 of 4 doses" in text and "20 epochs of 10,000 freshly streamed patterns" in text
    # the same curriculum from 16,000 with each phase's recall: where the network loses at dose 250
    assert "The same benchmark under other conditions: 128px-stream-curriculum-from16000" in text
    recalls = [d.value for d in at.dataframe if "recall_Ni3Al" in d.value.columns]
    assert sorted(set(r["dose"]) for r in recalls) == [{16000, 4000, 1000, 250}, {64000, 16000, 4000, 1000, 250}]
    # 128px-stream gained dictionary indexing + pattern fit (its recalls), which every network trails
    fitted = next(r for r in recalls if 64000 in set(r["dose"]))
    assert fitted["recall_Ni3Fe"].notna().sum() == 5
    assert (
        "Against dictionary indexing + pattern fit (PC and orientation), the best "
        "network is at least as accurate at 0 of 5 doses." in text
    )
    trends = charts_of(at)[2]
    assert len(trends) == 1 and "goal 0.94" in trends[0].proto.spec
    assert "lcnet_050 (dynamical, 4,000 e⁻/px, 128 px): Ni/Ni₃Fe pair accuracy +0.107 per tenfold" in text
    assert "If the trend holds, it reaches 0.94" in text
    assert "**Model size at one budget**" in text
    sizes = next(d.value for d in at.dataframe if "stream loss, last epoch" in d.value.columns)
    assert {"lcnet_050", "lcnet_100", "efficientnet_b0"} <= set(sizes["model"])


def test_a_dose_benchmark_under_other_conditions_gets_its_curves_and_findings(bench_root, tmp_path, monkeypatch):
    import json
    import shutil

    from ebsdlib.views.bench import conditions_dir

    shutil.copytree(bench_root / "bench", tmp_path / "bench")
    doc = json.loads((tmp_path / "bench" / "dose.json").read_text())
    (conditions_dir("dose", tmp_path) / "128px-stream").mkdir(parents=True)
    (conditions_dir("dose", tmp_path) / "128px-stream" / "dose.json").write_text(json.dumps(doc))
    (conditions_dir("dose", tmp_path) / "starting").mkdir()
    (conditions_dir("dose", tmp_path) / "starting" / "dose.json").write_text(
        json.dumps({**doc, "rows": [], "complete": False})
    )
    at = open_page(tmp_path, monkeypatch)
    assert len(charts_of(at)[0]) == 5  # the main two and the limit, and this one's two
    text = shown(at)
    assert "The same benchmark under other conditions: 128px-stream" in text
    assert [t.label for t in at.tabs] == ["128px-stream", "starting"]  # one tab per condition
    assert text.count("The best network is at least as accurate as refined dictionary indexing at") == 2
    assert "bench/dose-conditions/128px-stream" in text
    assert any("starting has no finished dose yet" in i.value for i in at.info)
    tables = [d.value for d in at.dataframe if "label" in d.value.columns and "oracle_pair_accuracy" in d.value.columns]
    assert len(tables) == 2
