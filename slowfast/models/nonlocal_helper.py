"""Non-local block (Wang et al., "Non-local Neural Networks", https://arxiv.org/abs/1711.07971)."""

from typing import Optional, Sequence

import torch
import torch.nn as nn

from slowfast.models.batchnorm_helper import NormModule


class Nonlocal(nn.Module):
    """Residual non-local block: x + BN(conv_out(f(theta(x), phi(x')) g(x'))).

    x' is x max-pooled by `pool_size` (no pooling when it is None or all ones). The affinity
    f is a softmax over theta^T phi / sqrt(dim_inner) ("softmax") or theta^T phi divided by the
    number of pooled positions ("dot_product"). The final BN is marked `transform_final_bn`, so
    RESNET.ZERO_INIT_FINAL_BN starts the block as the identity.
    """

    def __init__(
        self,
        *,
        dim: int,
        dim_inner: int,
        pool_size: Optional[Sequence[int]] = None,
        instantiation: str = "softmax",
        zero_init_final_conv: bool = False,
        zero_init_final_norm: bool = True,
        norm_eps: float = 1e-5,
        norm_momentum: float = 0.1,
        norm_module: NormModule = nn.BatchNorm3d,
    ):
        super().__init__()
        if instantiation not in ("softmax", "dot_product"):
            raise NotImplementedError(
                f"NONLOCAL.INSTANTIATION '{instantiation}' is not supported; choose softmax or dot_product."
            )
        self.dim = dim
        self.dim_inner = dim_inner
        self.instantiation = instantiation
        self.use_pool = pool_size is not None and any(s > 1 for s in pool_size)
        self.conv_theta = nn.Conv3d(dim, dim_inner, kernel_size=1)
        self.conv_phi = nn.Conv3d(dim, dim_inner, kernel_size=1)
        self.conv_g = nn.Conv3d(dim, dim_inner, kernel_size=1)
        self.conv_out = nn.Conv3d(dim_inner, dim, kernel_size=1)
        self.conv_out.zero_init = zero_init_final_conv
        self.bn = norm_module(num_features=dim, eps=norm_eps, momentum=norm_momentum)
        self.bn.transform_final_bn = zero_init_final_norm
        if self.use_pool:
            self.pool = nn.MaxPool3d(kernel_size=list(pool_size), stride=list(pool_size), padding=[0, 0, 0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, h, w = x.shape
        theta = self.conv_theta(x)
        pooled = self.pool(x) if self.use_pool else x
        phi = self.conv_phi(pooled)
        g = self.conv_g(pooled)

        theta = theta.reshape(n, self.dim_inner, -1)
        phi = phi.reshape(n, self.dim_inner, -1)
        g = g.reshape(n, self.dim_inner, -1)

        # (N, C, THW) x (N, C, P) -> (N, THW, P); the same product order as PySlowFast, so
        # the FLOP count matches the released models.
        affinity = torch.matmul(theta.transpose(1, 2), phi)
        if self.instantiation == "softmax":
            affinity = torch.softmax(affinity * (self.dim_inner**-0.5), dim=2)
        else:
            affinity = affinity / affinity.shape[2]
        # (N, C, P) x (N, P, THW) -> (N, C, THW).
        out = torch.matmul(g, affinity.transpose(1, 2)).reshape(n, self.dim_inner, t, h, w)
        return x + self.bn(self.conv_out(out))
