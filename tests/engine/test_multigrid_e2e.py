"""Multigrid training end to end: tools/run_net.py's entry point on the synthetic SlowFast config.

A long and short cycle run trains (its first losses differ from the plain run's: other batch
sizes, frames and crops), changes shape, evaluates and tests to completion; resumed from the
checkpoint of a stage of another shape, it rebuilds that shape and logs the same losses.
"""

import json
import shutil
from pathlib import Path

import pytest

from slowfast.engine import run

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "configs/Synthetic/SLOWFAST_R18_CPU.yaml")
TINY = [
    "SYNTHETIC.NUM_TRAIN", "32", "SYNTHETIC.NUM_VAL", "4", "SYNTHETIC.NUM_TEST", "4", "TRAIN.BATCH_SIZE", "4",
    "TEST.BATCH_SIZE", "2", "TEST.NUM_ENSEMBLE_VIEWS", "1", "LOG_PERIOD", "1", "DATA_LOADER.NUM_WORKERS", "0",
    "SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.STEPS", "[0, 2]", "SOLVER.LRS", "[1, 0.1]",
    "SOLVER.MAX_EPOCH", "3",
]
MULTIGRID = [
    "MULTIGRID.LONG_CYCLE", "True", "MULTIGRID.SHORT_CYCLE", "True",
    "MULTIGRID.LONG_CYCLE_FACTORS", "[(0.5, 0.7071), (1, 1)]", "MULTIGRID.BN_BASE_SIZE", "4",
    "BN.USE_PRECISE_STATS", "True", "BN.NUM_BATCHES_PRECISE", "1",
]


def _run(out: Path, extra) -> str:
    assert run.main(["--cfg", CONFIG, *TINY, "OUTPUT_DIR", str(out), *extra]) == 0
    return (out / "stdout.log").read_text()


def _train_iters(log: str) -> list:
    stats = [json.loads(line.split("json_stats: ", 1)[1]) for line in log.splitlines() if "json_stats: " in line]
    return [(s["epoch"], s["iter"], s["loss"]) for s in stats if s["_type"] == "train_iter"]


@pytest.mark.slow
def test_multigrid_run_changes_losses_trains_tests_and_resumes_on_the_same_shape(tmp_path):
    plain = _train_iters(_run(tmp_path / "plain", ["SOLVER.MAX_EPOCH", "1"]))
    log = _run(tmp_path / "multigrid", MULTIGRID)
    iters = _train_iters(log)
    print({"plain": plain, "multigrid": iters})
    # Schedule: 4x batch of 4 frames x 45 crops for epochs 1-2, then the default shape for epochs 3-4.
    assert "Multigrid shape from epoch 1: TRAIN.BATCH_SIZE 16, DATA.NUM_FRAMES 4" in log
    assert "Multigrid shape from epoch 3: TRAIN.BATCH_SIZE 4, DATA.NUM_FRAMES 8" in log
    # Short cycle: 32 clips give one batch of 32 (45 / 32 squared, rounded: 2 x 16) in the first stage, then
    # batches of 16, 8 and 4 clips (crops 32, 45, 64) in the second.
    assert [(e, i) for e, i, _ in iters] == [("1/4", "1/1"), ("2/4", "1/1")] + [
        (e, f"{k}/3") for e in ("3/4", "4/4") for k in (1, 2, 3)]
    assert iters[0][2] != plain[0][2]
    assert '"_type": "test_final"' in log and '"_type": "val_epoch", "epoch": "4/4"' in log

    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "multigrid" / "checkpoints", resumed / "checkpoints")
    for name in ("checkpoint_epoch_00003.pyth", "checkpoint_epoch_00004.pyth"):
        (resumed / "checkpoints" / name).unlink()
    shutil.copytree(tmp_path / "multigrid" / "synthetic_data", resumed / "synthetic_data")
    again = _run(resumed, MULTIGRID)
    assert "Multigrid shape from epoch 3: TRAIN.BATCH_SIZE 4, DATA.NUM_FRAMES 8" in again
    assert _train_iters(again) == iters[2:]
