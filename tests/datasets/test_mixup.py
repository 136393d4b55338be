"""Mixup / CutMix: targets, lambda and the pasted box, against hand-computed cases."""

import pytest
import torch

from slowfast.datasets.mixup import MixUp, cutmix_box, mixup_target, smoothed_one_hot


def test_smoothed_one_hot_values_and_rows_sum_to_one():
    y = smoothed_one_hot(torch.tensor([0, 2]), 4, smoothing=0.1)
    assert torch.allclose(y[0], torch.tensor([0.925, 0.025, 0.025, 0.025]))
    assert torch.allclose(y.sum(1), torch.ones(2))


def test_mixup_target_mixes_each_row_with_the_reversed_batch():
    y = mixup_target(torch.tensor([0, 1, 3]), 4, lam=0.7)
    assert torch.allclose(y[0], torch.tensor([0.7, 0.0, 0.0, 0.3]))
    assert torch.allclose(y[1], torch.tensor([0.0, 1.0, 0.0, 0.0]))  # the middle row meets itself
    assert torch.allclose(y.sum(1), torch.ones(3))


def test_mixup_blends_inputs_with_the_drawn_lambda():
    torch.manual_seed(0)
    mix = MixUp(mixup_alpha=1.0, cutmix_alpha=0.0, prob=1.0, label_smoothing=0.0, num_classes=3)
    x = torch.stack([torch.zeros(1, 2, 4, 4), torch.ones(1, 2, 4, 4)])
    torch.manual_seed(5)
    lam, cut = mix.draw()
    torch.manual_seed(5)
    (out,), targets = mix([x.clone()], torch.tensor([0, 2]))
    assert not cut and 0 < lam < 1
    assert torch.allclose(out[0], torch.full_like(out[0], 1 - lam), atol=1e-6)
    assert torch.allclose(targets[0], torch.tensor([lam, 0.0, 1 - lam]), atol=1e-6)
    assert torch.allclose(targets.sum(1), torch.ones(2))


def test_cutmix_pastes_one_box_on_every_frame_and_pathway_and_corrects_lambda():
    torch.manual_seed(1)
    mix = MixUp(mixup_alpha=0.0, cutmix_alpha=1.0, prob=1.0, label_smoothing=0.0, num_classes=2)
    fast = torch.stack([torch.zeros(3, 4, 16, 16), torch.ones(3, 4, 16, 16)])
    slow = fast[:, :, :1].clone()
    (f, s), targets = mix([fast, slow], torch.tensor([0, 1]))
    pasted = f[0] == 1
    assert pasted.any() and (pasted == pasted[:1, :1]).all()  # same box on every channel and frame
    assert torch.equal(s[0, :, 0], f[0, :, 0])
    kept = 1 - pasted[0, 0].float().mean().item()
    assert targets[0].tolist() == pytest.approx([kept, 1 - kept])


def test_cutmix_box_area_matches_corrected_lambda():
    torch.manual_seed(3)
    for _ in range(50):
        (y0, y1, x0, x1), lam = cutmix_box(20, 30, 0.6)
        assert 0 <= y0 <= y1 <= 20 and 0 <= x0 <= x1 <= 30
        assert lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / 600)


def test_prob_zero_leaves_the_batch_alone_with_hard_smoothed_targets():
    mix = MixUp(prob=0.0, label_smoothing=0.0, num_classes=2)
    x = torch.rand(2, 3, 2, 4, 4)
    (out,), targets = mix([x.clone()], torch.tensor([1, 0]))
    assert torch.equal(out, x) and torch.equal(targets, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
