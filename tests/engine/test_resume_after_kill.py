"""SIGKILL in the middle of an epoch, rerun the same command: the final weights equal an uninterrupted run's."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from e2e_utils import REPO, RUN_NET, SYNTHETIC_CFG, TINY, json_stats, run_net


def final_weights(out):
    ckpts = sorted((out / "checkpoints").glob("checkpoint_epoch_*.pyth"))
    return torch.load(ckpts[-1], weights_only=True)["model_state"], ckpts[-1].name


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, tiny_data_dir):
    common = ["--cfg", SYNTHETIC_CFG, *TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "SOLVER.MAX_EPOCH", "3",
              "TRAIN.EVAL_PERIOD", "10", "TEST.ENABLE", "False", "SYNTHETIC.NUM_TRAIN", "16"]
    reference = tmp_path / "reference"
    run_net(common + ["OUTPUT_DIR", reference])

    out = tmp_path / "killed"
    args = [sys.executable, str(RUN_NET), *map(str, common + ["OUTPUT_DIR", out])]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "stdout.log"
    deadline = time.time() + 300
    killed = False
    while time.time() < deadline and proc.poll() is None:
        if log.exists():
            iters = [s for s in json_stats(log.read_text()) if s["_type"] == "train_iter"]
            if any(s["epoch"] == "2/3" and s["iter"] == "2/4" for s in iters):
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert killed, "training finished or stalled before it could be killed mid-epoch"
    assert not (out / "checkpoints" / "checkpoint_epoch_00003.pyth").exists()

    run_net(common + ["OUTPUT_DIR", out])
    text = log.read_text()
    assert "Start epoch: 2" in text
    ours, name = final_weights(out)
    ref, ref_name = final_weights(reference)
    assert name == ref_name == "checkpoint_epoch_00003.pyth"
    assert ours.keys() == ref.keys()
    for key in ref:
        torch.testing.assert_close(ours[key], ref[key], rtol=1e-5, atol=1e-6, msg=f"{key} differs after resume")
