"""Moving a model to a new long-cycle shape (slowfast.engine.multigrid) keeps its state and the random streams."""

import sys
from pathlib import Path

import torch

import slowfast.checkpoint as cu
from slowfast.config import get_cfg, merge_from_list
from slowfast.engine.multigrid import MultigridPlan, changes_shape, rebuild_for_shape
from slowfast.models import build_model
from slowfast.solver.optimizer import construct_optimizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from model_testing import pathways, tiny_opts  # noqa: E402


def _cfg(*opts):
    cfg = merge_from_list(get_cfg(), [*tiny_opts("slowfast", frames=8, crop=32), "NUM_GPUS", "0", *opts])
    return cfg


def test_rebuild_carries_weights_bn_statistics_and_optimizer_state_across_bn_splits():
    small = _cfg("BN.NORM_TYPE", "sub_batchnorm", "BN.NUM_SPLITS", "2", "MULTIGRID.SHORT_CYCLE", "True")
    torch.manual_seed(0)
    model = build_model(small)
    optimizer = construct_optimizer(model, small)
    model.train()
    model(pathways(small, batch=4)).square().mean().backward()
    optimizer.step()
    for module in model.modules():
        if hasattr(module, "aggregate_stats"):
            module.aggregate_stats()
    default = _cfg("MULTIGRID.SHORT_CYCLE", "True")
    rng = cu.get_rng_state()
    new_model, new_optimizer = rebuild_for_shape(default, model, optimizer)
    assert torch.equal(cu.get_rng_state()["torch"], rng["torch"])
    x = pathways(default, batch=2)
    model.eval(), new_model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x), new_model(x), atol=1e-6)
    old_state = optimizer.state_dict()["state"]
    new_state = new_optimizer.state_dict()["state"]
    assert old_state.keys() == new_state.keys() and all(
        torch.equal(old_state[k]["exp_avg"] if "exp_avg" in old_state[k] else old_state[k]["momentum_buffer"],
                    new_state[k]["exp_avg"] if "exp_avg" in new_state[k] else new_state[k]["momentum_buffer"])
        for k in old_state)


def test_a_resumed_run_builds_the_shape_of_its_start_epoch():
    cfg = merge_from_list(get_cfg(), [
        "NUM_GPUS", "0", "MULTIGRID.LONG_CYCLE", "True", "MULTIGRID.SHORT_CYCLE", "True", "SOLVER.STEPS", "[0, 10]",
        "SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.MAX_EPOCH", "12", "TRAIN.BATCH_SIZE", "8",
        "DATA.NUM_FRAMES", "32", "DATA.TRAIN_CROP_SIZE", "64"])
    first, again = MultigridPlan(cfg), MultigridPlan(cfg)
    stage_ends = [s.end_epoch for s in first.schedule]
    for epoch in range(first.cfg.SOLVER.MAX_EPOCH):
        assert first.epoch_cfg(epoch).dump() == again.epoch_cfg(epoch).dump()
    assert changes_shape(first.epoch_cfg(0), first.epoch_cfg(stage_ends[0]))
    assert not changes_shape(first.epoch_cfg(stage_ends[0]), first.epoch_cfg(stage_ends[1] - 1))
    assert cfg.SOLVER.MAX_EPOCH == 12 and first.cfg.SOLVER.MAX_EPOCH == 18
