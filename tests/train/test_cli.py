"""``train``, ``resume``, ``evaluate`` and ``runs`` from the command line."""

from __future__ import annotations

import numpy as np
import pytest

from ebsdlib.cli import build_parser, main
from ebsdlib.cli.train_cmds import config_from_args, config_to_argv
from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.runs import RunDir
from ebsdlib.train.config import TrainConfig

TINY = [
    "--model",
    "test_efficientnet",
    "--epochs",
    "1",
    "--batch-size",
    "8",
    "--device",
    "cpu",
    "--image-size",
    "24",
    "--no-umap",
    "--quiet",
]


def parse(*argv: str) -> TrainConfig:
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_flags_override_only_what_they_name(tiny_data):
    config = parse(
        "--data",
        str(tiny_data),
        "--loss",
        "supcon",
        "--epochs",
        "3",
        "--no-augment",
        "--validation",
        "--image-size",
        "32",
        "--lr",
        "0.01",
        "--temperature",
        "0.2",
        "--schedule",
        "step",
        "--precision",
        "fp32",
        "--name",
        "trial",
    )
    defaults = TrainConfig()
    assert (config.loss, config.epochs, config.augment, config.validation) == ("supcon", 3, False, True)
    assert (config.lr, config.temperature, config.schedule, config.name) == (0.01, 0.2, "step", "trial")
    assert config.preprocess.size == 32
    assert config.batch_size == defaults.batch_size and config.model == defaults.model
    assert config.eval_split == "val"


def test_the_data_sets_recommended_preprocessing_is_the_base(tmp_path):
    rng = np.random.default_rng(0)
    path = write_dataset(
        tmp_path / "rec.h5",
        rng.integers(0, 255, (6, 20, 20), dtype=np.uint8),
        np.array([0, 1, 2, 0, 1, 2]),
        DEFAULT_PHASES,
        provenance={},
        preprocessing={"size": 16, "normalise": "minmax"},
    )
    config = parse("--data", str(path))
    assert config.preprocess == PreprocessConfig(size=16, normalise="minmax")
    assert parse("--data", str(path), "--image-size", "40").preprocess.size == 40


def test_config_round_trips_through_its_flags(tiny_data, tmp_path):
    config = TrainConfig(
        data=str(tiny_data),
        loss="supcon",
        model="test_efficientnet",
        epochs=7,
        validation=True,
        augment=False,
        umap=False,
        seed=5,
        precision="bf16",
        pretrained=str(tmp_path / "w.pt"),
        name="round trip",
        preprocess=PreprocessConfig(size=None, circular_mask=True, dynamic_sigma=0.2),
        stream=True,
        randomise={"dose": [500, 8000], "camera_tilt": [-4, 4], "dynamical_fraction": 0.5},
    )
    assert parse(*config_to_argv(config)) == config


def test_config_file_is_the_base_and_flags_win(tiny_data, tmp_path):
    from ebsdlib.io import write_json

    base = TrainConfig(data=str(tiny_data), loss="supcon", epochs=4, preprocess=PreprocessConfig(size=48))
    write_json(tmp_path / "config.json", base.to_dict())
    config = parse("--config", str(tmp_path / "config.json"), "--epochs", "2")
    assert config.loss == "supcon" and config.epochs == 2 and config.preprocess.size == 48


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--epochs", "0"], r"argument --epochs: epochs=0 is not allowed; use an integer from 1 to 10000"),
        (["--lr", "-1"], r"argument --lr: lr=-1.0 is not allowed; use a number in \(0, 10\]"),
        (["--image-size", "4"], r"argument --image-size: size 4 must be between 8 and 1024"),
        (
            ["--loss", "triplet"],
            r"argument --loss: invalid choice: 'triplet' \(choose from 'ce', 'supcon', 'contrastive'\)",
        ),
        (["--batch-size", "big"], r"argument --batch-size: invalid int value: 'big'"),
        (["--data", "nowhere.h5"], r"argument --data: data set 'nowhere.h5' not found"),
        (["--run-id", "../escape"], r"argument --run-id: run id '../escape' is not allowed"),
        (
            ["--stream", "--random-dose", "8000", "500"],
            r"argument --random-dose: randomise: dose range \(8000, 500\) is empty; give LOW ≤ HIGH",
        ),
        (["--stream", "--random-dose", "0", "500"], r"argument --random-dose: .* use values > 0"),
        (
            ["--random-psf-sigma", "0.5", "1"],
            r"argument --random-\*: randomise: domain ranges \(psf_sigma 0.5–1\) need stream",
        ),
    ],
)
def test_bad_options_name_option_value_and_what_is_allowed(argv, message, tiny_data, artifacts, capsys):
    data = [] if "--data" in argv else ["--data", str(tiny_data)]
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *data, *argv])
    assert exit_info.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not (artifacts / "runs").exists() or not any((artifacts / "runs").iterdir())


def test_bad_options_for_a_launched_run_mark_it_failed(tiny_data, artifacts):
    run = RunDir(artifacts / "runs" / "launched")
    run.path.mkdir(parents=True)
    run.update_status(state="queued")
    with pytest.raises(SystemExit):
        main(["train", "--data", str(tiny_data), "--epochs", "0", "--run-id", "launched"])
    status = run.read_status()
    assert status.state == "failed" and "--epochs" in status.error


def test_train_evaluate_runs_and_delete(tiny_data, artifacts, capsys):
    assert (
        main(
            ["train", "--data", str(tiny_data), "--loss", "supcon", "--run-id", "cli-run", "--probe-epochs", "3", *TINY]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "accuracy" in out and "Ni↔Ni3Fe confusion" in out and "linear probe" in out
    run = RunDir(artifacts / "runs" / "cli-run")
    assert run.read_status().state == "completed"

    assert main(["evaluate", "cli-run", "--split", "val", "--quiet"]) == 0
    other = run.path / "evaluations" / "val"
    assert {p.name for p in other.iterdir()} >= {"metrics.json", "predictions.csv", "embeddings.npy"}
    assert "split 'val', n=12" in capsys.readouterr().out
    before = run.metrics()
    assert main(["evaluate", "cli-run", "--quiet"]) == 0
    after = run.metrics()
    assert after["accuracy"] == before["accuracy"] and after["knn_accuracy"] == before["knn_accuracy"]
    assert after["training_seconds"] == before["training_seconds"]

    assert main(["resume", "cli-run", "--quiet"]) == 2
    assert "already completed" in capsys.readouterr().err

    assert main(["runs"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["run", "state", "method"]
    assert "cli-run" in table and "completed" in table and "supcon" in table

    assert main(["runs", "--delete", "cli-run"]) == 0
    assert not run.path.exists()
    assert main(["runs"]) == 0
    assert "no runs yet" in capsys.readouterr().out
    assert main(["evaluate", "cli-run"]) == 2
    assert "not found" in capsys.readouterr().err


def test_sigterm_cancels_a_training_process(tiny_data, artifacts):
    """What a launcher does: start `train --run-id`, then SIGTERM it; the run is left resumable."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run = RunDir(artifacts / "runs" / "term")
    argv = [
        sys.executable,
        "-m",
        "ebsdlib",
        "train",
        "--data",
        str(tiny_data),
        "--run-id",
        "term",
        *TINY,
        "--epochs",
        "200",
        "--artifacts",
        str(artifacts),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not run.last_checkpoint.exists():
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "no epoch finished within 120 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
    status = run.read_status()
    assert status.state == "cancelled" and 1 <= status.epoch < 200
    assert "resume term" in status.message
