"""Grad-CAM: the heat map peaks where the model's evidence is; maps fit any pathway layout."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from slowfast.visualization.gradcam import GradCAM
from vis_testing import SLOWFAST_CFG, demo_cfg

T, H, W, SIDE = 8, 32, 32, 8


def square_clip(seed: int = 0):
    """A clip of textured noise in [0, 0.3] with one bright square moving right; the square's boxes per frame."""
    gen = torch.Generator().manual_seed(seed)
    clip = torch.rand(1, 3, T, H, W, generator=gen) * 0.3
    boxes = []
    for t in range(T):
        x, y = 4 + 2 * t, 12
        clip[0, :, t, y : y + SIDE, x : x + SIDE] = 1.0
        boxes.append((y, y + SIDE, x, x + SIDE))
    return clip, boxes


class SquareModel(nn.Module):
    """Four channels fire on the bright square only; four texture channels fire everywhere but the classifier
    ignores them. Only the square is informative, and plain activations peak elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(8, 2)
        with torch.no_grad():
            conv = self.features[0]
            conv.weight.zero_()
            conv.weight[:4] = 1.0 / 81  # mean over 3 channels x 27 taps
            conv.bias[:4] = -0.6  # silent below a mean brightness of 0.6
            texture = torch.randn(4, 3, 3, 3, 3, generator=torch.Generator().manual_seed(1))
            conv.weight[4:] = -texture.abs() * 0.5  # strongest on the dark textured background
            conv.bias[4:] = 10.0
            self.fc.weight.zero_()
            self.fc.bias.zero_()
            self.fc.weight[0, :4] = 5.0
            self.fc.weight[1, :4] = -5.0

    def forward(self, inputs):
        x = self.features(inputs[0])
        return self.fc(self.pool(x).flatten(1))


def test_heat_map_peaks_on_the_only_informative_region():
    model = SquareModel()
    clip, boxes = square_clip()
    cam = GradCAM(model, ["features"])
    maps, preds = cam.localization_maps([clip])
    assert preds.argmax().item() == 0
    heat = maps[0][0]
    assert heat.shape == (T, H, W) and heat.min() >= 0 and heat.max() <= 1
    for t, (y0, y1, x0, x1) in enumerate(boxes):
        y, x = np.unravel_index(int(heat[t].argmax()), (H, W))
        assert y0 - 1 <= y <= y1 and x0 - 1 <= x <= x1, (t, y, x)
        inside = heat[t, y0:y1, x0:x1].mean()
        outside = heat[t].sum() - heat[t, y0:y1, x0:x1].sum()
        assert inside > 5 * outside / (H * W - SIDE * SIDE)
    # Without the gradient weighting (sum of all channels) the texture channels would dominate.
    acts = model.features(clip)[0].sum(0)
    y, x = np.unravel_index(int(acts[0].argmax()), (H, W))
    assert not (boxes[0][0] <= y < boxes[0][1] and boxes[0][2] <= x < boxes[0][3])
    cam.remove()


def test_true_label_explains_that_class_and_overlay_has_the_input_shape():
    model = SquareModel()
    clip, _ = square_clip(1)
    cam = GradCAM(model, ["features"], colormap="viridis")
    maps, _ = cam.localization_maps([clip], labels=torch.tensor([1]))
    # Class 1 is evidence against the square: its positive part is empty, the map stays flat.
    assert float(maps[0].max()) < 1e-3
    maps, _ = cam.localization_maps([clip])
    over = cam.overlay([clip], maps, mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])
    assert over[0].shape == (1, T, 3, H, W) and 0 <= float(over[0].min()) and float(over[0].max()) <= 1


def test_slowfast_maps_per_pathway_from_layer_names(tmp_path):
    from slowfast.models import build_model

    cfg = demo_cfg(SLOWFAST_CFG, ["OUTPUT_DIR", str(tmp_path)])
    torch.manual_seed(0)
    model = build_model(cfg)
    fast = torch.randn(2, 3, 8, 64, 64)
    inputs = [fast[:, :, ::4].contiguous(), fast]
    cam = GradCAM(model, ["s5/pathway0_res1", "s5.pathway1_res1"])
    maps, preds = cam.localization_maps(inputs)
    assert [tuple(m.shape) for m in maps] == [(2, 2, 64, 64), (2, 8, 64, 64)]
    assert preds.shape == (2, 4)
    with pytest.raises(ValueError, match="one layer per pathway"):
        cam.localization_maps(inputs[:1])
    with pytest.raises(ValueError, match="not a child"):
        GradCAM(model, ["s5/pathway0_res9"])
