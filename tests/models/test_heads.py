"""The classification and detection heads compute what PySlowFast's heads compute."""

import pytest
import torch
import torch.nn.functional as F

from slowfast.models.head_helper import ResNetBasicHead, ResNetRoIHead


def _reference_basic_head(head, inputs, pool_sizes, act):
    """PySlowFast's test-time head, written out: pool, concat, per-location FC, activation, mean."""
    pooled = [F.avg_pool3d(x, size, stride=1) for x, size in zip(inputs, pool_sizes)]
    x = torch.cat(pooled, 1).permute(0, 2, 3, 4, 1)
    logits = x @ head.projection.weight.t() + head.projection.bias
    probs = torch.softmax(logits, dim=-1) if act == "softmax" else torch.sigmoid(logits)
    return probs.mean(dim=(1, 2, 3))


@pytest.mark.parametrize("act", ["softmax", "sigmoid"])
def test_basic_head_is_fully_convolutional_at_test_time(act):
    torch.manual_seed(0)
    pool_sizes = [[2, 3, 3], [8, 3, 3]]
    head = ResNetBasicHead(dim_in=[16, 4], num_classes=7, pool_size=pool_sizes, dropout_rate=0.5, act_func=act)
    # A test crop larger than the training crop: 5x5 instead of 3x3 at res5, so 3x3 locations.
    inputs = [torch.randn(2, 16, 2, 5, 5), torch.randn(2, 4, 8, 5, 5)]
    head.eval()
    out = head(inputs)
    torch.testing.assert_close(out, _reference_basic_head(head, inputs, pool_sizes, act))


def test_basic_head_training_returns_logits():
    torch.manual_seed(0)
    head = ResNetBasicHead(dim_in=[16], num_classes=7, pool_size=[[2, 3, 3]], dropout_rate=0.0, act_func="softmax")
    x = torch.randn(4, 16, 2, 3, 3)
    head.train()
    expected = head.projection(x.mean(dim=(2, 3, 4)))
    torch.testing.assert_close(head([x]), expected)


def test_basic_head_global_pool_and_no_activation():
    head = ResNetBasicHead(dim_in=[8], num_classes=3, pool_size=[None], act_func="none").eval()
    x = torch.randn(2, 8, 3, 4, 5)
    torch.testing.assert_close(head([x]), head.projection(x.mean(dim=(2, 3, 4))))


def test_unknown_activation_is_rejected():
    with pytest.raises(NotImplementedError, match="HEAD_ACT"):
        ResNetBasicHead(dim_in=[8], num_classes=3, pool_size=[None], act_func="tanh")


def test_roi_head_passes_the_config_to_roi_align(monkeypatch, roi_align_module):
    made = []

    class Recorder(torch.nn.Module):
        def __init__(self, output_size, spatial_scale, sampling_ratio, aligned):
            super().__init__()
            made.append((tuple(output_size), spatial_scale, sampling_ratio, aligned))

    monkeypatch.setattr(roi_align_module, "ROIAlign", Recorder)
    ResNetRoIHead(
        dim_in=[16, 2], num_classes=5, pool_size=[[2, 1, 1], [8, 1, 1]], resolution=[[7, 7]] * 2,
        scale_factor=[16, 16], aligned=False,
    )  # fmt: skip
    assert made == [((7, 7), 1.0 / 16, 0, False)] * 2


@pytest.mark.parametrize("aligned", [True, False])
def test_roi_head_matches_its_definition(aligned, roi_align_module):
    torch.manual_seed(0)
    head = ResNetRoIHead(
        dim_in=[16, 4], num_classes=5, pool_size=[[2, 1, 1], [8, 1, 1]], resolution=[[3, 3]] * 2,
        scale_factor=[16, 16], dropout_rate=0.5, act_func="sigmoid", aligned=aligned,
    )  # fmt: skip
    inputs = [torch.randn(2, 16, 2, 6, 6), torch.randn(2, 4, 8, 6, 6)]
    boxes = torch.tensor([[0, 4.0, 8.0, 60.0, 90.0], [1, 0.0, 0.0, 95.0, 95.0], [1, 30.0, 10.0, 50.0, 40.0]])
    head.eval()
    out = head(inputs, boxes)

    roi = roi_align_module.ROIAlign((3, 3), 1.0 / 16, 0, aligned)
    feats = [roi(x.mean(2), boxes).amax(dim=(2, 3)) for x in inputs]
    expected = torch.sigmoid(head.projection(torch.cat(feats, 1)))
    torch.testing.assert_close(out, expected)
    assert out.shape == (3, 5)


def test_roi_head_rejects_clips_of_the_wrong_length(roi_align_module):
    head = ResNetRoIHead(dim_in=[8], num_classes=2, pool_size=[[4, 1, 1]], resolution=[[2, 2]], scale_factor=[16])
    with pytest.raises(ValueError, match="DATA.NUM_FRAMES"):
        head([torch.randn(1, 8, 6, 4, 4)], torch.tensor([[0, 0.0, 0.0, 30.0, 30.0]]))
