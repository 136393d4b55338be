"""Multigrid in the training loop: the config of each epoch and the model rebuilt when its shape changes.

``MultigridPlan`` wraps ``slowfast.utils.multigrid`` for ``trainer.train``: the epoch's config
(batch size, frames, crop, BN layout), whether an epoch evaluates and checkpoints (PySlowFast
spreads both over each long-cycle stage MULTIGRID.EVAL_FREQ times, ending on the stage's last
epoch, in place of TRAIN.EVAL_PERIOD / CHECKPOINT_PERIOD), and the model and optimizer carried
over to a new shape. PySlowFast reloads the last checkpoint for that; here the weights, BN
statistics and optimizer state move in memory, through the same plain-BN layout a checkpoint has,
so the number of BN splits may change.
"""

from typing import Tuple

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

import slowfast.checkpoint as cu
from slowfast.checkpoint.state import apply_state_dict, check_match, match_state_dict
from slowfast.engine.placement import prepare_model
from slowfast.models import build_model
from slowfast.solver.optimizer import construct_optimizer
from slowfast.utils import distributed as du
from slowfast.utils import multigrid as mg
from slowfast.utils.logging import get_logger
from slowfast.utils.modules import unwrap_model

logger = get_logger(__name__)


class MultigridPlan:
    """The per-epoch configs of a training run (one config for every epoch without multigrid).

    ``cfg`` is the run's config with the solver rescaled (SOLVER.MAX_EPOCH is the run's length).
    """

    def __init__(self, cfg: CfgNode) -> None:
        self.enabled = mg.is_enabled(cfg)
        self.cfg, self.schedule = mg.init_multigrid(cfg)
        self._world = du.get_world_size()
        if self.enabled:
            logger.info(
                "Multigrid training (long cycle %s, short cycle %s): %d epochs instead of SOLVER.MAX_EPOCH %d.",
                bool(cfg.MULTIGRID.LONG_CYCLE), bool(cfg.MULTIGRID.SHORT_CYCLE), self.cfg.SOLVER.MAX_EPOCH,
                cfg.SOLVER.MAX_EPOCH,
            )

    def epoch_cfg(self, epoch: int) -> CfgNode:
        """The config 0-based ``epoch`` trains with."""
        return mg.epoch_cfg(self.cfg, self.schedule, epoch, self._world)

    def log_shape(self, cfg: CfgNode, epoch: int) -> None:
        if self.enabled:
            logger.info("Multigrid shape from epoch %d: %s", epoch + 1, mg.describe_epoch_cfg(cfg))

    def is_checkpoint_epoch(self, epoch: int) -> bool:
        return cu.is_checkpoint_epoch(self.cfg, epoch, self.schedule)

    def is_eval_epoch(self, epoch: int) -> bool:
        """After the last epoch; with a long cycle PySlowFast's checkpoint rule, else every TRAIN.EVAL_PERIOD."""
        if self.schedule is not None:
            return cu.is_checkpoint_epoch(self.cfg, epoch, self.schedule)
        return epoch + 1 == self.cfg.SOLVER.MAX_EPOCH or (epoch + 1) % self.cfg.TRAIN.EVAL_PERIOD == 0


def changes_shape(old: CfgNode, new: CfgNode) -> bool:
    return mg.shape_key(old) != mg.shape_key(new)


def rebuild_for_shape(
    cfg: CfgNode, model: nn.Module, optimizer: torch.optim.Optimizer
) -> Tuple[nn.Module, torch.optim.Optimizer]:
    """A model and optimizer built for ``cfg``'s shape, carrying over ``model``'s and ``optimizer``'s state.

    Building draws initial weights, which would shift the random streams (a resumed run rebuilds
    at other epochs than an uninterrupted one): they are put back afterwards.
    """
    rng = cu.get_rng_state()
    state = cu.model_state_for_saving(model)
    new_model = prepare_model(cfg, build_model(cfg))
    to_load, report = match_state_dict(
        state, unwrap_model(new_model).state_dict(), source="the model of the previous long-cycle shape"
    )
    check_match(report, strict=True)
    apply_state_dict(new_model, to_load)
    new_optimizer = construct_optimizer(new_model, cfg)
    new_optimizer.load_state_dict(optimizer.state_dict())
    cu.set_rng_state(rng)
    return new_model, new_optimizer
