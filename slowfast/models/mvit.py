"""Multiscale Vision Transformers, v1 (Fan et al. 2021) and v2 (Li et al. 2022): `MODEL_NAME MViT`.

Conv patch embedding, optional class token and absolute position embeddings (joint or separable
in space and time), a stack of `MultiScaleBlock`s (slowfast/models/attention.py) whose strided
query pooling shrinks the token grid while channels and heads grow at MVIT.DIM_MUL/HEAD_MUL, a
final LayerNorm and `TransformerBasicHead`. Parameter names match PySlowFast's checkpoints.
"""

import functools
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint
from fvcore.common.config import CfgNode

from slowfast.models import head_helper, stem_helper
from slowfast.models.attention import MultiScaleBlock
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.common import round_width

LN_EPS = 1e-6


def _refuse(cfg: CfgNode) -> None:
    """Raise for the MViT options this implementation does not build, naming the key."""
    unsupported = {
        "MVIT.REV.ENABLE": (cfg.MVIT.REV.ENABLE, False),
        "MVIT.USE_FIXED_SINCOS_POS": (cfg.MVIT.USE_FIXED_SINCOS_POS, False),
        "DETECTION.ENABLE": (cfg.DETECTION.ENABLE, False),
        "MVIT.REV.RESPATH_FUSE": (cfg.MVIT.REV.RESPATH_FUSE, "concat"),
        "MVIT.REV.BUFFER_LAYERS": (list(cfg.MVIT.REV.BUFFER_LAYERS), []),
        "MVIT.REV.RES_PATH": (cfg.MVIT.REV.RES_PATH, "conv"),
        "MVIT.REV.PRE_Q_FUSION": (cfg.MVIT.REV.PRE_Q_FUSION, "avg"),
    }
    for key, (value, default) in unsupported.items():
        if value != default:
            raise NotImplementedError(f"{key} {value} is not supported by the MViT model; use {default}.")
    if cfg.MVIT.NORM != "layernorm":
        raise NotImplementedError(f"MVIT.NORM '{cfg.MVIT.NORM}' is not supported; only 'layernorm'.")
    if cfg.DATA.TRAIN_CROP_SIZE != cfg.DATA.TEST_CROP_SIZE:
        raise ValueError(
            f"MViT needs DATA.TRAIN_CROP_SIZE == DATA.TEST_CROP_SIZE (got {cfg.DATA.TRAIN_CROP_SIZE} and "
            f"{cfg.DATA.TEST_CROP_SIZE}): its position tables are sized from the crop."
        )
    dims = 2 if cfg.MVIT.PATCH_2D else 3
    for key in ("PATCH_KERNEL", "PATCH_STRIDE", "PATCH_PADDING"):
        if len(cfg.MVIT[key]) != dims:
            raise ValueError(f"MVIT.{key} needs {dims} entries with MVIT.PATCH_2D {cfg.MVIT.PATCH_2D}, got {cfg.MVIT[key]}.")
    sizes = ([] if cfg.MVIT.PATCH_2D else [cfg.DATA.NUM_FRAMES]) + [cfg.DATA.TRAIN_CROP_SIZE] * 2
    for size, k, s, p in zip(sizes, cfg.MVIT.PATCH_KERNEL, cfg.MVIT.PATCH_STRIDE, cfg.MVIT.PATCH_PADDING):
        if (size + 2 * p - k) // s + 1 != size // s:
            raise ValueError(
                f"MVIT.PATCH_KERNEL {cfg.MVIT.PATCH_KERNEL}, PATCH_STRIDE {cfg.MVIT.PATCH_STRIDE} and PATCH_PADDING "
                f"{cfg.MVIT.PATCH_PADDING} turn an input of {sizes} into a grid other than input // stride; "
                "use padding (kernel - 1) // 2 (e.g. [1, 3, 3] for kernel [3, 7, 7])."
            )


def pooling_schedule(cfg: CfgNode) -> Tuple[List[list], List[list], List[list], List[list]]:
    """Per-block (kernel_q, kernel_kv, stride_q, stride_kv) from the MVIT.POOL_* keys.

    A missing kernel is stride+1 on strided axes (1 elsewhere). POOL_KV_STRIDE_ADAPTIVE, when
    set, replaces POOL_KV_STRIDE: the K/V stride of every block starts at it and is divided by
    each query stride met, so K/V keep about the same size. The config is not modified.
    """
    depth = cfg.MVIT.DEPTH
    kernel = cfg.MVIT.POOL_KVQ_KERNEL

    def default_kernel(stride):
        return list(kernel) if kernel is not None else [s + 1 if s > 1 else s for s in stride]

    kernel_q, kernel_kv = [[] for _ in range(depth)], [[] for _ in range(depth)]
    stride_q, stride_kv = [[] for _ in range(depth)], [[] for _ in range(depth)]
    for entry in cfg.MVIT.POOL_Q_STRIDE:
        if not 0 <= entry[0] < depth:
            raise ValueError(f"MVIT.POOL_Q_STRIDE entry {entry} names block {entry[0]}; MVIT.DEPTH is {depth}.")
        stride_q[entry[0]] = list(entry[1:])
        kernel_q[entry[0]] = default_kernel(entry[1:])
    kv_entries = [list(e) for e in cfg.MVIT.POOL_KV_STRIDE]
    if cfg.MVIT.POOL_KV_STRIDE_ADAPTIVE is not None:
        current = list(cfg.MVIT.POOL_KV_STRIDE_ADAPTIVE)
        kv_entries = []
        for i in range(depth):
            if stride_q[i]:
                current = [max(current[d] // stride_q[i][d], 1) for d in range(len(current))]
            kv_entries.append([i] + current)
    for entry in kv_entries:
        if not 0 <= entry[0] < depth:
            raise ValueError(f"MVIT.POOL_KV_STRIDE entry {entry} names block {entry[0]}; MVIT.DEPTH is {depth}.")
        stride_kv[entry[0]] = list(entry[1:])
        kernel_kv[entry[0]] = default_kernel(entry[1:])
    return kernel_q, kernel_kv, stride_q, stride_kv


@MODEL_REGISTRY.register()
class MViT(nn.Module):
    """MViT v1/v2 for clips (B, 3, T, H, W) or, with MVIT.PATCH_2D, images (B, 3, H, W) or (B, 3, 1, H, W).

    Built for DATA.NUM_FRAMES x DATA.TRAIN_CROP_SIZE^2. Another input size interpolates the
    absolute position embeddings (trilinear) and the relative-position tables (linear), as
    PySlowFast's helpers do. MODEL.ACT_CHECKPOINT recomputes the patch embedding and each block
    in the backward pass (torch.utils.checkpoint) instead of storing their activations.
    """

    def __init__(self, cfg: CfgNode):
        super().__init__()
        _refuse(cfg)
        m = cfg.MVIT
        self.cfg = cfg
        self.use_2d_patch = m.PATCH_2D
        self.patch_stride = ([1] if m.PATCH_2D else []) + list(m.PATCH_STRIDE)
        self.input_dims = [cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TRAIN_CROP_SIZE]
        self.patch_dims = [d // s for d, s in zip(self.input_dims, self.patch_stride)]
        if min(self.patch_dims) < 1:
            raise ValueError(
                f"DATA.NUM_FRAMES x TRAIN_CROP_SIZE {self.input_dims} is smaller than MVIT.PATCH_STRIDE {self.patch_stride}."
            )
        self.act_checkpoint = cfg.MODEL.ACT_CHECKPOINT
        self.drop_rate = m.DROPOUT_RATE
        self.cls_embed_on = m.CLS_EMBED_ON
        self.use_mean_pooling = m.USE_MEAN_POOLING
        self.use_abs_pos = m.USE_ABS_POS
        self.sep_pos_embed = m.SEP_POS_EMBED
        self.rel_pos_spatial = m.REL_POS_SPATIAL
        self.rel_pos_temporal = m.REL_POS_TEMPORAL
        self.zero_decay_pos_cls = m.ZERO_DECAY_POS_CLS
        self.depth = m.DEPTH
        norm_layer = functools.partial(nn.LayerNorm, eps=LN_EPS)
        embed_dim = m.EMBED_DIM

        self.patch_embed = stem_helper.PatchEmbed(
            dim_in=cfg.DATA.INPUT_CHANNEL_NUM[0], dim_out=embed_dim, kernel=m.PATCH_KERNEL,
            stride=m.PATCH_STRIDE, padding=m.PATCH_PADDING, conv_2d=m.PATCH_2D,
        )  # fmt: skip
        num_patches = math.prod(self.patch_dims)
        if self.cls_embed_on:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if self.use_abs_pos:
            if self.sep_pos_embed:
                t, h, w = self.patch_dims
                self.pos_embed_spatial = nn.Parameter(torch.zeros(1, h * w, embed_dim))
                self.pos_embed_temporal = nn.Parameter(torch.zeros(1, t, embed_dim))
                if self.cls_embed_on:
                    self.pos_embed_class = nn.Parameter(torch.zeros(1, 1, embed_dim))
            else:
                self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + int(self.cls_embed_on), embed_dim))
        self.pos_drop = nn.Dropout(p=self.drop_rate) if self.drop_rate > 0.0 else None

        depth = m.DEPTH
        dim_mul, head_mul = [1.0] * (depth + 1), [1.0] * (depth + 1)
        for key, table in (("DIM_MUL", dim_mul), ("HEAD_MUL", head_mul)):
            for index, value in m[key]:
                if not 0 <= index <= depth:
                    raise ValueError(f"MVIT.{key} entry {[index, value]} names block {index}; MVIT.DEPTH is {depth}.")
                table[int(index)] = value
        kernel_q, kernel_kv, stride_q, stride_kv = pooling_schedule(cfg)
        self.stride_q, self.stride_kv = stride_q, stride_kv
        dpr = [x.item() for x in torch.linspace(0, m.DROPPATH_RATE, depth)]

        self.norm_stem = norm_layer(embed_dim) if m.NORM_STEM else None
        input_size = list(self.patch_dims)
        num_heads = m.NUM_HEADS
        self.blocks = nn.ModuleList()
        for i in range(depth):
            num_heads = round_width(num_heads, head_mul[i])
            if m.DIM_MUL_IN_ATT:
                dim_out = round_width(embed_dim, dim_mul[i], divisor=round_width(num_heads, head_mul[i]))
            else:
                dim_out = round_width(embed_dim, dim_mul[i + 1], divisor=round_width(num_heads, head_mul[i + 1]))
            self.blocks.append(
                MultiScaleBlock(
                    dim=embed_dim, dim_out=dim_out, num_heads=num_heads, input_size=input_size,
                    mlp_ratio=m.MLP_RATIO, qkv_bias=m.QKV_BIAS, drop_rate=self.drop_rate, drop_path=dpr[i],
                    layer_scale_init_value=m.LAYER_SCALE_INIT_VALUE, norm_layer=norm_layer,
                    kernel_q=kernel_q[i], kernel_kv=kernel_kv[i], stride_q=stride_q[i], stride_kv=stride_kv[i],
                    mode=m.MODE, has_cls_embed=self.cls_embed_on, pool_first=m.POOL_FIRST,
                    rel_pos_spatial=self.rel_pos_spatial, rel_pos_temporal=self.rel_pos_temporal,
                    rel_pos_zero_init=m.REL_POS_ZERO_INIT, residual_pooling=m.RESIDUAL_POOLING,
                    dim_mul_in_att=m.DIM_MUL_IN_ATT, separate_qkv=m.SEPARATE_QKV,
                )  # fmt: skip
            )
            if stride_q[i]:
                input_size = [size // stride for size, stride in zip(input_size, stride_q[i])]
            embed_dim = dim_out
        self.norm = norm_layer(embed_dim)
        self.head = head_helper.TransformerBasicHead(
            dim_in=embed_dim, num_classes=cfg.MODEL.NUM_CLASSES, dropout_rate=cfg.MODEL.DROPOUT_RATE,
            act_func=cfg.MODEL.HEAD_ACT, detach_final_fc=cfg.MODEL.DETACH_FINAL_FC,
        )  # fmt: skip
        self._init_weights(m.HEAD_INIT_SCALE)

    def _init_weights(self, head_init_scale: float) -> None:
        for name in ("pos_embed", "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class", "cls_token"):
            if hasattr(self, name):
                nn.init.trunc_normal_(getattr(self, name), std=0.02)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv3d)):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.constant_(module.bias, 0.02)
            elif isinstance(module, nn.LayerNorm):
                nn.init.constant_(module.bias, 0.02)
                nn.init.constant_(module.weight, 1.0)
        with torch.no_grad():
            self.head.projection.weight.mul_(head_init_scale)
            self.head.projection.bias.mul_(head_init_scale)

    @torch.jit.ignore
    def no_weight_decay(self) -> List[str]:
        """Names PySlowFast keeps out of weight decay (substrings of parameter names).

        Empty unless MVIT.ZERO_DECAY_POS_CLS: then the absolute position embeddings, the
        relative-position tables and the class token that this model has.
        """
        if not self.zero_decay_pos_cls:
            return []
        names = []
        if self.use_abs_pos:
            names += ["pos_embed_spatial", "pos_embed_temporal", "pos_embed_class"] if self.sep_pos_embed else ["pos_embed"]
        if self.rel_pos_spatial:
            names += ["rel_pos_h", "rel_pos_w", "rel_pos_hw"]
        if self.rel_pos_temporal:
            names.append("rel_pos_t")
        if self.cls_embed_on:
            names.append("cls_token")
        return names

    def num_layers(self) -> int:
        """Layer count for layer-wise LR decay: the stem (0), each block (1..DEPTH), the rest."""
        return self.depth + 2

    def layer_id(self, name: str) -> int:
        """Layer of parameter `name` for SOLVER.LAYER_DECAY, as PySlowFast assigns it.

        cls token, position embeddings and patch embedding: 0; `blocks.i.*`: i + 1; the final
        norm and the head: DEPTH + 1. A layer's LR scale is LAYER_DECAY ** (DEPTH + 1 - id).
        """
        if name in ("cls_token", "mask_token") or name.startswith(("pos_embed", "patch_embed")):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.depth + 1

    def _resized_pos_embed(self, pos_embed: torch.Tensor, thw: Sequence[int]) -> torch.Tensor:
        """The absolute position embedding for token grid `thw`, trilinear-resized if needed."""
        if self.cls_embed_on:
            cls_pos, pos_embed = pos_embed[:, :1], pos_embed[:, 1:]
        p_t, p_h, p_w = self.patch_dims
        t, h, w = thw
        if (p_t, p_h, p_w) != (t, h, w):
            grid = pos_embed.reshape(1, p_t, p_h, p_w, -1).permute(0, 4, 1, 2, 3)
            pos_embed = F.interpolate(grid, size=(t, h, w), mode="trilinear").reshape(1, -1, t * h * w).permute(0, 2, 1)
        if self.cls_embed_on:
            pos_embed = torch.cat((cls_pos, pos_embed), dim=1)
        return pos_embed

    def _run(self, module: nn.Module, *args):
        if self.act_checkpoint and self.training and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(module, *args, use_reentrant=False)
        return module(*args)

    def forward(self, inputs: Sequence[torch.Tensor], bboxes: Optional[torch.Tensor] = None) -> torch.Tensor:
        if bboxes is not None:
            raise ValueError("MViT is built without detection (DETECTION.ENABLE False) and takes no boxes.")
        x = inputs[0]
        if self.use_2d_patch and x.ndim == 5 and x.shape[2] == 1:
            x = x.squeeze(2)  # a one-frame clip from a video loader or the FLOP counter
        expected_ndim = 4 if self.use_2d_patch else 5
        if x.ndim != expected_ndim:
            raise ValueError(
                f"MViT with MVIT.PATCH_2D {self.use_2d_patch} takes {expected_ndim}-D input"
                f"{' (or a one-frame clip)' if self.use_2d_patch else ''}, got shape {tuple(x.shape)}."
            )
        x, shape = self._run(self.patch_embed, x)
        thw = [1] + list(shape[-2:]) if self.use_2d_patch else list(shape[-3:])
        b = x.shape[0]
        if self.cls_embed_on:
            x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        if self.use_abs_pos:
            if self.sep_pos_embed:
                p_t, p_h, p_w = self.patch_dims
                pos_embed = self.pos_embed_spatial.repeat(1, p_t, 1) + torch.repeat_interleave(
                    self.pos_embed_temporal, p_h * p_w, dim=1
                )
                if self.cls_embed_on:
                    pos_embed = torch.cat([self.pos_embed_class, pos_embed], 1)
            else:
                pos_embed = self.pos_embed
            x = x + self._resized_pos_embed(pos_embed, thw)
        if self.pos_drop is not None:
            x = self.pos_drop(x)
        if self.norm_stem is not None:
            x = self.norm_stem(x)
        for block in self.blocks:
            x, thw = self._run(block, x, thw)
        if self.use_mean_pooling:
            if self.cls_embed_on:
                x = x[:, 1:]
            x = self.norm(x.mean(1))
        elif self.cls_embed_on:
            x = self.norm(x)[:, 0]
        else:
            x = self.norm(x).mean(1)
        return self.head(x)

