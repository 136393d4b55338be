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
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 200
    while time.time() < deadline and proc.poll() is None:
        if log.exists():
            iters = [s for s in json_stats(log.read_text()) if s["_type"] == "train_iter"]
            if any(s["epoch"] == "2/3" and s["iter"] == "1/4" for s in iters):
                break
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be signalled"
    sent = time.time()
    # As a cluster does: every process of the job (loader workers, spawned ranks) gets the signal.
    os.killpg(proc.pid, signal.SIGTERM)
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


_WRITER = r"""
import io, sys, time
import torch
import slowfast.checkpoint as cu
import slowfast.checkpoint.io as cio

out = sys.argv[1]
model = torch.nn.Linear(64, 64)
cu.save_checkpoint(out, model, None, 1, None, iteration=2, extra={"samples_seen": 8})
real_save = torch.save

def slow_save(obj, f):
    buf = io.BytesIO()
    real_save(obj, buf)
    data = buf.getvalue()
    f.write(data[: len(data) // 2])
    f.flush()
    print("WRITING", flush=True)
    time.sleep(60)

cio.torch.save = slow_save
with torch.no_grad():
    model.weight.add_(1.0)
cu.save_checkpoint(out, model, None, 1, None, iteration=3)
"""


def test_sigkill_while_writing_a_checkpoint_leaves_the_previous_one_loadable(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "WRITING", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    directory = tmp_path / "checkpoints"
    assert not (directory / "checkpoint_epoch_00001_iter_000003.pyth").exists()
    assert any(p.name.endswith(".tmp") for p in directory.iterdir()), "the kill did not land during the write"
    last = cu.get_last_checkpoint(str(tmp_path))
    assert last == str(directory / "checkpoint_epoch_00001_iter_000002.pyth")
    model = torch.nn.Linear(64, 64)
    result = cu.restore_checkpoint(last, model, strict=True)
    assert (result.epoch, result.iteration, result.extra["samples_seen"]) == (0, 2, 8)


def _guard(tmp_path, period=0, keep=0):
    from slowfast.config import get_cfg
    from slowfast.engine.preemption import PreemptionGuard

    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TRAIN.BATCH_SIZE = 4
    cfg.TRAIN.CHECKPOINT_PERIOD_ITERS = period
    cfg.TRAIN.CHECKPOINT_KEEP = keep
    return PreemptionGuard(cfg, cu.TrainStart())


def test_checkpoint_period_iters_saves_inside_epochs_and_keep_prunes_the_oldest(tmp_path):
    guard = _guard(tmp_path, period=2, keep=2)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    list(guard.batches([0] * 7, 0))
    for it in range(7):
        guard.after_iter(model, optimizer, None, 0, it, 7)
    saved = [(e, i) for e, i, _ in cu.list_checkpoints(str(tmp_path))]
    assert saved == [(0, 4), (0, 6)]
    extra = torch.load(cu.get_last_checkpoint(str(tmp_path)), weights_only=True)["extra"]
    assert extra["samples_seen"] == 24 and len(extra["rng_states"]) == len(extra["epoch_rng_states"]) == 1


def test_a_caught_sigterm_saves_after_the_iteration_and_exits_143(tmp_path):
    from slowfast.engine.preemption import TrainingPreempted

    guard = _guard(tmp_path)
    guard.install()
    try:
        model = torch.nn.Linear(2, 2)
        list(guard.batches([0] * 5, 1))
        guard.after_iter(model, None, None, 1, 0, 5)
        assert cu.list_checkpoints(str(tmp_path)) == []
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(TrainingPreempted) as caught:
            guard.after_iter(model, None, None, 1, 1, 5)
    finally:
        guard.uninstall()
    assert caught.value.code == PREEMPTED_EXIT_CODE
    assert [(e, i) for e, i, _ in cu.list_checkpoints(str(tmp_path))] == [(1, 2)]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
