"""``TrainResult``: what a finished ``train_job`` hands its caller (the CLI, the report) by attribute."""

from dataclasses import dataclass, field


@dataclass
class TrainResult:
    """A training run's outcome: where it is, how it went and, unless interrupted, its test figures.

    ``epochs=0`` trains nothing: every field keeps its default. An interrupted run has no test
    figures (``evaluation`` is None): the test set is evaluated once, after training.

    checkpoint: the run's ``last.npz``; run_dir: the folder holding it (and ``best.npz``).
    history: per-epoch lists (``train_loss``, ``val_acc``, ...); parameters: the model's count.
    dataset: the dataset trained on (the bundled stand-in's name when it replaced the one asked for).
    model: the trained model (the best checkpoint's weights when one was chosen); meta: the
        checkpoint's facts (model, config, classes, normalisation, recipe, split).
    test_set: the standardised test set; split: the train/validation split's record.
    test_accuracy, test_loss, evaluation: the test set's headline score, mean loss and the task's
        whole evaluation (scores, targets, per-class accuracy, ...); tested: which weights it scored.
    figures: a task's extra figures by name (a segmentation run's ``test_miou``).
    report: the report's path, once the caller has written it.
    """

    checkpoint: str = None
    history: dict = field(default_factory=dict)
    interrupted: bool = False
    parameters: int = None
    dataset: str = None
    model: object = None
    run_dir: str = None
    meta: dict = None
    test_set: object = None
    split: dict = None
    test_accuracy: float = None
    test_loss: float = None
    evaluation: dict = None
    tested: str = None
    figures: dict = field(default_factory=dict)
    report: str = None
