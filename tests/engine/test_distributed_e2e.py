"""Two CPU processes (Gloo on loopback) train and test together through the real launch paths."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_utils import REPO, RUN_NET, SYNTHETIC_CFG, TINY, json_stats, run_net


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_run(out, log_text: str, num_test_videos: int = 4) -> None:
    assert "Training done; weights identical on all 2 processes" in log_text
    final = [s for s in json_stats(log_text) if s.get("split") == "test_final"]
    assert final and final[-1]["num_videos"] == num_test_videos
    assert (out / "checkpoints" / "checkpoint_epoch_00001.pyth").exists()


@pytest.mark.slow
def test_two_cpu_processes_single_command(tmp_path, tiny_data_dir):
    out = tmp_path / "mp"
    run_net(["--cfg", SYNTHETIC_CFG, *TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "OUTPUT_DIR", out,
             "SOLVER.MAX_EPOCH", "1", "NUM_CPU_PROCESSES", "2"], timeout=600)
    check_run(out, (out / "stdout.log").read_text())


@pytest.mark.slow
def test_two_shards_launched_separately(tmp_path, tiny_data_dir):
    out = tmp_path / "shards"
    init = f"tcp://127.0.0.1:{free_port()}"
    env_args = ["--cfg", SYNTHETIC_CFG, "--init_method", init, "--num_shards", "2"]
    overrides = [*TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "OUTPUT_DIR", out, "SOLVER.MAX_EPOCH", "1"]
    # Shard 0 writes the dataset on first use; shard 1 waits for it through the dataset's lock.
    # Output goes to files: a shard blocked on a full pipe would stall its peer in a collective.
    logs = [(tmp_path / f"shard{k}.out", tmp_path / f"shard{k}.err") for k in range(2)]
    procs = []
    for k, (out_log, err_log) in enumerate(logs):
        with open(out_log, "w") as o, open(err_log, "w") as e:
            procs.append(subprocess.Popen(
                [sys.executable, str(RUN_NET), *map(str, env_args), "--shard_id", str(k), *map(str, overrides)],
                cwd=REPO, stdout=o, stderr=e, text=True,
            ))
    try:
        for p in procs:
            p.wait(timeout=600)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out_log, err_log) in zip(procs, logs):
        assert p.returncode == 0, f"shard failed:\n{out_log.read_text()[-4000:]}\n{err_log.read_text()[-4000:]}"
    # Train and test share one process group: re-creating it on the same address could hang.
    check_run(out, (out / "stdout.log").read_text())


@pytest.mark.slow
def test_failing_rank_fails_the_job_without_hanging(tmp_path, tiny_data_dir):
    out = tmp_path / "fail"
    proc = run_net(
        ["1", "--cfg", SYNTHETIC_CFG, *TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "OUTPUT_DIR", out,
         "SOLVER.MAX_EPOCH", "1", "NUM_CPU_PROCESSES", "2"],
        timeout=300, check=False, script=Path(__file__).with_name("run_net_failing_rank.py"),
    )
    assert proc.returncode != 0
    assert "injected failure on rank 1" in proc.stderr
