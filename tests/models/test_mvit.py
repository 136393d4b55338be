"""MViT v1/v2 (slowfast/models/mvit.py, attention.py): reference outputs, options and errors.

Checkpoint layouts and FLOPs of the published configs are in test_checkpoint_layouts.py.
"""

import json

import pytest
import torch
import torch.nn.functional as F
from model_testing import REPO, load_cfg, tiny_mvit_opts
from reference_fill import clip, fill_state_dict

from slowfast.models import MODEL_REGISTRY
from slowfast.models.attention import resize_rel_pos
from slowfast.models.mvit import MViT, pooling_schedule

REFERENCE = json.loads((REPO / "tests" / "data" / "reference_outputs" / "mvit_crop64_float64.json").read_text())


def build(opts=(), path=None) -> MViT:
    torch.manual_seed(0)
    return MODEL_REGISTRY.get("MViT")(load_cfg(path, opts))


def tiny(version: int = 2, extra=(), **kw) -> MViT:
    return build(tiny_mvit_opts(version=version, **kw) + list(extra))


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_float64_outputs_equal_pyslowfast(name):
    ref = REFERENCE[name]
    opts = [
        "DATA.TRAIN_CROP_SIZE", str(ref["crop"]), "DATA.TEST_CROP_SIZE", str(ref["crop"]),
        "DATA.NUM_FRAMES", str(ref["frames"]), "MODEL.NUM_CLASSES", str(ref["num_classes"]),
        "MODEL.HEAD_ACT", "none",
    ]  # fmt: skip
    model = build(opts, f"{name}.yaml").double().eval()
    fill_state_dict(model)
    x = clip(ref["frames"], ref["crop"])
    with torch.no_grad():
        out = model([x[:, :, 0] if ref["image"] else x])
    torch.testing.assert_close(out[0], torch.tensor(ref["logits"], dtype=torch.float64), rtol=0, atol=1e-9)


@pytest.mark.parametrize("version", [1, 2])
def test_act_checkpoint_gives_same_loss_and_gradients(version):
    inputs = [torch.randn(2, 3, 4, 32, 32)]
    labels = torch.tensor([1, 3])
    results = []
    for flag in ("False", "True"):
        model = tiny(version, ["MODEL.ACT_CHECKPOINT", flag, "MVIT.DROPPATH_RATE", "0.0"]).train()
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        results.append((loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b, rtol=0, atol=0)
    assert grads_a.keys() == grads_b.keys()
    for key in grads_a:
        torch.testing.assert_close(grads_a[key], grads_b[key], rtol=1e-6, atol=1e-7, msg=key)


def test_act_checkpoint_keeps_the_state_dict_keys():
    assert list(tiny(extra=["MODEL.ACT_CHECKPOINT", "True"]).state_dict()) == list(tiny().state_dict())


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["MVIT.MODE", "avg"],
        ["MVIT.MODE", "max"],
        ["MVIT.SEPARATE_QKV", "True"],
        ["MVIT.POOL_FIRST", "True"],
        ["MVIT.POOL_FIRST", "True", "MVIT.MODE", "conv_unshared"],
        ["MVIT.CLS_EMBED_ON", "False"],
        ["MVIT.USE_MEAN_POOLING", "True"],
        ["MVIT.LAYER_SCALE_INIT_VALUE", "0.1", "MVIT.DIM_MUL_IN_ATT", "False"],
        ["MVIT.NORM_STEM", "True", "MVIT.DROPOUT_RATE", "0.1"],
    ],
)
def test_options_build_train_and_eval(extra):
    model = tiny(extra=extra, frames=8)  # torch's avg/max pools need T >= kernel before padding
    x = [torch.randn(2, 3, 8, 32, 32)]
    model.train()
    model(x).sum().backward()
    model.eval()
    with torch.no_grad():
        probs = model(x)
    assert probs.shape == (2, 5)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))


def test_v1_has_separable_pos_embed_and_v2_rel_pos_tables():
    v1, v2 = tiny(1).state_dict(), tiny(2).state_dict()
    assert v1["pos_embed_spatial"].shape == (1, 8 * 8, 16) and v1["pos_embed_temporal"].shape == (1, 2, 16)
    assert "rel_pos_h" not in "".join(v1)
    # Block 0: q stride 1, kv stride 4 on an 8x8 grid -> 2 * max(8, 2) - 1 rows; time 2 * 2 - 1.
    assert v2["blocks.0.attn.rel_pos_h"].shape == (15, 16)
    assert v2["blocks.0.attn.rel_pos_t"].shape == (3, 16)
    # Block 1 doubles channels inside attention (DIM_MUL_IN_ATT) with 2 heads of 16.
    assert v2["blocks.1.attn.rel_pos_w"].shape == (7, 16)
    assert v2["blocks.1.proj.weight"].shape == (32, 16)


@pytest.mark.parametrize("version", [1, 2])
def test_other_input_size_interpolates_position_terms(version):
    model = tiny(version).eval()
    with torch.no_grad():
        out = model([torch.randn(1, 3, 8, 48, 48)])
    assert out.shape == (1, 5) and torch.isfinite(out).all()


def test_resize_rel_pos_is_linear_and_identity_at_same_length():
    table = torch.arange(6.0).reshape(3, 2)
    assert resize_rel_pos(table, 3) is table
    assert resize_rel_pos(table, 5).shape == (5, 2)


def test_image_variant_takes_4d_input():
    opts = tiny_mvit_opts(frames=1) + [
        "MVIT.PATCH_2D", "True", "MVIT.PATCH_KERNEL", "[7, 7]", "MVIT.PATCH_STRIDE", "[4, 4]",
        "MVIT.PATCH_PADDING", "[3, 3]", "MVIT.POOL_KVQ_KERNEL", "[1, 3, 3]", "MVIT.REL_POS_TEMPORAL", "False",
        "MVIT.CLS_EMBED_ON", "False",
    ]  # fmt: skip
    model = build(opts).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model([images])
        torch.testing.assert_close(model([images[:, :, None]]), out)
    assert out.shape == (2, 5)
    with pytest.raises(ValueError, match="4-D input"):
        model([torch.randn(2, 3, 2, 32, 32)])


def test_log_model_info_counts_flops_of_the_published_layout():
    from slowfast.models.stats import get_model_stats

    model = build(path="ImageNet/MVITv2_T.yaml")
    ref = json.loads((REPO / "tests/data/checkpoint_layouts/ImageNet/MVITv2_T.json").read_text())
    assert get_model_stats(model, load_cfg("ImageNet/MVITv2_T.yaml"), "flop") == pytest.approx(
        ref["gflops_test_view"]["gflops"], rel=1e-6
    )
    assert get_model_stats(model, load_cfg("ImageNet/MVITv2_T.yaml"), "activation") > 0


def test_adaptive_kv_stride_divides_by_each_query_stride():
    cfg = load_cfg("Kinetics/MVITv2_S_16x4.yaml")
    _, kernel_kv, stride_q, stride_kv = pooling_schedule(cfg)
    assert stride_kv[0] == [1, 8, 8] and stride_kv[1] == [1, 4, 4] and stride_kv[3] == [1, 2, 2]
    assert stride_kv[14] == [1, 1, 1] and kernel_kv[14] == [3, 3, 3]
    assert stride_q[1] == [1, 2, 2] and cfg.MVIT.POOL_KV_STRIDE == []  # the config is not rewritten


def test_default_pool_kernel_is_stride_plus_one():
    kernel_q, kernel_kv, _, _ = pooling_schedule(load_cfg("Kinetics/MVIT_B_32x3_CONV.yaml"))
    assert kernel_q[2] == [1, 3, 3] and kernel_kv[0] == [1, 9, 9] and kernel_kv[2] == [1, 5, 5]


def test_no_weight_decay_follows_zero_decay_pos_cls():
    v1 = tiny(1, ["MVIT.ZERO_DECAY_POS_CLS", "True"])
    assert v1.no_weight_decay() == ["pos_embed_spatial", "pos_embed_temporal", "pos_embed_class", "cls_token"]
    v2 = tiny(2, ["MVIT.ZERO_DECAY_POS_CLS", "True"])
    assert v2.no_weight_decay() == ["rel_pos_h", "rel_pos_w", "rel_pos_hw", "rel_pos_t", "cls_token"]
    assert tiny(2, ["MVIT.ZERO_DECAY_POS_CLS", "False"]).no_weight_decay() == []


def test_layer_id_numbers_stem_blocks_and_head():
    model = tiny()
    assert model.num_layers() == 5
    assert [model.layer_id(n) for n in ("cls_token", "patch_embed.proj.weight", "blocks.2.mlp.fc1.bias", "head.projection.weight", "norm.weight")] == [0, 0, 3, 4, 4]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["MVIT.REV.ENABLE", "True"], "MVIT.REV.ENABLE"),
        (["MVIT.REV.RESPATH_FUSE", "add"], "MVIT.REV.RESPATH_FUSE"),
        (["MVIT.USE_FIXED_SINCOS_POS", "True"], "MVIT.USE_FIXED_SINCOS_POS"),
        (["MVIT.NORM", "batchnorm"], "MVIT.NORM"),
        (["DETECTION.ENABLE", "True"], "DETECTION.ENABLE"),
        (["DATA.TEST_CROP_SIZE", "48"], "TEST_CROP_SIZE"),
        (["MVIT.PATCH_PADDING", "[2, 4, 4]"], "PATCH_PADDING"),
        (["MVIT.MODE", "conv_unshared"], "POOL_FIRST"),
        (["MVIT.MODE", "sum"], "MVIT.MODE"),
        (["MVIT.POOL_Q_STRIDE", "[[3, 1, 2, 2]]"], "POOL_Q_STRIDE"),
    ],
)
def test_unsupported_settings_name_the_key(extra, message):
    with pytest.raises((ValueError, NotImplementedError), match=message.replace(".", r"\.")):
        tiny(extra=extra)
