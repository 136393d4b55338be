"""fold_batchnorm (TEST.FOLD_BN): the folded model gives the unfolded model's outputs, without BN layers."""

import copy
import importlib.util

import pytest
import torch
import torch.nn as nn
from model_testing import REPO, load_cfg, pathways, tiny_opts

from slowfast.models import build_model
from slowfast.models.fold_bn import fold_batchnorm


def _eval_model_with_trained_stats(opts):
    cfg = load_cfg(opts=opts + ["MODEL.HEAD_ACT", "none"])
    torch.manual_seed(0)
    model = build_model(cfg)
    for m in model.modules():  # statistics and affine parameters far from the identity init
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    return cfg, model.eval()


@pytest.mark.parametrize("arch", ["slowfast", "i3d", "nonlocal"])
def test_folded_model_matches_unfolded(arch):
    opts = tiny_opts("i3d" if arch == "nonlocal" else arch)
    if arch == "nonlocal":
        opts += ["NONLOCAL.LOCATION", "[[[]], [[1]], [[]], [[]]]"]
    cfg, model = _eval_model_with_trained_stats(opts)
    num_bn = sum(isinstance(m, nn.BatchNorm3d) for m in model.modules())
    x = pathways(cfg)
    folded = copy.deepcopy(model)
    assert fold_batchnorm(folded) == num_bn
    assert not any(isinstance(m, nn.BatchNorm3d) for m in folded.modules())
    with torch.no_grad():
        expected, got = model(x), folded(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_folding_refuses_a_model_in_training_mode():
    _, model = _eval_model_with_trained_stats(tiny_opts("c2d"))
    with pytest.raises(RuntimeError, match="eval mode"):
        fold_batchnorm(model.train())


def test_speed_benchmark_reports_the_fold_variant_for_inference_only(capsys):
    spec = importlib.util.spec_from_file_location("model_speed", REPO / "benchmarks" / "model_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--archs", "c2d", "--variants", "fold", "--iters", "1", "--warmup", "0", "--frames", "4",
            "--crop", "32", "--device", "cpu", "--opts", "RESNET.WIDTH_PER_GROUP", "8"]  # fmt: skip
    assert module.main(argv) == 0
    (row,) = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("c2d ")]
    assert row[1] == "fold" and float(row[2]) > 0 and row[3] == "nan"
