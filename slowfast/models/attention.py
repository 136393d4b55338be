"""Pooling attention of the Multiscale Vision Transformers (MViT v1 and v2).

Tokens are (B, [cls] + T*H*W, C). Pooling (conv, avg or max over T, H, W) shrinks the query
sequence (resolution change) and the key/value sequences (cheaper attention); the class token,
when present, is set aside during pooling and put back in front. MViTv2 adds a decomposed
relative position bias (one table per axis, added to the logits of the patch tokens) and a
residual connection from the pooled query to the attention output.
"""

from typing import Callable, List, Optional, Sequence, Tuple

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from slowfast.models.common import DropPath

POOL_MODES = ("conv", "conv_unshared", "avg", "max")


def attention_pool(
    tensor: torch.Tensor,
    pool: Optional[nn.Module],
    thw: Sequence[int],
    *,
    has_cls_embed: bool,
    norm: Optional[nn.Module] = None,
) -> Tuple[torch.Tensor, List[int]]:
    """Pool the patch tokens of `tensor` ((B, N, L, C) or (B, L, C)) over their T*H*W grid.

    Returns the pooled tensor (same rank, class token first again) and its new [T, H, W]. The
    optional `norm` (LayerNorm over C) runs after the class token is put back.
    """
    if pool is None:
        return tensor, list(thw)
    ndim = tensor.ndim
    if ndim == 3:
        tensor = tensor.unsqueeze(1)
    elif ndim != 4:
        raise ValueError(f"attention_pool takes a 3-D or 4-D token tensor, got shape {tuple(tensor.shape)}")
    if has_cls_embed:
        cls_tok, tensor = tensor[:, :, :1, :], tensor[:, :, 1:, :]
    b, n, _, c = tensor.shape
    t, h, w = thw
    tensor = tensor.reshape(b * n, t, h, w, c).permute(0, 4, 1, 2, 3).contiguous()
    tensor = pool(tensor)
    new_thw = list(tensor.shape[2:])
    tensor = tensor.reshape(b, n, c, -1).transpose(2, 3)
    if has_cls_embed:
        tensor = torch.cat((cls_tok, tensor), dim=2)
    if norm is not None:
        tensor = norm(tensor)
    if ndim == 3:
        tensor = tensor.squeeze(1)
    return tensor, new_thw


def resize_rel_pos(table: torch.Tensor, length: int) -> torch.Tensor:
    """A relative-position table (L, C) resampled linearly to `length` rows (unchanged if equal)."""
    if table.shape[0] == length:
        return table
    resized = F.interpolate(table.reshape(1, table.shape[0], -1).permute(0, 2, 1), size=length, mode="linear")
    return resized.reshape(-1, length).permute(1, 0)


def _rel_distance(q_len: int, k_len: int) -> torch.Tensor:
    """Index into a (2*max-1)-row table for each (query, key) pair, scaling the coarser axis."""
    q_ratio = max(k_len / q_len, 1.0)
    k_ratio = max(q_len / k_len, 1.0)
    dist = torch.arange(q_len)[:, None] * q_ratio - torch.arange(k_len)[None, :] * k_ratio
    dist += (k_len - 1) * k_ratio
    return dist.long()


def add_rel_pos_spatial(
    attn: torch.Tensor,
    q: torch.Tensor,
    *,
    has_cls_embed: bool,
    q_shape: Sequence[int],
    k_shape: Sequence[int],
    rel_pos_h: torch.Tensor,
    rel_pos_w: torch.Tensor,
) -> torch.Tensor:
    """Add the decomposed H and W relative position bias (q . R_h + q . R_w) to `attn` in place."""
    start = 1 if has_cls_embed else 0
    q_t, q_h, q_w = q_shape
    k_t, k_h, k_w = k_shape
    r_h = resize_rel_pos(rel_pos_h, 2 * max(q_h, k_h) - 1)[_rel_distance(q_h, k_h)]
    r_w = resize_rel_pos(rel_pos_w, 2 * max(q_w, k_w) - 1)[_rel_distance(q_w, k_w)]
    b, heads, _, dim = q.shape
    r_q = q[:, :, start:].reshape(b, heads, q_t, q_h, q_w, dim)
    rel_h = torch.einsum("bythwc,hkc->bythwk", r_q, r_h)
    rel_w = torch.einsum("bythwc,wkc->bythwk", r_q, r_w)
    attn[:, :, start:, start:] = (
        attn[:, :, start:, start:].view(b, -1, q_t, q_h, q_w, k_t, k_h, k_w)
        + rel_h[:, :, :, :, :, None, :, None]
        + rel_w[:, :, :, :, :, None, None, :]
    ).view(b, -1, q_t * q_h * q_w, k_t * k_h * k_w)
    return attn


def add_rel_pos_temporal(
    attn: torch.Tensor,
    q: torch.Tensor,
    *,
    has_cls_embed: bool,
    q_shape: Sequence[int],
    k_shape: Sequence[int],
    rel_pos_t: torch.Tensor,
) -> torch.Tensor:
    """Add the temporal relative position bias (q . R_t) to `attn` in place."""
    start = 1 if has_cls_embed else 0
    q_t, q_h, q_w = q_shape
    k_t, k_h, k_w = k_shape
    r_t = resize_rel_pos(rel_pos_t, 2 * max(q_t, k_t) - 1)[_rel_distance(q_t, k_t)]
    b, heads, _, dim = q.shape
    r_q = q[:, :, start:].reshape(b, heads, q_t, q_h, q_w, dim)
    r_q = r_q.permute(2, 0, 1, 3, 4, 5).reshape(q_t, b * heads * q_h * q_w, dim)
    rel = torch.matmul(r_q, r_t.transpose(1, 2)).transpose(0, 1)
    rel = rel.view(b, heads, q_h, q_w, q_t, k_t).permute(0, 1, 4, 2, 3, 5)
    attn[:, :, start:, start:] = (
        attn[:, :, start:, start:].view(b, -1, q_t, q_h, q_w, k_t, k_h, k_w) + rel[:, :, :, :, :, :, None, None]
    ).view(b, -1, q_t * q_h * q_w, k_t * k_h * k_w)
    return attn


class Mlp(nn.Module):
    """fc1 -> activation -> (dropout) -> fc2 -> (dropout), the transformer block's MLP."""

    def __init__(
        self,
        *,
        in_features: int,
        hidden_features: int,
        out_features: int,
        act_layer: Callable[[], nn.Module] = nn.GELU,
        drop_rate: float = 0.0,
    ):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0.0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc1(x))
        if self.drop is not None:
            x = self.drop(x)
        x = self.fc2(x)
        if self.drop is not None:
            x = self.drop(x)
        return x


def _is_identity(kernel: Sequence[int], stride: Sequence[int]) -> bool:
    return math.prod(kernel) == 1 and math.prod(stride) == 1


class MultiScaleAttention(nn.Module):
    """Multi-head attention whose Q, K and V are pooled over the token grid.

    Kernels/strides are per-axis (T, H, W) lists; an empty list, or kernel and stride of all ones,
    means no pooling. With `pool_first` the input is pooled before the (separate) q/k/v
    projections, else after them; `mode` "conv" pools each head with a depthwise Conv3d followed
    by a LayerNorm, "conv_unshared" (pool_first only) one conv over all channels, "avg"/"max" a
    parameter-free pool.
    """

    def __init__(
        self,
        *,
        dim: int,
        dim_out: int,
        input_size: Sequence[int],
        num_heads: int,
        qkv_bias: bool,
        drop_rate: float,
        kernel_q: Sequence[int],
        kernel_kv: Sequence[int],
        stride_q: Sequence[int],
        stride_kv: Sequence[int],
        norm_layer: Callable[[int], nn.Module],
        has_cls_embed: bool,
        mode: str,
        pool_first: bool,
        rel_pos_spatial: bool,
        rel_pos_temporal: bool,
        rel_pos_zero_init: bool,
        residual_pooling: bool,
        separate_qkv: bool,
    ):
        super().__init__()
        if mode not in POOL_MODES:
            raise ValueError(f"MVIT.MODE '{mode}' is not supported; choose one of {POOL_MODES}.")
        if mode == "conv_unshared" and not pool_first:
            raise ValueError("MVIT.MODE 'conv_unshared' needs MVIT.POOL_FIRST True.")
        self.pool_first = pool_first
        self.separate_qkv = separate_qkv
        self.num_heads = num_heads
        self.dim_out = dim_out
        head_dim = dim_out // num_heads
        self.scale = head_dim**-0.5
        self.has_cls_embed = has_cls_embed
        self.mode = mode
        self.residual_pooling = residual_pooling
        pad_q = [k // 2 for k in kernel_q]
        pad_kv = [k // 2 for k in kernel_kv]

        if pool_first or separate_qkv:
            self.q = nn.Linear(dim, dim_out, bias=qkv_bias)
            self.k = nn.Linear(dim, dim_out, bias=qkv_bias)
            self.v = nn.Linear(dim, dim_out, bias=qkv_bias)
        else:
            self.qkv = nn.Linear(dim, dim_out * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim_out, dim_out)
        self.proj_drop = nn.Dropout(drop_rate) if drop_rate > 0.0 else None

        pool_q_on = len(kernel_q) > 0 and not _is_identity(kernel_q, stride_q)
        pool_kv_on = len(kernel_kv) > 0 and not _is_identity(kernel_kv, stride_kv)
        self.norm_q = self.norm_k = self.norm_v = None
        if mode in ("avg", "max"):
            pool_op = nn.MaxPool3d if mode == "max" else nn.AvgPool3d
            self.pool_q = pool_op(kernel_q, stride_q, pad_q, ceil_mode=False) if pool_q_on else None
            self.pool_k = pool_op(kernel_kv, stride_kv, pad_kv, ceil_mode=False) if pool_kv_on else None
            self.pool_v = pool_op(kernel_kv, stride_kv, pad_kv, ceil_mode=False) if pool_kv_on else None
        else:
            width = dim if pool_first else dim_out
            dim_conv = width // num_heads if mode == "conv" else width

            def conv(kernel, stride, pad):
                return nn.Conv3d(dim_conv, dim_conv, kernel, stride=stride, padding=pad, groups=dim_conv, bias=False)

            if pool_q_on:
                self.pool_q, self.norm_q = conv(kernel_q, stride_q, pad_q), norm_layer(dim_conv)
            else:
                self.pool_q = None
            if pool_kv_on:
                self.pool_k, self.norm_k = conv(kernel_kv, stride_kv, pad_kv), norm_layer(dim_conv)
                self.pool_v, self.norm_v = conv(kernel_kv, stride_kv, pad_kv), norm_layer(dim_conv)
            else:
                self.pool_k = self.pool_v = None

        self.rel_pos_spatial = rel_pos_spatial
        self.rel_pos_temporal = rel_pos_temporal
        if rel_pos_spatial:
            if input_size[1] != input_size[2]:
                raise ValueError(f"MVIT.REL_POS_SPATIAL needs a square token grid, got H x W {input_size[1:]}.")
            size = input_size[1]
            q_size = size // stride_q[1] if len(stride_q) > 0 else size
            kv_size = size // stride_kv[1] if len(stride_kv) > 0 else size
            length = 2 * max(q_size, kv_size) - 1
            self.rel_pos_h = nn.Parameter(torch.zeros(length, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(length, head_dim))
            if not rel_pos_zero_init:
                nn.init.trunc_normal_(self.rel_pos_h, std=0.02)
                nn.init.trunc_normal_(self.rel_pos_w, std=0.02)
        if rel_pos_temporal:
            self.rel_pos_t = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            if not rel_pos_zero_init:
                nn.init.trunc_normal_(self.rel_pos_t, std=0.02)

    def _heads(self, x: torch.Tensor, proj: nn.Module) -> torch.Tensor:
        b, n, _ = x.shape
        return proj(x).reshape(b, n, self.num_heads, -1).permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor, thw: Sequence[int]) -> Tuple[torch.Tensor, List[int]]:
        b, n, _ = x.shape
        if self.pool_first:
            fold = 1 if self.mode == "conv_unshared" else self.num_heads
            q = k = v = x.reshape(b, n, fold, -1).permute(0, 2, 1, 3)
        elif self.separate_qkv:
            q, k, v = self._heads(x, self.q), self._heads(x, self.k), self._heads(x, self.v)
        else:
            qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]

        cls = self.has_cls_embed
        q, q_shape = attention_pool(q, self.pool_q, thw, has_cls_embed=cls, norm=self.norm_q)
        k, k_shape = attention_pool(k, self.pool_k, thw, has_cls_embed=cls, norm=self.norm_k)
        v, v_shape = attention_pool(v, self.pool_v, thw, has_cls_embed=cls, norm=self.norm_v)

        if self.pool_first:
            extra = 1 if cls else 0
            q = self._heads(q.permute(0, 2, 1, 3).reshape(b, math.prod(q_shape) + extra, -1), self.q)
            v = self._heads(v.permute(0, 2, 1, 3).reshape(b, math.prod(v_shape) + extra, -1), self.v)
            k = self._heads(k.permute(0, 2, 1, 3).reshape(b, math.prod(k_shape) + extra, -1), self.k)

        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.rel_pos_spatial:
            attn = add_rel_pos_spatial(
                attn, q, has_cls_embed=cls, q_shape=q_shape, k_shape=k_shape,
                rel_pos_h=self.rel_pos_h, rel_pos_w=self.rel_pos_w,
            )  # fmt: skip
        if self.rel_pos_temporal:
            attn = add_rel_pos_temporal(
                attn, q, has_cls_embed=cls, q_shape=q_shape, k_shape=k_shape, rel_pos_t=self.rel_pos_t
            )
        attn = attn.softmax(dim=-1)
        x = attn @ v
        if self.residual_pooling:
            if cls:
                x[:, :, 1:, :] += q[:, :, 1:, :]
            else:
                x = x + q
        x = x.transpose(1, 2).reshape(b, -1, self.dim_out)
        x = self.proj(x)
        if self.proj_drop is not None:
            x = self.proj_drop(x)
        return x, q_shape


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block with pooling attention and a max-pooled residual.

    The channel change dim -> dim_out happens in the attention (`dim_mul_in_att`, MViTv2; the
    residual is then `proj(norm1(x))`) or at the MLP (MViTv1; residual `proj(norm2(x))`). When
    the query is strided the residual is max-pooled with kernel stride+1 (1 where the stride is 1).
    """

    def __init__(
        self,
        *,
        dim: int,
        dim_out: int,
        num_heads: int,
        input_size: Sequence[int],
        mlp_ratio: float,
        qkv_bias: bool,
        drop_rate: float,
        drop_path: float,
        layer_scale_init_value: float,
        norm_layer: Callable[[int], nn.Module],
        kernel_q: Sequence[int],
        kernel_kv: Sequence[int],
        stride_q: Sequence[int],
        stride_kv: Sequence[int],
        mode: str,
        has_cls_embed: bool,
        pool_first: bool,
        rel_pos_spatial: bool,
        rel_pos_temporal: bool,
        rel_pos_zero_init: bool,
        residual_pooling: bool,
        dim_mul_in_att: bool,
        separate_qkv: bool,
    ):
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.dim_mul_in_att = dim_mul_in_att
        self.has_cls_embed = has_cls_embed
        att_dim = dim_out if dim_mul_in_att else dim
        self.norm1 = norm_layer(dim)
        self.attn = MultiScaleAttention(
            dim=dim, dim_out=att_dim, input_size=input_size, num_heads=num_heads, qkv_bias=qkv_bias,
            drop_rate=drop_rate, kernel_q=kernel_q, kernel_kv=kernel_kv, stride_q=stride_q,
            stride_kv=stride_kv, norm_layer=norm_layer, has_cls_embed=has_cls_embed, mode=mode,
            pool_first=pool_first, rel_pos_spatial=rel_pos_spatial, rel_pos_temporal=rel_pos_temporal,
            rel_pos_zero_init=rel_pos_zero_init, residual_pooling=residual_pooling, separate_qkv=separate_qkv,
        )  # fmt: skip
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(att_dim)
        self.mlp = Mlp(
            in_features=att_dim, hidden_features=int(att_dim * mlp_ratio), out_features=dim_out, drop_rate=drop_rate
        )
        if layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim_out))
        else:
            self.gamma_1 = self.gamma_2 = None
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)
        if len(stride_q) > 0 and math.prod(stride_q) > 1:
            kernel_skip = [s + 1 if s > 1 else s for s in stride_q]
            self.pool_skip = nn.MaxPool3d(kernel_skip, stride_q, [k // 2 for k in kernel_skip], ceil_mode=False)
        else:
            self.pool_skip = None

    def forward(self, x: torch.Tensor, thw: Sequence[int]) -> Tuple[torch.Tensor, List[int]]:
        x_norm = self.norm1(x)
        x_block, thw_new = self.attn(x_norm, thw)
        if self.dim_mul_in_att and self.dim != self.dim_out:
            x = self.proj(x_norm)
        x_res, _ = attention_pool(x, self.pool_skip, thw, has_cls_embed=self.has_cls_embed)
        if self.gamma_1 is not None:
            x_block = self.gamma_1 * x_block
        x = x_res + self.drop_path(x_block)
        x_norm = self.norm2(x)
        x_mlp = self.mlp(x_norm)
        if not self.dim_mul_in_att and self.dim != self.dim_out:
            x = self.proj(x_norm)
        if self.gamma_2 is not None:
            x_mlp = self.gamma_2 * x_mlp
        return x + self.drop_path(x_mlp), thw_new
