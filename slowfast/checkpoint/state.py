"""Model state dicts: unwrapping, Sub-BN key variants, shape-checked matching and the load report."""

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

import torch
import torch.nn as nn

from slowfast.checkpoint.inflate import fit_to_shape
from slowfast.checkpoint.io import CheckpointMismatchError
from slowfast.utils.logging import get_logger
from slowfast.utils.modules import unwrap_model  # noqa: F401  (re-exported by slowfast.checkpoint)

logger = get_logger(__name__)

Shape = Tuple[int, ...]

_SPLIT = ".split_bn."
_INNER = ".bn."
_BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str = "module.") -> "OrderedDict[str, torch.Tensor]":
    """Remove `prefix` from every key when all keys carry it (a state dict saved from a wrapper)."""
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return OrderedDict((k[len(prefix) :], v) for k, v in state_dict.items())
    return OrderedDict(state_dict)


def clear_name_patterns(
    state_dict: Mapping[str, torch.Tensor], patterns: Sequence[str]
) -> "OrderedDict[str, torch.Tensor]":
    """PySlowFast's CHECKPOINT_CLEAR_NAME_PATTERN: drop the first occurrence of each substring from the keys."""
    out = OrderedDict(state_dict)
    for pattern in patterns or ():
        if not pattern:
            continue
        renamed: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        for key, value in out.items():
            new_key = key.replace(pattern, "", 1) if pattern in key else key
            if new_key != key:
                logger.info("Renaming checkpoint key %s -> %s", key, new_key)
            renamed[new_key] = value
        out = renamed
    return out


def _sub_bn_prefixes(keys: Set[str]) -> List[str]:
    """Prefixes P of Sub-BN layers: P.bn.running_mean and P.split_bn.running_mean both present."""
    suffix = _SPLIT + "running_mean"
    return [
        k[: -len(suffix)] for k in keys if k.endswith(suffix) and k[: -len(suffix)] + _INNER + "running_mean" in keys
    ]


def sub_to_normal_bn(state_dict: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """Rewrite Sub-BN entries (P.bn.*, P.split_bn.*) as those of a plain BN layer P, as PySlowFast saves them.

    Running statistics come from the aggregated inference BN (P.bn), the batch counter from the
    training split BN (P.split_bn); BN affine parameters saved as (C, 1, 1, 1) become (C,).
    """
    prefixes = _sub_bn_prefixes(set(state_dict))
    if not prefixes:
        return OrderedDict(state_dict)
    renamed: Dict[str, str] = {}
    for p in prefixes:
        renamed[p + _INNER + "running_mean"] = p + ".running_mean"
        renamed[p + _INNER + "running_var"] = p + ".running_var"
        renamed[p + _SPLIT + "num_batches_tracked"] = p + ".num_batches_tracked"
    dropped = {p + part + stat for p in prefixes for part in (_INNER, _SPLIT) for stat in _BN_STATS}
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, value in state_dict.items():
        if key in renamed:
            out[renamed[key]] = value
        elif key not in dropped:
            out[key] = value
    for p in prefixes:
        for name in ("weight", "bias"):
            value = out.get(f"{p}.{name}")
            if value is not None and value.ndim == 4 and all(d == 1 for d in value.shape[1:]):
                out[f"{p}.{name}"] = value[:, 0, 0, 0]
    return out


def normal_to_sub_bn(
    state_dict: Mapping[str, torch.Tensor], model_keys: Mapping[str, torch.Tensor]
) -> "OrderedDict[str, torch.Tensor]":
    """Map plain-BN entries of a checkpoint onto the Sub-BN layers of a model (the inverse of sub_to_normal_bn).

    The split BN's statistics (C * num_splits long) are the plain statistics repeated num_splits times.
    """
    out = OrderedDict(state_dict)
    for p in _sub_bn_prefixes(set(model_keys)):
        for stat in _BN_STATS:
            plain = f"{p}.{stat}"
            if plain not in out or f"{p}{_SPLIT}{stat}" in out:
                continue
            value = out.pop(plain)
            out[f"{p}{_INNER}{stat}"] = value
            split_target = model_keys[f"{p}{_SPLIT}{stat}"]
            if value.ndim == 1 and split_target.ndim == 1 and split_target.shape[0] % max(value.shape[0], 1) == 0:
                value = value.repeat(split_target.shape[0] // value.shape[0])
            out[f"{p}{_SPLIT}{stat}"] = value
    return out


def model_state_for_saving(model: nn.Module) -> "OrderedDict[str, torch.Tensor]":
    """The state dict to store: no wrapper prefix, Sub-BN layers written as plain BN (PySlowFast's layout)."""
    return sub_to_normal_bn(strip_prefix(unwrap_model(model).state_dict()))


def _is_counter(key: str) -> bool:
    return key.endswith("num_batches_tracked")


@dataclass
class LoadReport:
    """What a load did with every entry: loaded (some adapted: reshaped or inflated), skipped (shape
    mismatch), missing (model entries the checkpoint lacks), unexpected (checkpoint entries the model
    lacks), ignored (Caffe2 solver blobs)."""

    source: str
    loaded: List[str] = field(default_factory=list)
    adapted: List[str] = field(default_factory=list)
    inflated: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, Shape, Shape]] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    source_names: Dict[str, str] = field(default_factory=dict)
    num_model_entries: int = 0
    num_checkpoint_entries: int = 0
    model_counters: int = 0
    checkpoint_counters: int = 0

    @property
    def skipped_keys(self) -> List[str]:
        return [k for k, _, _ in self.skipped]

    @property
    def is_complete(self) -> bool:
        """Every model entry (batch counters aside) received a value."""
        return not self.skipped and not self.missing

    def display_name(self, key: str) -> str:
        """`key`, preceded by its name in the checkpoint when that differs (Caffe2 blobs)."""
        src = self.source_names.get(key)
        return f"{src} -> {key}" if src and src != key else key

    def summary(self) -> str:
        return (
            f"{len(self.loaded)} of {self.num_model_entries} model entries loaded from {self.source} "
            f"({len(self.adapted)} adapted), {len(self.skipped)} skipped for a shape mismatch, "
            f"{len(self.missing)} missing from the checkpoint, {len(self.unexpected)} checkpoint entries unused"
            + (f", {len(self.ignored)} solver entries ignored" if self.ignored else "")
        )

    def log(self, log: Optional[logging.Logger] = None) -> None:
        """Log the summary, then every key by outcome (loaded keys in one line)."""
        log = log or logger
        log.info("Checkpoint load: %s.", self.summary())
        if self.loaded:
            log.info("Loaded: %s", ", ".join(self.loaded))
        for line in self.adapted:
            log.info("Adapted: %s", line)
        for key, ckpt_shape, model_shape in self.skipped:
            log.warning(
                "Skipped %s: checkpoint shape %s, model shape %s",
                self.display_name(key),
                tuple(ckpt_shape),
                tuple(model_shape),
            )
        for key in self.missing:
            log.warning("Missing (left at initialisation): %s", key)
        for key in self.unexpected:
            log.warning("Unused checkpoint entry: %s", self.display_name(key))
        if self.ignored:
            log.info("Ignored solver entries: %s", ", ".join(self.ignored))


def match_state_dict(
    checkpoint_sd: Mapping[str, torch.Tensor],
    model_sd: Mapping[str, torch.Tensor],
    *,
    source: str,
    inflate: bool = False,
    source_names: Optional[Dict[str, str]] = None,
    ignored: Sequence[str] = (),
) -> Tuple["OrderedDict[str, torch.Tensor]", LoadReport]:
    """Pair checkpoint entries with model entries by name, checking shapes.

    An entry loads when its shape equals the model's, or differs only by size-1 dimensions, or
    (with `inflate`) is a 2D kernel of a 3D one. Batch counters (num_batches_tracked) absent from
    the checkpoint are not reported missing: old and Caffe2 checkpoints never have them.
    """
    checkpoint_sd = normal_to_sub_bn(sub_to_normal_bn(strip_prefix(checkpoint_sd)), model_sd)
    report = LoadReport(source=source, source_names=dict(source_names or {}), ignored=list(ignored))
    report.num_model_entries = len(model_sd)
    report.num_checkpoint_entries = len(checkpoint_sd)
    report.model_counters = sum(1 for k in model_sd if _is_counter(k))
    report.checkpoint_counters = sum(1 for k in checkpoint_sd if _is_counter(k))
    to_load: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, value in checkpoint_sd.items():
        if key not in model_sd:
            report.unexpected.append(key)
            continue
        target = model_sd[key]
        value = torch.as_tensor(value)
        adapted, how = fit_to_shape(value, tuple(target.shape), inflate=inflate)
        if adapted is None:
            report.skipped.append((key, tuple(value.shape), tuple(target.shape)))
            continue
        if how:
            report.adapted.append(f"{key}: {how} {tuple(value.shape)} -> {tuple(target.shape)}")
        if how == "inflated":
            report.inflated.append(key)
        to_load[key] = adapted
        report.loaded.append(key)
    skipped = set(report.skipped_keys)
    report.missing = [k for k in model_sd if k not in to_load and k not in skipped and not _is_counter(k)]
    return to_load, report


def _few(keys: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" ... ({len(keys) - n} more)" if len(keys) > n else "") if keys else "none"


def check_match(report: LoadReport, *, strict: bool = False, min_match_fraction: float = 0.2) -> None:
    """Refuse a checkpoint that barely fits the model, and (strict) one that leaves model entries unset.

    The fit is the larger of: matched / model entries and matched / checkpoint entries, so a
    backbone-only checkpoint fits a full model; a checkpoint of another architecture does not.
    """
    matched = sum(1 for k in report.loaded if not _is_counter(k))
    in_model = report.num_model_entries - report.model_counters
    in_checkpoint = report.num_checkpoint_entries - report.checkpoint_counters
    fit = max(matched / max(in_model, 1), matched / max(in_checkpoint, 1))
    if matched == 0 or fit < min_match_fraction:
        shapes = [f"{report.display_name(k)} {a} vs {b}" for k, a, b in report.skipped]
        unexpected = [report.display_name(k) for k in report.unexpected]
        raise CheckpointMismatchError(
            f"Checkpoint {report.source} does not fit this model: {matched} of its {in_checkpoint} weights match "
            f"the model's {in_model} by name and shape; is it a checkpoint of another architecture (or does it "
            f"need TRAIN.CHECKPOINT_TYPE caffe2 or TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN)? Unexpected keys: "
            f"{_few(unexpected)}. Missing keys: {_few(report.missing)}. Shape mismatches: {_few(shapes)}."
        )
    if strict and not report.is_complete:
        shapes = [f"{report.display_name(k)} {a} vs {b}" for k, a, b in report.skipped]
        raise CheckpointMismatchError(
            f"Checkpoint {report.source} does not match this model exactly: shape mismatches: {_few(shapes)}; "
            f"missing keys: {_few(report.missing)}. Was it written for another config (e.g. another "
            "MODEL.NUM_CLASSES)? To fine-tune from it, load it with TRAIN.CHECKPOINT_FILE_PATH (partial loading); "
            "to start a new run, use a new OUTPUT_DIR."
        )


def apply_state_dict(model: nn.Module, to_load: Mapping[str, torch.Tensor]) -> None:
    """Copy the matched entries into the (unwrapped) model."""
    result = unwrap_model(model).load_state_dict(dict(to_load), strict=False)
    if result.unexpected_keys:
        raise CheckpointMismatchError(f"Internal error: unexpected keys after matching: {result.unexpected_keys[:5]}")
