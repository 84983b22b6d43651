"""DP-SGD step time for our autoregressive model: Opacus' per-sample hooks against ghost clipping.

Same model (the engine's defaults unless --width/--depth), the Adult training split as tokens,
Poisson-sampled batches of --batch rows on average, noise 1.0, clip 1.0; prints ms per step and the
estimated seconds per epoch for each mode. Ghost clipping is what `synth` uses.

    python bench/dp_clipping.py [--steps 20] [--width 32] [--depth 0] [--batch 512]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def step_seconds(mode: str, tokens, vocab: list[int], args: argparse.Namespace) -> float:
    import torch
    from opacus import PrivacyEngine

    from synth.tabular.autoregressive.model import ARConfig, TabularAR, random_visibility
    from synth.tabular.autoregressive.train import HiddenLoss

    torch.manual_seed(0)
    model = TabularAR(ARConfig(vocab=vocab, width=args.width, depth=args.depth))
    model.per_sample_gradients = True
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(tokens), batch_size=args.batch
    )
    kwargs = {
        "module": model,
        "optimizer": torch.optim.Adam(model.parameters(), lr=3e-3),
        "data_loader": loader,
        "noise_multiplier": 1.0,
        "max_grad_norm": 1.0,
        "poisson_sampling": True,
    }
    if mode == "ghost":
        private, optimiser, loss, loader = PrivacyEngine().make_private(
            **kwargs, criterion=HiddenLoss(), grad_sample_mode="ghost"
        )
    else:
        private, optimiser, loader = PrivacyEngine().make_private(**kwargs)
        loss = HiddenLoss()
    generator = torch.Generator().manual_seed(0)
    rank = torch.arange(tokens.shape[1])
    done, started = 0, time.perf_counter()
    for (batch,) in loader:
        visible = random_visibility(len(batch), tokens.shape[1], rank, generator=generator)
        optimiser.zero_grad(set_to_none=True)
        loss(private(batch, visible), batch, visible).backward()
        optimiser.step()
        done += 1
        if done == args.steps:
            break
    return (time.perf_counter() - started) / done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=0)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # Opacus: secure_mode off, RDP orders; not timing-relevant

    import numpy as np
    import torch

    from bench.tabular import _split
    from synth.tabular.autoregressive.codecs import build_codecs

    _, contract, train, _ = _split()
    frame = train[[c.name for c in contract.modelled]]
    codecs = build_codecs(frame, contract, bins=64, steps=8, exact_up_to=128)
    tokens = torch.from_numpy(np.stack([c.encode(frame) for c in codecs], axis=1))
    vocab = [c.size for c in codecs]
    per_epoch = len(tokens) / args.batch
    print(f"Adult {len(tokens):,} rows, width {args.width}, depth {args.depth}, batch {args.batch}")
    print(f"{'mode':8s} {'ms/step':>8s} {'s/epoch':>8s}")
    times = {mode: step_seconds(mode, tokens, vocab, args) for mode in ("hooks", "ghost")}
    for mode, seconds in times.items():
        print(f"{mode:8s} {seconds * 1000:8.0f} {seconds * per_epoch:8.1f}")
    print(f"ghost clipping: {times['hooks'] / times['ghost']:.1f}x faster per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
