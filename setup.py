from setuptools import find_packages, setup

setup(
    name="slowfast",
    version="0.1.0",
    description="Video understanding in PyTorch: SlowFast, Slow, I3D and C2D networks for Kinetics classification and AVA detection.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["slowfast", "slowfast.*"]),
    install_requires=[
        # Install torch first (INSTALL.md): a bare "torch" requirement may otherwise pull a large CUDA build.
        "torch>=2.1",
        "fvcore>=0.1.5",
        "iopath>=0.1.9",
        "av>=12",
        "simplejson",
        "opencv-python-headless",
        "Pillow",
        "pandas",
        "numpy",
        "pyyaml",
        "tensorboard",
        "psutil",
        "tqdm",
    ],
    extras_require={"test": ["pytest>=7", "scikit-learn"]},
)
