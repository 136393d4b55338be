"""Video models: the registry, `build_model(cfg)` and the ResNet/SlowFast family."""

from slowfast.models.build import MODEL_REGISTRY, build_model
from slowfast.models.video_model_builder import ResNet, SlowFast  # noqa: F401  (registers the models)
from slowfast.models import ptv_aliases  # noqa: F401,E402  (registers PySlowFast's PTV* names)

__all__ = ["MODEL_REGISTRY", "ResNet", "SlowFast", "build_model"]
