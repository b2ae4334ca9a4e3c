"""``python -m ebsdlib simulate`` end to end at a tiny size."""

import numpy as np
import pytest

from ebsdlib.cli import main
from ebsdlib.data.format import EBSDDataset

TINY_ARGS = ["--pattern-size", "32", "--master-half-size", "40", "--no-progress"]


def test_simulate_builds_dataset_and_scan(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    out, scan_out = tmp_path / "d.h5", tmp_path / "s.h5"
    rc = main(
        [
            "simulate",
            "--out",
            str(out),
            "--scan-out",
            str(scan_out),
            "--n-per-phase",
            "4",
            "--scan-shape",
            "6",
            "5",
            "--grains",
            "3",
            "--dose",
            "30",
            "--seed",
            "3",
            *TINY_ARGS,
        ]
    )
    assert rc == 0
    with EBSDDataset(out) as ds:
        assert len(ds) == 12 and ds.provenance["config"]["dose"] == 30.0 and ds.attrs["seed"] == 3
    with EBSDDataset(scan_out) as ds:
        assert ds.scan_shape == (6, 5) and len(ds) == 30
    text = capsys.readouterr().out
    assert "12 patterns of 32×32 uint8" in text and "scan 6×5" in text
    with EBSDDataset(out) as ds:  # the default is dynamical, from the masters shipped with the package
        assert ds.provenance["config"]["forward_model"] == "dynamical"
    assert not list((tmp_path / "artifacts" / "cache" / "master").glob("*.npz"))


def test_simulate_kinematical_caches_its_masters(tmp_path, monkeypatch):
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    out = tmp_path / "k.h5"
    rc = main(
        [
            "simulate",
            "--what",
            "dataset",
            "--out",
            str(out),
            "--n-per-phase",
            "2",
            "--forward-model",
            "kinematical",
            *TINY_ARGS,
        ]
    )
    assert rc == 0
    with EBSDDataset(out) as ds:
        assert ds.provenance["config"]["forward_model"] == "kinematical"
    # kinematical masters of a non-default size are built once and cached under the artifacts folder
    assert list((tmp_path / "artifacts" / "cache" / "master").glob("*.npz"))


def test_simulate_dataset_only_with_imbalance(tmp_path, monkeypatch):
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    out = tmp_path / "d.h5"
    rc = main(
        [
            "simulate",
            "--what",
            "dataset",
            "--out",
            str(out),
            "--scan-out",
            str(tmp_path / "s.h5"),
            "--n-per-phase",
            "2",
            "3",
            "4",
            *TINY_ARGS,
        ]
    )
    assert rc == 0 and not (tmp_path / "s.h5").exists()
    with EBSDDataset(out) as ds:
        assert np.bincount(ds.labels).tolist() == [2, 3, 4]


def test_bad_option_prints_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    rc = main(["simulate", "--out", str(tmp_path / "d.h5"), "--dose", "-1", *TINY_ARGS])
    assert rc == 2
    assert "dose -1.0 must be a positive" in capsys.readouterr().err
    assert not (tmp_path / "d.h5").exists()


def test_default_paths_follow_the_artifacts_folder(tmp_path, monkeypatch):
    root = tmp_path / "artifacts"
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
    rc = main(["simulate", "--n-per-phase", "2", "--scan-shape", "4", "4", "--grains", "3", *TINY_ARGS])
    assert rc == 0
    assert (root / "datasets" / "default.h5").exists()
    assert (root / "datasets" / "default_scan.h5").exists()


def test_any_phase_with_atoms_from_a_phase_file(tmp_path, monkeypatch, capsys):
    import json

    from ebsdlib.simulate.dynamical import DynamicalSettings
    from ebsdlib.simulate.master import locate

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    cu = {"name": "Cu", "space_group": 225, "lattice_a": 3.615, "color": "", "atoms": [["Cu", 0, 0, 0]]}
    phase_file = tmp_path / "phases.json"
    phase_file.write_text(json.dumps([cu]))
    out = tmp_path / "cu.h5"
    args = ["simulate", "--what", "dataset", "--out", str(out), "--n-per-phase", "2", "--phases", "Ni", "Cu"]
    fast = ["--phase-file", str(phase_file), "--npx", "16", "--dmin", "0.2", "--mc-electrons", "1000"]
    assert main([*args, *fast, "--pattern-size", "32", "--no-progress"]) == 0
    with EBSDDataset(out) as ds:
        assert ds.phase_names == ["Ni", "Cu"] and ds.phases[1].lattice_a == 3.615 and ds.phases[1].color
        assert ds.provenance["config"]["custom_phases"][0]["name"] == "Cu"
    fast_settings = DynamicalSettings(npx=16, dmin=0.2, mc_electrons=1000)
    cache = tmp_path / "artifacts" / "cache" / "master"
    assert locate(ds.phases[1], cache_dir=cache, forward_model="dynamical", dynamical=fast_settings) is not None


@pytest.mark.parametrize(
    "content, match",
    [
        ("not json", r"phases.json: the phase file cannot be read as JSON"),
        ('{"name": "Cu"}', r"phases.json: a phase file is a JSON list of phases"),
        ('[{"name": "Cu", "space_group": 225}]', r"phase 0 \('Cu'\) cannot be read: .*lacks the keys"),
        (
            '[{"name": "Cu", "space_group": 225, "lattice_a": 3.6, "color": ""}]',
            r"phase 'Cu' has no atoms",
        ),
        (
            '[{"name": "Cu", "space_group": 225, "lattice_a": -1, "color": "", "atoms": [["Cu", 0, 0, 0]]}]',
            r"lattice parameter -1\.0 Å",
        ),
        (
            '[{"name": "Ni", "space_group": 225, "lattice_a": 3.5, "color": "", "atoms": [["Ni", 0, 0, 0]]}]',
            r"custom phases \['Ni'\] reuse a name",
        ),
    ],
)
def test_bad_phase_files_are_refused_with_nothing_written(tmp_path, monkeypatch, capsys, content, match):
    import re

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    phase_file = tmp_path / "phases.json"
    phase_file.write_text(content)
    out = tmp_path / "x.h5"
    assert main(["simulate", "--what", "dataset", "--out", str(out), "--phase-file", str(phase_file)]) == 2
    assert re.search(match, capsys.readouterr().err) and not out.exists()
