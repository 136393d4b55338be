"""Every YAML under configs/ loads into the default tree and passes validation."""

from pathlib import Path

import pytest

from slowfast.config import assert_and_infer_cfg, get_cfg, merge_from_file, merge_from_list

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))


def test_there_are_configs():
    assert CONFIGS, "no YAML files under configs/"


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO / "configs")) for p in CONFIGS])
def test_config_loads_and_validates(path):
    cfg = merge_from_file(get_cfg(), str(path))
    # Validation depends on the process count; check the config as a CPU user would run it.
    merge_from_list(cfg, ["NUM_GPUS", "0"])
    cfg.TRAIN.BATCH_SIZE = max(cfg.TRAIN.BATCH_SIZE, 1)
    assert_and_infer_cfg(cfg)
