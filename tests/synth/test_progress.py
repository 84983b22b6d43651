"""Progress ticks: the channel in synth.progress, the engines that tick, the throttled sink."""

from __future__ import annotations

import contextvars
import math
import threading

import torch

from schemas.spec import DatasetSchema
from synth import progress
from synth.io import build_contract
from synth.progress import Tick
from synth.tabular import make_engine
from tests.builders import COLUMNS, adult


def test_without_a_sink_ticks_are_no_ops() -> None:
    progress.report("fit", 1, 3, loss=0.5)
    progress.advance("sample", 10, 100)
    seen: list[Tick] = []
    with progress.reporting(seen.append):
        pass
    assert seen == []


def test_ticks_reach_the_installed_sink_in_order() -> None:
    seen: list[Tick] = []
    with progress.reporting(seen.append):
        progress.report("fit", 1, 2, loss=1)
        progress.report("fit", 2, 2, loss=0.5)
        progress.advance("sample", 40, 100)
        progress.advance("sample", 60, 100)
        with progress.silenced():
            progress.advance("sample", 1_000, 100)
    progress.report("fit", 3, 3)  # after the block: gone
    assert [(t.stage, t.done, t.total) for t in seen] == [
        ("fit", 1, 2),
        ("fit", 2, 2),
        ("sample", 40, 100),
        ("sample", 100, 100),
    ]
    assert seen[0].aggregates == {"loss": 1.0} and isinstance(seen[0].aggregates["loss"], float)
    assert seen[-1].fraction == 1.0


def test_advance_adds_up_across_threads_that_copy_the_context() -> None:
    seen: list[Tick] = []
    with progress.reporting(seen.append):
        threads = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(lambda: [progress.advance("sample", 1, 400) for _ in range(100)],),
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [t.done for t in seen] == list(range(1, 401))


def _adult(rows: int = 400):
    contract, typed = build_contract(adult(rows), DatasetSchema(columns=COLUMNS), label="t")
    return contract, typed[[c.name for c in contract.modelled]]


def test_autoregressive_engine_reports_one_fit_tick_per_epoch() -> None:
    contract, train = _adult()
    engine = make_engine("autoregressive", {"epochs": 3, "patience": 5, "width": 16})
    seen: list[Tick] = []
    with progress.reporting(seen.append):
        engine.fit(train, contract, seed=0)
    assert [(t.stage, t.done, t.total) for t in seen] == [("fit", e, 3) for e in (1, 2, 3)]
    assert all(math.isfinite(t.aggregates["loss"]) for t in seen)
    assert all(math.isfinite(t.aggregates["val_loss"]) for t in seen)


def test_independent_engine_reports_its_one_pass() -> None:
    contract, train = _adult(100)
    seen: list[Tick] = []
    with progress.reporting(seen.append):
        make_engine("independent", {}).fit(train, contract, seed=0)
    assert [(t.done, t.total) for t in seen] == [(0, 1), (1, 1)]


def test_sdv_engines_report_start_and_end_with_the_last_loss() -> None:
    contract, train = _adult(120)
    seen: list[Tick] = []
    with progress.reporting(seen.append):
        make_engine("gaussian_copula", {}).fit(train, contract, seed=0)
    assert [(t.done, t.total, t.aggregates) for t in seen] == [(0, 1, {}), (1, 1, {})]
    seen.clear()
    with progress.reporting(seen.append):
        make_engine("ctgan", {"epochs": 2, "batch_size": 20, "verbose": False}).fit(
            train, contract, seed=0
        )
    assert [(t.done, t.total) for t in seen] == [(0, 2), (2, 2)]
    assert math.isfinite(seen[-1].aggregates["loss"])


def test_image_trainer_ticks_per_epoch_and_sample_per_batch() -> None:
    from synth.image.models import GANConfig
    from synth.image.train import TrainSettings, sample, train

    generator = torch.Generator().manual_seed(0)
    images = torch.rand(40, 1, 8, 8, generator=generator) * 2 - 1
    labels = torch.arange(40) % 2
    settings = TrainSettings(epochs=2, batch_size=16, device="cpu", progress=False)
    seen: list[Tick] = []
    with progress.reporting(seen.append):
        result = train("cgan", images, labels, GANConfig(8, 1, 2, latent=4, width=8), settings)
    # the monitor samples each epoch; those images are not the run's, and do not tick
    assert [(t.stage, t.done, t.total) for t in seen] == [("fit", 1, 2), ("fit", 2, 2)]
    assert {"d_loss", "g_loss", "score"} <= set(seen[0].aggregates)
    seen.clear()
    with progress.reporting(seen.append):
        sample(result.model, torch.arange(50) % 2, seed=1, batch_size=20)
    assert [(t.stage, t.done, t.total) for t in seen] == [("sample", n, 50) for n in (20, 40, 50)]


def test_throttle_shows_first_last_and_every_tenth_or_five_seconds() -> None:
    from synth.progress import Throttle

    throttle = Throttle(step=0.1, seconds=5.0)
    shown = [d for d in range(1, 101) if throttle.due(Tick("sample", d, 100), now=d * 0.01)]
    assert shown == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100]
    slow = Throttle(step=0.1, seconds=5.0)
    assert [d for d in range(1, 5) if slow.due(Tick("fit", d, 1000), now=d * 6.0)] == [1, 2, 3, 4]
    untotalled = Throttle()
    assert [untotalled.due(Tick("sample", d, None), now=d) for d in (0, 1, 6)] == [
        True,
        False,
        True,
    ]


def test_lines_name_the_stage_the_counts_and_the_aggregates() -> None:
    from synth.progress import artifact_key, line

    assert line(Tick("fit", 12, 40, {"loss": 0.41234})) == "fit: epoch 12/40, loss 0.412"
    assert line(Tick("sample", 40_000, 100_000)) == "sample: 40,000/100,000 rows"
    assert line(Tick("sample", 7, None)) == "sample: 7 rows"
    assert artifact_key("Adult_Small job", "fit") == "adult-small-job-fit"
