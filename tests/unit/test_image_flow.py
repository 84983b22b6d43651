"""The image flow's own pieces: the training check the gate reads."""


def test_a_collapsed_or_diverged_run_fails_the_gate() -> None:
    from flows.images import _training_check
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
    check = _training_check(collapsed, collapse_fails=True)
    assert not check.passed and check.reasons == ("mode collapse: class 3 diversity 0.02",)
    diverged = TrainResult(None, [], 0, True, False, True, "loss is nan at epoch 2")
    assert _training_check(diverged, collapse_fails=True).reasons[0].startswith("training diverged")
