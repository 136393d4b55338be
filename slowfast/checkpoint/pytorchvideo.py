"""PyTorchVideo checkpoints: hub state dicts and PySlowFast's PTV-wrapper checkpoints -> our key names.

A PyTorchVideo model is `Net(blocks=[...])`; PySlowFast's PTV* wrappers hold it as `self.model`, so
their checkpoints carry the same keys under a `model.` prefix (removed first). The family is told
from the keys; each family has its own rules, so X3D and MViT can be added next to the ResNet one.

ResNet family (slow_r50, c2d_r50, i3d_r50, slowfast_r50, slowfast_r101); `B` is a block index of
`blocks`, counted in order among the blocks that hold stages (the stem is s1, the k-th stage
s{k+1}; c2d/i3d put a parameter-free pool block between the first two stages), `K` the pathway
(the single-pathway models have K = 0 and no `multipathway_blocks.K.` part):

    blocks.0[.multipathway_blocks.K].conv.{p}                       s1.pathwayK_stem.conv.{p}
    blocks.0[.multipathway_blocks.K].norm.{bn}                      s1.pathwayK_stem.bn.{bn}
    blocks.B[...].res_blocks.J.branch1_conv.{p}                      sS.pathwayK_resJ.branch1.{p}
    blocks.B[...].res_blocks.J.branch1_norm.{bn}                     sS.pathwayK_resJ.branch1_bn.{bn}
    blocks.B[...].res_blocks.J.branch2.conv_X.{p}                    sS.pathwayK_resJ.branch2.X.{p}
    blocks.B[...].res_blocks.J.branch2.norm_X.{bn}                   sS.pathwayK_resJ.branch2.X_bn.{bn}
    blocks.B.multipathway_fusion.conv_fast_to_slow.{p}               sS_fuse.conv_f2s.{p}
    blocks.B.multipathway_fusion.norm.{bn}                           sS_fuse.bn.{bn}
    blocks.H.proj.{p}                                                head.projection.{p}

PyTorchVideo's heads pool and then apply a Linear layer (`proj`); ours is the same Linear, and
`num_batches_tracked` buffers map with their BatchNorm.
"""

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from slowfast.checkpoint.io import CheckpointMismatchError

WRAPPER_PREFIX = "model."

_PARAM = r"(?P<p>weight|bias)"
_BN = r"(?P<bn>weight|bias|running_mean|running_var|num_batches_tracked)"
_PATHWAY = r"(?:\.multipathway_blocks\.(?P<k>\d+))?"

_STEM = [
    (re.compile(rf"blocks\.0{_PATHWAY}\.conv\.{_PARAM}"), "s1.pathway{k}_stem.conv.{p}"),
    (re.compile(rf"blocks\.0{_PATHWAY}\.norm\.{_BN}"), "s1.pathway{k}_stem.bn.{bn}"),
]
_STAGE_BLOCK = re.compile(rf"blocks\.(?P<b>\d+){_PATHWAY}\.res_blocks\.")
_STAGE = [
    (re.compile(rf"blocks\.(?P<b>\d+){_PATHWAY}\.res_blocks\.(?P<j>\d+)\.branch1_conv\.{_PARAM}"),
     "s{s}.pathway{k}_res{j}.branch1.{p}"),
    (re.compile(rf"blocks\.(?P<b>\d+){_PATHWAY}\.res_blocks\.(?P<j>\d+)\.branch1_norm\.{_BN}"),
     "s{s}.pathway{k}_res{j}.branch1_bn.{bn}"),
    (re.compile(rf"blocks\.(?P<b>\d+){_PATHWAY}\.res_blocks\.(?P<j>\d+)\.branch2\.conv_(?P<x>[abc])\.{_PARAM}"),
     "s{s}.pathway{k}_res{j}.branch2.{x}.{p}"),
    (re.compile(rf"blocks\.(?P<b>\d+){_PATHWAY}\.res_blocks\.(?P<j>\d+)\.branch2\.norm_(?P<x>[abc])\.{_BN}"),
     "s{s}.pathway{k}_res{j}.branch2.{x}_bn.{bn}"),
    (re.compile(rf"blocks\.(?P<b>\d+)\.multipathway_fusion\.conv_fast_to_slow\.{_PARAM}"), "s{s}_fuse.conv_f2s.{p}"),
    (re.compile(rf"blocks\.(?P<b>\d+)\.multipathway_fusion\.norm\.{_BN}"), "s{s}_fuse.bn.{bn}"),
]
_HEAD = re.compile(rf"blocks\.(?P<b>\d+)\.proj\.{_PARAM}")


class UnsupportedPyTorchVideoModel(CheckpointMismatchError):
    """A PyTorchVideo family whose conversion to our layout is not (yet) written."""


@dataclass(frozen=True)
class Family:
    """One PyTorchVideo model family: how to recognise its keys and how to convert them.

    `convert` is None for a family that is recognised but not supported; `reason` then says why.
    """

    name: str
    detect: Callable[[Sequence[str]], bool]
    convert: Optional[Callable[[Sequence[str]], Dict[str, str]]] = None
    reason: str = ""


def _stage_numbers(keys: Sequence[str]) -> Dict[int, int]:
    """Block index -> our stage number: the stem block is 1, the blocks holding stages 2, 3, ..."""
    blocks = sorted({int(m["b"]) for m in map(_STAGE_BLOCK.match, keys) if m})
    numbers = {0: 1}
    numbers.update({b: i + 2 for i, b in enumerate(blocks)})
    return numbers


def _convert_resnet(keys: Sequence[str]) -> Dict[str, str]:
    stages = _stage_numbers(keys)
    names: Dict[str, str] = {}
    for key in keys:
        target = _convert_resnet_key(key, stages)
        if target is not None:
            names[key] = target
    return names


def _convert_resnet_key(key: str, stages: Mapping[int, int]) -> Optional[str]:
    m = _HEAD.fullmatch(key)
    if m:
        return f"head.projection.{m['p']}"
    for pattern, target in _STEM:
        m = pattern.fullmatch(key)
        if m:
            parts = m.groupdict()
            return target.format(**{**parts, "k": parts["k"] or "0"})
    for pattern, target in _STAGE:
        m = pattern.fullmatch(key)
        if m and int(m["b"]) in stages:
            parts = m.groupdict()
            return target.format(**{**parts, "s": stages[int(m["b"])], "k": parts.get("k") or "0"})
    return None


def _has(fragment: str) -> Callable[[Sequence[str]], bool]:
    return lambda keys: any(fragment in k for k in keys)


_NOT_YET = (
    "PyTorchVideo {name} checkpoints are not supported yet: slowfast.checkpoint.pytorchvideo converts the "
    "ResNet family (slow_r50, c2d_r50, i3d_r50, slowfast_r50, slowfast_r101) only."
)

# Most specific first: X3D and CSN/R(2+1)D blocks also hold `res_blocks`.
FAMILIES: List[Family] = [
    Family("MViT", _has("cls_positional_encoding"), reason=_NOT_YET.format(name="MViT")),
    Family("MViT", _has("patch_embed"), reason=_NOT_YET.format(name="MViT")),
    Family("X3D", _has(".conv_t."), reason=_NOT_YET.format(name="X3D, CSN or R(2+1)D")),
    Family("X3D", _has(".pool.pre_conv."), reason=_NOT_YET.format(name="X3D")),
    Family("ResNet", _has(".res_blocks."), convert=_convert_resnet),
]


def strip_wrapper_prefix(state: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """Remove the PTV wrappers' `model.` prefix when every key has it; else return the keys as they are."""
    if state and all(k.startswith(WRAPPER_PREFIX) for k in state):
        return OrderedDict((k[len(WRAPPER_PREFIX):], v) for k, v in state.items())
    return OrderedDict(state)


def detect_family(keys: Sequence[str], source: str = "checkpoint") -> Family:
    """The family of a PTV state dict's keys; raises UnsupportedPyTorchVideoModel for families not converted."""
    for family in FAMILIES:
        if family.detect(keys):
            if family.convert is None:
                raise UnsupportedPyTorchVideoModel(f"{source}: {family.reason}")
            return family
    raise CheckpointMismatchError(
        f"{source} does not look like a PyTorchVideo state dict (no 'blocks.N.res_blocks' keys; first keys "
        f"{list(keys)[:5]}). Use CHECKPOINT_TYPE pytorch for checkpoints written by this codebase."
    )


def pytorchvideo_to_state_dict(
    state: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> Tuple["OrderedDict[str, torch.Tensor]", Dict[str, str]]:
    """Convert a raw or `model.`-prefixed PTV state dict to our key names.

    Returns:
        state_dict: the converted entries; source_names: our key ->
            the PTV key it came from.
    Raises:
        UnsupportedPyTorchVideoModel for families not converted yet; CheckpointMismatchError when a
        key has no rule.
    """
    state = strip_wrapper_prefix(state)
    keys = list(state)
    family = detect_family(keys, source)
    names = family.convert(keys)
    missed = [k for k in keys if k not in names]
    if missed:
        raise CheckpointMismatchError(
            f"{source}: {len(missed)} PyTorchVideo {family.name} keys have no conversion rule, e.g. {missed[:5]}; "
            "is this a model variant slowfast.checkpoint.pytorchvideo does not know?"
        )
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    source_names: Dict[str, str] = {}
    for key, value in state.items():
        target = names.get(key, key)
        if target in out:
            raise CheckpointMismatchError(
                f"{source}: PyTorchVideo keys {source_names[target]} and {key} both convert to {target}."
            )
        out[target] = value
        source_names[target] = key
    return out, source_names
