"""The multigrid schedule equals PySlowFast's for the published multigrid recipes.

The literals were computed by running PySlowFast's MultigridSchedule (init_multigrid, then
update_long_cycle every epoch), its eval/checkpoint rule and ShortCycleBatchSampler on
these configs with 8 GPUs.
"""

from pathlib import Path

import pytest

from slowfast.config import get_cfg, merge_from_file
from slowfast.config.loading import merge_from_list
from slowfast.datasets.short_cycle import short_cycle_batch_sizes
from slowfast.utils import multigrid as mg

CONFIGS = Path(__file__).resolve().parents[1] / "data" / "pyslowfast_configs"

# name: (SOLVER.STEPS, SOLVER.LRS, SOLVER.MAX_EPOCH, schedule (step, B factor, T, S, end epoch),
#        shape changes (first epoch, TRAIN.BATCH_SIZE, frames, crop, BN.NORM_TYPE, splits/sync devices,
#        LONG_CYCLE_SAMPLING_RATE, short-cycle per-GPU batch sizes), eval/checkpoint epochs)
PYSLOWFAST = {
    "Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml": (
        [0, 73, 110, 142, 158, 205, 228, 248, 259, 291, 308, 322, 329, 343],
        [8.0, 4.0, 2.0, 1.0, 0.8, 0.4, 0.2, 0.1, 0.08, 0.04, 0.02, 0.01, 0.01, 0.001],
        358,
        [(0, 8, 8, 158, 73), (0, 4, 16, 158, 110), (0, 2, 16, 224, 142), (0, 1, 32, 224, 158),
         (1, 8, 8, 158, 205), (1, 4, 16, 158, 228), (1, 2, 16, 224, 248), (1, 1, 32, 224, 259),
         (2, 8, 8, 158, 291), (2, 4, 16, 158, 308), (2, 2, 16, 224, 322), (2, 1, 32, 224, 329),
         (3, 1, 32, 224, 358)],
        [(0, 512, 8, 158, "sub_batchnorm", 8, 8, (128, 64, 64)),
         (73, 256, 16, 158, "sub_batchnorm", 4, 4, (64, 32, 32)),
         (110, 128, 16, 224, "sub_batchnorm", 2, 4, (64, 32, 16)),
         (142, 64, 32, 224, "batchnorm", 1, 2, (32, 16, 8)),
         (158, 512, 8, 158, "sub_batchnorm", 8, 8, (128, 64, 64)),
         (205, 256, 16, 158, "sub_batchnorm", 4, 4, (64, 32, 32)),
         (228, 128, 16, 224, "sub_batchnorm", 2, 4, (64, 32, 16)),
         (248, 64, 32, 224, "batchnorm", 1, 2, (32, 16, 8)),
         (259, 512, 8, 158, "sub_batchnorm", 8, 8, (128, 64, 64)),
         (291, 256, 16, 158, "sub_batchnorm", 4, 4, (64, 32, 32)),
         (308, 128, 16, 224, "sub_batchnorm", 2, 4, (64, 32, 16)),
         (322, 64, 32, 224, "batchnorm", 1, 2, (32, 16, 8))],
        [22, 47, 72, 83, 96, 109, 119, 130, 141, 145, 151, 157, 172, 188, 204, 211, 219, 227, 233, 240, 247,
         250, 254, 258, 268, 279, 290, 295, 301, 307, 311, 316, 321, 322, 325, 328, 337, 347, 357],
    ),
    "Charades/SLOWFAST_16x8_R50_multigrid.yaml": (
        [0, 31, 47, 60, 67, 73, 76, 79, 80, 83],
        [8.0, 4.0, 2.0, 1.0, 0.8, 0.4, 0.2, 0.1, 0.1, 0.01],
        86,
        [(0, 8, 16, 158, 31), (0, 4, 32, 158, 47), (0, 2, 32, 224, 60), (0, 1, 64, 224, 67),
         (1, 8, 16, 158, 73), (1, 4, 32, 158, 76), (1, 2, 32, 224, 79), (1, 1, 64, 224, 80),
         (2, 1, 64, 224, 86)],
        [(0, 128, 16, 158, "sub_batchnorm", 2, 8, (32, 16, 16)),
         (31, 64, 32, 158, "batchnorm", 1, 4, (16, 8, 8)),
         (47, 32, 32, 224, "sync_batchnorm", 2, 4, (16, 8, 4)),
         (60, 16, 64, 224, "sync_batchnorm", 4, 2, (8, 4, 2)),
         (67, 128, 16, 158, "sub_batchnorm", 2, 8, (32, 16, 16)),
         (73, 64, 32, 158, "batchnorm", 1, 4, (16, 8, 8)),
         (76, 32, 32, 224, "sync_batchnorm", 2, 4, (16, 8, 4)),
         (79, 16, 64, 224, "sync_batchnorm", 4, 2, (8, 4, 2))],
        [8, 19, 30, 34, 40, 46, 49, 54, 59, 60, 63, 66, 69, 72, 73, 75, 76, 78, 79, 82, 85],
    ),
    "SSv2/SLOWFAST_16x8_R50_multigrid.yaml": (
        [0, 11, 16, 21, 24, 27, 28, 30, 30, 31],
        [8.0, 4.0, 2.0, 1.0, 0.8, 0.4, 0.2, 0.1, 0.1, 0.01],
        33,
        [(0, 8, 16, 158, 11), (0, 4, 32, 158, 16), (0, 2, 32, 224, 21), (0, 1, 64, 224, 24),
         (1, 8, 16, 158, 27), (1, 4, 32, 158, 28), (1, 2, 32, 224, 30), (1, 1, 64, 224, 30),
         (2, 1, 64, 224, 33)],
        [(0, 128, 16, 158, "sub_batchnorm", 2, 8, (32, 16, 16)),
         (11, 64, 32, 158, "batchnorm", 1, 4, (16, 8, 8)),
         (16, 32, 32, 224, "sync_batchnorm", 2, 4, (16, 8, 4)),
         (21, 16, 64, 224, "sync_batchnorm", 4, 2, (8, 4, 2)),
         (24, 128, 16, 158, "sub_batchnorm", 2, 8, (32, 16, 16)),
         (27, 64, 32, 158, "batchnorm", 1, 4, (16, 8, 8)),
         (28, 32, 32, 224, "sync_batchnorm", 2, 4, (16, 8, 4)),
         (30, 16, 64, 224, "sync_batchnorm", 4, 2, (8, 4, 2))],
        [2, 6, 10, 11, 13, 15, 16, 18, 20, 21, 23, 24, 26, 27, 28, 29, 30, 32],
    ),
}


def _published(name, *opts):
    cfg = merge_from_file(get_cfg(), str(CONFIGS / name))
    merge_from_list(cfg, list(opts))
    return cfg


def _layout(cfg):
    norm = cfg.BN.NORM_TYPE
    count = {"sub_batchnorm": cfg.BN.NUM_SPLITS, "sync_batchnorm": cfg.BN.NUM_SYNC_DEVICES}.get(norm, 1)
    return norm, count


@pytest.mark.parametrize("name", sorted(PYSLOWFAST))
def test_long_cycle_schedule_and_rescaled_solver_equal_pyslowfast(name):
    steps, lrs, max_epoch, schedule, _, _ = PYSLOWFAST[name]
    cfg = _published(name)
    out, stages = mg.init_multigrid(cfg)
    assert [tuple(s) for s in stages] == schedule
    assert list(out.SOLVER.STEPS) == steps
    assert list(out.SOLVER.LRS) == pytest.approx(lrs)
    assert out.SOLVER.MAX_EPOCH == max_epoch
    assert (out.MULTIGRID.DEFAULT_B, out.MULTIGRID.DEFAULT_T, out.MULTIGRID.DEFAULT_S) == (
        cfg.TRAIN.BATCH_SIZE, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE)
    assert cfg.SOLVER.MAX_EPOCH != max_epoch and cfg.MULTIGRID.DEFAULT_B == 0  # the input is left alone


@pytest.mark.parametrize("name", sorted(PYSLOWFAST))
def test_every_epoch_gets_pyslowfast_batch_frames_crop_bn_and_sampling_rate(name):
    *_, changes, _ = PYSLOWFAST[name]
    out, stages = mg.init_multigrid(_published(name))
    world = 8
    got, previous = [], None
    for epoch in range(out.SOLVER.MAX_EPOCH):
        cfg = mg.epoch_cfg(out, stages, epoch, world)
        row = (cfg.TRAIN.BATCH_SIZE, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, *_layout(cfg),
               cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE, tuple(short_cycle_batch_sizes(cfg, cfg.TRAIN.BATCH_SIZE // world)))
        if row != previous:
            got.append((epoch, *row))
        previous = row
    assert got == changes


@pytest.mark.parametrize("name", sorted(PYSLOWFAST))
def test_checkpoints_and_evaluations_are_spread_over_each_long_cycle_stage_as_in_pyslowfast(name):
    import slowfast.checkpoint as cu

    *_, evals = PYSLOWFAST[name]
    out, stages = mg.init_multigrid(_published(name))
    assert [e for e in range(out.SOLVER.MAX_EPOCH) if cu.is_checkpoint_epoch(out, e, stages)] == evals


def test_short_cycle_alone_stretches_steps_and_epochs_by_the_epoch_factor():
    cfg = _published("Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml", "MULTIGRID.LONG_CYCLE", "False")
    out, stages = mg.init_multigrid(cfg)
    assert stages is None
    assert list(out.SOLVER.STEPS) == [0, 141, 231, 294] and out.SOLVER.MAX_EPOCH == 358
    assert mg.epoch_cfg(out, stages, 5, 8) is out  # the shape never changes
    assert short_cycle_batch_sizes(out, 8) == [32, 16, 8]


def test_long_cycle_without_short_cycle_uses_the_base_shapes():
    # PySlowFast fails here (it takes the fine-tuning shape from the short-cycle shapes).
    cfg = _published("Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml", "MULTIGRID.SHORT_CYCLE", "False")
    out, stages = mg.init_multigrid(cfg)
    assert {(s.batch_factor, s.num_frames, s.crop_size) for s in stages} == {
        (8, 8, 158), (4, 16, 158), (2, 16, 224), (1, 32, 224)}
    assert stages[-1][1:4] == (1, 32, 224) and stages[-1].end_epoch == out.SOLVER.MAX_EPOCH
    ends = [s.end_epoch for s in stages]
    assert ends == sorted(ends) and out.SOLVER.MAX_EPOCH == round(239 * 1.5)


def test_a_first_stage_at_the_default_shape_keeps_the_configured_bn():
    cfg = _published("Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml", "MULTIGRID.LONG_CYCLE_FACTORS",
                     "[(1, 1), (0.5, 1)]", "BN.NORM_TYPE", "sync_batchnorm")
    out, stages = mg.init_multigrid(cfg)
    assert mg.epoch_cfg(out, stages, 0, 8) is out
    later = mg.epoch_cfg(out, stages, stages[0].end_epoch, 8)
    assert later.DATA.NUM_FRAMES == 16 and later.BN.NORM_TYPE == "sub_batchnorm"
    back = mg.epoch_cfg(out, stages, stages[1].end_epoch, 8)
    assert back.DATA.NUM_FRAMES == 32 and back.BN.NORM_TYPE == "batchnorm"  # updated once the shape changed


def test_the_epoch_config_is_a_function_of_the_epoch_alone():
    out, stages = mg.init_multigrid(_published("SSv2/SLOWFAST_16x8_R50_multigrid.yaml"))
    forwards = [mg.epoch_cfg(out, stages, e, 8).dump() for e in range(out.SOLVER.MAX_EPOCH)]
    backwards = [mg.epoch_cfg(out, stages, e, 8).dump() for e in reversed(range(out.SOLVER.MAX_EPOCH))]
    assert forwards == backwards[::-1]


@pytest.mark.parametrize("batch,base,expected", [(64, 8, ("sub_batchnorm", 8)), (8, 8, ("batchnorm", 1)),
                                                 (2, 8, ("sync_batchnorm", 4)), (12, 8, ("sub_batchnorm", 1))])
def test_bn_layout_puts_the_base_size_in_each_bn_batch(batch, base, expected):
    assert mg.bn_layout(batch, base) == expected
