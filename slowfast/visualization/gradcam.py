"""Grad-CAM (Selvaraju et al., 2017) for video models: one target layer per input pathway.

The map of pathway ``p`` weighs the channels of layer ``LAYER_LIST[p]``'s output by the mean of
the score's gradient over each frame's spatial positions, sums them, keeps the positive part,
upsamples it (trilinear) to the pathway's ``T x H x W`` input and scales it to [0, 1] per clip.
Layers are found by name (``s5/pathway0_res1`` or ``s5.pathway0_res1``), so any architecture
whose target layers output ``B x C x T x H x W`` maps works (ResNet, SlowFast, X3D; for MViT
choose a layer whose output is a 5-D map).
"""

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from slowfast.visualization.utils import Colormap, get_layer, revert_normalize


class GradCAM:
    """Grad-CAM maps of a model's inputs for the layers ``target_layers`` (one per pathway)."""

    def __init__(self, model: nn.Module, target_layers: Sequence[str], *, colormap: str = "viridis") -> None:
        self.model = model
        self.target_layers = list(target_layers)
        self.colormap = Colormap(colormap, "TENSORBOARD.MODEL_VIS.GRAD_CAM.COLORMAP")
        self._activations: Dict[str, torch.Tensor] = {}
        self._gradients: Dict[str, torch.Tensor] = {}
        self._handles = [get_layer(model, name).register_forward_hook(self._hook(name)) for name in self.target_layers]

    def _hook(self, name: str):
        def forward_hook(module, inputs, output):
            if not isinstance(output, torch.Tensor) or output.dim() != 5:
                raise ValueError(
                    f"Grad-CAM layer '{name}' must output a B x C x T x H x W map, got "
                    f"{tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__}"
                )
            self._activations[name] = output.detach()
            if output.requires_grad:
                output.register_hook(lambda grad: self._gradients.__setitem__(name, grad.detach()))

        return forward_hook

    def remove(self) -> None:
        """Remove the hooks from the model."""
        for handle in self._handles:
            handle.remove()

    def localization_maps(
        self, inputs: List[torch.Tensor], labels: Optional[torch.Tensor] = None
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Maps ``[B, T, H, W]`` in [0, 1] per pathway, and the model's scores.

        The score explained is that of ``labels`` (true labels) when given, else the top prediction.
        """
        if len(inputs) != len(self.target_layers):
            raise ValueError(
                f"TENSORBOARD.MODEL_VIS.GRAD_CAM.LAYER_LIST has {len(self.target_layers)} layer(s) but the model "
                f"takes {len(inputs)} pathway(s): give one layer per pathway"
            )
        was_training = self.model.training
        self.model.eval()
        self._activations.clear()
        self._gradients.clear()
        try:
            with torch.enable_grad():
                preds = self.model([x.detach().clone().requires_grad_(True) for x in inputs])
                if labels is None:
                    score = preds.max(dim=-1).values
                else:
                    score = preds.gather(1, labels.view(-1, 1).long()).squeeze(1)
                self.model.zero_grad(set_to_none=True)
                score.sum().backward()
        finally:
            self.model.train(was_training)
        maps = []
        for inp, name in zip(inputs, self.target_layers):
            acts, grads = self._activations[name], self._gradients[name]
            weights = grads.mean(dim=(3, 4), keepdim=True)  # B x C x T' x 1 x 1
            cam = F.relu((weights * acts).sum(dim=1, keepdim=True))
            cam = F.interpolate(cam.float(), size=tuple(inp.shape[2:]), mode="trilinear", align_corners=False)
            flat = cam.flatten(1)
            low, high = flat.min(dim=1).values, flat.max(dim=1).values
            cam = (cam - low.view(-1, 1, 1, 1, 1)) / (high - low + 1e-6).view(-1, 1, 1, 1, 1)
            maps.append(cam.squeeze(1).detach())
        self.model.zero_grad(set_to_none=True)
        return maps, preds.detach()

    def overlay(self, inputs: List[torch.Tensor], maps: List[torch.Tensor], mean: Sequence[float],
                std: Sequence[float], alpha: float = 0.5) -> List[torch.Tensor]:
        """Heat maps blended over the de-normalised frames: ``[B, T, 3, H, W]`` floats in [0, 1] per pathway."""
        out = []
        for inp, cam in zip(inputs, maps):
            frames = revert_normalize(inp.detach().float().cpu().permute(0, 2, 3, 4, 1), mean, std)
            heat = torch.from_numpy(self.colormap(cam.cpu().numpy())).float()
            out.append((alpha * heat + (1 - alpha) * frames).permute(0, 1, 4, 2, 3).contiguous())
        return out
