"""Video models: the registry, `build_model(cfg)` and the ResNet/SlowFast family."""

from slowfast.models.build import MODEL_REGISTRY, build_model
from slowfast.models.mvit import MViT  # noqa: F401  (registers the model)
from slowfast.models.video_model_builder import ResNet, SlowFast  # noqa: F401  (registers the models)

__all__ = ["MODEL_REGISTRY", "MViT", "ResNet", "SlowFast", "build_model"]
