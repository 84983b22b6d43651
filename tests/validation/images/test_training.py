"""The image run's own pieces: the training check the gate reads."""

from validation.images import training


def test_a_collapsed_or_diverged_run_fails_the_gate() -> None:
    from synth.image.train import TrainResult

    collapsed = TrainResult(
        model=None,
        history=[{"epoch": 1, "images_per_s": 10.0}],
        best_epoch=1,
        stopped_early=True,
        collapsed=True,
        diverged=False,
        reason="mode collapse: class 3 diversity 0.02",
    )
    check = training.check(None, None, None, contract=None, thresholds=True, training=collapsed)
    assert not check.passed and check.reasons == ("mode collapse: class 3 diversity 0.02",)
    diverged = TrainResult(None, [], 0, True, False, True, "loss is nan at epoch 2")
    result = training.check(None, None, None, contract=None, thresholds=True, training=diverged)
    assert result.reasons[0].startswith("training diverged")
