"""``python -m ebsdlib import`` and ``info``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.cli import main


def test_import_image_folder_then_info(make_image_folder, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = make_image_folder(classes={"Ni": 10, "Ni3Fe": 10}, shape=(16, 16))
    out = tmp_path / "datasets" / "lab.h5"
    code = main(
        [
            "import",
            str(root),
            "--out",
            str(out),
            "--size",
            "8",
            "--seed",
            "3",
            "--split",
            "0.6",
            "0.2",
            "0.2",
            "--phases",
            "Ni",
            "Ni3Al",
            "Ni3Fe",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and out.exists()
    assert "20 of 8×8 uint8" in captured.out and f"wrote {out}" in captured.out
    assert "import images" in captured.err  # the tqdm bar
    assert main(["info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["Ni"] == {"total": 10, "train": 6, "val": 2, "test": 2}
    assert summary["counts"]["Ni3Al"]["total"] == 0 and summary["seed"] == 3
    assert summary["provenance"]["reader"] == "image_folder"
    assert main(["info", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    for expected in (
        "patterns       20 of 8×8 uint8",
        "split rule     stratified by phase",
        "preprocessing  static_background=True",
        '"reader": "image_folder"',
    ):
        assert expected in text


def test_import_vendor_scan_default_out(kp_data: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", str(kp_data / "nordif" / "Pattern.dat")]) == 0
    out = Path(os.environ["EBSDLIB_ARTIFACTS"]) / "datasets" / "Pattern.h5"
    text = capsys.readouterr().out
    assert out.exists() and "scan           3 rows × 3 cols, step 1.5 µm" in text
    assert "unknown            9" in text


def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(tmp_path / "absent.h5")]) == 2
    assert "error: " in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["import", str(tmp_path / "empty"), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "needs one sub-folder per phase" in err
    assert main(["import", str(tmp_path / "empty"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "--out" in capsys.readouterr().err and not (tmp_path / "x.h5").exists()


def without_pythonpath() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.mark.parametrize("command", ["module", "console script"])
def test_the_installed_package_runs_from_any_folder(command: str, tmp_path: Path) -> None:
    """``python -m ebsdlib`` and the ``ebsdlib`` console script, started outside the repository."""
    argv = [sys.executable, "-m", "ebsdlib"] if command == "module" else [str(Path(sys.executable).parent / "ebsdlib")]
    proc = subprocess.run(
        [*argv, "--help"], capture_output=True, check=False, text=True, env=without_pythonpath(), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: ebsdlib ")
    for name in ("import", "simulate", "train", "evaluate", "predict", "demo", "bench"):
        assert name in proc.stdout


def test_python_dash_m_info(tiny_dataset: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ebsdlib", "info", str(tiny_dataset)],
        capture_output=True,
        check=False,
        text=True,
        env=without_pythonpath(),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "patterns       30 of 12×16 uint8" in proc.stdout
    assert "scan           5 rows × 6 cols, step 0.5 µm" in proc.stdout
    assert np.isin(["Ni", "Ni3Al", "Ni3Fe"], proc.stdout.split()).all()
