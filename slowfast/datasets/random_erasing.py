"""Random erasing of normalised video clips (AUG.RE_PROB, RE_MODE, RE_COUNT).

With probability ``prob`` a clip gets between 1 and ``max_count`` boxes; each
box covers a random fraction of the frame in [0.02, 1/3] divided by the count,
with a log-uniform aspect ratio in [0.3, 1/0.3], and is the same box on every
frame of the clip (a "cube", as in PySlowFast). Its pixels become 0
(``const``), one normal value per channel and frame (``rand``) or per-pixel normal noise
(``pixel``): noise in the normalised space, i.e. about the dataset's mean and std.
"""

import math
import random
from typing import List, Optional, Tuple

import torch

RE_MODES = ("const", "rand", "pixel")


class RandomErasing:
    """Erase boxes in a ``C x T x H x W`` clip, in place."""

    def __init__(
        self,
        prob: float,
        *,
        mode: str = "pixel",
        max_count: int = 1,
        min_area: float = 0.02,
        max_area: float = 1.0 / 3.0,
        min_aspect: float = 0.3,
        attempts: int = 100,
    ) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"AUG.RE_PROB must be in [0, 1], got {prob}")
        if mode not in RE_MODES:
            raise ValueError(f"AUG.RE_MODE must be one of {RE_MODES}, got {mode!r}")
        if max_count < 1:
            raise ValueError(f"AUG.RE_COUNT must be >= 1, got {max_count}")
        self.prob = prob
        self.mode = mode
        self.max_count = max_count
        self.area = (min_area, max_area)
        self.log_aspect = (math.log(min_aspect), math.log(1.0 / min_aspect))
        self.attempts = attempts

    def boxes(self, height: int, width: int, rng: Optional[random.Random] = None) -> List[Tuple[int, int, int, int]]:
        """The ``(top, left, h, w)`` boxes for one clip (empty when the clip is not erased)."""
        rng = rng or random
        if rng.random() > self.prob:
            return []
        count = rng.randint(1, self.max_count)
        out = []
        for _ in range(count):
            for _ in range(self.attempts):
                target = rng.uniform(*self.area) * height * width / count
                aspect = math.exp(rng.uniform(*self.log_aspect))
                h = int(round(math.sqrt(target * aspect)))
                w = int(round(math.sqrt(target / aspect)))
                if w < width and h < height:
                    out.append((rng.randint(0, height - h), rng.randint(0, width - w), h, w))
                    break
        return out

    def __call__(self, clip: torch.Tensor, rng: Optional[random.Random] = None) -> torch.Tensor:
        c, t, height, width = clip.shape
        for top, left, h, w in self.boxes(height, width, rng):
            if self.mode == "pixel":
                fill = torch.randn((c, t, h, w), dtype=clip.dtype)
            elif self.mode == "rand":
                fill = torch.randn((c, t, 1, 1), dtype=clip.dtype)
            else:
                fill = torch.zeros((), dtype=clip.dtype)
            clip[:, :, top : top + h, left : left + w] = fill
        return clip
