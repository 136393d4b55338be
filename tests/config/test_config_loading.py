"""Config loading: YAML with _BASE_, overrides, and the errors users see on bad input."""

import subprocess
import sys
from pathlib import Path

import pytest

from slowfast.config import ConfigError, assert_and_infer_cfg, get_cfg, merge_from_file, merge_from_list
from slowfast.utils.parser import load_config, parse_args

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_match_pyslowfast_names_and_values():
    cfg = get_cfg()
    assert cfg.TRAIN.BATCH_SIZE == 64
    assert cfg.DATA.NUM_FRAMES == 8 and cfg.DATA.SAMPLING_RATE == 8
    assert cfg.SLOWFAST.ALPHA == 8 and cfg.SLOWFAST.BETA_INV == 8
    assert cfg.SLOWFAST.FUSION_KERNEL_SZ == 5
    assert cfg.RESNET.NUM_BLOCK_TEMP_KERNEL == [[3], [4], [6], [3]]
    assert cfg.TEST.NUM_ENSEMBLE_VIEWS == 10 and cfg.TEST.NUM_SPATIAL_CROPS == 3
    assert cfg.DETECTION.ROI_XFORM_RESOLUTION == 7
    assert cfg.AVA.DETECTION_SCORE_THRESH == 0.9
    for key in ("NUM_GPUS", "NUM_SHARDS", "SHARD_ID", "RNG_SEED", "OUTPUT_DIR", "LOG_PERIOD", "DIST_BACKEND"):
        assert key in cfg
    for section in (
        "TRAIN", "TEST", "DATA", "DATA_LOADER", "RESNET", "SLOWFAST", "NONLOCAL", "MODEL", "BN",
        "SOLVER", "DETECTION", "AVA", "MULTIGRID", "TENSORBOARD", "DEMO", "BENCHMARK",
    ):
        assert section in cfg


def test_get_cfg_returns_independent_copies():
    a = get_cfg()
    a.TRAIN.BATCH_SIZE = 3
    assert get_cfg().TRAIN.BATCH_SIZE == 64


def test_every_default_key_has_a_comment():
    source = (REPO / "slowfast" / "config" / "defaults.py").read_text().splitlines()
    for i, line in enumerate(source):
        stripped = line.strip()
        if stripped.startswith("_C.") and "=" in stripped and not stripped.endswith("= CfgNode()"):
            above = source[i - 1].strip()
            assert above.startswith("#"), f"defaults.py line {i + 1} has no comment: {stripped}"


def test_yaml_with_base_inheritance_and_override(tmp_path):
    write(tmp_path / "base.yaml", "TRAIN:\n  BATCH_SIZE: 16\nSOLVER:\n  BASE_LR: 0.5\n")
    child = write(tmp_path / "child.yaml", "_BASE_: base.yaml\nSOLVER:\n  BASE_LR: 0.25\n  MAX_EPOCH: 3\n")
    cfg = merge_from_file(get_cfg(), str(child))
    assert cfg.TRAIN.BATCH_SIZE == 16
    assert cfg.SOLVER.BASE_LR == 0.25
    assert cfg.SOLVER.MAX_EPOCH == 3


def test_int_is_accepted_for_float_key(tmp_path):
    cfg = merge_from_file(get_cfg(), str(write(tmp_path / "a.yaml", "SOLVER:\n  BASE_LR: 1\n")))
    assert cfg.SOLVER.BASE_LR == 1.0 and isinstance(cfg.SOLVER.BASE_LR, float)


def test_unknown_yaml_key_names_key_file_and_closest(tmp_path):
    path = write(tmp_path / "bad.yaml", "TRAIN:\n  BATCH_SZE: 16\n")
    with pytest.raises(ConfigError) as e:
        merge_from_file(get_cfg(), str(path))
    msg = str(e.value)
    assert "TRAIN.BATCH_SZE" in msg and str(path) in msg and "TRAIN.BATCH_SIZE" in msg


def test_unknown_key_in_base_file_names_the_base_file(tmp_path):
    write(tmp_path / "base.yaml", "SOLVER:\n  BASE_RL: 0.1\n")
    child = write(tmp_path / "child.yaml", "_BASE_: base.yaml\n")
    with pytest.raises(ConfigError) as e:
        merge_from_file(get_cfg(), str(child))
    assert "base.yaml" in str(e.value) and "SOLVER.BASE_LR" in str(e.value)


def test_unknown_section_suggests_closest(tmp_path):
    path = write(tmp_path / "bad.yaml", "SLOWFST:\n  ALPHA: 4\n")
    with pytest.raises(ConfigError, match="SLOWFAST"):
        merge_from_file(get_cfg(), str(path))


def test_unknown_override_key_names_command_line_and_closest():
    with pytest.raises(ConfigError) as e:
        merge_from_list(get_cfg(), ["NUM_GPU", "0"])
    msg = str(e.value)
    assert "NUM_GPU" in msg and "command-line" in msg and "'NUM_GPUS'" in msg


def test_wrong_type_names_key_expected_type_and_value(tmp_path):
    with pytest.raises(ConfigError) as e:
        merge_from_list(get_cfg(), ["TRAIN.BATCH_SIZE", "big"])
    msg = str(e.value)
    assert "TRAIN.BATCH_SIZE" in msg and "int" in msg and "'big'" in msg
    path = write(tmp_path / "t.yaml", "DATA:\n  NUM_FRAMES: [8]\n")
    with pytest.raises(ConfigError) as e:
        merge_from_file(get_cfg(), str(path))
    assert "DATA.NUM_FRAMES" in str(e.value) and "int" in str(e.value) and "[8]" in str(e.value)


def test_bool_is_not_taken_for_int():
    with pytest.raises(ConfigError, match="NUM_GPUS"):
        merge_from_list(get_cfg(), ["NUM_GPUS", "True"])


def test_missing_yaml_file_names_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml"):
        merge_from_file(get_cfg(), str(missing))


def test_invalid_yaml_names_file(tmp_path):
    path = write(tmp_path / "broken.yaml", "TRAIN: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml"):
        merge_from_file(get_cfg(), str(path))


def test_odd_number_of_overrides_is_an_error():
    with pytest.raises(ConfigError, match="KEY VALUE pairs"):
        merge_from_list(get_cfg(), ["NUM_GPUS"])


def test_override_values_are_decoded_as_literals():
    cfg = merge_from_list(get_cfg(), ["DATA.MEAN", "[0.5, 0.5, 0.5]", "OUTPUT_DIR", "/tmp/x", "TRAIN.ENABLE", "False"])
    assert cfg.DATA.MEAN == [0.5, 0.5, 0.5] and cfg.OUTPUT_DIR == "/tmp/x" and cfg.TRAIN.ENABLE is False


def test_batch_size_must_divide_over_processes():
    cfg = merge_from_list(get_cfg(), ["NUM_GPUS", "4", "TRAIN.BATCH_SIZE", "6"])
    with pytest.raises(ConfigError, match="TRAIN.BATCH_SIZE"):
        assert_and_infer_cfg(cfg)


def test_all_problems_reported_together():
    cfg = merge_from_list(get_cfg(), ["MODEL.ARCH", "resnext", "SOLVER.LR_POLICY", "poly"])
    with pytest.raises(ConfigError) as e:
        assert_and_infer_cfg(cfg)
    assert "MODEL.ARCH" in str(e.value) and "SOLVER.LR_POLICY" in str(e.value)


def test_cpu_mode_uses_gloo_and_lr_scales_once_with_shards():
    cfg = merge_from_list(
        get_cfg(),
        ["NUM_GPUS", "0", "NUM_SHARDS", "2", "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "4",
         "SOLVER.BASE_LR_SCALE_NUM_SHARDS", "True", "SOLVER.BASE_LR", "0.1"],
    )
    cfg = assert_and_infer_cfg(cfg)
    assert cfg.DIST_BACKEND == "gloo"
    assert cfg.SOLVER.BASE_LR == pytest.approx(0.2)
    assert_and_infer_cfg(cfg)
    assert cfg.SOLVER.BASE_LR == pytest.approx(0.2)


def test_parser_collects_several_cfg_files_and_launch_flags(tmp_path):
    a = write(tmp_path / "a.yaml", "TRAIN:\n  BATCH_SIZE: 8\n")
    b = write(tmp_path / "b.yaml", "TRAIN:\n  BATCH_SIZE: 16\n")
    args = parse_args(["--cfg", str(a), "--cfg", str(b), "--num_shards", "2", "--shard_id", "1", "NUM_GPUS", "0"])
    assert args.cfg_files == [str(a), str(b)]
    cfgs = [load_config(args, p) for p in args.cfg_files]
    assert [c.TRAIN.BATCH_SIZE for c in cfgs] == [8, 16]
    assert all(c.NUM_SHARDS == 2 and c.SHARD_ID == 1 and c.NUM_GPUS == 0 for c in cfgs)


def test_run_net_reports_config_errors_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "run_net.py"), "NUM_GPUS", "0", "SOLVER.BASE_RL", "0.1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "SOLVER.BASE_RL" in proc.stderr and "SOLVER.BASE_LR" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_net_help():
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "run_net.py"), "-h"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    for flag in ("--cfg", "--init_method", "--num_shards", "--shard_id"):
        assert flag in proc.stdout


def test_yaml_scientific_notation_is_a_float(tmp_path):
    cfg = merge_from_file(get_cfg(), str(write(tmp_path / "a.yaml", "SOLVER:\n  WEIGHT_DECAY: 1e-4\n")))
    assert cfg.SOLVER.WEIGHT_DECAY == pytest.approx(1e-4)


def test_ava_eval_protocol_defaults_to_pyslowfast_and_rejects_unknown_values():
    assert get_cfg().AVA.EVAL_PROTOCOL == "pyslowfast"
    cfg = merge_from_list(get_cfg(), ["AVA.EVAL_PROTOCOL", "voc"])
    with pytest.raises(ConfigError, match="AVA.EVAL_PROTOCOL must be one of .*'voc'"):
        assert_and_infer_cfg(cfg)
