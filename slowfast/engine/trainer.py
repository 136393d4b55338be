"""The training loop: epochs of SGD/AdamW steps, validation, precise BN and checkpoints."""

import math
from typing import Dict, Iterator, Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

import slowfast.checkpoint as cu
from slowfast.datasets.loader import construct_loader, shuffle_dataset
from slowfast.datasets.mixup import build_mixup
from slowfast.engine.multigrid import MultigridPlan, changes_shape, rebuild_for_shape
from slowfast.engine.placement import batch_to_device, prepare_model
from slowfast.engine.preemption import PreemptionGuard
from slowfast.engine.setup import setup_job
from slowfast.engine.step import autocast_context, forward
from slowfast.evaluation import metrics
from slowfast.evaluation.meters import TrainMeter, ValMeter
from slowfast.models import build_model
from slowfast.solver.losses import get_loss_func
from slowfast.solver.lr_policy import get_lr_at_epoch
from slowfast.solver.optimizer import construct_optimizer, set_lr
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger
from slowfast.utils.modules import unwrap_model
from slowfast.visualization.tensorboard_vis import build_tensorboard_writer, plot_eval, wants_eval_plots

logger = get_logger(__name__)


def _skipped_in_batch(meta: Dict) -> int:
    skipped = meta.get("skipped") if isinstance(meta, dict) else None
    if skipped is None:
        return 0
    return int(torch.as_tensor(skipped).sum())


def _loss_and_errors(cfg: CfgNode, preds: torch.Tensor, labels: torch.Tensor, loss_fun: nn.Module,
                     hard_labels: Optional[torch.Tensor] = None):
    """Loss against ``labels`` (soft targets with mixup); top-k errors against the hard class labels."""
    loss = loss_fun(preds, labels)
    hard_labels = labels if hard_labels is None else hard_labels
    if cfg.DATA.MULTI_LABEL or cfg.DETECTION.ENABLE or hard_labels.ndim > 1:
        return loss, None, None
    num_topks_correct = metrics.topks_correct(preds.detach(), hard_labels, (1, 5))
    top1, top5 = [(1.0 - x / preds.size(0)) * 100.0 for x in num_topks_correct]
    return loss, top1, top5


def train_epoch(
    train_loader,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    train_meter: TrainMeter,
    cur_epoch: int,
    cfg: CfgNode,
    writer=None,
    guard: Optional[PreemptionGuard] = None,
) -> Dict[str, float]:
    """Train for one epoch; raises FloatingPointError naming epoch and iteration on a non-finite loss.

    With `guard`, a resumed epoch continues after the checkpoint's iteration, mid-epoch checkpoints
    are written, and a caught SIGTERM/SIGUSR1 ends training after the current iteration.
    """
    model.train()
    train_meter.reset()
    data_size = len(train_loader)
    loss_fun = get_loss_func(cfg.MODEL.LOSS_FUNC)(reduction="mean")
    mixup = build_mixup(cfg)
    train_meter.iter_tic()
    batches = guard.batches(train_loader, cur_epoch) if guard is not None else enumerate(train_loader)
    for cur_iter, (inputs, labels, index, meta) in batches:
        inputs, labels, meta = batch_to_device(cfg, inputs, labels, meta)
        train_meter.data_toc()
        lr = get_lr_at_epoch(cfg, cur_epoch + float(cur_iter) / data_size)
        set_lr(optimizer, lr)
        hard_labels = labels
        if mixup is not None:
            inputs, labels = mixup(inputs, labels)

        with autocast_context(cfg):
            preds = forward(cfg, model, inputs, meta)
        # The loss runs in float32 outside autocast: CUDA autocast refuses BCELoss on half inputs.
        loss, top1_err, top5_err = _loss_and_errors(cfg, preds.float(), labels, loss_fun, hard_labels)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(
                f"Loss is {loss.item()} at epoch {cur_epoch + 1}, iteration {cur_iter + 1} "
                f"(lr {lr:.6g}); stopping. Lower SOLVER.BASE_LR or enable SOLVER.CLIP_GRAD_L2NORM."
            )

        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        if cfg.SOLVER.CLIP_GRAD_VAL is not None:
            torch.nn.utils.clip_grad_value_(model.parameters(), cfg.SOLVER.CLIP_GRAD_VAL)
        if cfg.SOLVER.CLIP_GRAD_L2NORM is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.SOLVER.CLIP_GRAD_L2NORM)
        scaler.step(optimizer)
        scaler.update()

        stats = [loss.detach().float()]
        if top1_err is not None:
            stats += [top1_err.float(), top5_err.float()]
        stats = [s.reshape(1) for s in stats]
        stats = du.all_reduce(stats)
        values = [s.item() for s in stats]
        mb_size = preds.size(0) * du.get_world_size()
        skipped = _skipped_in_batch(meta)
        train_meter.iter_toc()
        train_meter.update_stats(
            values[1] if top1_err is not None else None,
            values[2] if top1_err is not None else None,
            values[0],
            lr,
            mb_size,
            skipped_videos=skipped,
        )
        if writer is not None:
            step = data_size * cur_epoch + cur_iter
            writer.add_scalar("Train/loss", values[0], step)
            writer.add_scalar("Train/lr", lr, step)
            if top1_err is not None:
                writer.add_scalar("Train/Top1_err", values[1], step)
                writer.add_scalar("Train/Top5_err", values[2], step)
        train_meter.log_iter_stats(cur_epoch, cur_iter)
        if guard is not None:
            guard.after_iter(model, optimizer, scaler, cur_epoch, cur_iter, data_size)
        train_meter.iter_tic()
    skipped_total = torch.tensor([float(train_meter.skipped_videos)])
    train_meter.skipped_videos = int(du.all_reduce([skipped_total], average=False)[0].item())
    return train_meter.log_epoch_stats(cur_epoch)


@torch.no_grad()
def eval_epoch(val_loader, model: nn.Module, val_meter: ValMeter, cur_epoch: int, cfg: CfgNode, writer=None):
    """One pass over the validation set; logs top-1/top-5 error (or defers to the detection evaluator)."""
    if cfg.DETECTION.ENABLE:
        from slowfast.engine.detection import eval_detection_epoch

        return eval_detection_epoch(val_loader, model, cur_epoch, cfg, writer)
    model.eval()
    val_meter.reset()
    val_meter.iter_tic()
    for cur_iter, (inputs, labels, index, meta) in enumerate(val_loader):
        inputs, labels, meta = batch_to_device(cfg, inputs, labels, meta)
        val_meter.data_toc()
        with autocast_context(cfg):
            preds = forward(cfg, model, inputs, meta)
        preds = preds.float()
        if cfg.DATA.MULTI_LABEL:
            preds, labels = du.all_gather([preds, labels])
            val_meter.update_predictions(preds.cpu(), labels.cpu())
        else:
            errs = metrics.topk_errors(preds, labels, (1, 5))
            top1_err, top5_err = (e.item() for e in du.all_reduce([e.reshape(1) for e in errs]))
            val_meter.update_stats(top1_err, top5_err, preds.size(0) * du.get_world_size())
            if wants_eval_plots(cfg):
                val_meter.update_predictions(*(t.cpu() for t in du.all_gather([preds, labels])))
        val_meter.iter_toc()
        val_meter.log_iter_stats(cur_epoch, cur_iter)
        val_meter.iter_tic()
    stats = val_meter.log_epoch_stats(cur_epoch)
    if writer is not None and val_meter.all_preds:
        plot_eval(cfg, writer, val_meter.all_preds, val_meter.all_labels, cur_epoch)
    if writer is not None and "top1_err" in stats:
        writer.add_scalar("Val/Top1_err", stats["top1_err"], cur_epoch)
        writer.add_scalar("Val/Top5_err", stats["top5_err"], cur_epoch)
    if writer is not None and "map" in stats:
        writer.add_scalar("Val/mAP", stats["map"], cur_epoch)
    return stats


class _WithBoxes(nn.Module):
    """Adapts a detection model to fvcore's precise BN, which calls model(batch) with one argument."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch):
        inputs, boxes = batch
        return self.model(inputs, boxes)


def _precise_bn_inputs(cfg: CfgNode, loader, num_iters: int) -> Iterator:
    produced = 0
    while produced < num_iters:
        for inputs, labels, _, meta in loader:
            inputs, _, meta = batch_to_device(cfg, inputs, labels, meta)
            yield (inputs, meta["boxes"]) if cfg.DETECTION.ENABLE else inputs
            produced += 1
            if produced >= num_iters:
                return


def calculate_and_update_precise_bn(cfg: CfgNode, loader, model: nn.Module, num_iters: int) -> None:
    """Recompute BN running statistics as true averages over `num_iters` training batches (fvcore)."""
    from fvcore.nn.precise_bn import update_bn_stats

    target = _WithBoxes(model) if cfg.DETECTION.ENABLE else model
    update_bn_stats(target, _precise_bn_inputs(cfg, loader, num_iters), num_iters)


def _make_scaler(cfg: CfgNode) -> torch.amp.GradScaler:
    device_type = "cuda" if cfg.NUM_GPUS > 0 else "cpu"
    fp16 = cfg.TRAIN.MIXED_PRECISION and cfg.TRAIN.MIXED_PRECISION_DTYPE == "float16"
    return torch.amp.GradScaler(device_type, enabled=fp16)


def _build_loaders(cfg: CfgNode):
    """Train, val (None without TRAIN.EVAL_PERIOD) and precise-BN loaders, and their meters."""
    train_loader = construct_loader(cfg, "train")
    val_loader = construct_loader(cfg, "val") if cfg.TRAIN.EVAL_PERIOD > 0 else None
    precise_bn_loader = (
        construct_loader(cfg, "train", is_precise_bn=True) if cfg.BN.USE_PRECISE_STATS else None
    )
    train_meter = TrainMeter(len(train_loader), cfg)
    val_meter = ValMeter(len(val_loader), cfg) if val_loader is not None else None
    return train_loader, val_loader, precise_bn_loader, train_meter, val_meter


def train(cfg: CfgNode) -> Optional[Dict[str, float]]:
    """Train `cfg`'s model from its start epoch (fresh, resumed or fine-tuned) to SOLVER.MAX_EPOCH.

    With MULTIGRID.LONG_CYCLE / SHORT_CYCLE the run follows ``MultigridPlan``: a rescaled
    solver, and the model, optimizer and loaders rebuilt whenever the epoch's shape changes.
    """
    setup_job(cfg, "train")
    plan = MultigridPlan(cfg)
    cfg = plan.epoch_cfg(0)
    model = prepare_model(cfg, build_model(cfg))
    if cfg.LOG_MODEL_INFO and du.is_master_proc():
        from slowfast.models.stats import log_model_info

        log_model_info(unwrap_model(model), cfg, use_train_input=True)
    optimizer = construct_optimizer(model, cfg)
    scaler = _make_scaler(cfg)
    start = cu.load_train_state(cfg, model, optimizer, scaler)
    start_epoch = start.start_epoch
    rng_states = start.extra.get("rng_states") if start.resumed else None
    if rng_states:
        # Continue the random streams (shuffling, augmentation, dropout) where the saved run left them.
        cu.set_rng_state(rng_states[min(du.get_rank(), len(rng_states) - 1)])
    start_cfg = plan.epoch_cfg(start_epoch)
    if changes_shape(cfg, start_cfg):
        cfg = start_cfg
        model, optimizer = rebuild_for_shape(cfg, model, optimizer)
    plan.log_shape(cfg, start_epoch)

    train_loader, val_loader, precise_bn_loader, train_meter, val_meter = _build_loaders(cfg)
    writer = build_tensorboard_writer(cfg, "train")

    guard = PreemptionGuard(cfg, start)
    guard.install()
    logger.info("Start epoch: %d", start_epoch + 1)
    last_stats: Optional[Dict[str, float]] = None
    for cur_epoch in range(start_epoch, cfg.SOLVER.MAX_EPOCH):
        epoch_cfg = plan.epoch_cfg(cur_epoch)
        if changes_shape(cfg, epoch_cfg):
            cfg = guard.cfg = epoch_cfg
            model, optimizer = rebuild_for_shape(cfg, model, optimizer)
            plan.log_shape(cfg, cur_epoch)
            train_loader, val_loader, precise_bn_loader, train_meter, val_meter = _build_loaders(cfg)
        shuffle_dataset(train_loader, cur_epoch)
        train_epoch(train_loader, model, optimizer, scaler, train_meter, cur_epoch, cfg, writer, guard)
        evaluate = val_loader is not None and plan.is_eval_epoch(cur_epoch)
        checkpoint = plan.is_checkpoint_epoch(cur_epoch)
        if cfg.BN.USE_PRECISE_STATS and (evaluate or checkpoint):
            calculate_and_update_precise_bn(
                cfg, precise_bn_loader, model, min(cfg.BN.NUM_BATCHES_PRECISE, len(precise_bn_loader))
            )
        _aggregate_sub_bn_stats(model)
        if checkpoint:
            rng = cu.gather_rng_states()
            cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, cur_epoch, cfg, scaler=scaler, extra={"rng_states": rng})
            guard.prune()
        if evaluate:
            # Validation must not shift the training random streams: a resumed run would diverge.
            rng = cu.get_rng_state()
            last_stats = eval_epoch(val_loader, model, val_meter, cur_epoch, cfg, writer)
            cu.set_rng_state(rng)
    guard.uninstall()
    diff = du.assert_replicas_in_sync(unwrap_model(model))
    logger.info("Training done; weights identical on all %d processes (max checksum difference %g).", du.get_world_size(), diff)
    if writer is not None:
        writer.close()
    return last_stats


def _aggregate_sub_bn_stats(model: nn.Module) -> None:
    """Fold the per-split statistics of sub-batch BN layers into their inference BN."""
    for module in unwrap_model(model).modules():
        aggregate = getattr(module, "aggregate_stats", None)
        if callable(aggregate):
            aggregate()

