"""X3D: the expansion rules, squeeze-excitation placement, stochastic depth and refused configs."""

import json

import pytest
import torch
from model_testing import LAYOUTS, load_cfg, pathways
from test_all_registered_models import TINY_CONFIGS

from slowfast.models import MODEL_REGISTRY
from slowfast.models.common import round_width
from slowfast.models.stats import log_model_info


def _x3d(*opts: str):
    cfg = load_cfg(opts=TINY_CONFIGS["X3D"]() + list(opts))
    torch.manual_seed(0)
    return cfg, MODEL_REGISTRY.get("X3D")(cfg)


def test_round_width_rounds_to_the_divisor_and_never_loses_ten_percent():
    assert round_width(12, 2.0, divisor=8) == 24
    assert round_width(24, 2.0) == 48
    assert round_width(12, 0) == 12  # no multiplier: unchanged
    assert round_width(54, 0.0625, min_width=8, divisor=8) == 8
    assert round_width(108, 1 / 8, divisor=8) == 16  # 13.5 -> 16, not 8


def test_depth_factor_rounds_the_block_counts_up_and_se_sits_in_every_other_block():
    _, model = _x3d("X3D.DEPTH_FACTOR", "2.2")
    for stage, blocks in zip(["s2", "s3", "s4", "s5"], [3, 5, 11, 7]):  # ceil(2.2 * [1, 2, 5, 3])
        module = getattr(model, stage)
        assert module.num_blocks == [blocks]
        with_se = [i for i in range(blocks) if hasattr(getattr(module, f"pathway0_res{i}").branch2, "se")]
        assert with_se == list(range(0, blocks, 2))


def test_drop_connect_rate_grows_with_the_stage_and_acts_only_in_training():
    cfg, model = _x3d("MODEL.DROPCONNECT_RATE", "0.5")
    rates = [getattr(model, f"s{k}").pathway0_res0.drop_connect_rate for k in range(2, 6)]
    assert rates == pytest.approx([0.5 * k / 5 for k in range(2, 6)])
    x = pathways(cfg, batch=4)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(1)
    first = model(x)
    torch.manual_seed(2)
    assert not torch.allclose(first, model(x))


def test_bn_lin5_adds_a_norm_after_lin_5():
    _, model = _x3d("X3D.BN_LIN5", "True")
    assert model.head.lin_5_bn.num_features == 64


@pytest.mark.parametrize(
    "opts, key",
    [
        (["X3D.WIDTH_FACTOR", "-1.0"], "X3D.WIDTH_FACTOR"),
        (["X3D.DEPTH_FACTOR", "0.0"], "X3D.DEPTH_FACTOR"),
        (["X3D.BOTTLENECK_FACTOR", "0.01"], "X3D.BOTTLENECK_FACTOR"),
        (["X3D.DIM_C5", "0"], "X3D.DIM_C5"),
        (["X3D.CHANNELWISE_3x3x3", "False", "RESNET.NUM_GROUPS", "7"], "RESNET.NUM_GROUPS"),
        (["RESNET.DEPTH", "101"], "RESNET.DEPTH"),
        (["RESNET.SPATIAL_STRIDES", "[[1], [1], [2], [2]]"], "RESNET.SPATIAL_STRIDES"),
        (["MODEL.ARCH", "i3d"], "MODEL.ARCH"),
        (["DETECTION.ENABLE", "True"], "DETECTION.ENABLE"),
    ],
)
def test_unsupported_width_depth_or_layout_names_the_key(opts, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        _x3d(*opts)


def test_log_model_info_counts_the_released_x3d_xs_flops():
    layout = json.loads((LAYOUTS / "Kinetics" / "X3D_XS.json").read_text())
    cfg = load_cfg("Kinetics/X3D_XS.yaml")
    stats = log_model_info(MODEL_REGISTRY.get("X3D")(cfg), cfg, use_train_input=True)
    assert stats["params"] == layout["params"]
    assert stats["gflops"] == pytest.approx(layout["gflops_train_view"]["gflops"], rel=1e-6)
    assert stats["mactivations"] > 0


def test_scale_res2_and_channelwise_switch_set_widths_and_groups():
    _, base = _x3d()
    assert base.s2.pathway0_res0.branch2.c.out_channels == 12
    assert base.s2.pathway0_res0.branch2.b.groups == 27  # channelwise: int(2.25 * 12) groups
    _, model = _x3d("X3D.SCALE_RES2", "True", "X3D.CHANNELWISE_3x3x3", "False", "RESNET.NUM_GROUPS", "1")
    assert [getattr(model, f"s{k}").pathway0_res0.branch2.c.out_channels for k in range(2, 6)] == [24, 48, 96, 192]
    assert model.s2.pathway0_res0.branch2.b.groups == 1
