"""PySlowFast's `PTV*` model names (its PyTorchVideo wrappers), as aliases of our equivalent models.

The published `configs/*/pytorchvideo/*.yaml` set MODEL_NAME PTVResNet, PTVSlowFast, PTVX3D, ...
with the usual ARCH/RESNET/SLOWFAST keys. Where we have the architecture the name builds our model
from those keys (its weights are then loaded with CHECKPOINT_TYPE pytorchvideo); the others are
refused with the reason.
"""

from fvcore.common.config import CfgNode

from slowfast.models.build import MODEL_REGISTRY

# PTV name -> our registered model it builds.
ALIASES = {"PTVResNet": "ResNet", "PTVSlowFast": "SlowFast", "PTVX3D": "X3D", "PTVMViT": "MViT"}
# PTV names without an equivalent here, with the reason.
REFUSED = {
    "PTVCSN": "channel-separated (CSN) ResNets are not implemented in this codebase",
    "PTVR2plus1D": "R(2+1)D ResNets are not implemented in this codebase",
}


def _alias(ptv_name: str, target: str):
    def build(cfg: CfgNode):
        if target not in MODEL_REGISTRY:
            raise KeyError(
                f"MODEL.MODEL_NAME {ptv_name} is an alias of {target}, which this build does not provide; "
                f"set MODEL.MODEL_NAME to one of {sorted(k for k, _ in MODEL_REGISTRY)}."
            )
        return MODEL_REGISTRY.get(target)(cfg)

    build.__name__ = ptv_name
    build.__doc__ = f"PySlowFast's {ptv_name}: builds our {target} from the same config keys."
    return build


def _refused(ptv_name: str, reason: str):
    def build(cfg: CfgNode):
        raise NotImplementedError(f"MODEL.MODEL_NAME {ptv_name} is not supported: {reason}.")

    build.__name__ = ptv_name
    return build


for _name, _target in ALIASES.items():
    MODEL_REGISTRY.register(_alias(_name, _target))
for _name, _reason in REFUSED.items():
    MODEL_REGISTRY.register(_refused(_name, _reason))
