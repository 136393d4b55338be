"""SIGTERM mid-epoch: a checkpoint after the current iteration, exit 143, and the rerun continues at
the next iteration and ends with an uninterrupted run's weights; a kill while writing is harmless."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import slowfast.checkpoint as cu
from e2e_utils import REPO, RUN_NET, SYNTHETIC_CFG, TINY, json_stats, run_net
from slowfast.engine.preemption import PREEMPTED_EXIT_CODE


def _final_weights(out):
    ckpt = out / "checkpoints" / "checkpoint_epoch_00003.pyth"
    return torch.load(ckpt, weights_only=True)["model_state"]


def _common(tiny_data_dir, *extra):
    return ["--cfg", SYNTHETIC_CFG, *TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "SOLVER.MAX_EPOCH", "3",
            "TRAIN.EVAL_PERIOD", "10", "TEST.ENABLE", "False", "SYNTHETIC.NUM_TRAIN", "16",
            "DATA_LOADER.NUM_WORKERS", "1", *extra]


def _sigterm_in_epoch_2(args, log):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(RUN_NET), *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 200
    while time.time() < deadline and proc.poll() is None:
        if log.exists():
            iters = [s for s in json_stats(log.read_text()) if s["_type"] == "train_iter"]
            if any(s["epoch"] == "2/3" and s["iter"] == "1/4" for s in iters):
                break
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be signalled"
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.time() - sent < 60
    return proc.returncode, err


def _check_resumed_run(common, reference, out, rc, err):
    assert rc == PREEMPTED_EXIT_CODE, err[-3000:]
    mid = [p for _, it, p in cu.list_checkpoints(str(out)) if it > 0]
    assert mid, "no mid-epoch checkpoint written"
    before = len(json_stats((out / "stdout.log").read_text()))
    run_net(common + ["OUTPUT_DIR", out])
    records = json_stats((out / "stdout.log").read_text())[before:]
    epoch2 = [s for s in records if s["_type"] == "train_iter" and s["epoch"] == "2/3"]
    assert 0 < len(epoch2) < 4
    ours, ref = _final_weights(out), _final_weights(reference)
    assert ours.keys() == ref.keys()
    for key in ref:
        torch.testing.assert_close(ours[key], ref[key], rtol=0, atol=0, msg=f"{key} differs after resume")


@pytest.mark.slow
def test_sigterm_in_epoch_2_then_rerun_continues_mid_epoch_and_matches_uninterrupted(tmp_path, tiny_data_dir):
    common = _common(tiny_data_dir)
    reference = tmp_path / "reference"
    run_net(common + ["OUTPUT_DIR", reference])
    out = tmp_path / "preempted"
    rc, err = _sigterm_in_epoch_2(common + ["OUTPUT_DIR", out], out / "stdout.log")
    _check_resumed_run(common, reference, out, rc, err)


@pytest.mark.slow
def test_sigterm_with_two_gloo_processes_then_rerun_matches_uninterrupted(tmp_path, tiny_data_dir):
    common = _common(tiny_data_dir, "NUM_CPU_PROCESSES", "2")
    reference = tmp_path / "reference"
    run_net(common + ["OUTPUT_DIR", reference])
    out = tmp_path / "preempted"
    rc, err = _sigterm_in_epoch_2(common + ["OUTPUT_DIR", out], out / "stdout.log")
    _check_resumed_run(common, reference, out, rc, err)
