"""Checkpoint folder, auto-resume (exact, crash-proof), the engine's train/test loading helpers, RNG states."""

import logging
import os
import random

import numpy as np
import pytest
import torch

import slowfast.checkpoint as cu
from checkpoint_testutils import TinyResNet, randomize_


def _optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def test_checkpoint_paths(tmp_path):
    job = str(tmp_path)
    assert cu.get_checkpoint_dir(job) == f"{job}/checkpoints"
    assert cu.get_path_to_checkpoint(job, 10) == f"{job}/checkpoints/checkpoint_epoch_00010.pyth"
    assert (
        cu.get_path_to_checkpoint(job, 3, iteration=25) == f"{job}/checkpoints/checkpoint_epoch_00003_iter_000025.pyth"
    )
    assert cu.get_path_to_checkpoint(job, 2, task="ssl") == f"{job}/checkpoints/ssl_checkpoint_epoch_00002.pyth"


def test_last_checkpoint_orders_by_epoch_then_iteration(cfg):
    assert cu.get_last_checkpoint(cfg.OUTPUT_DIR) is None and not cu.has_checkpoint(cfg.OUTPUT_DIR)
    model = TinyResNet()
    for epoch in (0, 1, 9):
        cu.save_checkpoint(cfg.OUTPUT_DIR, model, None, epoch, cfg)
    assert cu.get_last_checkpoint(cfg.OUTPUT_DIR).endswith("checkpoint_epoch_00010.pyth")
    mid = cu.save_checkpoint(cfg.OUTPUT_DIR, model, None, 10, cfg, iteration=7)
    assert mid.endswith("checkpoint_epoch_00010_iter_000007.pyth")
    assert cu.get_last_checkpoint(cfg.OUTPUT_DIR) == mid
    directory = cu.get_checkpoint_dir(cfg.OUTPUT_DIR)
    open(os.path.join(directory, ".checkpoint_epoch_00011.pyth.abc.tmp"), "wb").write(b"partial")
    open(os.path.join(directory, "ssl_checkpoint_epoch_00050.pyth"), "wb").write(b"other task")
    open(os.path.join(directory, "notes.txt"), "w").write("x")
    assert cu.get_last_checkpoint(cfg.OUTPUT_DIR) == mid
    assert [e for e, _, _ in cu.list_checkpoints(cfg.OUTPUT_DIR)] == [1, 2, 10, 10]


def test_last_checkpoint_skips_an_incomplete_newest_file(cfg, caplog):
    model = TinyResNet()
    good = cu.save_checkpoint(cfg.OUTPUT_DIR, model, None, 0, cfg)
    broken = cu.get_path_to_checkpoint(cfg.OUTPUT_DIR, 2)
    with open(good, "rb") as f:
        data = f.read()
    with open(broken, "wb") as f:
        f.write(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING):
        assert cu.get_last_checkpoint(cfg.OUTPUT_DIR) == good
    assert "checkpoint_epoch_00002.pyth" in caplog.text and "incomplete" in caplog.text


@pytest.mark.parametrize(
    "period, max_epoch, expected",
    [(2, 5, [1, 3, 4]), (10, 5, [4]), (1, 3, [0, 1, 2]), (0, 4, [3])],
)
def test_is_checkpoint_epoch(cfg, period, max_epoch, expected):
    cfg.TRAIN.CHECKPOINT_PERIOD = period
    cfg.SOLVER.MAX_EPOCH = max_epoch
    assert [e for e in range(max_epoch) if cu.is_checkpoint_epoch(cfg, e)] == expected


def test_is_checkpoint_epoch_multigrid(cfg):
    cfg.SOLVER.MAX_EPOCH = 20
    cfg.MULTIGRID.EVAL_FREQ = 2
    schedule = [(0, 1, 6), (1, 1, 12), (2, 1, 20)]
    saved = [e for e in range(20) if cu.is_checkpoint_epoch(cfg, e, schedule)]
    assert saved == [1, 5, 7, 11, 14, 19]


# ---- exact resume ----

N_ITERS, N_EPOCHS = 4, 3


def _train(model, optimizer, cfg, start_epoch=0, start_iter=0, stop_at=None):
    """A training loop that draws from every global RNG (torch, numpy, python) and shuffles per epoch."""
    for epoch in range(start_epoch, N_EPOCHS):
        order = torch.randperm(N_ITERS, generator=torch.Generator().manual_seed(epoch)).tolist()
        for it in range(start_iter if epoch == start_epoch else 0, N_ITERS):
            if stop_at == (epoch, it):
                extra = {"rng_states": cu.gather_rng_states()}
                cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, epoch, cfg, iteration=it, extra=extra)
                return
            x = torch.randn(2, 3, 2, 8, 8) * (1 + order[it]) + float(np.random.rand()) + random.random()
            loss = model([x]).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if cu.is_checkpoint_epoch(cfg, epoch):
            cu.save_checkpoint(
                cfg.OUTPUT_DIR, model, optimizer, epoch, cfg, extra={"rng_states": cu.gather_rng_states()}
            )


def _seed(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


@pytest.mark.parametrize("stop_at", [(1, 2), (2, 0)])
def test_auto_resume_continues_as_if_never_stopped(cfg, tmp_path, stop_at):
    cfg.SOLVER.MAX_EPOCH = N_EPOCHS
    cfg.TRAIN.CHECKPOINT_PERIOD = 1
    reference_cfg = cfg.clone()
    reference_cfg.OUTPUT_DIR = str(tmp_path / "reference")
    _seed(0)
    reference = TinyResNet()
    _train(reference, _optimizer(reference), reference_cfg)

    _seed(0)
    model = TinyResNet()
    _train(model, _optimizer(model), cfg, stop_at=stop_at)

    _seed(123)
    resumed = randomize_(TinyResNet(), seed=9)
    optimizer = _optimizer(resumed)
    start = cu.load_train_state(cfg, resumed, optimizer)
    assert start.resumed and (start.start_epoch, start.start_iter) == stop_at
    cu.set_rng_state(start.extra["rng_states"][0])
    _train(resumed, optimizer, cfg, start.start_epoch, start.start_iter)
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key


def test_auto_resume_restores_model_optimizer_scaler_and_epoch(cfg):
    model = randomize_(TinyResNet(), seed=1)
    optimizer = _optimizer(model)
    model([torch.randn(2, 3, 2, 8, 8)]).sum().backward()
    optimizer.step()
    scaler = torch.amp.GradScaler("cpu", init_scale=256.0)
    scaler._lazy_init_scale_growth_tracker(torch.device("cpu"))
    cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 4, cfg, scaler=scaler)

    target = TinyResNet()
    target_opt = _optimizer(target)
    target_scaler = torch.amp.GradScaler("cpu", init_scale=2.0)
    assert cu.load_train_checkpoint(cfg, target, target_opt, target_scaler) == 5
    assert target_scaler.get_scale() == 256.0
    assert target_opt.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()
    assert torch.equal(target.s1.pathway0_stem.conv.weight, model.s1.pathway0_stem.conv.weight)


def test_auto_resume_skips_a_truncated_newest_checkpoint(cfg, caplog):
    model = randomize_(TinyResNet(), seed=1)
    cu.save_checkpoint(cfg.OUTPUT_DIR, model, _optimizer(model), 0, cfg)
    newer = randomize_(TinyResNet(), seed=2)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, newer, _optimizer(newer), 1, cfg)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 3)
    target = TinyResNet()
    with caplog.at_level(logging.WARNING):
        assert cu.load_train_checkpoint(cfg, target, _optimizer(target)) == 1
    assert "checkpoint_epoch_00002.pyth" in caplog.text
    assert torch.equal(target.head.projection.weight, model.head.projection.weight)


def test_auto_resume_skips_a_complete_looking_but_corrupt_newest_checkpoint(cfg, caplog):
    model = randomize_(TinyResNet(), seed=1)
    cu.save_checkpoint(cfg.OUTPUT_DIR, model, None, 0, cfg)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, TinyResNet(), None, 1, cfg)
    data = bytearray(open(path, "rb").read())
    start = data.index(b"data.pkl") + 60
    data[start : start + 40] = b"\x00" * 40
    open(path, "wb").write(bytes(data))
    target = TinyResNet()
    with caplog.at_level(logging.WARNING):
        start_epoch = cu.load_train_checkpoint(cfg, target, None)
    assert start_epoch == 1
    assert torch.equal(target.head.projection.weight, model.head.projection.weight)
    assert "skipping" in caplog.text


def test_auto_resume_with_only_unreadable_checkpoints_is_an_error(cfg):
    directory = cu.make_checkpoint_dir(cfg.OUTPUT_DIR)
    open(os.path.join(directory, "checkpoint_epoch_00001.pyth"), "wb").write(b"")
    with pytest.raises(cu.CorruptCheckpointError, match="none of the 1 checkpoints"):
        cu.load_train_checkpoint(cfg, TinyResNet(), None)


def test_auto_resume_refuses_a_checkpoint_of_another_model(cfg):
    cu.save_checkpoint(cfg.OUTPUT_DIR, TinyResNet(num_classes=4), None, 0, cfg)
    with pytest.raises(cu.CheckpointMismatchError, match="does not match this model exactly.*head.projection.weight"):
        cu.load_train_checkpoint(cfg, TinyResNet(num_classes=3), None)


def test_train_start_order(cfg, tmp_path):
    """Auto-resume first, else TRAIN.CHECKPOINT_FILE_PATH, else scratch."""
    assert cu.load_train_checkpoint(cfg, TinyResNet(), None) == 0

    released = randomize_(TinyResNet(), seed=3)
    released_opt = _optimizer(released)
    released([torch.randn(2, 3, 2, 8, 8)]).sum().backward()
    released_opt.step()
    path = cu.save_checkpoint(str(tmp_path / "released"), released, released_opt, 49, cfg)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = path
    model = TinyResNet()
    optimizer = _optimizer(model)
    assert cu.load_train_checkpoint(cfg, model, optimizer) == 50
    assert optimizer.state_dict()["state"], "continuing a run from an explicit file restores its optimizer"

    cfg.TRAIN.CHECKPOINT_EPOCH_RESET = True
    model = TinyResNet()
    optimizer = _optimizer(model)
    assert cu.load_train_checkpoint(cfg, model, optimizer) == 0
    assert optimizer.state_dict()["state"] == {}
    assert torch.equal(model.head.projection.weight, released.head.projection.weight)

    own = randomize_(TinyResNet(), seed=4)
    cu.save_checkpoint(cfg.OUTPUT_DIR, own, None, 2, cfg)
    model = TinyResNet()
    assert cu.load_train_checkpoint(cfg, model, None) == 3
    assert torch.equal(model.head.projection.weight, own.head.projection.weight)

    cfg.TRAIN.AUTO_RESUME = False
    assert cu.load_train_checkpoint(cfg, TinyResNet(), None) == 0


def test_train_checkpoint_caffe2_from_config(cfg, tmp_path):
    from checkpoint_testutils import caffe2_blobs_from_state_dict, write_caffe2_pkl

    source = randomize_(TinyResNet(), seed=5)
    path = write_caffe2_pkl(tmp_path / "c2.pkl", caffe2_blobs_from_state_dict(source.state_dict()), python2=True)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(path)
    cfg.TRAIN.CHECKPOINT_TYPE = "caffe2"
    model = TinyResNet()
    assert cu.load_train_checkpoint(cfg, model, _optimizer(model)) == 0
    assert torch.equal(
        model.s2.pathway0_res1.branch2.b_bn.running_mean, source.s2.pathway0_res1.branch2.b_bn.running_mean
    )


def test_unsafe_opt_in_from_config(cfg, tmp_path):
    path = tmp_path / "trusted.pyth"
    torch.save({"epoch": 1, "model_state": TinyResNet().state_dict(), "meta": logging.LogRecord}, path)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(path)
    with pytest.raises(cu.UnsafeCheckpointError, match="logging.LogRecord"):
        cu.load_train_checkpoint(cfg, TinyResNet(), None)
    cfg.TRAIN.CHECKPOINT_ALLOW_UNSAFE = True
    assert cu.load_train_checkpoint(cfg, TinyResNet(), None) == 2


def test_test_checkpoint_order(cfg, tmp_path, caplog):
    """TEST.CHECKPOINT_FILE_PATH, else the newest in OUTPUT_DIR, else TRAIN.CHECKPOINT_FILE_PATH, else a warning."""
    with caplog.at_level(logging.WARNING):
        assert cu.load_test_checkpoint(cfg, TinyResNet()) is None
    assert "randomly initialised" in caplog.text

    models = {name: randomize_(TinyResNet(), seed=i) for i, name in enumerate(["train", "own", "test"])}
    train_path = cu.save_checkpoint(str(tmp_path / "t"), models["train"], None, 0, cfg)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = train_path
    model = TinyResNet()
    assert cu.load_test_checkpoint(cfg, model) == train_path
    assert torch.equal(model.head.projection.weight, models["train"].head.projection.weight)

    own_path = cu.save_checkpoint(cfg.OUTPUT_DIR, models["own"], None, 0, cfg)
    model = TinyResNet()
    assert cu.load_test_checkpoint(cfg, model) == own_path
    assert torch.equal(model.head.projection.weight, models["own"].head.projection.weight)

    test_path = cu.save_checkpoint(str(tmp_path / "x"), models["test"], None, 0, cfg)
    cfg.TEST.CHECKPOINT_FILE_PATH = test_path
    model = TinyResNet()
    assert cu.load_test_checkpoint(cfg, model) == test_path
    assert torch.equal(model.head.projection.weight, models["test"].head.projection.weight)

    with pytest.raises(cu.CheckpointMismatchError, match="head.projection.weight"):
        cu.load_test_checkpoint(cfg, TinyResNet(num_classes=7))


def test_rng_state_survives_weights_only_loading(cfg):
    _seed(5)
    state = cu.get_rng_state()
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, TinyResNet(), None, 0, cfg, extra={"rng": state})
    _seed(99)
    loaded = torch.load(path, weights_only=True)["extra"]["rng"]
    cu.set_rng_state(loaded)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert [random.random() for _ in range(3)] == expected[2]
    assert cu.gather_rng_states()[0].keys() == state.keys()
