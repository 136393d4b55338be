"""Multigrid training (Wu et al., "A Multigrid Method for Efficiently Training Video Models").

The long cycle trains on a sequence of clip shapes (frames x crop), small first, with the
batch size scaled so that every iteration costs about as much as one of the default shape;
the short cycle (``slowfast.datasets.short_cycle``) cycles the crop size within each group of
three iterations. Both follow PySlowFast's MULTIGRID.* keys and arithmetic:

- ``init_multigrid(cfg)`` records the default shape (MULTIGRID.DEFAULT_B/T/S) and rescales
  the solver: with LONG_CYCLE, SOLVER.STEPS/LRS/MAX_EPOCH come from the long-cycle schedule
  (each stage's learning rate scaled by its batch-size factor, SOLVER.GAMMA between steps);
  with SHORT_CYCLE only, STEPS and MAX_EPOCH are multiplied by MULTIGRID.EPOCH_FACTOR.
- ``epoch_cfg(mg_cfg, schedule, epoch)`` is the config of one training epoch: its batch size,
  frames, crop size, BN layout (MULTIGRID.BN_BASE_SIZE clips per BN split) and
  MULTIGRID.LONG_CYCLE_SAMPLING_RATE.

Everything is a pure function of the config and the epoch, so a resumed run rebuilds the
shape it stopped in.
"""

from typing import List, NamedTuple, Optional, Tuple

from fvcore.common.config import CfgNode

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


class LongCycleStage(NamedTuple):
    """One stage of the long-cycle schedule; training runs it until ``end_epoch`` (exclusive).

    ``step_index`` is the index of the SOLVER step it belongs to (the last stage is the
    fine-tuning phase after the last step); ``batch_factor`` multiplies MULTIGRID.DEFAULT_B.
    ``end_epoch`` is last so that ``stage[-1]`` is the end epoch, as in PySlowFast's tuples.
    """

    step_index: int
    batch_factor: int
    num_frames: int
    crop_size: int
    end_epoch: int


def is_enabled(cfg: CfgNode) -> bool:
    return bool(cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE)


def _batch_factor(default_size: float, frames: float, crop: float) -> int:
    return int(round(default_size / (frames * crop * crop)))


def long_cycle_schedule(cfg: CfgNode) -> List[LongCycleStage]:
    """The long-cycle stages of ``cfg`` (the user's config: SOLVER.STEPS/MAX_EPOCH before rescaling).

    Each SOLVER step is split over the MULTIGRID.LONG_CYCLE_FACTORS shapes in proportion
    to their average batch size (averaged over the short-cycle shapes with SHORT_CYCLE), then a
    fine-tuning phase at the default shape saves as many iterations as the rest; the total is
    scaled to SOLVER.MAX_EPOCH x MULTIGRID.EPOCH_FACTOR epochs and the ends are rounded.
    PySlowFast takes the fine-tuning shape as the third short-cycle shape, which fails
    without SHORT_CYCLE; here it is the base shape of the last long-cycle factor, the same
    shape whenever PySlowFast runs.
    """
    mg, data, steps = cfg.MULTIGRID, cfg.DATA, list(cfg.SOLVER.STEPS)
    default_t, default_s = data.NUM_FRAMES, data.TRAIN_CROP_SIZE
    default_size = float(default_t * default_s**2)
    avg_batch: List[float] = []
    base_shapes: List[Tuple[int, int, int]] = []
    for t_factor, s_factor in mg.LONG_CYCLE_FACTORS:
        base_t = int(round(default_t * t_factor))
        base_s = int(round(default_s * s_factor))
        shapes = [(base_t, default_s * f) for f in mg.SHORT_CYCLE_FACTORS] if mg.SHORT_CYCLE else []
        shapes.append((base_t, base_s))
        batches = [_batch_factor(default_size, t, s) for t, s in shapes]
        avg_batch.append(sum(batches) / len(batches))
        base_shapes.append((batches[-1], base_t, base_s))

    raw: List[Tuple[int, Tuple[int, int, int], float]] = []
    total_iters = 0.0
    for step_index in range(len(steps) - 1):
        step_epochs = steps[step_index + 1] - steps[step_index]
        for cycle, shape in enumerate(base_shapes):
            epochs = step_epochs * avg_batch[cycle] / sum(avg_batch)
            total_iters += epochs / avg_batch[cycle]
            raw.append((step_index, shape, epochs))
    iter_saving = steps[-1] / total_iters
    ft_epochs = (cfg.SOLVER.MAX_EPOCH - steps[-1]) / iter_saving * avg_batch[-1]
    raw.append((len(steps) - 1, base_shapes[-1], ft_epochs))

    scale = cfg.SOLVER.MAX_EPOCH * mg.EPOCH_FACTOR / sum(r[2] for r in raw)
    schedule: List[LongCycleStage] = []
    total = 0.0
    for step_index, (b, t, s), epochs in raw:
        total += epochs * scale
        schedule.append(LongCycleStage(step_index, b, t, s, int(round(total))))
    return schedule


def stage_at_epoch(schedule: List[LongCycleStage], epoch: int) -> LongCycleStage:
    """The stage that 0-based ``epoch`` trains in (the last one past the end)."""
    for stage in schedule:
        if epoch < stage.end_epoch:
            return stage
    return schedule[-1]


def init_multigrid(cfg: CfgNode) -> Tuple[CfgNode, Optional[List[LongCycleStage]]]:
    """A copy of ``cfg`` with the default shape recorded and the solver rescaled, and the schedule.

    The schedule is None without LONG_CYCLE; ``cfg`` is returned unchanged (not copied)
    when multigrid is off.
    """
    if not is_enabled(cfg):
        return cfg, None
    out = cfg.clone()
    out.defrost()
    mg, solver = out.MULTIGRID, out.SOLVER
    mg.DEFAULT_B, mg.DEFAULT_T, mg.DEFAULT_S = out.TRAIN.BATCH_SIZE, out.DATA.NUM_FRAMES, out.DATA.TRAIN_CROP_SIZE
    schedule = None
    if mg.LONG_CYCLE:
        schedule = long_cycle_schedule(cfg)
        steps = [0] + [stage.end_epoch for stage in schedule]
        # The fine-tuning phase keeps the previous rate for its first half.
        steps[-1] = (steps[-2] + steps[-1]) // 2
        lrs = [solver.GAMMA**stage.step_index * stage.batch_factor for stage in schedule]
        solver.STEPS = steps
        solver.LRS = lrs[:-1] + [lrs[-2], lrs[-1]]
        solver.MAX_EPOCH = schedule[-1].end_epoch
        log_schedule(schedule)
    else:
        solver.STEPS = [int(s * mg.EPOCH_FACTOR) for s in solver.STEPS]
        solver.MAX_EPOCH = int(solver.MAX_EPOCH * mg.EPOCH_FACTOR)
    logger.info("Multigrid: SOLVER.STEPS %s, SOLVER.LRS %s, SOLVER.MAX_EPOCH %d", list(solver.STEPS),
                list(solver.LRS), solver.MAX_EPOCH)
    return out, schedule


def log_schedule(schedule: List[LongCycleStage]) -> None:
    logger.info("Long cycle schedule (step, batch factor, frames, crop, end epoch):")
    for stage in schedule:
        logger.info("\t%d\t%dx\t%d\t%d\t%d", *stage)


def bn_layout(per_process_batch: int, bn_base_size: int) -> Tuple[str, int]:
    """(BN.NORM_TYPE, splits or sync devices) that puts ``bn_base_size`` clips in each BN batch.

    More clips per process than the base size: sub-batch BN over int(ratio) splits; fewer:
    sync BN over int(1 / ratio) devices; equal: plain BN (PySlowFast's rule).
    """
    factor = float(per_process_batch) / bn_base_size
    if factor < 1:
        return "sync_batchnorm", int(1.0 / factor)
    if factor > 1:
        return "sub_batchnorm", int(factor)
    return "batchnorm", 1


def epoch_cfg(mg_cfg: CfgNode, schedule: Optional[List[LongCycleStage]], epoch: int, world_size: int) -> CfgNode:
    """The config training epoch ``epoch`` runs with: ``mg_cfg`` (from init_multigrid) with the
    long-cycle stage's shape applied, as PySlowFast's update_long_cycle leaves it.

    TRAIN.BATCH_SIZE = batch factor x DEFAULT_B, DATA.NUM_FRAMES and TRAIN_CROP_SIZE, the BN
    layout of ``bn_layout`` for the per-process batch (TRAIN.BATCH_SIZE is the total over the
    ``world_size`` processes) and LONG_CYCLE_SAMPLING_RATE = SAMPLING_RATE x (DEFAULT_T // frames).
    Until a stage differs from the default shape the config stays as it is (PySlowFast
    updates only when the shape changes).
    """
    if schedule is None:
        return mg_cfg
    mg = mg_cfg.MULTIGRID
    default = (mg.DEFAULT_T, mg.DEFAULT_S)
    index = schedule.index(stage_at_epoch(schedule, epoch))
    if all((s.num_frames, s.crop_size) == default for s in schedule[: index + 1]):
        return mg_cfg
    stage = schedule[index]
    out = mg_cfg.clone()
    out.defrost()
    out.DATA.NUM_FRAMES = stage.num_frames
    out.DATA.TRAIN_CROP_SIZE = stage.crop_size
    out.TRAIN.BATCH_SIZE = stage.batch_factor * mg.DEFAULT_B
    norm, count = bn_layout(out.TRAIN.BATCH_SIZE // world_size, mg.BN_BASE_SIZE)
    out.BN.NORM_TYPE = norm
    if norm == "sync_batchnorm":
        out.BN.NUM_SYNC_DEVICES = count
    elif norm == "sub_batchnorm":
        out.BN.NUM_SPLITS = count
    out.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = out.DATA.SAMPLING_RATE * (mg.DEFAULT_T // stage.num_frames)
    return out


def shape_key(cfg: CfgNode) -> Tuple:
    """What a new stage must rebuild the model and loaders for when it changes."""
    return (cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, cfg.TRAIN.BATCH_SIZE, cfg.BN.NORM_TYPE,
            cfg.BN.NUM_SPLITS, cfg.BN.NUM_SYNC_DEVICES)


def describe_epoch_cfg(cfg: CfgNode) -> str:
    bn = cfg.BN.NORM_TYPE
    if bn == "sub_batchnorm":
        bn += f" (BN.NUM_SPLITS {cfg.BN.NUM_SPLITS})"
    elif bn == "sync_batchnorm":
        bn += f" (BN.NUM_SYNC_DEVICES {cfg.BN.NUM_SYNC_DEVICES})"
    return (f"TRAIN.BATCH_SIZE {cfg.TRAIN.BATCH_SIZE}, DATA.NUM_FRAMES {cfg.DATA.NUM_FRAMES} x "
            f"LONG_CYCLE_SAMPLING_RATE {cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE}, "
            f"DATA.TRAIN_CROP_SIZE {cfg.DATA.TRAIN_CROP_SIZE}, BN.NORM_TYPE {bn}")
