"""On the synthetic motion data and the same budget, a SlowFast clearly beats a C2D (which cannot see motion)."""

import pytest

from e2e_utils import C2D_CFG, SYNTHETIC_CFG, final_top1, run_net


@pytest.mark.slow
def test_slowfast_beats_c2d_on_motion(tmp_path, tmp_path_factory):
    data = tmp_path_factory.mktemp("synthetic_quickstart")
    common = ["DATA.PATH_TO_DATA_DIR", data, "LOG_MODEL_INFO", "False"]
    slowfast = run_net(["--cfg", SYNTHETIC_CFG, *common, "OUTPUT_DIR", tmp_path / "slowfast"], timeout=900)
    c2d = run_net(["--cfg", C2D_CFG, *common, "OUTPUT_DIR", tmp_path / "c2d"], timeout=900)
    sf_top1, c2d_top1 = final_top1(slowfast.stdout), final_top1(c2d.stdout)
    print(f"synthetic motion test top-1: SlowFast {sf_top1:.1f}%, C2D {c2d_top1:.1f}%")
    assert sf_top1 >= 80.0, f"SlowFast only reached {sf_top1}%"
    assert sf_top1 >= c2d_top1 + 25.0, f"SlowFast {sf_top1}% vs C2D {c2d_top1}%"
