"""Learning-rate policies and warmup."""

import math

import pytest

from slowfast.config import get_cfg
from slowfast.solver.lr_policy import get_lr_at_epoch


def make_cfg(**solver):
    cfg = get_cfg()
    for k, v in solver.items():
        cfg.SOLVER[k] = v
    return cfg


def test_cosine_from_base_to_end():
    cfg = make_cfg(LR_POLICY="cosine", BASE_LR=0.8, COSINE_END_LR=0.0, MAX_EPOCH=10, WARMUP_EPOCHS=0.0)
    assert get_lr_at_epoch(cfg, 0.0) == pytest.approx(0.8)
    assert get_lr_at_epoch(cfg, 5.0) == pytest.approx(0.4)
    assert get_lr_at_epoch(cfg, 10.0) == pytest.approx(0.0)
    assert get_lr_at_epoch(cfg, 2.5) == pytest.approx(0.4 * (1 + math.cos(math.pi / 4)))


def test_linear_warmup_meets_policy_at_warmup_end():
    cfg = make_cfg(LR_POLICY="cosine", BASE_LR=0.8, MAX_EPOCH=10, WARMUP_EPOCHS=2.0, WARMUP_START_LR=0.08)
    end = 0.4 * (1 + math.cos(math.pi * 2 / 10))
    assert get_lr_at_epoch(cfg, 0.0) == pytest.approx(0.08)
    assert get_lr_at_epoch(cfg, 1.0) == pytest.approx((0.08 + end) / 2)
    assert get_lr_at_epoch(cfg, 2.0) == pytest.approx(end)


def test_cosine_after_warmup_starts_at_base_lr():
    cfg = make_cfg(
        LR_POLICY="cosine", BASE_LR=1.0, MAX_EPOCH=12, WARMUP_EPOCHS=2.0, WARMUP_START_LR=0.0,
        COSINE_AFTER_WARMUP=True, COSINE_END_LR=0.1,
    )
    assert get_lr_at_epoch(cfg, 2.0) == pytest.approx(1.0)
    assert get_lr_at_epoch(cfg, 1.0) == pytest.approx(0.5)
    assert get_lr_at_epoch(cfg, 7.0) == pytest.approx(0.55)
    assert get_lr_at_epoch(cfg, 12.0) == pytest.approx(0.1)


def test_steps_with_relative_lrs():
    cfg = make_cfg(
        LR_POLICY="steps_with_relative_lrs", BASE_LR=0.1, STEPS=[0, 4, 8], LRS=[1, 0.1, 0.01], MAX_EPOCH=10
    )
    assert get_lr_at_epoch(cfg, 0.0) == pytest.approx(0.1)
    assert get_lr_at_epoch(cfg, 3.99) == pytest.approx(0.1)
    assert get_lr_at_epoch(cfg, 4.0) == pytest.approx(0.01)
    assert get_lr_at_epoch(cfg, 9.5) == pytest.approx(0.001)


def test_constant():
    cfg = make_cfg(LR_POLICY="constant", BASE_LR=0.3)
    assert get_lr_at_epoch(cfg, 7.3) == 0.3


def test_unknown_policy_is_named():
    cfg = make_cfg(LR_POLICY="poly")
    with pytest.raises(NotImplementedError, match="poly"):
        get_lr_at_epoch(cfg, 0.0)
