"""Hough/Radon indexing with PyEBSDIndex: conventions against the simulator's true orientations,
runs stored like dictionary indexing, the CLI, band families, and phases it cannot index.

The patterns are the simulator's own (dynamical, default dose, 64×64) with the pattern centre
the same for every pattern (``pc_spread=0``): the indexer knows only one pattern centre, and the
simulator's default per-pattern spread (σ 0.01) alone adds about 1° (median 1.2° against 0.2°
without it, measured on 300 patterns per phase). The detector is not the default one — camera
tilt 8°, pattern centre (0.45, 0.25, 0.55) — so a wrong sign of the camera tilt or a wrong
pattern-centre convention shows. PyEBSDIndex compiles its numba kernels on the first call of a
process (minutes on two cores when numba's cache under ``~/.pyebsdindex`` is empty).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.baseline import HoughConfig, hough_run, hough_scan
from ebsdlib.baseline.hough import build_indexer, hough_patterns, hough_preprocess
from ebsdlib.baseline.hough_families import band_families, lattice_centring
from ebsdlib.baseline.hough_run import is_hough_run
from ebsdlib.cli import main
from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.simulate.detector import DetectorModel

DETECTOR = DetectorModel(pc=(0.45, 0.25, 0.55), pc_spread=0.0, camera_tilt=8.0)
SIZE = 64


def misorientation(found: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Symmetry-reduced misorientation (degrees) under the proper cubic point group 432."""
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import get_point_group

    sym = get_point_group(225, proper=True)
    return Orientation(found, symmetry=sym).angle_with(Orientation(true, symmetry=sym), degrees=True)


@pytest.fixture(scope="module")
def patterns(cache_root) -> Path:
    """30 patterns per phase (half training, half test), true orientations stored."""
    from ebsdlib.simulate import SimulationConfig, simulate_dataset

    config = SimulationConfig(
        n_per_phase=30, pattern_size=SIZE, detector=DETECTOR, patterns_per_grain=1, split_fractions=(0.5, 0.0, 0.5)
    )
    return simulate_dataset(config, cache_root / "hough_patterns.h5", progress=False)


@pytest.fixture(scope="module")
def scan(cache_root) -> Path:
    """A 3×4 scan with the same detector."""
    from ebsdlib.simulate import ScanConfig, simulate_scan

    config = ScanConfig(shape=(3, 4), n_grains=3, pattern_size=SIZE, detector=DETECTOR)
    return simulate_scan(config, cache_root / "hough_scan.h5", progress=False)


@pytest.fixture(scope="module")
def indexed(patterns):
    """Every pattern indexed with every phase, the indexer and the data set's labels and orientations."""
    from ebsdlib.data.format import EBSDDataset

    config = HoughConfig()
    with EBSDDataset(patterns) as ds:
        indexer = build_indexer(ds.phases, DETECTOR, ds.pattern_shape, config)
        result = hough_patterns(ds, indexer, None, hough_preprocess(config, ds.preprocessing))
        return indexer, result, ds.labels.copy(), ds.optional("orientations").astype(np.float64)


def test_orientations_are_in_orix_convention(indexed):
    _, result, labels, true = indexed
    errors = misorientation(result.rotations[np.arange(len(result)), labels], true)
    assert np.median(errors) <= 1.0  # measured 0.24°
    for p in range(3):  # each phase's own patterns, with its own band families
        assert np.median(errors[labels == p]) <= 1.0


def test_the_naive_conventions_are_far_off(indexed, patterns):
    """PyEBSDIndex's ``vendor="BRUKER"`` reads the same pattern centre but refers orientations to a
    sample frame turned 90° about the normal (about 40° median; the same solutions once turned back),
    and a camera tilt of the wrong sign tilts every solution by twice the tilt."""
    from ebsdlib.data.format import EBSDDataset

    indexer, result, labels, true = indexed
    with EBSDDataset(patterns) as ds:
        pre = hough_preprocess(HoughConfig(), ds.preprocessing)
        wrong_sign = build_indexer(ds.phases, replace(DETECTOR, camera_tilt=-8.0), ds.pattern_shape, HoughConfig())
        flipped = hough_patterns(ds, wrong_sign, None, pre)
        indexer.indexer.vendor = "BRUKER"
        try:
            bruker = hough_patterns(ds, indexer, None, pre)
        finally:
            indexer.indexer.vendor = "KIKUCHIPY"
    rows = np.arange(len(labels))
    assert np.median(misorientation(bruker.rotations[rows, labels], true)) > 20
    assert np.median(misorientation(flipped.rotations[rows, labels], true)) == pytest.approx(16.0, abs=2.0)
    # the two vendors differ by the sample frame only: 90° about the sample normal, on the right
    from orix.quaternion import Rotation

    solved = result.indexed & bruker.indexed
    turned = Rotation(bruker.rotations[solved]) * Rotation.from_axes_angles((0, 0, 1), -np.pi / 2)
    assert np.degrees(turned.angle_with(Rotation(result.rotations[solved]))).max() < 1e-3


FCC = [[1, 1, 1], [2, 0, 0], [2, 2, 0], [3, 1, 1]]  # PyEBSDIndex's FCC list


def test_band_geometry_cannot_tell_the_default_phases_apart(indexed, patterns):
    """Their bright band families are the fcc ones (the L1₂ superlattice bands are 1 % of {111}
    or less), and a cubic phase's interplanar angles do not depend on the lattice parameter: one
    PyEBSDIndex phase, the same solution and score for every pattern, and the run says so."""
    from ebsdlib.data.format import EBSDDataset

    indexer, result, _, _ = indexed
    assert indexer.families == [FCC, FCC, FCC] and indexer.library_of == (0, 0, 0)
    assert indexer.summary()["same_bands"] == [["Ni", "Ni3Al", "Ni3Fe"]]
    for p in (1, 2):
        np.testing.assert_array_equal(result.scores[:, p], result.scores[:, 0])
        np.testing.assert_array_equal(result.rotations[:, p], result.rotations[:, 0])
    assert result.indexed.all(axis=1).mean() > 0.9 and np.all(result.scores <= 1.0)
    with EBSDDataset(patterns) as ds:  # indexed once: the same as an indexer of Ni alone
        alone = build_indexer(ds.phases[:1], DETECTOR, ds.pattern_shape, HoughConfig())
        ni = hough_patterns(ds, alone, None, hough_preprocess(HoughConfig(), ds.preprocessing))
    np.testing.assert_array_equal(ni.scores[:, 0], result.scores[:, 0])


def test_band_families_follow_the_lattice_centring():
    ni, ni3al, _ = DEFAULT_PHASES
    assert band_families(ni) == [tuple(f) for f in FCC]
    bcc = Phase("Fe", 229, 2.87, "#000000")
    assert band_families(bcc) == [(1, 1, 0), (2, 0, 0), (2, 1, 1), (2, 2, 0), (3, 1, 0)]
    l12 = band_families(ni3al)  # every family the primitive lattice allows
    assert {(1, 0, 0), (1, 1, 0), (2, 1, 0), (2, 1, 1)} <= set(l12) and set(band_families(ni)) <= set(l12)
    assert [lattice_centring(s) for s in (225, 229, 221, 227, 230, 195)] == ["F", "I", "P", "F", "I", "P"]


def test_only_bright_families_are_listed():
    """|F|² of the L1₂ superlattice families is about 1 % of {111} in Ni₃Al and 0.02 % in Ni₃Fe; a
    strongly ordered B2 phase (CsCl: Cs and Cl differ by 38 electrons) keeps its {100}."""
    _, ni3al, ni3fe = DEFAULT_PHASES
    for phase in (ni3al, ni3fe):
        assert band_families(phase, min_intensity=0.05) == [tuple(f) for f in FCC]
    assert (1, 0, 0) in band_families(ni3al, min_intensity=0.005)  # Ni₃Al's superlattice is above 0.5 %
    assert (1, 0, 0) not in band_families(ni3fe, min_intensity=0.005)  # Ni₃Fe's is not
    cscl = Phase("CsCl", 221, 4.12, "#000000", atoms=(("Cs", 0, 0, 0), ("Cl", 0.5, 0.5, 0.5)))
    assert (1, 0, 0) in band_families(cscl, min_intensity=0.05)
    bare = Phase("X", 221, 3.6, "#000000")  # no atoms: no structure factors, every allowed family
    assert band_families(bare, min_intensity=0.05) == band_families(bare)


def test_parallel_families_are_kept_once(patterns):
    from ebsdlib.data.format import EBSDDataset

    with EBSDDataset(patterns) as ds:
        indexer = build_indexer(ds.phases, DETECTOR, ds.pattern_shape, HoughConfig(min_band_intensity=0))
    assert indexer.families[0] == FCC and indexer.library_of == (0, 1, 1)
    kept = {tuple(f) for f in indexer.families[1]}
    assert (1, 0, 0) in kept and (2, 0, 0) not in kept  # {100} ∥ {200}: one plane normal


def test_runs_stored_before_the_intensity_cut_read_as_they_ran():
    stored = HoughConfig().to_dict()
    del stored["min_band_intensity"]
    assert HoughConfig.from_dict(stored).min_band_intensity == 0.0
    assert HoughConfig.from_dict(HoughConfig().to_dict()).min_band_intensity == 0.05
    with pytest.raises(ValueError, match=r"min_band_intensity=1\.5 is not allowed; use a share"):
        HoughConfig(min_band_intensity=1.5)


@pytest.fixture(scope="module")
def run(patterns, scan, tmp_path_factory):
    root = tmp_path_factory.mktemp("hough_runs")
    return root, hough_run(patterns, scans=[scan], name="hough", root=root, progress=False)


def test_run_folder_is_a_completed_evaluated_run(run):
    from ebsdlib.metrics import compute_metrics
    from ebsdlib.runs import list_runs

    root, r = run
    (summary,) = list_runs(root)
    assert summary.run_id == r.run_id and summary.state == "completed" and not summary.broken
    cfg = summary.config
    assert cfg["method"] == "hough" and "loss" not in cfg and is_hough_run(cfg)
    assert HoughConfig.from_dict(cfg["hough"]) == HoughConfig()
    assert cfg["geometry"]["detector"]["camera_tilt"] == 8.0 and cfg["geometry"]["detector"]["pc"] == [0.45, 0.25, 0.55]
    assert cfg["preprocess"]["size"] is None  # indexed at the stored size
    m = summary.metrics
    keys = set(compute_metrics(np.array([0, 1, 2]), np.eye(3, dtype=np.float32), ["Ni", "Ni3Al", "Ni3Fe"], n_boot=10))
    assert keys <= set(m) and m["n"] == 45 and m["split"] == "test" and m["method"] == "hough"
    assert m["inference_patterns_per_second"] > 0 and 0 < m["temperature"] <= 1
    assert m["temperature_source"] == "fitted on 45 training patterns"
    assert m["hough"]["processes"] == 1 and m["hough"]["vendor"] == "KIKUCHIPY"
    assert m["hough"]["families"]["Ni"] == FCC and m["hough"]["same_bands"] == [["Ni", "Ni3Al", "Ni3Fe"]]
    assert m["orientation_error_deg"]["median"] <= 1.0 and m["orientation_error_deg"]["n"] == 45
    assert m["not_indexed"] < 0.1 and m["mean_matched_bands"] > 3
    json.dumps(m)


def test_predictions_and_phase_map(run):
    from ebsdlib.phasemap import load_phasemap
    from ebsdlib.runs import list_runs
    from ebsdlib.views.predictions import prediction_frame
    from ebsdlib.views.runs import best_runs, runs_table

    root, r = run
    preds = prediction_frame(r.predictions(), ["Ni", "Ni3Al", "Ni3Fe"])
    assert len(preds) == 45
    np.testing.assert_allclose(preds[["prob_Ni", "prob_Ni3Al", "prob_Ni3Fe"]].sum(axis=1), 1.0, atol=1e-5)
    assert r.phasemap_scans() == ["hough_scan"]
    pm = load_phasemap(r, "hough_scan")
    assert pm.scan_shape == (3, 4) and pm.meta["method"] == "hough"
    assert pm.meta["orientations"] == "Hough solution of the chosen phase"
    assert pm.meta["geometry"]["detector"]["camera_tilt"] == 8.0
    table = runs_table(list_runs(root))
    row = table.set_index("run_id").loc[r.run_id]
    assert row["method_label"] == "Hough/Radon indexing (PyEBSDIndex)" and row["state"] == "completed"
    assert "hough" in best_runs(table)


def test_a_scan_is_mapped_again_by_predict(run, scan, tmp_path):
    from ebsdlib.predict import predict_scan

    _, r = run
    folder = predict_scan(r, scan, scan_name="again", progress=False)
    assert folder == r.phasemap_dir("again") and sorted(r.phasemap_scans()) == ["again", "hough_scan"]
    (tmp_path / "di").mkdir()
    (tmp_path / "di" / "config.json").write_text(json.dumps({"method": "dictionary_refined"}))
    with pytest.raises(ValueError, match=r"run 'di' is a refined dictionary indexing run, not Hough indexing"):
        hough_scan(tmp_path / "di", scan, progress=False)


def test_cli_index_method_hough(patterns, scan, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path))
    argv = ["index", "--method", "hough", "--data", str(patterns), "--scan", str(scan), "--run-id", "cli"]
    assert main([*argv, "--calibration-patterns", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "run cli: PyEBSDIndex" in out and "patterns/s in 1 process" in out and "phase maps: hough_scan" in out
    assert json.loads((tmp_path / "runs" / "cli" / "metrics.json").read_text())["temperature_source"].startswith(
        "default"
    )
    assert main(["index", "--run", "cli", "--scan", str(scan), "--no-progress"]) == 0
    assert "phase map written to" in capsys.readouterr().out
    assert main(["index", "--method", "hough", "--data", str(patterns), "--refine", "--no-progress"]) == 2
    assert "--refine does not apply to --method hough" in capsys.readouterr().err


def test_a_phase_without_space_group_is_refused_before_anything_is_written(patterns, tmp_path, monkeypatch, capsys):
    from ebsdlib.data.format import EBSDDataset, write_dataset

    with EBSDDataset(patterns) as ds:
        raw, labels, split = ds.read(slice(None)), ds.labels, ds.optional("split")
    mystery = Phase("Mystery", 0, 0.0, "#17becf")
    bad = write_dataset(
        tmp_path / "mystery.h5",
        raw,
        labels,
        (*DEFAULT_PHASES[:2], mystery),
        provenance={"source": "test"},
        split=split,
        split_rule="as simulated",
    )
    root = tmp_path / "artifacts"
    with pytest.raises(
        ValueError,
        match=r"mystery\.h5: phase 'Mystery' has space group 0 and lattice parameter 0\.0 Å, so Hough indexing has "
        r"no band families for it; name the phase after a known one .* or give the data set's phase table its "
        r"space group and lattice parameter",
    ):
        hough_run(bad, root=root, progress=False)
    assert not (root / "runs").exists() or not list((root / "runs").iterdir())
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
    assert main(["index", "--method", "hough", "--data", str(bad), "--no-progress"]) == 2
    assert "phase 'Mystery' has space group 0" in capsys.readouterr().err
    assert not (root / "runs").exists() or not list((root / "runs").iterdir())
    with pytest.raises(ValueError, match=r"phase 'Fe': space group 194 is not cubic \(195–230\)"):
        band_families(Phase("Fe", 194, 2.5, "#000000"))


@pytest.mark.parametrize(
    "change, match",
    [
        ({"n_bands": 2}, r"n_bands=2 is not allowed; use an integer from 3 to 50"),
        ({"angle_tolerance": 0}, r"angle_tolerance=0 is not allowed"),
        ({"temperature": -1.0}, r"temperature=-1\.0 is not allowed; use None \(fit it\)"),
        ({"pc": (0.5, 0.5)}, r"pc=\(0\.5, 0\.5\) is not allowed"),
    ],
)
def test_bad_options_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        HoughConfig(**change)


def test_config_round_trips_and_refuses_unknown_keys():
    cfg = HoughConfig(n_bands=12, pc=(0.4, 0.2, 0.5))
    assert HoughConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match=r"unknown Hough indexing options \['resolution'\]"):
        HoughConfig.from_dict({"resolution": 5})


def test_an_indexer_of_another_shape_is_refused(indexed, patterns):
    from ebsdlib.data.format import EBSDDataset

    indexer, *_ = indexed
    other = build_indexer(indexer.phases, DETECTOR, (48, 48), HoughConfig())
    with EBSDDataset(patterns) as ds, pytest.raises(ValueError, match=r"patterns are 64×64 but the Hough indexer"):
        hough_patterns(ds, other, None, hough_preprocess(HoughConfig(), ds.preprocessing))


def test_pyebsdindex_leaves_numba_cache_dir_as_it_was():
    """PyEBSDIndex sets ``$NUMBA_CACHE_DIR`` when imported; building an indexer must leave it
    unset, or every process started afterwards compiles into another numba cache. In a
    fresh process (the modules are imported there for the first time) with the variable unset, so
    numba's own cache, which ``tests/warm_numba.py`` filled, serves the kernels."""
    import os
    import subprocess
    import sys

    script = (
        "import os\n"
        "from ebsdlib.baseline.hough import build_indexer\n"
        "from ebsdlib.baseline.hough_config import HoughConfig\n"
        "from ebsdlib.phases import DEFAULT_PHASES\n"
        "from ebsdlib.simulate.detector import DetectorModel\n"
        "indexer = build_indexer(DEFAULT_PHASES[:1], DetectorModel(), (32, 32), HoughConfig())\n"
        "indexer.summary()\n"
        "print(os.environ.get('NUMBA_CACHE_DIR'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "None"
