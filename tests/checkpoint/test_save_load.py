"""save_checkpoint / load_checkpoint: the .pyth format, fine-tuning, wrappers, Sub-BN, mismatches."""

import logging
import socket

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
import yaml

import slowfast.checkpoint as cu
from slowfast.checkpoint import api as ckpt_api
from checkpoint_testutils import TinyResNet, randomize_


def _optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def _step(model, optimizer, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 2, 8, 8, generator=gen)
    loss = model([x]).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def test_save_writes_the_released_format(cfg):
    model = TinyResNet()
    optimizer = _optimizer(model)
    _step(model, optimizer)
    scaler = torch.amp.GradScaler("cpu", enabled=True, init_scale=1024.0)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 9, cfg, scaler=scaler)
    assert path == f"{cfg.OUTPUT_DIR}/checkpoints/checkpoint_epoch_00010.pyth"
    ckpt = torch.load(path, weights_only=True)
    assert set(ckpt) == {"epoch", "model_state", "optimizer_state", "cfg", "scaler_state"}
    assert ckpt["epoch"] == 9
    assert list(ckpt["model_state"]) == list(model.state_dict())
    assert ckpt["optimizer_state"]["state"][0]["momentum_buffer"].shape == model.s1.pathway0_stem.conv.weight.shape
    assert ckpt["scaler_state"]["scale"] == 1024.0
    assert yaml.safe_load(ckpt["cfg"])["OUTPUT_DIR"] == cfg.OUTPUT_DIR


def test_save_then_load_restores_everything(cfg):
    model = TinyResNet()
    optimizer = _optimizer(model)
    _step(model, optimizer)
    cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 4, cfg)
    fresh = TinyResNet()
    fresh_opt = _optimizer(fresh)
    result = cu.restore_checkpoint(cu.get_last_checkpoint(cfg.OUTPUT_DIR), fresh, fresh_opt, strict=True)
    assert result.epoch == 4 and result.optimizer_loaded
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    assert torch.equal(
        fresh_opt.state_dict()["state"][0]["momentum_buffer"], optimizer.state_dict()["state"][0]["momentum_buffer"]
    )
    assert yaml.safe_load(result.cfg_yaml)["SOLVER"]["MAX_EPOCH"] == 10


def test_only_the_main_process_writes(cfg, monkeypatch):
    monkeypatch.setattr(ckpt_api.du, "is_master_proc", lambda *a, **k: False)
    assert cu.save_checkpoint(cfg.OUTPUT_DIR, TinyResNet(), None, 0, cfg) is None
    assert not cu.has_checkpoint(cfg.OUTPUT_DIR)


def test_extra_state_must_be_plain(cfg):
    import numpy as np

    with pytest.raises(TypeError, match="numpy"):
        cu.save_checkpoint(cfg.OUTPUT_DIR, TinyResNet(), None, 0, cfg, extra={"state": np.zeros(2)})
    assert not cu.has_checkpoint(cfg.OUTPUT_DIR)


class _Wrapper(nn.Module):
    """Stands in for DataParallel/DistributedDataParallel: the model under `.module`."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def test_wrapper_prefix_is_not_saved_and_wrapped_models_load(cfg):
    model = randomize_(TinyResNet(), seed=1)
    assert all(k.startswith("module.") for k in _Wrapper(model).state_dict())
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, _Wrapper(model), None, 0, cfg)
    assert list(torch.load(path, weights_only=True)["model_state"]) == list(model.state_dict())
    target = _Wrapper(TinyResNet())
    cu.load_checkpoint(path, target, strict=True)
    assert torch.equal(target.module.head.projection.weight, model.head.projection.weight)


def test_state_dict_saved_with_a_module_prefix_loads(tmp_path):
    model = randomize_(TinyResNet(), seed=1)
    path = tmp_path / "dp.pyth"
    torch.save({"epoch": 0, "model_state": _Wrapper(model).state_dict()}, path)
    target = TinyResNet()
    cu.load_checkpoint(str(path), target, strict=True)
    assert torch.equal(target.head.projection.weight, model.head.projection.weight)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_ddp_wrapper(cfg):
    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        model = nn.parallel.DistributedDataParallel(randomize_(TinyResNet(), seed=2))
        optimizer = _optimizer(model)
        _step(model, optimizer)
        path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 0, cfg)
        assert not any(k.startswith("module.") for k in torch.load(path, weights_only=True)["model_state"])
        target = nn.parallel.DistributedDataParallel(TinyResNet())
        target_opt = _optimizer(target)
        assert cu.restore_checkpoint(path, target, target_opt, strict=True).optimizer_loaded
        for key, value in model.module.state_dict().items():
            assert torch.equal(target.module.state_dict()[key], value), key
    finally:
        dist.destroy_process_group()


def test_finetune_4_to_3_classes(cfg, tmp_path, caplog):
    """Backbone loads, the head stays at its initialisation, the log lists what was skipped and why."""
    pretrained = randomize_(TinyResNet(num_classes=4), seed=5)
    path = cu.save_checkpoint(str(tmp_path / "pretrain"), pretrained, _optimizer(pretrained), 99, cfg)
    model = TinyResNet(num_classes=3)
    head_init = {k: v.clone() for k, v in model.head.state_dict().items()}
    optimizer = _optimizer(model)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = path
    cfg.TRAIN.CHECKPOINT_EPOCH_RESET = True
    with caplog.at_level(logging.INFO):
        start_epoch = cu.load_train_checkpoint(cfg, model, optimizer)
    assert start_epoch == 0
    for key, value in pretrained.state_dict().items():
        if not key.startswith("head."):
            assert torch.equal(model.state_dict()[key], value), key
    for key, value in head_init.items():
        assert torch.equal(model.head.state_dict()[key], value), key
    assert optimizer.state_dict()["state"] == {}
    assert "Skipped head.projection.weight: checkpoint shape (4, 16), model shape (3, 16)" in caplog.text
    assert "Skipped head.projection.bias: checkpoint shape (4,), model shape (3,)" in caplog.text
    assert "s2.pathway0_res1.branch2.c_bn.running_var" in caplog.text

    result = cu.restore_checkpoint(path, TinyResNet(num_classes=3), epoch_reset=True)
    assert result.report.skipped == [("head.projection.weight", (4, 16), (3, 16)), ("head.projection.bias", (4,), (3,))]
    assert result.report.missing == []
    assert len(result.report.loaded) == len(pretrained.state_dict()) - 2


def test_optimizer_state_is_not_loaded_when_the_model_only_partly_loaded(cfg, tmp_path):
    pretrained = TinyResNet(num_classes=4)
    opt = _optimizer(pretrained)
    _step(pretrained, opt)
    path = cu.save_checkpoint(str(tmp_path / "p"), pretrained, opt, 3, cfg)
    model = TinyResNet(num_classes=3)
    optimizer = _optimizer(model)
    result = cu.restore_checkpoint(path, model, optimizer)
    assert result.epoch == 3 and not result.optimizer_loaded
    assert optimizer.state_dict()["state"] == {}


def test_clear_name_pattern_removes_a_prefix(tmp_path):
    model = randomize_(TinyResNet(), seed=6)
    path = tmp_path / "bb.pyth"
    torch.save({"model_state": {f"backbone.{k}": v for k, v in model.state_dict().items()}}, path)
    target = TinyResNet()
    cu.load_checkpoint(str(path), target, clear_name_pattern=("backbone.",), strict=True)
    assert torch.equal(target.head.projection.weight, model.head.projection.weight)


def test_bare_state_dict_and_other_weight_keys_load(tmp_path):
    model = randomize_(TinyResNet(), seed=6)
    bare = tmp_path / "bare.pth"
    torch.save(model.state_dict(), bare)
    other = tmp_path / "other.pth"
    torch.save({"model": model.state_dict(), "epoch": 5}, other)
    assert cu.load_checkpoint(str(bare), TinyResNet(), strict=True) == -1
    assert cu.load_checkpoint(str(other), TinyResNet(), strict=True) == 5


def test_checkpoint_of_another_architecture_is_an_error(tmp_path, layouts):
    source = layouts.module("Kinetics/X3D_XS")
    path = tmp_path / "x3d.pyth"
    torch.save({"epoch": 10, "model_state": source.state_dict()}, path)
    target = TinyResNet()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(cu.CheckpointMismatchError) as err:
        cu.load_checkpoint(str(path), target)
    message = str(err.value)
    assert str(path) in message and "another architecture" in message
    assert "Unexpected keys: s1.pathway0_stem.conv_xy.weight" in message
    assert "Missing keys: s2.pathway0_res1.branch1.weight" in message
    assert "Shape mismatches: s1.pathway0_stem.conv.weight (24, 1, 5, 1, 1) vs (8, 3, 1, 3, 3)" in message
    for key, value in before.items():
        assert torch.equal(target.state_dict()[key], value), "a refused checkpoint must not change the model"


def test_released_layout_checkpoint_loads_into_a_model_with_another_head(tmp_path, layouts):
    """A released SlowFast checkpoint (400 classes) fine-tuned to 10 classes: 660 entries load, the head is skipped."""
    name = "Kinetics/SLOWFAST_8x8_R50"
    source = layouts.module(name, seed=1)
    path = tmp_path / "SLOWFAST_8x8_R50.pyth"
    torch.save({"epoch": 195, "model_state": source.state_dict(), "optimizer_state": {}, "cfg": ""}, path)
    target = layouts.module(
        name, shapes={"head.projection.weight": [10, 2304], "head.projection.bias": [10]}, fill="zeros"
    )
    result = cu.restore_checkpoint(str(path), target, epoch_reset=True)
    assert result.epoch == -1
    assert result.report.skipped_keys == ["head.projection.weight", "head.projection.bias"]
    assert torch.equal(
        target.s5.pathway1_res2.branch2.c_bn.running_var, source.s5.pathway1_res2.branch2.c_bn.running_var
    )
    assert torch.equal(target.s1_fuse.conv_f2s.weight, source.s1_fuse.conv_f2s.weight)


class SubBN(nn.Module):
    """PySlowFast's Sub-BN state layout: affine weight/bias, an inference `bn` and a `split_bn` of C * splits."""

    def __init__(self, num_features, num_splits=2):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.bn = nn.BatchNorm3d(num_features, affine=False)
        self.split_bn = nn.BatchNorm3d(num_features * num_splits, affine=False)

    def forward(self, x):
        shape = (-1, 1, 1, 1)
        return self.bn(x) * self.weight.view(shape) + self.bias.view(shape)


def test_sub_bn_is_saved_as_plain_bn_and_loads_both_ways(cfg):
    sub = randomize_(TinyResNet(norm=SubBN), seed=7)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, sub, None, 0, cfg)
    saved = torch.load(path, weights_only=True)["model_state"]
    plain_keys = set(TinyResNet().state_dict())
    assert set(saved) == plain_keys
    stem = "s1.pathway0_stem.bn"
    assert torch.equal(saved[f"{stem}.running_mean"], sub.s1.pathway0_stem.bn.bn.running_mean)
    assert torch.equal(saved[f"{stem}.weight"], sub.s1.pathway0_stem.bn.weight)

    plain = TinyResNet()
    cu.load_checkpoint(path, plain, strict=True)
    assert torch.equal(plain.s1.pathway0_stem.bn.running_var, sub.s1.pathway0_stem.bn.bn.running_var)

    sub2 = TinyResNet(norm=SubBN)
    cu.load_checkpoint(path, sub2, strict=True)
    bn = sub2.s1.pathway0_stem.bn
    assert torch.equal(bn.bn.running_mean, sub.s1.pathway0_stem.bn.bn.running_mean)
    assert torch.equal(bn.split_bn.running_mean, bn.bn.running_mean.repeat(2))
    assert torch.equal(bn.weight, sub.s1.pathway0_stem.bn.weight)


def test_released_plain_bn_checkpoint_into_sub_bn_model(tmp_path):
    plain = randomize_(TinyResNet(), seed=8)
    path = tmp_path / "plain.pyth"
    torch.save({"epoch": 1, "model_state": plain.state_dict()}, path)
    sub = TinyResNet(norm=SubBN)
    result = cu.restore_checkpoint(str(path), sub, strict=True)
    assert result.report.is_complete
    assert torch.equal(
        sub.s2.pathway0_res0.branch2.a_bn.split_bn.running_var,
        plain.s2.pathway0_res0.branch2.a_bn.running_var.repeat(2),
    )


def test_unknown_checkpoint_type(tmp_path):
    with pytest.raises(ValueError, match="caffe3"):
        cu.load_checkpoint(str(tmp_path / "x"), TinyResNet(), checkpoint_type="caffe3")
