"""Throughput of slowfast.models.roi_align (boxes per second), forward and forward+backward.

The defaults mimic the AVA detection head: 8 clips, C = 2304 (2048 slow + 256 fast
channels), 16x16 feature maps (stride 16), 7x7 output, adaptive sampling, aligned.

    python benchmarks/roi_align_speed.py [--boxes 16 256 2048] [--channels 2304] [--backend torch]
"""

import argparse
import time

import torch

from slowfast.models.roi_align import roi_align


def _random_rois(k, n, h, w, scale, gen):
    img_h, img_w = h / scale, w / scale
    x1 = torch.rand(k, generator=gen) * img_w * 0.8
    y1 = torch.rand(k, generator=gen) * img_h * 0.8
    bw = torch.rand(k, generator=gen) * (img_w - x1) + 1.0
    bh = torch.rand(k, generator=gen) * (img_h - y1) + 1.0
    batch = torch.randint(0, n, (k,), generator=gen).float()
    return torch.stack([batch, x1, y1, x1 + bw, y1 + bh], dim=1)


def _time(fn, min_time=1.0, max_iters=50):
    fn()  # warm-up
    iters, start = 0, time.perf_counter()
    while True:
        fn()
        iters += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or iters >= max_iters:
            return elapsed / iters


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, nargs="+", default=[16, 256, 2048])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=2304)
    parser.add_argument("--size", type=int, default=16, help="feature map height and width")
    parser.add_argument("--output-size", type=int, default=7)
    parser.add_argument("--spatial-scale", type=float, default=1.0 / 16)
    parser.add_argument("--sampling-ratio", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64", "bfloat16", "float16"])
    parser.add_argument("--backend", default="torch", choices=["auto", "torch", "torchvision"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds to time each case")
    args = parser.parse_args()

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(0)
    n, c, s = args.batch, args.channels, args.size
    x = torch.randn(n, c, s, s, generator=gen).to(device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(f"device={device} threads={torch.get_num_threads()} dtype={args.dtype} backend={args.backend} "
          f"input={tuple(x.shape)} output={args.output_size}x{args.output_size} "
          f"sampling_ratio={args.sampling_ratio} spatial_scale={args.spatial_scale:g}")
    print(f"{'boxes':>7} {'fwd ms':>9} {'fwd boxes/s':>12} {'fwd+bwd ms':>11} {'fwd+bwd boxes/s':>16}")
    for k in args.boxes:
        rois = _random_rois(k, n, s, s, args.spatial_scale, gen).to(device)

        def forward():
            with torch.no_grad():
                roi_align(x, rois, args.output_size, args.spatial_scale, args.sampling_ratio, True,
                          backend=args.backend)
            sync()

        xg = x.clone().requires_grad_(True)

        def forward_backward():
            out = roi_align(xg, rois, args.output_size, args.spatial_scale, args.sampling_ratio, True,
                            backend=args.backend)
            out.sum().backward()
            xg.grad = None
            sync()

        t_fwd = _time(forward, args.min_time)
        t_bwd = _time(forward_backward, args.min_time)
        print(f"{k:>7} {t_fwd * 1e3:>9.2f} {k / t_fwd:>12.0f} {t_bwd * 1e3:>11.2f} {k / t_bwd:>16.0f}")


if __name__ == "__main__":
    main()
