"""End to end: train a tiny model with the library, map a 6 × 5 scan, read the artifacts back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.cli import main
from ebsdlib.data.format import DataFormatError, EBSDDataset, write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.data.scan import scan_name_from_path, scan_positions, true_labels
from ebsdlib.phasemap import load_phasemap
from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.predict import predict_scan

SIZE = 24


def stripes(labels: np.ndarray, seed: int) -> np.ndarray:
    """uint8 patterns whose stripe direction is the class (rows, columns, diagonal)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    waves = [np.sin(yy / 2.0), np.sin(xx / 2.0), np.sin((xx + yy) / 2.0)]
    out = np.empty((len(labels), SIZE, SIZE), dtype=np.uint8)
    for i, lab in enumerate(labels):
        out[i] = np.clip(100 + 50 * waves[lab] + rng.normal(0, 8, (SIZE, SIZE)), 0, 255)
    return out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A run of timm's test_efficientnet trained for 2 epochs on 48 stripe patterns."""
    from ebsdlib.train.config import TrainConfig
    from ebsdlib.train.loop import train

    root = tmp_path_factory.mktemp("artifacts")
    labels = np.arange(48) % 3
    split = np.where(np.arange(48) % 4 == 1, 1, np.where(np.arange(48) % 4 == 3, 2, 0))
    data = write_dataset(
        root / "train.h5",
        stripes(labels, 0),
        labels,
        DEFAULT_PHASES,
        provenance={"test": "stripes"},
        split=split.astype(np.int8),
    )
    config = TrainConfig(
        data=str(data),
        model="test_efficientnet",
        epochs=2,
        batch_size=8,
        lr=3e-3,
        warmup_epochs=1,
        device="cpu",
        umap=False,
        eval_batch_size=16,
        preprocess=PreprocessConfig(size=SIZE),
    )
    return train(config, progress=False, root=root), root


def model_proba(run, scan: Path, device: str) -> np.ndarray:
    """Probabilities of every pattern of ``scan`` in file order, straight from the model."""
    from ebsdlib.train.inference import load_model, predict_dataset

    model, config, _ = load_model(run.best_checkpoint, device)
    with EBSDDataset(scan) as ds:
        proba, _ = predict_dataset(model, ds, None, config.preprocess, device=device, batch_size=16, embeddings=False)
    return proba


@pytest.fixture
def scan(tmp_path) -> Path:
    """A 6 × 5 scan stored column-first (positions matter), with truth, quality and orientations."""
    rows, cols = 6, 5
    r, c = np.divmod(np.arange(rows * cols), cols)
    order = np.lexsort((r, c))  # column by column
    r, c = r[order], c[order]
    labels = (r // 2).astype(np.int16)
    rng = np.random.default_rng(3)
    quat = rng.normal(size=(rows * cols, 4)).astype(np.float32)
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    return write_dataset(
        tmp_path / "my scan.h5",
        stripes(labels, 1),
        labels,
        DEFAULT_PHASES,
        provenance={"test": "scan"},
        scan_row=r,
        scan_col=c,
        scan_shape=(rows, cols),
        step_size=0.25,
        quality=rng.random(rows * cols).astype(np.float32),
        orientations=quat,
    )


def test_predict_scan_writes_every_artifact(trained_run, scan):
    from orix import io as oio

    run, root = trained_run
    folder = predict_scan(run.run_id, scan, batch_size=7, device="cpu", progress=False, root=root)
    assert folder == run.path / "phasemaps" / "my_scan"
    assert {p.name for p in folder.iterdir()} >= {
        "phasemap.npz",
        "phasemap.png",
        "phasemap.csv",
        "crystalmap.h5",
        "crystalmap.ang",
        "fractions.json",
        "metrics.json",
    }
    pm = load_phasemap(run, "my_scan")
    assert pm.scan_shape == (6, 5) and pm.step_size == 0.25
    assert (pm.index >= 0).all()
    # the map puts each pattern at its own position: truth is the row band
    np.testing.assert_array_equal(pm.true, np.repeat(np.arange(3), 2)[:, None].repeat(5, axis=1))
    with EBSDDataset(scan) as ds:
        q = ds.optional("quality")
        r, c = ds.optional("scan/row"), ds.optional("scan/col")
    np.testing.assert_allclose(pm.quality[r, c], q)
    np.testing.assert_allclose(pm.proba.astype(np.float32).sum(axis=2), 1.0, atol=1e-2)
    # each pattern's probabilities sit at its own scan position
    proba = model_proba(run, scan, "cpu")
    np.testing.assert_allclose(pm.proba[r, c].astype(np.float32), proba, atol=2e-3)
    np.testing.assert_array_equal(pm.pred[r, c], proba.argmax(axis=1))
    assert pm.accuracy == pytest.approx(float((pm.pred == pm.true).mean()))
    fractions = json.loads((folder / "fractions.json").read_text())
    assert sum(r["count"] for r in fractions["predicted"]["rows"]) == 30
    assert fractions["accuracy"] == pytest.approx(pm.accuracy)
    xmap = oio.load(folder / "crystalmap.h5")
    np.testing.assert_array_equal(xmap.phase_id, pm.pred.ravel())
    assert xmap.dx == pytest.approx(0.25)


def test_cli_predict_prints_fractions_and_accuracy(trained_run, scan, capsys):
    run, _root = trained_run
    code = main(
        [
            "predict",
            "--run",
            str(run.path),
            "--data",
            str(scan),
            "--name",
            "cli",
            "--device",
            "cpu",
            "--batch-size",
            "16",
            "--threshold",
            "0.2",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "phase map of 6×5 points written to" in out
    assert "Ni3Fe" in out and "not indexed" in out and "accuracy" in out
    assert "cli" in run.phasemap_scans()


def test_cli_bad_inputs(trained_run, scan, tmp_path, capsys):
    run, root = trained_run
    assert main(["predict", "--run", str(run.path), "--data", str(scan), "--name", "../x"]) == 2
    assert "scan name '../x' is not allowed" in capsys.readouterr().err
    assert main(["predict", "--run", "no-such-run", "--data", str(scan), "--root", str(root)]) == 2
    assert "run 'no-such-run' not found" in capsys.readouterr().err
    assert main(["predict", "--run", str(run.path), "--data", str(scan), "--threshold", "2"]) == 2
    assert "--threshold 2.0 must lie in [0, 1]" in capsys.readouterr().err


def test_run_without_checkpoint(tmp_path, scan):
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="run 'empty' has no best checkpoint yet"):
        predict_scan("empty", scan, root=tmp_path, progress=False)


def test_scan_positions_row_by_row_and_missing(tmp_path):
    labels = np.zeros(6, dtype=np.int16)
    path = write_dataset(
        tmp_path / "a.h5", stripes(labels, 0), labels, DEFAULT_PHASES, provenance={}, scan_shape=(2, 3)
    )
    with EBSDDataset(path) as ds:
        row, col, shape = scan_positions(ds)
    assert shape == (2, 3) and row.tolist() == [0, 0, 0, 1, 1, 1] and col.tolist() == [0, 1, 2] * 2
    path = write_dataset(tmp_path / "b.h5", stripes(labels, 0), labels, DEFAULT_PHASES, provenance={})
    with EBSDDataset(path) as ds, pytest.raises(DataFormatError, match="has no 'scan_shape' attribute"):
        scan_positions(ds)
    path = write_dataset(
        tmp_path / "c.h5", stripes(labels, 0), labels, DEFAULT_PHASES, provenance={}, scan_shape=(2, 2)
    )
    with EBSDDataset(path) as ds, pytest.raises(DataFormatError, match=r"do not fill its scan shape 2×2"):
        scan_positions(ds)


def test_true_labels_match_phases_by_name(tmp_path):
    phases = (DEFAULT_PHASES[2], Phase("Fe", 229, 2.87, "#ff7f0e"), DEFAULT_PHASES[0])
    labels = np.array([0, 1, 2, -1], dtype=np.int16)
    path = write_dataset(tmp_path / "d.h5", stripes(np.zeros(4, int), 0), labels, phases, provenance={})
    with EBSDDataset(path) as ds:
        assert true_labels(ds, DEFAULT_PHASES).tolist() == [2, -1, 0, -1]
    path = write_dataset(tmp_path / "e.h5", stripes(np.zeros(4, int), 0), None, phases, provenance={})
    with EBSDDataset(path) as ds:
        assert true_labels(ds, DEFAULT_PHASES) is None


def test_scan_name_from_path():
    assert scan_name_from_path("/x/my scan.h5") == "my_scan"
    assert scan_name_from_path(".hidden.h5") == "hidden"
    assert scan_name_from_path("/x/???.h5") == "scan"


@pytest.mark.gpu
def test_predict_scan_on_cuda_matches_cpu(trained_run, scan):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    run, _root = trained_run
    folder = predict_scan(run, scan, batch_size=4096, device="cuda", progress=False, scan_name="gpu")
    pm = load_phasemap(run, folder.name)
    with EBSDDataset(scan) as ds:
        r, c = ds.optional("scan/row"), ds.optional("scan/col")
    # CUDA runs in bf16/fp16 autocast: probabilities agree to about a percent
    np.testing.assert_allclose(pm.proba[r, c].astype(np.float32), model_proba(run, scan, "cpu"), atol=0.05)
