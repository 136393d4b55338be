"""Video understanding: SlowFast, Slow, I3D and C2D networks for classification and AVA detection."""

__version__ = "0.1.0"
