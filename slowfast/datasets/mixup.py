"""Batch-level mixup and CutMix for video (MIXUP.*), with label-smoothed soft targets.

Each batch is mixed with itself reversed (sample ``i`` with sample ``B-1-i``).
With probability MIXUP.PROB the batch is mixed: when both ALPHA and
CUTMIX_ALPHA are positive, CutMix is chosen with probability SWITCH_PROB, else
mixup; lambda ~ Beta(alpha, alpha). CutMix pastes one box (the same on every
frame and every pathway) whose side is ``sqrt(1 - lambda)`` of the frame's,
and lambda is corrected to the area actually kept. The targets are
``lambda * onehot(y) + (1 - lambda) * onehot(y_reversed)`` after label
smoothing (on = 1 - s + s / K, off = s / K), so every row sums to 1.

Unlike PySlowFast, which mixes only the first pathway, every pathway of a
multi-pathway input is mixed with the same lambda and box. Random draws use
torch's global generator, so they follow RNG_SEED and resume with the run.
"""

from typing import List, Optional, Tuple

import numpy as np
import torch
from fvcore.common.config import CfgNode


def smoothed_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """``B x K`` targets: ``1 - smoothing + smoothing / K`` at the label, ``smoothing / K`` elsewhere."""
    off = smoothing / num_classes
    out = torch.full((labels.numel(), num_classes), off, device=labels.device)
    return out.scatter_(1, labels.long().view(-1, 1), 1.0 - smoothing + off)


def mixup_target(labels: torch.Tensor, num_classes: int, lam: float, smoothing: float = 0.0) -> torch.Tensor:
    """Soft targets of a batch mixed with its reverse at weight ``lam``."""
    y = smoothed_one_hot(labels, num_classes, smoothing)
    return y * lam + y.flip(0) * (1.0 - lam)


def cutmix_box(height: int, width: int, lam: float) -> Tuple[Tuple[int, int, int, int], float]:
    """A box ``(y0, y1, x0, x1)`` of side ``sqrt(1 - lam)`` around a uniform centre, clipped to the frame,
    and the corrected lambda ``1 - box area / frame area``."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(torch.randint(0, height, ())), int(torch.randint(0, width, ()))
    y0, y1 = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    x0, x1 = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    lam = 1.0 - float((y1 - y0) * (x1 - x0)) / float(height * width)
    return (int(y0), int(y1), int(x0), int(x1)), lam


class MixUp:
    """Mix a batch of pathway inputs and return the soft targets."""

    def __init__(
        self,
        *,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.1,
        num_classes: int = 400,
    ) -> None:
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.prob = prob
        self.switch_prob = switch_prob
        self.label_smoothing = label_smoothing
        self.num_classes = num_classes

    def draw(self) -> Tuple[float, bool]:
        """``(lambda, use_cutmix)`` for one batch; lambda 1.0 leaves the batch as it is."""
        if float(torch.rand(())) >= self.prob or (self.mixup_alpha <= 0 and self.cutmix_alpha <= 0):
            return 1.0, False
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha <= 0 or float(torch.rand(())) < self.switch_prob)
        alpha = torch.tensor(float(self.cutmix_alpha if use_cutmix else self.mixup_alpha))
        return float(torch.distributions.Beta(alpha, alpha).sample()), use_cutmix

    def __call__(self, inputs: List[torch.Tensor], labels: torch.Tensor) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Mix ``inputs`` (pathway tensors ``B x C x T x H x W``) in place; return them and ``B x K`` targets."""
        if labels.numel() < 2:
            raise ValueError("mixup needs at least 2 clips per batch (TRAIN.BATCH_SIZE per process)")
        lam, use_cutmix = self.draw()
        if lam < 1.0:
            if use_cutmix:
                height, width = inputs[0].shape[-2:]
                (y0, y1, x0, x1), lam = cutmix_box(height, width, lam)
                for x in inputs:
                    # Pathways share the frame size; a smaller one gets the box scaled to it.
                    sy, sx = x.shape[-2] / height, x.shape[-1] / width
                    ys, ye, xs, xe = int(y0 * sy), int(y1 * sy), int(x0 * sx), int(x1 * sx)
                    x[..., ys:ye, xs:xe] = x.flip(0)[..., ys:ye, xs:xe]
            else:
                for x in inputs:
                    flipped = x.flip(0).mul_(1.0 - lam)
                    x.mul_(lam).add_(flipped)
        return inputs, mixup_target(labels, self.num_classes, lam, self.label_smoothing)


def build_mixup(cfg: CfgNode) -> Optional[MixUp]:
    """The MixUp of MIXUP.* when MIXUP.ENABLE, else None."""
    if not cfg.MIXUP.ENABLE:
        return None
    m = cfg.MIXUP
    return MixUp(
        mixup_alpha=m.ALPHA,
        cutmix_alpha=m.CUTMIX_ALPHA,
        prob=m.PROB,
        switch_prob=m.SWITCH_PROB,
        label_smoothing=m.LABEL_SMOOTH_VALUE,
        num_classes=cfg.MODEL.NUM_CLASSES,
    )
