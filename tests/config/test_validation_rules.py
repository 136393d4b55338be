"""Config rules that live in one place: layouts, backends, allowed values, TASK and the ensemble key."""

import pytest

from slowfast.checkpoint.api import CHECKPOINT_TYPES
from slowfast.config import ConfigError, assert_and_infer_cfg, get_cfg, merge_from_list
from slowfast.config.validation import dist_backend_of, procs_per_node, world_size_of
from slowfast.engine import launch
from slowfast.models.batchnorm_helper import NORM_TYPES
from slowfast.solver.losses import LOSS_FUNCS
from slowfast.solver.lr_policy import LR_POLICIES


def cpu_cfg(*opts):
    cfg = get_cfg()
    merge_from_list(cfg, ["NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "8", "TEST.BATCH_SIZE", "8", *opts])
    return cfg


def test_processes_per_node_and_world_size():
    assert procs_per_node(cpu_cfg("NUM_CPU_PROCESSES", "0")) == 1
    cfg = cpu_cfg("NUM_CPU_PROCESSES", "2", "NUM_SHARDS", "2")
    assert (procs_per_node(cfg), world_size_of(cfg)) == (2, 4)
    cfg.NUM_GPUS = 8
    assert (procs_per_node(cfg), world_size_of(cfg)) == (8, 16)
    assert launch.procs_per_node is procs_per_node  # the launcher counts with the same rule


def test_backend_is_gloo_on_the_cpu_and_dist_backend_on_gpus():
    cfg = cpu_cfg("DIST_BACKEND", "nccl")
    assert dist_backend_of(cfg) == "gloo"
    cfg.NUM_GPUS = 2
    assert dist_backend_of(cfg) == "nccl"
    cfg.DIST_BACKEND = ""
    assert dist_backend_of(cfg) == "nccl"
    cfg.DIST_BACKEND = "gloo"
    assert dist_backend_of(cfg) == "gloo"
    assert assert_and_infer_cfg(cpu_cfg()).DIST_BACKEND == "gloo"


@pytest.mark.parametrize(
    "key,allowed",
    [("SOLVER.LR_POLICY", LR_POLICIES), ("MODEL.LOSS_FUNC", LOSS_FUNCS), ("BN.NORM_TYPE", NORM_TYPES),
     ("TRAIN.CHECKPOINT_TYPE", CHECKPOINT_TYPES), ("TEST.CHECKPOINT_TYPE", CHECKPOINT_TYPES)],
)
def test_allowed_values_come_from_the_implementations(key, allowed):
    for value in allowed:
        assert_and_infer_cfg(cpu_cfg(key, value))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        assert_and_infer_cfg(cpu_cfg(key, "nope"))
    assert str(tuple(allowed)) in str(info.value)


def test_ensemble_method_is_pyslowfast_data_key():
    assert "ENSEMBLE_METHOD" not in get_cfg().TEST
    assert assert_and_infer_cfg(cpu_cfg("DATA.ENSEMBLE_METHOD", "max")).DATA.ENSEMBLE_METHOD == "max"
    with pytest.raises(ConfigError, match="DATA.ENSEMBLE_METHOD"):
        assert_and_infer_cfg(cpu_cfg("DATA.ENSEMBLE_METHOD", "mean"))
    with pytest.raises(ConfigError, match="Did you mean 'DATA.ENSEMBLE_METHOD'"):
        cpu_cfg("TEST.ENSEMBLE_METHOD", "max")


def test_task_key():
    assert get_cfg().TASK == ""
    assert assert_and_infer_cfg(cpu_cfg("TASK", "classification")).TASK == "classification"
    assert_and_infer_cfg(cpu_cfg("TASK", "detection", "DETECTION.ENABLE", "True"))
    with pytest.raises(ConfigError, match="TASK 'detection' does not match DETECTION.ENABLE False"):
        assert_and_infer_cfg(cpu_cfg("TASK", "detection"))
    with pytest.raises(ConfigError, match="TASK 'ssl'"):
        assert_and_infer_cfg(cpu_cfg("TASK", "ssl"))


def test_one_test_crop_needs_a_first_jitter_scale_at_least_the_crop():
    assert_and_infer_cfg(cpu_cfg("TEST.NUM_SPATIAL_CROPS", "1", "DATA.TEST_CROP_SIZE", "256"))
    with pytest.raises(ConfigError, match=r"TRAIN_JITTER_SCALES\[0\] \(256\)"):
        assert_and_infer_cfg(cpu_cfg("TEST.NUM_SPATIAL_CROPS", "1", "DATA.TEST_CROP_SIZE", "288"))
    assert_and_infer_cfg(cpu_cfg("DATA.TEST_CROP_SIZE", "288"))  # three crops scale to the crop size
