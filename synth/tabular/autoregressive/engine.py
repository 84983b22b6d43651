"""The `autoregressive` engine: codecs + `TabularAR`, trained with early stopping, saved as tensors
and JSON (loaded with `weights_only=True`, never unpickled)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from schemas.contract import Contract
from synth.tabular.autoregressive.codecs import (
    Codec,
    build_codecs,
    codec_from_json,
    codec_to_json,
    condition_tokens,
)
from synth.tabular.base import read_model, write_manifest

__all__ = ["AutoregressiveEngine"]

WEIGHTS, CONFIG = "weights.pt", "model.json"
TEXT_WEIGHTS = "text-{}.pt"  # one language model per written text column, in contract order
# Tables this small train on one CPU thread: their steps (batches under 512 rows) are too small to
# share, and on a busy machine every op waited on a descheduled second thread (midwest, 437 rows:
# 204 s on two threads, 7-15 s on one).
ONE_THREAD_BELOW = 10_000


class AutoregressiveEngine:
    """Any-order autoregressive model over the columns, in torch; exact conditioning."""

    name: ClassVar[str] = "autoregressive"

    def __init__(
        self,
        *,
        width: int = 32,
        depth: int = 0,
        context: int = 512,  # wider tables (columns * width above it) share a pooled context
        bins: int = 64,
        steps: int = 8,
        exact_up_to: int = 128,
        epochs: int | None = None,  # at most 200 with early stopping; exactly 10 under DP
        patience: int = 6,
        batch_size: int = 512,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        ema_decay: float = 0.99,  # weights averaged over ~100 steps; 0: the last step's
        validation_share: float = 0.1,
        temperature: float = 1.0,
        device: str = "cpu",
        epsilon: float | None = None,
        delta: float | None = None,
        max_grad_norm: float = 1.0,
        text_hidden: int = 256,  # the text columns' language models (text.py)
        text_epochs: int = 40,
        text_max_seconds: float = 300.0,
        text_min_count: int = 10,  # a word fewer training texts use is never written
    ) -> None:
        if (
            min(width, context, bins, steps, epochs or 1, batch_size) < 1
            or depth < 0
            or temperature <= 0
        ):
            raise ValueError(
                "width, context, bins, steps, epochs, batch_size and temperature must be positive"
            )
        if epsilon is not None and (epsilon <= 0 or not 0 < (delta or 0.5) < 1):
            raise ValueError("epsilon must be positive and delta in (0, 1)")
        if not 0 < validation_share < 1:
            raise ValueError("validation_share must be in (0, 1)")
        if not 0 <= ema_decay < 1:
            raise ValueError("ema_decay must be in [0, 1)")
        self.params: dict[str, Any] = {
            "width": width,
            "depth": depth,
            "context": context,
            "bins": bins,
            "steps": steps,
            "exact_up_to": exact_up_to,
            "epochs": epochs,
            "patience": patience,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "ema_decay": ema_decay,
            "validation_share": validation_share,
            "temperature": temperature,
            "device": device,
            "epsilon": epsilon,
            "delta": delta,
            "max_grad_norm": max_grad_norm,
            "text_hidden": text_hidden,
            "text_epochs": text_epochs,
            "text_max_seconds": text_max_seconds,
            "text_min_count": text_min_count,
        }
        self._codecs: list[Codec] = []
        self._texts: dict[str, Any] = {}  # column -> TextModel, writing it given the row
        self._model: Any = None
        self._stats: dict[str, Any] = {}

    # -- training -------------------------------------------------------------------------------

    def fit(
        self,
        train: pd.DataFrame,
        contract: Contract,
        *,
        seed: int,
        subjects: np.ndarray | None = None,
    ) -> None:
        import torch

        from synth.tabular.autoregressive.model import ARConfig, TabularAR
        from synth.tabular.autoregressive.train import train_dp, train_early_stopping

        p = self.params
        started = time.perf_counter()
        self._codecs = build_codecs(
            train, contract, bins=p["bins"], steps=p["steps"], exact_up_to=p["exact_up_to"]
        )
        device = torch.device(p["device"])
        torch.manual_seed(seed)
        tokens = torch.from_numpy(np.stack([c.encode(train) for c in self._codecs], axis=1))
        cfg = ARConfig(
            vocab=[c.size for c in self._codecs],
            width=p["width"],
            depth=p["depth"],
            context=p["context"],
        )
        model = TabularAR(cfg).to(device)
        budget = _budget(p, len(train), len(contract.written))
        with _threads(1 if len(train) < ONE_THREAD_BELOW and device.type == "cpu" else None):
            if p["epsilon"] is None:
                report = train_early_stopping(
                    model, tokens.to(device), p, seed=seed, subjects=subjects
                )
            else:
                report = train_dp(model, tokens.to(device), {**p, **budget}, seed=seed)
        self._model = model.eval()
        self._stats = {
            "train_rows": len(train),
            "epochs": report.epochs,
            "best_validation_loss": report.best_validation_loss,
            "validation_history": report.history,
            "fit_seconds": round(time.perf_counter() - started, 3),
            "parameters": sum(t.numel() for t in model.parameters()),
        }
        if report.privacy is not None:
            self._stats["differential_privacy"] = report.privacy
        self._fit_texts(train, contract, tokens.numpy(), seed=seed, budget=budget)
        self._stats["fit_seconds"] = round(time.perf_counter() - started, 3)  # text models too

    def _fit_texts(
        self,
        train: pd.DataFrame,
        contract: Contract,
        tokens: np.ndarray,
        *,
        seed: int,
        budget: dict[str, float],
    ) -> None:
        """A language model per written text column, given the row's codec tokens; under DP
        each spends its share of the budget (text_dp.py)."""
        from synth.tabular.autoregressive.text import TextModel
        from synth.tabular.autoregressive.text_dp import fit_private

        p = self.params
        self._texts, reports = {}, {}
        vocab = [c.size for c in self._codecs]
        for i, column in enumerate(contract.written):
            spec, texts = column.spec, train[column.name].tolist()
            common = {"max_length": spec.max_length, "min_count": p["text_min_count"]}
            common |= {"seed": seed + 7919 * (i + 1), "max_seconds": p["text_max_seconds"]}
            if budget:
                model = fit_private(
                    texts, tokens, vocab, **budget, **common, hidden=p["text_hidden"],
                    max_grad_norm=p["max_grad_norm"], batch_size=p["batch_size"],
                )  # fmt: skip
            else:
                model = TextModel.fit(
                    texts, tokens, vocab, **common, epochs=p["text_epochs"], hidden=p["text_hidden"]
                )
            model.config["sampling"] = {"temperature": spec.temperature, "top_p": spec.top_p}
            self._texts[column.name] = model
            reports[column.name] = asdict(model.report)
        if reports:
            self._stats["text"] = reports
        if budget and reports:
            self._stats["differential_privacy"] = _privacy_total(
                self._stats["differential_privacy"], reports, p["epsilon"]
            )

    # -- sampling -------------------------------------------------------------------------------

    def sample(
        self, rows: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        import torch

        assert self._model is not None, "fit first"
        fixed = condition_tokens(self._codecs, conditions or {})
        device = self._model.embed.weight.device
        generator = torch.Generator(device=device).manual_seed(seed)
        tokens = (
            self._model.sample(
                rows, generator=generator, fixed=fixed, temperature=self.params["temperature"]
            )
            .cpu()
            .numpy()
        )
        rng = np.random.default_rng(seed)
        out: dict[str, Any] = {}
        for j, codec in enumerate(self._codecs):
            out.update(codec.decode(tokens[:, j], rng))
        for column, value in (conditions or {}).items():
            out[column] = np.full(rows, value, dtype=object)  # exact, not a redraw within a bin
        names = [c for codec in self._codecs for c in codec.columns]
        for i, (column, model) in enumerate(self._texts.items()):  # each text given its row
            knobs = model.config.get("sampling", {})
            out[column] = model.sample(tokens, seed=seed + 7919 * (i + 1), **knobs)
            names.append(column)
        return pd.DataFrame(out)[names]

    # -- persistence ----------------------------------------------------------------------------

    def save(self, directory: Path) -> str:
        import torch

        assert self._model is not None, "fit first"
        state = {k: v.cpu() for k, v in self._model.state_dict().items()}
        torch.save(state, directory / WEIGHTS)
        texts = []
        for i, (column, model) in enumerate(self._texts.items()):
            torch.save(model.state(), directory / TEXT_WEIGHTS.format(i))
            texts.append({"column": column, "config": model.config})
        config = {
            "model": asdict(self._model.cfg),
            "codecs": [codec_to_json(c) for c in self._codecs],
            "texts": texts,
        }
        (directory / CONFIG).write_text(json.dumps(config, default=str))
        return write_manifest(directory, engine=self.name, info=self.info())

    @classmethod
    def load(cls, directory: Path, *, manifest_sha256: str) -> AutoregressiveEngine:
        import torch

        from synth.tabular.autoregressive.model import ARConfig, TabularAR

        # Loaded from the bytes read_model checked, never from the paths again.
        files = read_model(directory, engine=cls.name, manifest_sha256=manifest_sha256)
        info = files.info
        engine = cls(**info["params"])
        config = json.loads(files[CONFIG])
        engine._codecs = [codec_from_json(c) for c in config["codecs"]]
        model = TabularAR(ARConfig(**config["model"]))
        state = torch.load(io.BytesIO(files[WEIGHTS]), weights_only=True)
        model.load_state_dict(state)
        engine._model = model.to(torch.device(engine.params["device"])).eval()
        from synth.tabular.autoregressive.text import TextModel

        for i, text in enumerate(config.get("texts", [])):
            state = torch.load(io.BytesIO(files[TEXT_WEIGHTS.format(i)]), weights_only=True)
            config_i = dict(text["config"])
            sampling = config_i.pop("sampling", {})
            loaded = TextModel.from_state(config_i, state)
            loaded.config["sampling"] = sampling
            engine._texts[text["column"]] = loaded
        engine._stats = {k: v for k, v in info.items() if k not in ("engine", "params")}
        return engine

    def info(self) -> dict[str, Any]:
        return {"engine": self.name, "params": dict(self.params), **self._stats}


def _budget(p: Mapping[str, Any], rows: int, texts: int) -> dict[str, float]:
    """Each model's share of (epsilon, delta) under DP: an even split over the table's model and
    each written text column's (they compose sequentially); empty without DP."""
    if p["epsilon"] is None:
        return {}
    delta = p["delta"] or 1.0 / rows**1.1  # as train_dp's default
    return {"epsilon": p["epsilon"] / (1 + texts), "delta": delta / (1 + texts)}


def _privacy_total(table: dict[str, Any], texts: dict[str, Any], epsilon: float) -> dict[str, Any]:
    """The whole row's DP: the table model's and every text model's spend, summed."""
    parts = {"table": table["epsilon_spent"]}
    parts |= {f"text:{n}": r["privacy"]["epsilon_spent"] for n, r in texts.items()}
    return {
        **table,
        "epsilon_budget": epsilon,
        "epsilon_spent": round(sum(parts.values()), 4),
        "delta": table["delta"] * (1 + len(texts)),
        "per_model": parts,
        "composition": "sequential (sum over the table's and the text columns' models)",
    }


@contextmanager
def _threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to `count` inside (None: left alone), restored after."""
    import torch

    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
