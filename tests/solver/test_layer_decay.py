"""SOLVER.LAYER_DECAY: PySlowFast's layer ids, LR scales and weight-decay exclusions, on a small fake ViT."""

import pytest
import torch
import torch.nn as nn

from slowfast.config import get_cfg
from slowfast.models.utils import layer_id_of
from slowfast.solver.optimizer import construct_optimizer, set_lr


class FakeViT(nn.Module):
    def __init__(self, depth: int = 2) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.pos_embed = nn.Parameter(torch.zeros(1, 3, 4))
        self.patch_embed = nn.Linear(4, 4)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 4)) for _ in range(depth))
        self.head = nn.Linear(4, 2)

    def no_weight_decay(self):
        return {"pos_embed", "cls_token"}


def _cfg(decay=0.5, depth=2, zero_1d=True):
    cfg = get_cfg()
    cfg.SOLVER.LAYER_DECAY, cfg.MVIT.DEPTH, cfg.SOLVER.ZERO_WD_1D_PARAM = decay, depth, zero_1d
    cfg.SOLVER.OPTIMIZING_METHOD, cfg.SOLVER.WEIGHT_DECAY = "adamw", 0.05
    return cfg


def _group_of(optimizer, param):
    return next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))


def test_layer_ids_follow_pyslowfast():
    assert [layer_id_of(n, 3) for n in ("cls_token", "pos_embed", "patch_embed.proj.weight",
                                        "blocks.0.attn.qkv.weight", "blocks.1.mlp.fc1.bias", "head.projection.weight",
                                        "norm.weight")] == [0, 0, 0, 1, 2, 3, 3]


def test_lr_scales_and_weight_decay_per_parameter():
    model = FakeViT(depth=2)
    opt = construct_optimizer(model, _cfg(decay=0.5, depth=2))
    set_lr(opt, 1.0)
    expect = {  # parameter: (lr = 0.5 ** (3 - layer), weight decay)
        model.cls_token: (0.125, 0.0), model.pos_embed: (0.125, 0.0), model.patch_embed.weight: (0.125, 0.05),
        model.patch_embed.bias: (0.125, 0.0), model.blocks[0][1].weight: (0.25, 0.05),
        model.blocks[1][0].weight: (0.5, 0.0), model.head.weight: (1.0, 0.05), model.head.bias: (1.0, 0.0),
    }
    for param, (lr, wd) in expect.items():
        group = _group_of(opt, param)
        assert (group["lr"], group["weight_decay"]) == (pytest.approx(lr), wd)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_layer_decay_one_keeps_the_plain_groups_at_the_base_lr():
    opt = construct_optimizer(FakeViT(), _cfg(decay=1.0))
    set_lr(opt, 0.1)
    assert {g["lr"] for g in opt.param_groups} == {0.1}


def test_layer_decay_refuses_batchnorm_models():
    model = nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4))
    with pytest.raises(ValueError, match="SOLVER.LAYER_DECAY"):
        construct_optimizer(model, _cfg())
