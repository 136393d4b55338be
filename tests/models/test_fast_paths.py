"""channels_last_3d and bf16 autocast run the same modules and give the same results; the speed
benchmark runs."""

import copy
import importlib.util

import pytest
import torch
from model_testing import REPO, boxes_for, load_cfg, pathways, tiny_opts

from slowfast.models import build_model


def _model(arch, detection=False, frames=8):
    opts = tiny_opts(arch, detection=detection, frames=frames) + ["MODEL.HEAD_ACT", "none", "MODEL.DROPOUT_RATE", "0.0"]
    cfg = load_cfg(opts=opts)
    torch.manual_seed(0)
    return cfg, build_model(cfg)


def _run(model, x, boxes):
    return model(x, boxes) if boxes is not None else model(x)


def _train_grads(model, x, boxes, dtype, channels_last):
    model = copy.deepcopy(model).to(dtype).train()
    x = [t.to(dtype) for t in x]
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        assert model.s2.pathway0_res0.branch2.b.weight.is_contiguous(memory_format=torch.channels_last_3d)
        x = [t.contiguous(memory_format=torch.channels_last_3d) for t in x]
    out = _run(model, x, boxes)
    out.square().sum().backward()
    return out, torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("detection", [False, True], ids=["cls", "det"])
@pytest.mark.parametrize("arch", ["i3d", "slowfast"])
def test_channels_last_matches_contiguous(arch, detection):
    cfg, model = _model(arch, detection)
    x = pathways(cfg, batch=2)
    boxes = boxes_for(2, cfg.DATA.TRAIN_CROP_SIZE) if detection else None
    # float64: the same computation, so the same outputs and gradients up to rounding.
    ref, ref_grads = _train_grads(model, x, boxes, torch.float64, channels_last=False)
    out, grads = _train_grads(model, x, boxes, torch.float64, channels_last=True)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(grads, ref_grads)
    # float32 runs the fast (oneDNN / cuDNN) kernels. Its gradients are not compared: with
    # training-mode BN over a tiny batch and max pooling, float32 gradients are already a few
    # percent (in norm) away from float64, in either memory format.
    ref32, _ = _train_grads(model, x, boxes, torch.float32, channels_last=False)
    out32, _ = _train_grads(model, x, boxes, torch.float32, channels_last=True)
    torch.testing.assert_close(out32, ref32, rtol=1e-3, atol=1e-4)
    model.eval()
    x_cl = [t.contiguous(memory_format=torch.channels_last_3d) for t in x]
    with torch.no_grad():
        expected = _run(model, x, boxes)
        torch.testing.assert_close(_run(model.to(memory_format=torch.channels_last_3d), x_cl, boxes), expected)


@pytest.mark.parametrize("arch", ["c2d", "slowfast"])
def test_bf16_autocast_is_close_to_fp32(arch):
    # 16 frames: the Slow pathway then has 4 frames at res4/res5. With 2 frames and a temporal
    # kernel of 3, torch 2.13's CPU (oneDNN) bf16 conv3d weight gradient is often non-finite.
    cfg, model = _model(arch, frames=16)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)):
        torch.nn.init.uniform_(bn.weight, 0.5, 1.5)  # no zero-init, so every block contributes
    model.eval()
    x = pathways(cfg, batch=2)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
    assert out.dtype == torch.bfloat16
    scale = ref.abs().max()
    assert (out.float() - ref).abs().max() <= 0.05 * scale
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(x).float().square().mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_speed_benchmark_prints_a_table(capsys):
    spec = importlib.util.spec_from_file_location("model_speed", REPO / "benchmarks" / "model_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--archs", "c2d,slowfast", "--variants", "fp32,cl+bf16", "--iters", "1", "--warmup", "0",
            "--frames", "8", "--crop", "32", "--device", "cpu", "--opts", "RESNET.WIDTH_PER_GROUP", "8"]  # fmt: skip
    assert module.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith(("c2d ", "slowfast "))]
    assert [r[:2] for r in rows] == [["c2d", "fp32"], ["c2d", "cl+bf16"], ["slowfast", "fp32"], ["slowfast", "cl+bf16"]]
    assert all(float(r[2]) > 0 and float(r[3]) > 0 for r in rows)
    assert "RSS" in "\n".join(lines)


@pytest.mark.parametrize("arch", ["slow", "slowfast"])
def test_stem_pool_without_autograd_equals_the_autograd_pool(arch):
    """The stem pools on channels_last_3d when no gradient is needed; max is exact, so bit-equal."""
    _, model = _model(arch)
    stem = model.s1.pathway0_stem.eval()
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.enable_grad():
        expected = stem.pool_layer(stem.relu(stem.bn(stem.conv(x.requires_grad_()))))
    with torch.inference_mode():
        got = stem(x.detach())
    assert got.is_contiguous() and torch.equal(got, expected.detach())


def test_identity_pathway_pool_is_skipped():
    _, model = _model("slowfast")
    assert isinstance(model.pathway0_pool, torch.nn.Identity) and isinstance(model.pathway1_pool, torch.nn.Identity)
    _, model = _model("i3d")
    assert isinstance(model.pathway0_pool, torch.nn.MaxPool3d)
