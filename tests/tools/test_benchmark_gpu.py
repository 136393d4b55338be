"""benchmarks/gpu_check.py (`tools/benchmark.py gpu`) in its CPU smoke mode: every row, its JSON, its errors."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load_gpu_check()

FAST_STEPS = "quickstart_fp32,quickstart_fp16,two_process_nccl,two_process_gloo,train_slowfast_r50,train_mvitv2_s,loader"


def _steps(payload):
    return {s["name"]: s for s in payload["steps"]}


def test_smoke_run_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    code = gpu_check.main(["--device", "cpu", "--smoke", "--out", str(out), "--steps", FAST_STEPS])
    printed = capsys.readouterr().out
    assert code == 0, printed
    payload = json.loads(out.read_text())
    assert payload["failed"] == [] and payload["smoke"] and payload["peak_tflops"] == 989.0
    steps = _steps(payload)
    assert list(steps) == FAST_STEPS.split(",")
    assert steps["quickstart_fp32"]["status"] == "ok"
    assert "top-1" in steps["quickstart_fp32"]["metrics"]["last_log_line"]  # it trained and tested
    assert steps["quickstart_fp16"]["status"] == "skipped" and "CUDA" in steps["quickstart_fp16"]["note"]
    assert steps["two_process_nccl"]["status"] == "skipped"
    gloo = steps["two_process_gloo"]
    assert gloo["status"] == "ok" and gloo["metrics"]["world_size"] == 2
    assert "identical on all 2 processes" in gloo["metrics"]["last_log_line"]
    train = steps["train_slowfast_r50"]["metrics"]
    for key in ("clips_s", "peak_mb", "fvcore_gflops_per_clip", "tflop_s", "fvcore_x3_tflop_s", "pct_of_peak"):
        assert key in train
    assert train["clips_s"] > 0 and train["fvcore_gflops_per_clip"] > 0
    assert train["tflop_s"] == pytest.approx(2 * train["fvcore_x3_tflop_s"], abs=2e-4)
    flop_s = 2 * 3 * train["fvcore_gflops_per_clip"] * 1e9 * train["clips_s"]  # fvcore counts multiply-adds
    assert train["tflop_s"] == pytest.approx(flop_s / 1e12, rel=0.02, abs=2e-4)
    assert train["pct_of_peak"] == pytest.approx(100 * train["tflop_s"] / 989.0, abs=1e-3)
    assert steps["train_mvitv2_s"]["status"] in ("ok", "skipped")
    loader = steps["loader"]["metrics"]
    assert loader["clips_s"] > 0 and loader["clips_timed"] > 0
    for name in FAST_STEPS.split(","):
        assert any(line.startswith(name) for line in printed.splitlines()), name


def test_failing_step_reports_full_traceback_and_fails_the_run(tmp_path, capsys, monkeypatch):
    def broken(self):
        raise ValueError("loader exploded\nsecond line of the message")

    monkeypatch.setattr(gpu_check.Checker, "loader", broken)
    out = tmp_path / "gpu.json"
    code = gpu_check.main(["--device", "cpu", "--smoke", "--out", str(out), "--steps", "train_mvitv2_s,loader"])
    printed = capsys.readouterr().out
    assert code == 1
    payload = json.loads(out.read_text())
    assert payload["failed"] == ["loader"]
    error = _steps(payload)["loader"]["error"]
    assert "Traceback" in error and "second line of the message" in error and "in broken" in error
    assert "=== loader: full error ===" in printed and "second line of the message" in printed


def test_unknown_step_is_refused():
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--steps", "quickstart_fp32,warp_drive"])


@pytest.mark.slow
def test_every_other_step_runs_in_smoke_mode(tmp_path):
    steps = [name for name in gpu_check.STEPS if name != "quickstart_compile"]
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--device", "cpu", "--smoke", "--out", str(out), "--steps", ",".join(steps)]) == 0
    results = _steps(json.loads(out.read_text()))
    assert list(results) == steps
    for name in ("quickstart_bf16", "quickstart_channels_last"):
        assert results[name]["status"] == "ok", results[name]["error"]


@pytest.mark.slow
def test_compiled_quickstart_runs_in_smoke_mode(tmp_path):
    """torch.compile on the CPU: about 3 minutes of inductor compilation on a busy 2-core machine."""
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--device", "cpu", "--smoke", "--out", str(out), "--steps", "quickstart_compile"]) == 0
    assert _steps(json.loads(out.read_text()))["quickstart_compile"]["status"] == "ok"


@pytest.mark.slow
def test_a_failing_rank_fails_the_two_process_step_quickly(tmp_path, monkeypatch):
    # run_net with rank 1 made to fail once its process group is up.
    monkeypatch.setattr(gpu_check, "RUN_NET", [str(REPO / "tests" / "engine" / "run_net_failing_rank.py"), "1"])
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--device", "cpu", "--smoke", "--out", str(out), "--steps", "two_process_gloo"]) == 1
    step = _steps(json.loads(out.read_text()))["two_process_gloo"]
    assert step["status"] == "failed" and "injected failure on rank 1" in step["error"]
    assert step["seconds"] < 120  # the waiting peer is killed, not left until --step-timeout (240 s)
