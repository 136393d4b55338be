"""Optimizer construction and weight-decay groups."""

import pytest
import torch
import torch.nn as nn

from slowfast.config import get_cfg
from slowfast.solver.losses import get_loss_func
from slowfast.solver.optimizer import construct_optimizer, get_param_groups  # the one implementation, re-exported


def tiny_model():
    return nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4), nn.Flatten(), nn.Linear(4, 2))


def decay_of(groups, param):
    for g in groups:
        if any(p is param for p in g["params"]):
            return g["weight_decay"]
    raise AssertionError("parameter not in any group")


def test_bn_params_get_bn_weight_decay():
    cfg = get_cfg()
    cfg.SOLVER.WEIGHT_DECAY = 1e-4
    cfg.BN.WEIGHT_DECAY = 0.0
    model = tiny_model()
    groups = get_param_groups(model, cfg)
    assert decay_of(groups, model[1].weight) == 0.0
    assert decay_of(groups, model[0].weight) == 1e-4
    assert decay_of(groups, model[0].bias) == 1e-4


def test_zero_wd_1d_params():
    cfg = get_cfg()
    cfg.SOLVER.ZERO_WD_1D_PARAM = True
    cfg.BN.WEIGHT_DECAY = 1e-3
    model = tiny_model()
    groups = get_param_groups(model, cfg)
    assert decay_of(groups, model[0].bias) == 0.0
    # As in PySlowFast, norm layers keep BN.WEIGHT_DECAY whatever ZERO_WD_1D_PARAM says.
    assert decay_of(groups, model[1].weight) == 1e-3
    assert decay_of(groups, model[3].weight) == cfg.SOLVER.WEIGHT_DECAY


def test_frozen_params_are_left_out():
    cfg = get_cfg()
    model = tiny_model()
    model[0].weight.requires_grad_(False)
    groups = get_param_groups(model, cfg)
    assert all(p is not model[0].weight for g in groups for p in g["params"])


@pytest.mark.parametrize("method,cls", [("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW)])
def test_construct_optimizer(method, cls):
    cfg = get_cfg()
    cfg.SOLVER.OPTIMIZING_METHOD = method
    opt = construct_optimizer(tiny_model(), cfg)
    assert isinstance(opt, cls)
    if method == "sgd":
        assert opt.defaults["momentum"] == cfg.SOLVER.MOMENTUM and opt.defaults["nesterov"] is True


def test_soft_cross_entropy_equals_hard_for_one_hot():
    logits = torch.randn(5, 4)
    labels = torch.tensor([0, 3, 1, 2, 2])
    soft = get_loss_func("soft_cross_entropy")()(logits, torch.nn.functional.one_hot(labels, 4).float())
    hard = get_loss_func("cross_entropy")()(logits, labels)
    assert torch.allclose(soft, hard)


def test_unknown_loss_is_named():
    with pytest.raises(NotImplementedError, match="focal"):
        get_loss_func("focal")
