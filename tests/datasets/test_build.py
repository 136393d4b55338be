"""Dataset settings are inferred and checked when the config is validated, before any job starts."""

import pytest

from slowfast.config import assert_and_infer_cfg, get_cfg, merge_from_list
from slowfast.config.loading import ConfigError


def _imagenet_cfg(*opts):
    cfg = get_cfg()
    merge_from_list(cfg, ["TRAIN.DATASET", "imagenet", "TEST.DATASET", "imagenet", "MODEL.ARCH", "2d",
                          "DATA.NUM_FRAMES", "1", "DATA.INPUT_CHANNEL_NUM", "[3]", "NUM_GPUS", "0", "DATA.TEST_CROP_SIZE", "224",
                          "DATA.TRAIN_JITTER_SCALES_RELATIVE", "[0.08, 1.0]",
                          "DATA.TRAIN_JITTER_ASPECT_RELATIVE", "[0.75, 1.3333]", *opts])
    return cfg


def test_imagenet_tests_one_crop_when_the_view_keys_are_left_at_their_video_defaults():
    assert (get_cfg().TEST.NUM_ENSEMBLE_VIEWS, get_cfg().TEST.NUM_SPATIAL_CROPS) == (10, 3)
    cfg = assert_and_infer_cfg(_imagenet_cfg())
    assert (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) == (1, 1)


def test_imagenet_refuses_views_set_by_the_user_before_training():
    with pytest.raises(ConfigError, match=r"TEST.DATASET imagenet \(test\): imagenet tests one centre crop"):
        assert_and_infer_cfg(_imagenet_cfg("TEST.NUM_ENSEMBLE_VIEWS", "10"))


def test_imagenet_test_crop_larger_than_the_scaled_short_side_is_refused_for_val_and_test():
    with pytest.raises(ConfigError) as err:
        assert_and_infer_cfg(_imagenet_cfg("DATA.TEST_CROP_SIZE", "256"))
    text = str(err.value)
    assert "TRAIN.DATASET imagenet (val)" in text and "TEST.DATASET imagenet (test)" in text
    assert "TEST_CROP_SIZE must not be larger" in text


def test_test_only_job_is_not_checked_for_training_settings():
    cfg = _imagenet_cfg("TRAIN.ENABLE", "False", "DATA.TRAIN_JITTER_SCALES_RELATIVE", "[]",
                        "DATA.TRAIN_JITTER_ASPECT_RELATIVE", "[]")
    assert_and_infer_cfg(cfg)


def test_unknown_dataset_is_a_config_error_and_ptv_names_point_at_ours():
    cfg = get_cfg()
    merge_from_list(cfg, ["TRAIN.DATASET", "ptvkinetics", "TEST.DATASET", "nosuchset", "NUM_GPUS", "0"])
    with pytest.raises(ConfigError) as err:
        assert_and_infer_cfg(cfg)
    text = str(err.value)
    assert "TRAIN.DATASET: Unknown dataset 'ptvkinetics'" in text and "'kinetics' reads the same list files" in text
    assert "TEST.DATASET: Unknown dataset 'nosuchset'" in text
