"""Every model in MODEL_REGISTRY, as a tiny model: forward, backward, output shapes, train/eval.

timm-style: parametrised over the registry itself (aliases of one class counted once), so a
newly registered model fails here until it has a tiny config in TINY_CONFIGS.
"""

from typing import Callable, Dict, List

import pytest
import torch
from model_testing import load_cfg, pathways, tiny_mvit_opts, tiny_opts

from slowfast.models import MODEL_REGISTRY

NUM_CLASSES = 5


def _tiny_x3d() -> List[str]:
    return [
        "MODEL.MODEL_NAME", "X3D", "MODEL.ARCH", "x3d", "MODEL.NUM_CLASSES", str(NUM_CLASSES),
        "MODEL.DROPCONNECT_RATE", "0.2", "RESNET.TRANS_FUNC", "x3d_transform",
        "X3D.WIDTH_FACTOR", "1.0", "X3D.DEPTH_FACTOR", "1.0", "X3D.BOTTLENECK_FACTOR", "2.25", "X3D.DIM_C5", "64",
        "DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "DATA.INPUT_CHANNEL_NUM", "[3]",
    ]  # fmt: skip


# One factory per registered class name: the config overrides of a tiny instance.
TINY_CONFIGS: Dict[str, Callable[[], List[str]]] = {
    "ResNet": lambda: tiny_opts("i3d"),
    "ResNet_nopool": lambda: tiny_opts("c2d") + ["MODEL.MODEL_NAME", "ResNet_nopool"],
    "SlowFast": lambda: tiny_opts("slowfast"),
    "X3D": _tiny_x3d,
    "MViT": tiny_mvit_opts,
}


def _registered_classes() -> List[str]:
    """Registered names, one per model class (the first name a class is registered under).

    PySlowFast's PTV* names are builder functions that build one of these classes (or refuse);
    test_ptv_names_are_aliases_or_refusals checks them.
    """
    seen, names = set(), []
    for name, cls in sorted(MODEL_REGISTRY, key=lambda item: item[0]):
        if isinstance(cls, type) and cls not in seen:
            seen.add(cls)
            names.append(name)
    return names


REGISTERED = _registered_classes()


def test_ptv_names_are_aliases_or_refusals():
    from slowfast.models.ptv_aliases import ALIASES, REFUSED

    builders = sorted(name for name, obj in MODEL_REGISTRY if not isinstance(obj, type))
    assert builders == sorted(set(ALIASES) | set(REFUSED))
    assert set(ALIASES.values()) <= set(REGISTERED)


def test_every_registered_model_has_a_tiny_config():
    assert sorted(set(REGISTERED) - set(TINY_CONFIGS)) == [], "add a tiny config factory to TINY_CONFIGS"
    assert sorted(set(TINY_CONFIGS) - set(REGISTERED)) == [], "TINY_CONFIGS names a model that is not registered"


@pytest.mark.parametrize("name", REGISTERED)
def test_tiny_model_trains_and_evaluates(name):
    if name not in TINY_CONFIGS:
        pytest.fail(f"{name} is registered but has no entry in TINY_CONFIGS")
    cfg = load_cfg(opts=TINY_CONFIGS[name]())
    assert cfg.MODEL.MODEL_NAME == name
    torch.manual_seed(0)
    model = MODEL_REGISTRY.get(name)(cfg)
    x = pathways(cfg, batch=2)

    model.train()
    logits = model(x)
    assert logits.shape == (2, NUM_CLASSES)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == [], f"parameters without gradient: {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    model.eval()
    with torch.no_grad():
        probs = model(x)
        again = model(x)
    assert probs.shape == (2, NUM_CLASSES)
    torch.testing.assert_close(probs, again)  # eval is deterministic (no dropout / drop path)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))  # softmax scores averaged over locations
    assert not torch.allclose(probs, torch.softmax(logits.detach(), 1)), "train and eval mode should differ (BN, dropout)"
