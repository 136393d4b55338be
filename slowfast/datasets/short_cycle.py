"""Multigrid's short cycle and the per-item training shape the video datasets take from it.

``ShortCycleBatchSampler`` cycles three crop sizes over consecutive iterations:
MULTIGRID.SHORT_CYCLE_FACTORS x MULTIGRID.DEFAULT_S for the first two, DATA.TRAIN_CROP_SIZE
(the long-cycle crop) for the third, with the batch size multiplied by
``round((TRAIN_CROP_SIZE / crop) ** 2)`` so every iteration costs about the same. Each item
index becomes ``(index, short_cycle_idx)``; the datasets turn it into a ``CropShape`` with
``train_crop_shape`` (PySlowFast's rule: the jitter's lower bound scales with the crop).
"""

import random
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from fvcore.common.config import CfgNode
from torch.utils.data import Sampler

ItemIndex = Union[int, Tuple[int, int]]


class CropShape(NamedTuple):
    """Training crop of one item: the crop size and the short-side jitter range it is cut from."""

    crop_size: int
    min_scale: int
    max_scale: int


def short_cycle_crop_sizes(cfg: CfgNode) -> List[int]:
    """Crop sizes of the three iterations of a short cycle."""
    mg = cfg.MULTIGRID
    return [int(round(f * mg.DEFAULT_S)) for f in mg.SHORT_CYCLE_FACTORS] + [cfg.DATA.TRAIN_CROP_SIZE]


def short_cycle_batch_sizes(cfg: CfgNode, batch_size: int) -> List[int]:
    """Per-process batch sizes of the three iterations of a short cycle for a base ``batch_size``."""
    mg = cfg.MULTIGRID
    factors = [int(round((float(cfg.DATA.TRAIN_CROP_SIZE) / (f * mg.DEFAULT_S)) ** 2)) for f in mg.SHORT_CYCLE_FACTORS]
    return [batch_size * f for f in factors] + [batch_size]


def split_item_index(index: ItemIndex) -> Tuple[int, Optional[int]]:
    """``(index, short_cycle_idx)`` of a sampler's item: short-cycle items are pairs, others ints."""
    if isinstance(index, (tuple, list)):
        return int(index[0]), int(index[1])
    return index, None


def train_crop_shape(cfg: CfgNode, short_cycle_idx: Optional[int]) -> Optional[CropShape]:
    """The train/val crop of an item under multigrid (None when multigrid is off: DEFAULT_S is 0).

    The short cycle's first two iterations crop SHORT_CYCLE_FACTORS[i] x DEFAULT_S, otherwise
    DATA.TRAIN_CROP_SIZE (the long cycle's); the lower bound of DATA.TRAIN_JITTER_SCALES
    scales by crop / DEFAULT_S, so a smaller crop sees as much of the frame.
    """
    default_s = cfg.MULTIGRID.DEFAULT_S
    if default_s <= 0:
        return None
    crop = cfg.DATA.TRAIN_CROP_SIZE
    if short_cycle_idx in (0, 1):
        crop = int(round(cfg.MULTIGRID.SHORT_CYCLE_FACTORS[short_cycle_idx] * default_s))
    min_scale, max_scale = cfg.DATA.TRAIN_JITTER_SCALES
    return CropShape(crop, int(round(float(min_scale) * crop / default_s)), max_scale)


def train_sampling_rate(cfg: CfgNode, rng: Optional[random.Random] = None) -> int:
    """DATA.SAMPLING_RATE, or one drawn from [SAMPLING_RATE, MULTIGRID.LONG_CYCLE_SAMPLING_RATE] when that is > 0.

    A long-cycle stage with fewer frames sets the upper bound so that some clips still span
    the default clip's time.
    """
    base, long_rate = cfg.DATA.SAMPLING_RATE, cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE
    if long_rate <= 0:
        return base
    if long_rate < base:
        raise ValueError(f"MULTIGRID.LONG_CYCLE_SAMPLING_RATE ({long_rate}) must be >= DATA.SAMPLING_RATE ({base})")
    return (rng or random).randint(base, long_rate)


class ShortCycleBatchSampler(Sampler):
    """Batches of ``(index, short_cycle_idx)`` whose size follows ``short_cycle_batch_sizes``.

    Iteration ``i`` takes short-cycle index ``i % 3``. With ``drop_last`` an incomplete final
    batch is dropped. ``len()`` is the exact number of batches an epoch yields (PySlowFast
    estimates it from the average batch size).
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool, cfg: CfgNode) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.sampler = sampler
        self.drop_last = drop_last
        self.batch_sizes = short_cycle_batch_sizes(cfg, batch_size)

    def __iter__(self) -> Iterator[List[Tuple[int, int]]]:
        cycle = 0
        batch: List[Tuple[int, int]] = []
        for idx in self.sampler:
            batch.append((idx, cycle % 3))
            if len(batch) == self.batch_sizes[cycle % 3]:
                yield batch
                cycle += 1
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        return count_batches(len(self.sampler), self.batch_sizes, self.drop_last)


def count_batches(num_items: int, batch_sizes: Sequence[int], drop_last: bool) -> int:
    """Batches that cycling ``batch_sizes`` over ``num_items`` items makes."""
    per_cycle = sum(batch_sizes)
    full, rest = divmod(num_items, per_cycle)
    count = full * len(batch_sizes)
    for size in batch_sizes:
        if rest >= size:
            count += 1
            rest -= size
        else:
            break
    return count + (1 if rest and not drop_last else 0)
