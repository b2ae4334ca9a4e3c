"""The device script: its CPU variant end to end (the structure and numbers of its summary), a
refusal without CUDA, and a failing or slow step recorded while the script goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ebsdlib import device_check
from ebsdlib.device_check import SHARES, Step, main, run_step

STEPS = ["gpu-tests", "bench-speed", "stream-data", "stream-train", "predict-eager"]
#: Seconds for the CPU variant's steps (their numba cache warmed first, outside this budget).
BUDGET = 480
REPO = Path(__file__).resolve().parents[1]


def test_the_cpu_variant_runs_every_step_and_summarises_its_numbers(tmp_path):
    out = tmp_path / "check"
    # its own numba cache: in a full test session every step once died of SIGSEGV at start-up, loading
    # gufunc cache entries other processes had written in another compile order (numba issue #10128)
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
    }
    # compiled into that cache before the clock starts: cold, the compile took the gpu-tests step's whole
    # 107 s share under a parallel test session (measured 84-90 s alone on the 2-core machine)
    warm = [sys.executable, "-c", "from tests import warm_numba; warm_numba.main()"]
    subprocess.run(warm, env=env, cwd=REPO, capture_output=True, text=True, timeout=900, check=True)
    cmd = [sys.executable, "-m", "ebsdlib.device_check", "--out", str(out), "--allow-cpu", "--budget-s", str(BUDGET)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BUDGET + 120, check=False)
    assert done.returncode == 0, _failure_report(out, done.stderr)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["mode"] == "cpu (--allow-cpu)"
    assert [s["name"] for s in summary["steps"]] == STEPS
    for s in summary["steps"]:
        assert s["exit_code"] == 0 and not s["timed_out"] and s["skipped"] is None, s
        assert 0 < s["seconds"] <= s["timeout_s"] <= BUDGET
        assert Path(s["log"]).is_file() and Path(s["log"]).parent == out
    tests = summary["steps"][0]["details"]
    assert tests["tests"] >= 1 and tests["skipped"] == tests["tests"]  # the CUDA tests skip on the CPU
    assert (out / "bench" / "speed.json").is_file()
    bench = summary["bench"]
    assert bench["precision"] == "fp32" and bench["peak_gpu_memory_mb"] is None
    for key in ("inference_end_to_end", "inference_model_alone", "training_end_to_end", "training_model_alone"):
        assert bench[f"{key}_patterns_per_second"] > 0
    simulations = {"kinematical patterns", "dynamical patterns", "stream on cpu (torch)"}
    assert set(bench["simulation_patterns_per_second"]) == simulations
    stream_rate = bench["stream_simulation_patterns_per_second"]  # the stream trainer's source
    assert stream_rate == bench["simulation_patterns_per_second"]["stream on cpu (torch)"] > 0
    assert summary["targets"]["simulation_patterns_per_second"]["measured"] == stream_rate
    assert bench["end_to_end_over_model"]["inference · fp32"] > 0
    stream = summary["stream"]
    assert stream["feeder"] == "stream" and stream["train_patterns_per_second"] > 0
    assert "warm-up" in stream["throughput_note"] and stream["device"] == "cpu"
    predict = summary["predict"]  # the benchmark's scan mapped again with its kept run
    assert predict["eager_patterns_per_second"] > 0 and "compiled_patterns_per_second" not in predict
    assert predict["eager_throughput"].startswith(("steady state", "warm-up not excluded"))
    targets = summary["targets"]
    assert set(targets) == set(device_check.TARGETS)
    measured = targets["inference_patterns_per_second"]["measured"]
    assert measured == bench["inference_end_to_end_patterns_per_second"]
    assert targets["inference_patterns_per_second"]["met"] is (measured >= 20_000)
    md = (out / "summary.md").read_text()
    assert all(f"| {name} | 0 |" in md for name in STEPS) and "## Issue targets" in md


def test_without_cuda_it_refuses_unless_the_cpu_is_allowed(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device is available" in err and "pass --allow-cpu" in err
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x"), "--budget-s", "0"])
    assert "--budget-s: 0.0 is not a positive number of seconds" in capsys.readouterr().err


def test_a_failing_step_is_recorded_and_the_rest_share_the_budget(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ran = []

    def fake(step: Step, cwd: Path, env: dict) -> Step:  # instant steps; the data set's build fails
        ran.append((step.name, step.timeout_s))
        step.exit_code, step.seconds = (1 if step.name == "stream-data" else 0), 0.0
        return step

    monkeypatch.setattr(device_check, "run_step", fake)
    assert main(["--out", str(tmp_path), "--allow-cpu", "--budget-s", "100"]) == 1
    names = [n for n, _ in ran]
    assert names == ["gpu-tests", "bench-speed", "stream-data", "predict-eager"]  # no stream training without data
    limits = dict(ran)
    cpu_shares = sum(SHARES[name] for name in STEPS)
    assert limits["gpu-tests"] == pytest.approx(100 * SHARES["gpu-tests"] / cpu_shares, rel=0.01)
    assert limits["stream-data"] == pytest.approx(100 * 0.05 / 0.25, rel=0.05)  # the unused time rolled over
    summary = json.loads((tmp_path / "summary.json").read_text())
    by = {s["name"]: s for s in summary["steps"]}
    assert by["stream-data"]["exit_code"] == 1
    assert by["stream-train"]["skipped"] == "its data set was not made (stream-data failed)"
    assert summary["bench"] == {} and all(t["met"] is None for t in summary["targets"].values())
    assert "| stream-train | skipped: its data set was not made" in (tmp_path / "summary.md").read_text()


def test_a_step_past_its_timeout_is_stopped_with_its_children(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    child = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    step = Step("slow", [sys.executable, "-c", child], str(tmp_path / "slow.log"), timeout_s=3)
    run_step(step, tmp_path, dict(os.environ))
    assert step.timed_out and step.exit_code != 0 and step.seconds < 20
    assert "stopped after its timeout of 3 s" in (tmp_path / "slow.log").read_text()
    proc = Path(f"/proc/{pid_file.read_text()}")
    for _ in range(50):  # the kill is asynchronous: wait up to 5 s for the grandchild to go
        if not proc.exists() or "State:\tZ" in (proc / "status").read_text():
            break
        time.sleep(0.1)
    assert not proc.exists() or "State:\tZ" in (proc / "status").read_text()


def _failure_report(out: Path, stderr: str) -> str:
    """What a failed check says: its stderr, the summary and the tail of each step's log."""
    parts = [stderr[-2000:]]
    if (out / "summary.md").is_file():
        parts.append((out / "summary.md").read_text()[:3000])
    for log in sorted(out.glob("*.log")):
        parts.append(f"--- {log.name}\n" + log.read_text()[-2000:])
    return "\n".join(parts)
