"""Every architecture, as a tiny model: forward, backward and output shapes in train and eval mode.

Parametrised over the registry's architectures (timm-style) with a classification and a
detection head, plus the config switches of the family (depth, ResNeXt, non-local, BN types).
"""

import logging

import pytest
import torch
import torch.nn as nn
from model_testing import ARCHS, boxes_for, load_cfg, pathways, tiny_opts

from slowfast.models import MODEL_REGISTRY, build_model
from slowfast.models.batchnorm_helper import SubBatchNorm3d
from slowfast.models.video_model_builder import _POOL1, _TEMPORAL_KERNEL_BASIS


def _build(opts):
    cfg = load_cfg(opts=opts)
    torch.manual_seed(0)
    return cfg, build_model(cfg)


def _train_step(model: nn.Module, out: torch.Tensor) -> None:
    out.float().square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == [], f"parameters without gradient (DDP with find_unused_parameters=False would fail): {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_every_arch_is_covered():
    assert sorted(ARCHS) == sorted(_POOL1) == sorted(_TEMPORAL_KERNEL_BASIS)
    assert {"ResNet", "SlowFast"} <= {name for name, _ in MODEL_REGISTRY}


@pytest.mark.parametrize("arch", ARCHS)
def test_classification_forward_backward(arch):
    cfg, model = _build(tiny_opts(arch))
    x = pathways(cfg, batch=2)
    model.train()
    out = model(x)
    assert out.shape == (2, 5)
    _train_step(model, out)
    model.eval()
    with torch.no_grad():
        probs = model(x)
    assert probs.shape == (2, 5)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))  # softmax averaged over locations


@pytest.mark.parametrize("arch", ARCHS)
def test_detection_forward_backward(arch):
    cfg, model = _build(tiny_opts(arch, detection=True))
    x = pathways(cfg, batch=2)
    boxes = boxes_for(batch=2, crop=cfg.DATA.TRAIN_CROP_SIZE, per_clip=3)
    model.train()
    out = model(x, boxes)
    assert out.shape == (6, 5)
    assert ((out > 0) & (out < 1)).all()  # sigmoid in training too, for the BCE loss
    _train_step(model, out)
    model.eval()
    with torch.no_grad():
        assert model(x, boxes).shape == (6, 5)
    with pytest.raises(ValueError, match="boxes"):
        model(x)


@pytest.mark.parametrize("arch", ["c2d", "slowfast"])
def test_larger_test_input_is_fully_convolutional(arch):
    cfg, model = _build(tiny_opts(arch, crop=32))
    model.eval()
    with torch.no_grad():
        out = model(pathways(cfg, batch=2, crop=64))
    assert out.shape == (2, 5)
    model.train()
    with pytest.raises(ValueError, match="1x1x1"):
        model(pathways(cfg, batch=2, crop=64))


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(["RESNET.DEPTH", "18", "RESNET.TRANS_FUNC", "basic_transform"], id="r18-basic"),
        pytest.param(["RESNET.DEPTH", "101"], id="r101"),
        pytest.param(["RESNET.NUM_GROUPS", "4", "RESNET.WIDTH_PER_GROUP", "4"], id="resnext"),
        pytest.param(["RESNET.STRIDE_1X1", "True", "RESNET.ZERO_INIT_FINAL_BN", "True"], id="stride1x1"),
        pytest.param(["BN.NORM_TYPE", "sub_batchnorm", "BN.NUM_SPLITS", "2"], id="sub-bn"),
        pytest.param(["BN.NORM_TYPE", "sync_batchnorm"], id="sync-bn-cpu"),
        pytest.param(["BN.EPSILON", "1e-3", "BN.MOMENTUM", "0.01", "MODEL.HEAD_ACT", "none"], id="bn-eps-no-act"),
        pytest.param(["MODEL.DROPOUT_RATE", "0.0", "MODEL.HEAD_ACT", "sigmoid"], id="no-dropout-sigmoid"),
        pytest.param(["MULTIGRID.SHORT_CYCLE", "True"], id="adaptive-pool"),
    ],
)
@pytest.mark.parametrize("arch", ["i3d", "slowfast"])
def test_config_switches(arch, extra):
    cfg, model = _build(tiny_opts(arch) + extra)
    x = pathways(cfg, batch=2)
    model.train()
    _train_step(model, model(x))
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 5)


@pytest.mark.parametrize("arch", ["i3d", "slowfast"])
@pytest.mark.parametrize("instantiation", ["softmax", "dot_product"])
def test_nonlocal_blocks_are_placed_and_trained(arch, instantiation):
    two = arch == "slowfast"
    location = [[[], []], [[1, 3], []], [[0], []], [[], []]] if two else [[[]], [[1, 3]], [[0]], [[]]]
    group = [[1, 1], [2, 1], [1, 1], [1, 1]] if two else [[1], [2], [1], [1]]
    opts = tiny_opts(arch) + [
        "NONLOCAL.LOCATION", str(location),
        "NONLOCAL.GROUP", str(group),
        "NONLOCAL.INSTANTIATION", instantiation,
    ]  # fmt: skip
    cfg, model = _build(opts)
    names = {n.split(".conv_theta")[0] for n, _ in model.named_parameters() if "conv_theta" in n}
    assert names == {"s3.pathway0_nonlocal1", "s3.pathway0_nonlocal3", "s4.pathway0_nonlocal0"}
    x = pathways(cfg, batch=2)
    model.train()
    _train_step(model, model(x))


def test_zero_init_final_bn():
    _, model = _build(tiny_opts("slowfast") + ["RESNET.ZERO_INIT_FINAL_BN", "True"])
    assert torch.count_nonzero(model.s3.pathway0_res1.branch2.c_bn.weight) == 0
    assert torch.all(model.s3.pathway0_res1.branch2.a_bn.weight == 1)
    assert torch.all(model.s3.pathway0_res0.branch1_bn.weight == 1)
    _, model = _build(tiny_opts("slowfast") + ["RESNET.ZERO_INIT_FINAL_BN", "False"])
    assert torch.all(model.s3.pathway0_res1.branch2.c_bn.weight == 1)
    assert model.head.projection.bias.abs().sum() == 0


def test_temporal_kernels_follow_the_arch_tables():
    _, model = _build(tiny_opts("i3d"))
    # I3D res3 basis [3, 1] over its 4 blocks, res5 basis [1, 3].
    assert [model.s3.get_submodule(f"pathway0_res{i}").branch2.a.kernel_size[0] for i in range(4)] == [3, 1, 3, 1]
    assert [model.s5.get_submodule(f"pathway0_res{i}").branch2.a.kernel_size[0] for i in range(3)] == [1, 3, 1]
    assert model.s1.pathway0_stem.conv.kernel_size == (5, 7, 7)
    assert model.pathway0_pool.kernel_size == [2, 1, 1]
    _, model = _build(tiny_opts("slowfast"))
    assert model.s1_fuse.conv_f2s.stride == (4, 1, 1)
    assert model.s1_fuse.conv_f2s.kernel_size == (5, 1, 1)
    assert model.s4.pathway0_res0.branch2.a.kernel_size[0] == 3
    assert model.s2.pathway0_res0.branch2.a.kernel_size[0] == 1
    assert model.s2.pathway1_res0.branch2.a.kernel_size[0] == 3


def test_sync_batchnorm_falls_back_on_cpu_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="slowfast.models.batchnorm_helper"):
        _, model = _build(tiny_opts("slow") + ["BN.NORM_TYPE", "sync_batchnorm"])
    assert "sync_batchnorm" in caplog.text
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())


def test_sub_batchnorm_uses_pyslowfast_keys():
    _, model = _build(tiny_opts("slow") + ["BN.NORM_TYPE", "sub_batchnorm", "BN.NUM_SPLITS", "2"])
    keys = {k for k in model.state_dict() if k.startswith("s1.pathway0_stem.bn.")}
    assert keys == {
        "s1.pathway0_stem.bn.weight",
        "s1.pathway0_stem.bn.bias",
        "s1.pathway0_stem.bn.bn.running_mean",
        "s1.pathway0_stem.bn.bn.running_var",
        "s1.pathway0_stem.bn.bn.num_batches_tracked",
        "s1.pathway0_stem.bn.split_bn.running_mean",
        "s1.pathway0_stem.bn.split_bn.running_var",
        "s1.pathway0_stem.bn.split_bn.num_batches_tracked",
    }
    assert isinstance(model.s1.pathway0_stem.bn, SubBatchNorm3d)
    assert model.s1.pathway0_stem.bn.split_bn.running_mean.shape == (16,)


def test_arch_and_model_name_mismatch_is_explained():
    opts = tiny_opts("slow") + ["MODEL.MODEL_NAME", "SlowFast"]
    with pytest.raises(ValueError, match="MODEL.MODEL_NAME ResNet"):
        _build(opts)
    with pytest.raises(KeyError, match="not a registered model"):
        _build(tiny_opts("slow") + ["MODEL.MODEL_NAME", "Nope"])


def test_slowfast_frame_mismatch_is_explained():
    cfg, model = _build(tiny_opts("slowfast"))
    slow, fast = pathways(cfg, batch=1)
    with pytest.raises(ValueError, match="ALPHA"):
        model([slow[:, :, :1], fast])


def test_forward_does_not_modify_the_input_list():
    cfg, model = _build(tiny_opts("slowfast"))
    x = pathways(cfg, batch=1)
    before = list(x)
    model.eval()
    with torch.no_grad():
        model(x)
    assert len(x) == 2 and all(a is b for a, b in zip(x, before))


def test_dropconnect_rate_is_refused_for_resnets():
    with pytest.raises(ValueError, match=r"MODEL\.DROPCONNECT_RATE"):
        _build(tiny_opts("slow") + ["MODEL.DROPCONNECT_RATE", "0.1"])


def test_activation_checkpointing_is_refused_outside_mvit():
    with pytest.raises(ValueError, match=r"MODEL\.ACT_CHECKPOINT"):
        _build(tiny_opts("slow") + ["MODEL.ACT_CHECKPOINT", "True"])
