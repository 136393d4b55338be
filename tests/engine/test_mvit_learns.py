"""The tiny MViT config trains end to end through tools/run_net.py on CPU and clearly beats chance."""

import pytest

from e2e_utils import REPO, final_top1, run_net

MVIT_CFG = REPO / "configs" / "Synthetic" / "MVIT_CPU.yaml"


@pytest.mark.slow
def test_tiny_mvit_beats_chance_on_synthetic_motion(tmp_path, tmp_path_factory):
    data = tmp_path_factory.mktemp("synthetic_mvit")
    proc = run_net(["--cfg", MVIT_CFG, "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", tmp_path / "mvit"], timeout=600)
    top1 = final_top1(proc.stdout)
    print(f"synthetic motion test top-1: MViT {top1:.1f}% (chance 25%)")
    assert top1 >= 50.0, f"the tiny MViT only reached {top1}% (chance is 25%)"
