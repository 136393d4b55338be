"""Building blocks: non-local, sub-batch BN, parameter groups."""

import pytest
import torch
import torch.nn as nn

from slowfast.config import get_cfg
from slowfast.models.batchnorm_helper import SubBatchNorm3d
from slowfast.models.nonlocal_helper import Nonlocal
from slowfast.models.resnet_helper import ResStage, stage_temporal_kernels
from slowfast.models.utils import get_param_groups


def _reference_nonlocal(block: Nonlocal, x: torch.Tensor, pool) -> torch.Tensor:
    """The non-local operation as written in the paper, with einsum over explicit positions."""
    n, c, t, h, w = x.shape
    theta = block.conv_theta(x).flatten(2)
    src = nn.functional.max_pool3d(x, pool, pool) if pool is not None else x
    phi, g = block.conv_phi(src).flatten(2), block.conv_g(src).flatten(2)
    f = torch.einsum("nci,ncj->nij", theta, phi)
    if block.instantiation == "softmax":
        f = torch.softmax(f / block.dim_inner**0.5, dim=-1)
    else:
        f = f / f.shape[-1]
    y = torch.einsum("nij,ncj->nci", f, g).reshape(n, block.dim_inner, t, h, w)
    return x + block.bn(block.conv_out(y))


@pytest.mark.parametrize("instantiation", ["softmax", "dot_product"])
@pytest.mark.parametrize("pool", [None, [1, 2, 2], [2, 2, 2]])
def test_nonlocal_matches_the_paper(instantiation, pool):
    torch.manual_seed(0)
    block = Nonlocal(dim=8, dim_inner=4, pool_size=pool, instantiation=instantiation).eval()
    nn.init.normal_(block.bn.weight)
    x = torch.randn(2, 8, 4, 6, 6)
    torch.testing.assert_close(block(x), _reference_nonlocal(block, x, pool))


def test_nonlocal_groups_attend_within_their_time_chunk():
    torch.manual_seed(0)
    common = dict(
        dim_in=[8], dim_out=[8], dim_inner=[4], temp_kernel_sizes=[[1]], stride=[1], num_blocks=[1], num_groups=[1],
        num_block_temp_kernel=[1], nonlocal_inds=[[0]], nonlocal_pool=[[1, 1, 1]], dilation=[1],
    )  # fmt: skip
    stage = ResStage(nonlocal_group=[2], **common).eval()
    nn.init.normal_(stage.pathway0_nonlocal0.bn.weight)
    x = torch.randn(2, 8, 6, 3, 3)
    out = stage([x])[0]
    block_out = stage.pathway0_res0(x)
    chunks = [stage.pathway0_nonlocal0(part) for part in block_out.split(3, dim=2)]
    torch.testing.assert_close(out, torch.cat(chunks, 2))


def test_temporal_kernel_pattern():
    assert stage_temporal_kernels([3, 1], 6, 4) == [3, 1, 3, 1, 1, 1]
    assert stage_temporal_kernels([1, 3], 3, 3) == [1, 3, 1]
    assert stage_temporal_kernels([3], 2, 3) == [3, 3]  # more temporal blocks than blocks: all


def test_sub_batchnorm_normalises_each_split_separately():
    torch.manual_seed(0)
    sub = SubBatchNorm3d(2, num_features=3)
    nn.init.normal_(sub.weight)
    nn.init.normal_(sub.bias)
    x = torch.randn(4, 3, 2, 3, 3) * 3 + 1
    out = sub.train()(x)
    plain = nn.BatchNorm3d(3, affine=False).train()
    shape = (1, 3, 1, 1, 1)
    for split in (0, 1):
        part = x[split::2]  # clip i belongs to split i % num_splits
        expected = plain(part) * sub.weight.view(shape) + sub.bias.view(shape)
        torch.testing.assert_close(out[split::2], expected)
    sub.aggregate_stats()
    means = sub.split_bn.running_mean.view(2, 3)
    torch.testing.assert_close(sub.bn.running_mean, means.mean(0))
    sub.eval()
    expected = (x - sub.bn.running_mean.view(shape)) / torch.sqrt(sub.bn.running_var.view(shape) + 1e-5)
    torch.testing.assert_close(sub(x), expected * sub.weight.view(shape) + sub.bias.view(shape))


def _decay_of(groups, param):
    matches = [g["weight_decay"] for g in groups if any(p is param for p in g["params"])]
    assert len(matches) == 1
    return matches[0]


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1)
        self.bn = nn.BatchNorm3d(4)
        self.sub = SubBatchNorm3d(2, num_features=4)
        self.fc = nn.Linear(4, 2)
        self.pos = nn.Parameter(torch.zeros(1, 4))
        self.frozen = nn.Parameter(torch.zeros(4), requires_grad=False)

    def no_weight_decay(self):
        return {"pos"}


@pytest.mark.parametrize("zero_1d", [False, True])
def test_param_groups(zero_1d):
    cfg = get_cfg()
    cfg.SOLVER.WEIGHT_DECAY = 1e-4
    cfg.BN.WEIGHT_DECAY = 1e-5
    cfg.SOLVER.ZERO_WD_1D_PARAM = zero_1d
    model = _Tiny()
    groups = get_param_groups(model, cfg)
    for p in (model.bn.weight, model.bn.bias, model.sub.weight, model.sub.bias):
        assert _decay_of(groups, p) == 1e-5  # BN first, as in PySlowFast
    assert _decay_of(groups, model.pos) == 0.0
    assert _decay_of(groups, model.conv.weight) == 1e-4
    assert _decay_of(groups, model.fc.bias) == (0.0 if zero_1d else 1e-4)
    assert _decay_of(groups, model.conv.bias) == (0.0 if zero_1d else 1e-4)
    assert not any(p is model.frozen for g in groups for p in g["params"])
    assert sum(len(g["params"]) for g in groups) == 9
    torch.optim.SGD(groups, lr=0.1)


def test_sync_batchnorm_groups_follow_pyslowfast():
    from slowfast.config import get_cfg
    from slowfast.models.batchnorm_helper import get_norm, sync_group_size

    cfg = get_cfg()
    cfg.NUM_GPUS, cfg.NUM_SHARDS, cfg.BN.NORM_TYPE = 8, 2, "sync_batchnorm"
    cfg.BN.NUM_SYNC_DEVICES = 1
    assert sync_group_size(cfg, 16) == 1  # no sync
    assert get_norm(cfg) is torch.nn.BatchNorm3d
    cfg.BN.NUM_SYNC_DEVICES = 4
    assert sync_group_size(cfg, 16) == 4  # groups of 4 devices of one machine
    cfg.BN.NUM_SYNC_DEVICES = 0
    assert sync_group_size(cfg, 16) == 8  # the whole machine, not the whole job
    cfg.BN.GLOBAL_SYNC = True
    assert sync_group_size(cfg, 16) == 16
    cfg.BN.GLOBAL_SYNC, cfg.BN.NUM_SYNC_DEVICES = False, 3
    with pytest.raises(ValueError, match="NUM_SYNC_DEVICES"):
        sync_group_size(cfg, 16)
