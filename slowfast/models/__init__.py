"""Video models: the registry, `build_model(cfg)`, the ResNet/SlowFast and X3D families."""

from slowfast.models.build import MODEL_REGISTRY, build_model
from slowfast.models.mvit import MViT  # noqa: F401  (registers the model)
from slowfast.models.video_model_builder import ResNet, ResNet_nopool, SlowFast  # noqa: F401  (registers the models)
from slowfast.models.x3d import X3D  # noqa: F401  (registers the model)
from slowfast.models import ptv_aliases  # noqa: F401,E402  (registers PySlowFast's PTV* names)

__all__ = ["MODEL_REGISTRY", "MViT", "ResNet", "ResNet_nopool", "SlowFast", "X3D", "build_model"]
