"""Each training recipe changes the first logged training losses of the synthetic SlowFast run.

The issue's outside check, in process: tools/run_net.py's entry point on
configs/Synthetic/SLOWFAST_R18_CPU.yaml with LOG_PERIOD 1, two iterations, the
same seed and data; a recipe that is accepted and ignored would log the
baseline's losses exactly.
"""

import json
from pathlib import Path

import pytest

from slowfast.engine import run

REPO = Path(__file__).resolve().parents[2]
SHORT_RUN = [
    "SYNTHETIC.NUM_TRAIN", "16", "TRAIN.BATCH_SIZE", "8", "SOLVER.MAX_EPOCH", "1", "TEST.ENABLE", "False",
    "TRAIN.EVAL_PERIOD", "100", "TRAIN.CHECKPOINT_PERIOD", "100", "TRAIN.AUTO_RESUME", "False",
    "LOG_PERIOD", "1", "DATA_LOADER.NUM_WORKERS", "0",
]
RECIPES = {
    "rand_augment": ["AUG.ENABLE", "True", "AUG.AA_TYPE", "rand-m7-n4-mstd0.5-inc1", "AUG.RE_PROB", "0.0"],
    "random_erasing": ["AUG.ENABLE", "True", "AUG.AA_TYPE", "", "AUG.COLOR_JITTER", "0.0", "AUG.RE_PROB", "1.0"],
    "num_sample_2": ["AUG.NUM_SAMPLE", "2"],
    "mixup_cutmix": ["MIXUP.ENABLE", "True", "MODEL.LOSS_FUNC", "soft_cross_entropy"],
    "random_resized_crop": ["DATA.TRAIN_JITTER_SCALES_RELATIVE", "[0.08, 1.0]",
                            "DATA.TRAIN_JITTER_ASPECT_RELATIVE", "[0.75, 1.3333]"],
    # AdamW's first step is sign(gradient) unless the gradients are small next to its eps (1e-8).
    "grad_clipping": ["SOLVER.CLIP_GRAD_L2NORM", "1e-9"],
}


def _losses(out: Path, extra) -> list:
    rc = run.main(["--cfg", str(REPO / "configs/Synthetic/SLOWFAST_R18_CPU.yaml"), *SHORT_RUN,
                   "OUTPUT_DIR", str(out), *extra])
    assert rc == 0
    stats = [json.loads(line.split("json_stats: ", 1)[1]) for line in (out / "stdout.log").read_text().splitlines()
             if "json_stats: " in line]
    return [s["loss"] for s in stats if s["_type"] == "train_iter"]


@pytest.mark.slow
def test_each_recipe_changes_the_first_logged_losses(tmp_path):
    baseline = _losses(tmp_path / "baseline", [])
    assert len(baseline) == 2
    changed = {name: _losses(tmp_path / name, extra) for name, extra in RECIPES.items()}
    print({"baseline": baseline, **changed})
    assert changed["grad_clipping"][0] == baseline[0]  # clipping acts on the step after the first loss
    same = [name for name, losses in changed.items() if len(losses) != 2 or losses == baseline]
    assert not same, f"these recipes left the losses unchanged: {same}"


def test_long_cycle_with_a_policy_that_ignores_solver_lrs_is_refused_naming_the_key(tmp_path, capsys):
    rc = run.main(["--cfg", str(REPO / "configs/Synthetic/SLOWFAST_R18_CPU.yaml"), *SHORT_RUN,
                   "OUTPUT_DIR", str(tmp_path), "MULTIGRID.LONG_CYCLE", "True", "MULTIGRID.SHORT_CYCLE", "True"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "SOLVER.LR_POLICY = 'cosine' (from " in err and "use steps_with_relative_lrs" in err
    assert "SOLVER.STEPS = [] (from" in err
