"""Bad recipe values are refused by validation, naming key, value, source and accepted form."""

import pytest

from slowfast.config import assert_and_infer_cfg, get_cfg, merge_from_list
from slowfast.config.loading import ConfigError


def _refused(*opts: str) -> str:
    cfg = merge_from_list(get_cfg(), ["NUM_GPUS", "0", *opts])
    with pytest.raises(ConfigError) as err:
        assert_and_infer_cfg(cfg)
    return str(err.value)


def test_malformed_aa_type():
    msg = _refused("AUG.ENABLE", "True", "AUG.AA_TYPE", "rand-m7-q4")
    assert "AUG.AA_TYPE 'rand-m7-q4'" in msg and "accepted form: rand[-m" in msg and "command-line" in msg


@pytest.mark.parametrize("key,value", [("MIXUP.PROB", "1.5"), ("MIXUP.SWITCH_PROB", "-0.1"), ("MIXUP.ALPHA", "-1.0")])
def test_impossible_mixup_values(key, value):
    msg = _refused("MIXUP.ENABLE", "True", key, value)
    assert f"{key} = {float(value)!r}" in msg


def test_mixup_with_nothing_to_mix():
    assert "nothing to mix" in _refused("MIXUP.ENABLE", "True", "MIXUP.ALPHA", "0.0", "MIXUP.CUTMIX_ALPHA", "0.0")


@pytest.mark.parametrize("scales", ["[0.0, 1.0]", "[0.5, 1.2]", "[0.9, 0.5]", "[0.5]"])
def test_relative_scales_outside_zero_one(scales):
    msg = _refused("DATA.TRAIN_JITTER_SCALES_RELATIVE", scales, "DATA.TRAIN_JITTER_ASPECT_RELATIVE", "[0.75, 1.33]")
    assert "DATA.TRAIN_JITTER_SCALES_RELATIVE" in msg and "0 < min <= max <= 1" in msg


def test_rrc_needs_both_ranges_and_motion_shift_needs_rrc():
    assert "also need DATA.TRAIN_JITTER_ASPECT_RELATIVE" in _refused("DATA.TRAIN_JITTER_SCALES_RELATIVE", "[0.08, 1.0]")
    assert "only applies to random-resized crops" in _refused("DATA.TRAIN_JITTER_MOTION_SHIFT", "True")


def test_aug_recipe_keys_without_aug_enable_are_refused_as_having_no_effect():
    assert "AUG.RE_PROB = 0.5 (from the command-line overrides) has no effect without AUG.ENABLE" in _refused(
        "AUG.RE_PROB", "0.5"
    )


def test_a_full_recipe_is_accepted():
    cfg = merge_from_list(get_cfg(), [
        "NUM_GPUS", "0", "AUG.ENABLE", "True", "AUG.AA_TYPE", "rand-m7-n4-mstd0.5-inc1", "AUG.NUM_SAMPLE", "2",
        "AUG.RE_PROB", "0.25", "MIXUP.ENABLE", "True", "MODEL.LOSS_FUNC", "soft_cross_entropy",
        "DATA.TRAIN_JITTER_SCALES_RELATIVE", "[0.08, 1.0]", "DATA.TRAIN_JITTER_ASPECT_RELATIVE", "[0.75, 1.3333]",
        "DATA.TRAIN_JITTER_MOTION_SHIFT", "True", "SOLVER.CLIP_GRAD_L2NORM", "1.0",
    ])
    assert_and_infer_cfg(cfg)


def test_mixup_needs_two_clips_per_process():
    msg = _refused("MIXUP.ENABLE", "True", "TRAIN.BATCH_SIZE", "2", "NUM_CPU_PROCESSES", "2")
    assert "TRAIN.BATCH_SIZE = 2 (from the command-line overrides) gives 1 per process" in msg


def test_in_val_crop_ratio_only_with_the_imagenet_aug_recipe():
    msg = _refused("DATA.IN_VAL_CROP_RATIO", "0.9")
    assert "DATA.IN_VAL_CROP_RATIO = 0.9 (from the command-line overrides)" in msg and "imagenet" in msg
    assert "IN_VAL_CROP_RATIO" in _refused("DATA.IN_VAL_CROP_RATIO", "0.9", "TRAIN.DATASET", "imagenet",
                                           "TEST.DATASET", "imagenet")
    cfg = merge_from_list(get_cfg(), ["NUM_GPUS", "0", "DATA.IN_VAL_CROP_RATIO", "0.9", "AUG.ENABLE", "True",
                                      "TRAIN.DATASET", "imagenet", "TEST.DATASET", "imagenet"])
    assert_and_infer_cfg(cfg)


# ---- multigrid

_LONG = ["MULTIGRID.LONG_CYCLE", "True", "SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.STEPS", "[0, 10]",
         "SOLVER.LRS", "[1, 0.1]", "SOLVER.MAX_EPOCH", "12", "TRAIN.BATCH_SIZE", "8", "DATA.NUM_FRAMES", "32"]


def test_a_valid_multigrid_config_loads():
    cfg = merge_from_list(get_cfg(), ["NUM_GPUS", "0", *_LONG, "MULTIGRID.SHORT_CYCLE", "True"])
    assert_and_infer_cfg(cfg)


@pytest.mark.parametrize("key,value,form", [
    ("MULTIGRID.SHORT_CYCLE_FACTORS", "[0.5, 0.0]", "0 < a, b <= 1"),
    ("MULTIGRID.SHORT_CYCLE_FACTORS", "[0.5]", "two crop-size factors"),
    ("MULTIGRID.LONG_CYCLE_FACTORS", "[(0.5, -1), (1, 1)]", "(frames factor, crop factor) pairs, each in (0, 1]"),
    ("MULTIGRID.LONG_CYCLE_FACTORS", "[0.5, 1]", "(frames factor, crop factor) pairs"),
    ("MULTIGRID.EPOCH_FACTOR", "0.0", "a number > 0"),
    ("MULTIGRID.BN_BASE_SIZE", "0", "an integer >= 1"),
    ("MULTIGRID.EVAL_FREQ", "-1", "an integer >= 1"),
])
def test_non_positive_or_malformed_factors_are_refused_naming_key_value_and_form(key, value, form):
    msg = _refused(*_LONG, "MULTIGRID.SHORT_CYCLE", "True", key, value)
    assert key in msg and "command-line" in msg and form in msg


def test_a_bn_base_size_that_does_not_divide_the_batch_is_refused():
    msg = _refused(*_LONG, "TRAIN.BATCH_SIZE", "12", "MULTIGRID.BN_BASE_SIZE", "8")
    assert "MULTIGRID.BN_BASE_SIZE = 8" in msg and "must divide one another" in msg and "12 clips per process" in msg


def test_long_cycle_frames_must_suit_the_slowfast_alpha():
    msg = _refused(*_LONG, "MODEL.ARCH", "slowfast", "MODEL.MODEL_NAME", "SlowFast", "DATA.NUM_FRAMES", "8",
                   "SLOWFAST.ALPHA", "4", "MULTIGRID.LONG_CYCLE_FACTORS", "[(0.25, 1), (1, 1)]")
    assert "2 frames, not divisible by SLOWFAST.ALPHA (4)" in msg


@pytest.mark.parametrize("opts,fragment", [
    (["SOLVER.LR_POLICY", "cosine"], "SOLVER.LR_POLICY = 'cosine'"),
    (["SOLVER.STEPS", "[]"], "SOLVER.STEPS = []"),
    (["SOLVER.STEPS", "[0, 20]"], "the last <= SOLVER.MAX_EPOCH (12)"),
    (["MULTIGRID.LONG_CYCLE_SAMPLING_RATE", "4"], "set per long-cycle shape"),
    (["MULTIGRID.DEFAULT_B", "8"], "MULTIGRID.DEFAULT_B = 8 (from the command-line overrides) is set by multigrid"),
    (["MODEL.MODEL_NAME", "MViT", "MODEL.ARCH", "mvit"], "MODEL.MODEL_NAME = 'MViT'"),
    (["DETECTION.ENABLE", "True", "TRAIN.DATASET", "ava"], "DETECTION.ENABLE (AVA)"),
    (["TRAIN.DATASET", "imagenet"], "TRAIN.DATASET = 'imagenet'"),
])
def test_unsupported_multigrid_combinations_are_refused_naming_the_key(opts, fragment):
    assert fragment in _refused(*_LONG, *opts)


def test_multigrid_keys_without_multigrid_are_refused():
    assert "no effect without MULTIGRID.LONG_CYCLE" in _refused("MULTIGRID.EVAL_FREQ", "5")
    assert "only MULTIGRID.LONG_CYCLE uses it" in _refused("SOLVER.GAMMA", "0.5")
    assert "must be 0 (off) or an integer >= DATA.SAMPLING_RATE" in _refused(
        "DATA.SAMPLING_RATE", "4", "MULTIGRID.LONG_CYCLE_SAMPLING_RATE", "2")


def test_sync_bn_over_more_devices_than_a_machine_has_is_refused():
    msg = _refused("NUM_GPUS", "2", *_LONG, "TRAIN.BATCH_SIZE", "2", "MULTIGRID.BN_BASE_SIZE", "8",
                   "MULTIGRID.LONG_CYCLE_FACTORS", "[(1, 1)]")
    assert "BN synchronised over 8 devices" in msg
