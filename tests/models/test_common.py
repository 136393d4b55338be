"""The shared layers of slowfast/models/common.py: the oneDNN Conv3d and its equality with nn.Conv3d."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from slowfast.models.common import Conv3d


@pytest.mark.parametrize(
    "kernel,stride,padding,groups",
    [((1, 1, 1), (1, 1, 1), (0, 0, 0), 1), ((3, 1, 1), (1, 1, 1), (1, 0, 0), 1), ((1, 3, 3), (1, 2, 2), (0, 1, 1), 2),
     ((5, 1, 1), (4, 1, 1), (2, 0, 0), 1)],
)  # fmt: skip
@pytest.mark.parametrize("threads", [1, 2])
def test_onednn_conv3d_matches_nn_conv3d_forward_and_backward(kernel, stride, padding, groups, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        ours = Conv3d(8, 6, kernel, stride=stride, padding=padding, groups=groups, bias=True)
        plain = nn.Conv3d(8, 6, kernel, stride=stride, padding=padding, groups=groups, bias=True)
        plain.load_state_dict(ours.state_dict())
        x = torch.randn(1, 8, 8, 10, 10, requires_grad=True)
        y_ours, y_plain = ours(x), plain(x)
        torch.testing.assert_close(y_ours, y_plain, rtol=1e-5, atol=1e-5)
        g = torch.randn_like(y_ours)
        gx_ours, gw_ours = torch.autograd.grad(y_ours, (x, ours.weight), g)
        gx_plain, gw_plain = torch.autograd.grad(y_plain, (x, plain.weight), g)
        torch.testing.assert_close(gx_ours, gx_plain, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(gw_ours, gw_plain, rtol=1e-5, atol=1e-4)
    finally:
        torch.set_num_threads(before)


def test_onednn_conv3d_keeps_channels_last_and_the_nn_conv3d_layout():
    torch.manual_seed(0)
    conv = Conv3d(4, 8, (3, 1, 1), padding=(1, 0, 0), bias=False)
    assert isinstance(conv, nn.Conv3d) and list(conv.state_dict()) == ["weight"]
    x = torch.randn(2, 4, 4, 6, 6).contiguous(memory_format=torch.channels_last_3d)
    with torch.no_grad():
        y = conv.to(memory_format=torch.channels_last_3d)(x)
        torch.testing.assert_close(y, F.conv3d(x, conv.weight, None, 1, (1, 0, 0)), rtol=1e-5, atol=1e-5)


def test_onednn_conv3d_leaves_autocast_to_pytorch():
    conv = Conv3d(4, 8, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(torch.randn(1, 4, 2, 4, 4))
    assert y.dtype == torch.bfloat16
