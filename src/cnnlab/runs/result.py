"""``TrainResult``: what a finished ``train_job`` hands its caller (the CLI, the report) by attribute."""

from dataclasses import dataclass, field


@dataclass
class TrainResult:
    """A training run's outcome: where it is, how it went and, unless interrupted, its test figures.

    ``epochs=0`` trains nothing: every field keeps its default. An interrupted run has no test
    figures (``evaluation`` is None): the test set is evaluated once, after training.
    """

    # Where the run is: its folder, the ``last.npz`` in it (beside ``best.npz``) and, once the
    # caller has written it, the report.
    run_dir: str = None
    checkpoint: str = None
    report: str = None

    # How it went. ``history`` holds per-epoch lists (``train_loss``, ``val_acc``, ...); ``parameters``
    # is the model's count; ``dataset`` the one trained on (the bundled stand-in's name when it replaced
    # the one asked for); ``model`` has the best checkpoint's weights when one was chosen; ``meta`` is
    # the checkpoint's facts (model, config, classes, normalisation, recipe, split) and ``split`` the
    # train/validation record.
    history: dict = field(default_factory=dict)
    interrupted: bool = False
    parameters: int = None
    dataset: str = None
    model: object = None
    meta: dict = None
    split: dict = None

    # The test set (standardised), scored once: its headline score and mean loss, the task's whole
    # evaluation (scores, targets, per-class accuracy, ...), which weights were scored, and a task's
    # extra figures by name (a segmentation run's ``test_miou``).
    test_set: object = None
    test_accuracy: float = None
    test_loss: float = None
    evaluation: dict = None
    tested: str = None
    figures: dict = field(default_factory=dict)
