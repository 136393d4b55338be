"""A tiny X3D trains end to end on the synthetic motion data (tools/run_net.py) and clearly beats chance.

About 8 minutes on two busy cores (16 epochs of 384 clips): X3D's channelwise convs are slow to
train on the CPU and it needs ~8 epochs before it leaves chance.
"""

import pytest

from e2e_utils import REPO, final_top1, run_net

X3D_CFG = REPO / "configs" / "Synthetic" / "X3D_CPU.yaml"
CHANCE = 25.0  # four motion directions


@pytest.mark.slow
def test_tiny_x3d_beats_chance_on_motion(tmp_path, tmp_path_factory):
    data = tmp_path_factory.mktemp("synthetic_quickstart")
    args = ["--cfg", X3D_CFG, "DATA.PATH_TO_DATA_DIR", data, "LOG_MODEL_INFO", "False", "OUTPUT_DIR", tmp_path / "x3d"]
    top1 = final_top1(run_net(args, timeout=1200).stdout)
    print(f"synthetic motion test top-1: X3D {top1:.1f}%")
    assert top1 >= CHANCE + 20.0, f"X3D reached {top1}% (chance {CHANCE}%)"
