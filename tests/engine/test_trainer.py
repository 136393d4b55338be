"""The train epoch on a toy model: non-finite losses stop training with a located error."""

import pytest
import torch
import torch.nn as nn

from slowfast.config import get_cfg
from slowfast.engine.trainer import train_epoch
from slowfast.evaluation.meters import TrainMeter


class Toy(nn.Module):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.scale = scale

    def forward(self, inputs):
        return self.fc(inputs[0].mean(dim=(2, 3, 4))) * self.scale


def loader(n_batches: int):
    return [
        ([torch.randn(2, 3, 2, 4, 4)], torch.tensor([0, 1]), torch.tensor([2 * i, 2 * i + 1]), {})
        for i in range(n_batches)
    ]


def make_cfg():
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.SOLVER.MAX_EPOCH = 2
    cfg.SOLVER.BASE_LR = 0.1
    cfg.LOG_PERIOD = 1
    return cfg


def test_non_finite_loss_names_epoch_and_iteration():
    cfg = make_cfg()
    model = Toy(scale=float("nan"))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    meter = TrainMeter(3, cfg)
    with pytest.raises(FloatingPointError, match=r"epoch 2, iteration 1"):
        train_epoch(loader(3), model, opt, torch.amp.GradScaler("cpu", enabled=False), meter, 1, cfg)


def test_train_epoch_updates_weights_and_reports_stats():
    cfg = make_cfg()
    model = Toy()
    before = model.fc.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    meter = TrainMeter(3, cfg)
    stats = train_epoch(loader(3), model, opt, torch.amp.GradScaler("cpu", enabled=False), meter, 0, cfg)
    assert not torch.equal(before, model.fc.weight)
    assert stats["epoch"] == "1/2" and stats["loss"] > 0 and 0 <= stats["top1_err"] <= 100


def test_grad_clipping_by_value_bounds_the_step():
    cfg = make_cfg()
    cfg.SOLVER.CLIP_GRAD_VAL = 1e-3
    cfg.SOLVER.LR_POLICY = "constant"
    model = Toy(scale=1e3)
    before = model.fc.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.SOLVER.BASE_LR)
    train_epoch(loader(1), model, opt, torch.amp.GradScaler("cpu", enabled=False), TrainMeter(1, cfg), 0, cfg)
    assert (model.fc.weight - before).abs().max() <= cfg.SOLVER.BASE_LR * 1e-3 + 1e-6  # float32 rounding of w - w0


def test_bf16_autocast_trains_on_cpu():
    cfg = make_cfg()
    cfg.TRAIN.MIXED_PRECISION = True
    cfg.TRAIN.MIXED_PRECISION_DTYPE = "bfloat16"
    model = Toy()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = train_epoch(loader(2), model, opt, torch.amp.GradScaler("cpu", enabled=False), TrainMeter(2, cfg), 0, cfg)
    assert stats["loss"] > 0
