"""build_model, the engine's prepare_model (placement and wrapping), and the model statistics logged at start-up."""

import logging
import socket

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from fvcore.nn import FlopCountAnalysis
from model_testing import load_cfg, tiny_opts

import slowfast.engine.placement as placement
from slowfast.engine.placement import prepare_model
from slowfast.models import build_model
from slowfast.models.stats import get_model_stats, log_model_info, model_analysis_input, params_count


def test_build_model_on_cpu():
    cfg = load_cfg(opts=tiny_opts("slow"))
    for model in (build_model(cfg), prepare_model(cfg, build_model(cfg))):
        assert not isinstance(model, nn.parallel.DistributedDataParallel)
        assert all(p.device.type == "cpu" for p in model.parameters())


def test_build_model_only_builds():
    cfg = load_cfg(opts=tiny_opts("slowfast") + ["MODEL.CHANNELS_LAST", "True"])
    cfg.NUM_GPUS = 1  # not placed, so no CUDA needed
    model = build_model(cfg)
    conv = model.s3.pathway1_res0.branch2.a.weight
    assert conv.device.type == "cpu" and conv.is_contiguous()


def test_prepare_model_channels_last():
    cfg = load_cfg(opts=tiny_opts("slowfast") + ["MODEL.CHANNELS_LAST", "True"])
    model = prepare_model(cfg, build_model(cfg))
    conv = model.s3.pathway1_res0.branch2.a.weight
    assert conv.is_contiguous(memory_format=torch.channels_last_3d) and not conv.is_contiguous()


def test_prepare_model_refuses_gpus_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    cfg = load_cfg(opts=tiny_opts("slow"))
    cfg.NUM_GPUS = 1
    with pytest.raises(RuntimeError, match="NUM_GPUS 0"):
        prepare_model(cfg, build_model(cfg))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_prepare_model_wraps_ddp_when_the_world_is_larger(monkeypatch):
    """With more than one process the model is DDP-wrapped (no device_ids on CPU).

    A one-process Gloo group stands in for the job; the world size the builder sees is patched.
    """
    if dist.is_initialized():
        pytest.skip("a process group already exists")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        monkeypatch.setattr(placement.du, "get_world_size", lambda: 2)
        cfg = load_cfg(opts=tiny_opts("c2d"))
        model = prepare_model(cfg, build_model(cfg))
        assert isinstance(model, nn.parallel.DistributedDataParallel)
        assert model.device_ids is None
        assert model.find_unused_parameters is False
        x = [torch.randn(2, 3, 8, 32, 32)]
        model(x).sum().backward()
        assert all(p.grad is not None for p in model.parameters())
        stats = log_model_info(model, cfg)  # unwraps DDP
        assert stats["params"] == params_count(model.module)
    finally:
        dist.destroy_process_group()


def test_params_count():
    model = build_model(load_cfg(opts=tiny_opts("slowfast")))
    total = sum(p.numel() for p in model.parameters())
    bn = sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm3d) for p in m.parameters())
    assert params_count(model) == total
    assert params_count(model, ignore_bn=True) == total - bn


@pytest.mark.parametrize("detection", [False, True])
def test_model_stats_match_fvcore_on_the_config_input(detection):
    cfg = load_cfg(opts=tiny_opts("slowfast", detection=detection) + ["DATA.TEST_CROP_SIZE", "64"])
    model = build_model(cfg).train()
    inputs = model_analysis_input(cfg, use_train_input=False)
    assert [tuple(x.shape) for x in inputs[0]] == [(1, 3, 2, 64, 64), (1, 3, 8, 64, 64)]
    assert (len(inputs) == 2) == detection
    gflops = get_model_stats(model, cfg, "flop", use_train_input=False)
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        expected = FlopCountAnalysis(model, inputs).total() / 1e9
    assert gflops == pytest.approx(expected)
    assert get_model_stats(model, cfg, "activation", use_train_input=True) > 0


def test_log_model_info_logs_the_numbers(caplog):
    cfg = load_cfg(opts=tiny_opts("i3d"))
    model = build_model(cfg)
    with caplog.at_level(logging.INFO, logger="slowfast.models.stats"):
        stats = log_model_info(model, cfg, use_train_input=True)
    assert stats["params"] == params_count(model)
    assert stats["gflops"] > 0 and stats["mactivations"] > 0
    for word in ("Params:", "Flops:", "Activations:", "Mem:"):
        assert word in caplog.text
    assert f"{int(stats['params']):,}" in caplog.text
