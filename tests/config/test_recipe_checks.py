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
