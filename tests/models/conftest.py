"""Shared fixtures of the model tests: an RoIAlign stand-in while the real one is missing."""

import importlib
import sys
import types

import pytest
import torch
import torch.nn.functional as F


def _stand_in_roi_align() -> types.ModuleType:
    """A differentiable RoIAlign substitute with the agreed interface (used only when the real
    slowfast.models.roi_align is missing): crops nothing, pools each box's whole image."""
    module = types.ModuleType("slowfast.models.roi_align")

    class ROIAlign(torch.nn.Module):
        def __init__(self, output_size, spatial_scale, sampling_ratio, aligned):
            super().__init__()
            self.output_size = tuple(output_size)
            self.spatial_scale = spatial_scale
            self.sampling_ratio = sampling_ratio
            self.aligned = aligned

        def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
            return F.adaptive_avg_pool2d(input[rois[:, 0].long()], self.output_size)

    module.ROIAlign = ROIAlign
    return module


@pytest.fixture(scope="session", autouse=True)
def roi_align_module():
    """slowfast.models.roi_align, or a stand-in while the real one has not landed."""
    patch = pytest.MonkeyPatch()
    try:
        module = importlib.import_module("slowfast.models.roi_align")
    except ImportError:
        module = _stand_in_roi_align()
        patch.setitem(sys.modules, "slowfast.models.roi_align", module)
    yield module
    patch.undo()


@pytest.fixture(scope="module", autouse=True)
def single_cpu_thread():
    """Run the model tests on one CPU thread, restored afterwards.

    The tiny models' ops are too small to gain from intra-op threads: with two threads on a busy
    2-core machine they ran 10x slower, and even the full-size FLOP counts ran faster on one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
