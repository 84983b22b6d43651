"""Images per second for training and sampling the image engines, at several sizes, on CPU or CUDA.

    python bench/images.py [--sizes 28,64] [--engines cgan,cvae] [--steps 20] [--batch 128]
                           [--width 64] [--device cpu|cuda|auto] [--json]

Each (engine, size) trains `--steps` optimiser steps on random images of that size (throughput does
not depend on the pixels) after one warm-up step, then samples `--batch x 8` images, and prints one
table: engine, size, device, train images/s, sample images/s, parameters. Only torch is needed, so
the same script runs on the GPU machine (see the device tool's README).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="28,64")
    parser.add_argument("--engines", default="cgan,cvae")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from synth.image import train as trainer
    from synth.image.models import GANConfig, VAEConfig

    device = trainer.resolve_device(args.device)
    rows = []
    for kind in args.engines.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            config_type = GANConfig if kind == "cgan" else VAEConfig
            config = config_type(image_size=size, channels=1, classes=10, width=args.width)
            images = torch.rand(args.batch * (args.steps + 1), 1, size, size) * 2 - 1
            labels = torch.randint(0, 10, (len(images),))
            settings = trainer.TrainSettings(
                epochs=1, batch_size=args.batch, device=str(device), progress=False, patience=1
            )
            warm = trainer.TrainSettings(
                epochs=1, batch_size=args.batch, device=str(device), progress=False, patience=1
            )
            quiet = lambda model, epoch: {"score": 0.0}  # noqa: E731  time training, not a monitor
            trainer.train(kind, images[: args.batch], labels[: args.batch], config, warm, quiet)
            started = time.perf_counter()
            result = trainer.train(kind, images, labels, config, settings, quiet)
            train_s = time.perf_counter() - started
            asked = torch.arange(10).repeat_interleave(args.batch * 8 // 10)
            started = time.perf_counter()
            trainer.sample(result.model, asked, seed=0, device=str(device))
            sample_s = time.perf_counter() - started
            rows.append(
                {
                    "engine": kind,
                    "size": size,
                    "device": str(device),
                    "train_img_s": round(len(images) / train_s, 1),
                    "sample_img_s": round(len(asked) / sample_s, 1),
                    "params": sum(p.numel() for p in result.model.parameters()),
                }
            )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        f"{'engine':8} {'size':>5} {'device':>7} {'train img/s':>12} {'sample img/s':>13} {'params':>10}"
    )
    for r in rows:
        print(
            f"{r['engine']:8} {r['size']:>5} {r['device']:>7} {r['train_img_s']:>12} "
            f"{r['sample_img_s']:>13} {r['params']:>10}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
