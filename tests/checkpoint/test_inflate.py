"""2D -> 3D inflation and image-backbone initialisation."""

import pytest
import torch
import torch.nn as nn

import slowfast.checkpoint as cu
from checkpoint_testutils import TinyResNet, TinyResNet2D


def test_inflate_conv_weight_repeats_over_time_and_divides():
    w2d = torch.randn(4, 3, 7, 7)
    w3d = cu.inflate_conv_weight(w2d, (4, 3, 5, 7, 7))
    assert w3d.shape == (4, 3, 5, 7, 7)
    for t in range(5):
        torch.testing.assert_close(w3d[:, :, t], w2d / 5)
    assert cu.inflate_conv_weight(w2d, (4, 3, 5, 5, 5)) is None
    assert cu.inflate_conv_weight(w2d, (8, 3, 5, 7, 7)) is None


def test_inflated_kernel_gives_the_2d_response_on_a_static_clip():
    conv2d = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    conv3d = nn.Conv3d(3, 4, (3, 3, 3), padding=(1, 1, 1), padding_mode="replicate", bias=False)
    with torch.no_grad():
        conv3d.weight.copy_(cu.inflate_conv_weight(conv2d.weight, tuple(conv3d.weight.shape)))
    image = torch.randn(1, 3, 8, 8)
    clip = image.unsqueeze(2).repeat(1, 1, 4, 1, 1)
    out = conv3d(torch.nn.functional.pad(clip, (1, 1, 1, 1, 0, 0)))[..., 1:-1, 1:-1]
    for t in range(4):
        torch.testing.assert_close(out[:, :, t], conv2d(image), rtol=1e-4, atol=1e-5)


def test_inflate_weight_state_dict_helper():
    sd2d = TinyResNet2D().state_dict()
    sd3d = TinyResNet(stem_temp_kernel=5, block_temp_kernel=3).state_dict()
    inflated = cu.inflate_weight(sd2d, sd3d)
    assert set(inflated) == set(sd2d)
    for key, value in inflated.items():
        assert value.shape == sd3d[key].shape, key


def test_checkpoint_inflate_from_train_config(cfg, tmp_path):
    """TRAIN.CHECKPOINT_INFLATE: a 2D ImageNet-style checkpoint initialises an I3D-style model."""
    model2d = TinyResNet2D()
    path = tmp_path / "imagenet.pyth"
    torch.save({"epoch": 89, "model_state": model2d.state_dict()}, path)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(path)
    cfg.TRAIN.CHECKPOINT_INFLATE = True
    model = TinyResNet(stem_temp_kernel=5, block_temp_kernel=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert cu.load_train_checkpoint(cfg, model, optimizer) == 0
    w2d = model2d.s2.pathway0_res0.branch2.a.weight
    w3d = model.s2.pathway0_res0.branch2.a.weight
    assert w3d.shape == (4, 8, 3, 1, 1)
    torch.testing.assert_close(w3d, w2d.unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3)
    assert torch.equal(model.s2.pathway0_res0.branch2.b.weight[:, :, 0], model2d.s2.pathway0_res0.branch2.b.weight)
    assert torch.equal(model.head.projection.weight, model2d.head.projection.weight)
    assert torch.equal(model.s1.pathway0_stem.bn.running_var, model2d.s1.pathway0_stem.bn.running_var)


def test_without_inflate_2d_kernels_of_another_time_size_are_skipped(tmp_path):
    path = tmp_path / "imagenet.pyth"
    torch.save({"model_state": TinyResNet2D().state_dict()}, path)
    result = cu.restore_checkpoint(str(path), TinyResNet(stem_temp_kernel=5, block_temp_kernel=3))
    assert ("s1.pathway0_stem.conv.weight", (8, 3, 3, 3), (8, 3, 5, 3, 3)) in result.report.skipped
    assert "s2.pathway0_res0.branch2.b.weight" in result.report.loaded


def test_image_init_loads_a_backbone_into_a_video_model(cfg, tmp_path, layouts):
    """TRAIN.CHECKPOINT_IN_INIT: a backbone without head; pos_embed split, 2D patch kernel inflated,
    relative-position table resampled."""
    image = {
        "patch_embed.proj.weight": torch.randn(8, 3, 4, 4),
        "pos_embed": torch.randn(1, 1 + 16, 8),
        "blocks.0.attn.rel_pos_h": torch.randn(7, 4),
        "blocks.0.norm.weight": torch.randn(8),
    }
    path = tmp_path / "vit.pyth"
    torch.save({"model_state": image}, path)
    entries = [
        ("patch_embed.proj.weight", (8, 3, 2, 4, 4), "float32"),
        ("pos_embed_class", (1, 1, 8), "float32"),
        ("pos_embed_xy", (1, 16, 8), "float32"),
        ("blocks.0.attn.rel_pos_h", (13, 4), "float32"),
        ("blocks.0.norm.weight", (8,), "float32"),
        ("head.projection.weight", (5, 8), "float32"),
    ]
    model = layouts.from_entries(entries, fill="zeros")
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(path)
    cfg.TRAIN.CHECKPOINT_IN_INIT = True
    start = cu.load_train_state(cfg, model, None)
    assert start.start_epoch == 0
    torch.testing.assert_close(model.patch_embed.proj.weight[:, :, 1], image["patch_embed.proj.weight"] / 2)
    assert torch.equal(model.pos_embed_class, image["pos_embed"][:, :1])
    assert torch.equal(model.pos_embed_xy, image["pos_embed"][:, 1:])
    rel = model.blocks._modules["0"].attn.rel_pos_h
    assert rel.shape == (13, 4)
    torch.testing.assert_close(rel[0], image["blocks.0.attn.rel_pos_h"][0])
    torch.testing.assert_close(rel[-1], image["blocks.0.attn.rel_pos_h"][-1])
    assert torch.count_nonzero(model.head.projection.weight) == 0


@pytest.mark.parametrize("inflate", [False, True])
def test_inflate_is_harmless_for_a_3d_checkpoint(tmp_path, inflate):
    model = TinyResNet(stem_temp_kernel=5)
    path = tmp_path / "video.pyth"
    torch.save({"epoch": 7, "model_state": model.state_dict()}, path)
    assert cu.load_checkpoint(str(path), TinyResNet(stem_temp_kernel=5), inflate=inflate, strict=True) == 7


def test_inflation_and_loading_share_one_fitting_rule():
    from slowfast.checkpoint.inflate import fit_to_shape

    w = torch.randn(4, 3, 5, 5)
    assert fit_to_shape(w, (4, 3, 5, 5))[1] == ""
    inflated, how = fit_to_shape(w, (4, 3, 2, 5, 5))
    assert how == "inflated" and torch.allclose(inflated.sum(2), w)
    assert fit_to_shape(w, (4, 3, 2, 5, 5), inflate=False) == (None, "")
    fc = torch.randn(7, 16)
    reshaped, how = fit_to_shape(fc, (7, 16, 1, 1, 1))
    assert how == "reshaped" and torch.equal(reshaped.flatten(1), fc)
    assert fit_to_shape(w, (4, 3, 3, 3)) == (None, "")
    # inflate_weight follows the same rule: the 2D fc fits a 1x1x1 conv head too.
    out = cu.inflate_weight({"head.w": fc, "conv.w": w}, {"head.w": torch.zeros(7, 16, 1, 1, 1),
                                                          "conv.w": torch.zeros(4, 3, 3, 5, 5)})
    assert out["head.w"].shape == (7, 16, 1, 1, 1) and out["conv.w"].shape == (4, 3, 3, 5, 5)
