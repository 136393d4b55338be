"""tools/run_net.py trains, validates, checkpoints and tests on tiny synthetic data."""

from pathlib import Path

import torch

from e2e_utils import SYNTHETIC_CFG, TINY, final_top1, json_stats, run_net


def test_train_then_test_writes_logs_checkpoints_and_prints_top1(tmp_path, tiny_data_dir):
    out = tmp_path / "run"
    proc = run_net(
        ["--cfg", SYNTHETIC_CFG, *TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "OUTPUT_DIR", out,
         "SOLVER.MAX_EPOCH", "2", "TRAIN.EVAL_PERIOD", "1", "TENSORBOARD.ENABLE", "True"]
    )
    log = (out / "stdout.log").read_text()
    stats = json_stats(log)
    kinds = {s["_type"] for s in stats}
    assert {"train_iter", "train_epoch", "val_epoch"} <= kinds
    it = next(s for s in stats if s["_type"] == "train_iter")
    for key in ("epoch", "iter", "loss", "lr", "top1_err", "top5_err", "dt_data", "dt_net", "eta", "ram"):
        assert key in it, key
    epochs = [s for s in stats if s["_type"] == "train_epoch"]
    assert [e["epoch"] for e in epochs] == ["1/2", "2/2"]
    assert all("skipped_videos" in e for e in epochs)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"
    ]
    ckpt = torch.load(out / "checkpoints" / "checkpoint_epoch_00002.pyth", weights_only=True)
    assert ckpt["epoch"] == 1  # 0-based epoch just finished, as PySlowFast stores it
    assert "SOLVER" in ckpt["cfg"]
    top1 = final_top1(proc.stdout)
    assert 0.0 <= top1 <= 100.0
    final = [s for s in json_stats(log) if s.get("split") == "test_final"]
    assert final and final[-1]["num_videos"] == 4
    assert list(Path(out).glob("runs-*")), "tensorboard run folder missing"


def test_rerun_resumes_and_trains_nothing_more(tmp_path, tiny_data_dir):
    out = tmp_path / "run"
    args = ["--cfg", SYNTHETIC_CFG, *TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "OUTPUT_DIR", out,
            "SOLVER.MAX_EPOCH", "1", "TEST.ENABLE", "False"]
    run_net(args)
    proc = run_net(args + ["SOLVER.MAX_EPOCH", "2"])
    log = (out / "stdout.log").read_text()
    assert "Start epoch: 2" in log
    epochs = [s["epoch"] for s in json_stats(log) if s["_type"] == "train_epoch"]
    assert epochs == ["1/1", "2/2"]
    assert proc.returncode == 0


def test_a_training_error_with_loader_workers_exits_instead_of_hanging(tmp_path):
    # Loader workers ignore SIGTERM (for preemption), which multiprocessing sends them at exit:
    # a loop that raised with a live loader iterator used to wait on them forever.
    proc = run_net(
        ["--cfg", SYNTHETIC_CFG, *TINY, "DATA_LOADER.NUM_WORKERS", "1", "SOLVER.BASE_LR", "1e30",
         "SOLVER.WARMUP_START_LR", "1e30", "OUTPUT_DIR", tmp_path / "out", "DATA.PATH_TO_DATA_DIR", tmp_path / "data"],
        timeout=240, check=False,
    )
    assert proc.returncode == 1
    assert "FloatingPointError: Loss is nan at epoch 1" in proc.stderr
    assert "Stopped 1 data-loader workers of the failed job." in proc.stdout + proc.stderr
    assert "killed by signal" not in proc.stderr  # the job's own error is the one reported


def test_cpu_inference_keys_channels_last_and_fold_bn_give_the_plain_test_scores(tmp_path, tiny_data_dir):
    """The CPU inference settings of MODEL_ZOO.md (MODEL.CHANNELS_LAST with TEST.FOLD_BN): the tester converts,
    loads the checkpoint, folds, and scores every view as the plain model does."""
    out = tmp_path / "run"
    base = ["--cfg", SYNTHETIC_CFG, *TINY, "DATA.PATH_TO_DATA_DIR", tiny_data_dir, "OUTPUT_DIR", out]
    run_net(base + ["SOLVER.MAX_EPOCH", "1", "TEST.ENABLE", "False"])
    scores = {}
    for name, extra in (("plain", []), ("cl_fold", ["MODEL.CHANNELS_LAST", "True", "TEST.FOLD_BN", "True"])):
        proc = run_net(base + ["TRAIN.ENABLE", "False", "TEST.SAVE_RESULTS_PATH", f"{name}.pyth", *extra])
        scores[name] = torch.load(out / f"{name}.pyth", weights_only=True)
        if extra:
            assert "TEST.FOLD_BN: folded" in proc.stdout + (out / "stdout.log").read_text()
    assert torch.equal(scores["plain"]["labels"], scores["cl_fold"]["labels"])
    torch.testing.assert_close(scores["cl_fold"]["preds"], scores["plain"]["preds"], rtol=1e-4, atol=1e-5)
