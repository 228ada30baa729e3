"""``train_job`` as a recipe: the model's default settings, the typed result, the process strategy."""

import pytest

from cnnlab.cli import build_parser, main
from cnnlab.models.registry import default_recipe, get_builder
from cnnlab.runs.result import TrainResult
from cnnlab.train.run import recipe_settings, train_job
from cnnlab.train.strategy import DataParallel, SingleProcess, choose_strategy

DIGITS = ["--dataset", "digits", "--no-progress"]


@pytest.fixture
def recipe(monkeypatch):
    """Give fashion_cnn a recipe (as ``register_model(recipe=...)`` would) for one test."""
    builder = get_builder("fashion_cnn")

    def give(**settings):
        monkeypatch.setattr(builder, "recipe", settings, raising=False)

    return give


# ---------------------------------------------------------------------------- the model's recipe
def test_most_models_have_no_recipe_and_a_recipe_is_a_copy(recipe):
    assert default_recipe("lenet5") == {}
    recipe(epochs=12, lr=3e-3)
    got = default_recipe("fashion_cnn")
    assert got == {"epochs": 12, "lr": 3e-3}
    got["epochs"] = 1
    assert default_recipe("fashion_cnn")["epochs"] == 12


def test_default_recipe_of_an_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'no_such_net'\. Known models: .*lenet5"):
        default_recipe("no_such_net")


def test_settings_given_win_then_the_recipe_then_train_defaults(recipe):
    assert recipe_settings("lenet5") == (10, 64, None)              # no recipe: train's defaults
    recipe(epochs=12, batch_size=32, lr=3e-3)
    lines = []
    assert recipe_settings("fashion_cnn", log=lines.append) == (12, 32, 3e-3)
    assert lines == ["fashion_cnn's recipe: epochs 12, batch size 32, lr 0.003"]
    lines.clear()
    assert recipe_settings("fashion_cnn", epochs=2, lr=0.1, log=lines.append) == (2, 32, 0.1)
    assert lines == ["fashion_cnn's recipe: batch size 32"]           # says only what it chose
    lines.clear()
    assert recipe_settings("fashion_cnn", 1, 8, 0.5, log=lines.append) == (1, 8, 0.5)
    assert lines == []


def test_an_unknown_model_has_no_recipe_and_is_refused_where_it_always_was():
    assert recipe_settings("no_such_net") == (10, 64, None)
    with pytest.raises(ValueError, match="unknown model 'no_such_net'"):
        train_job(model="no_such_net", dataset="digits", log=None)


def test_train_job_trains_with_the_models_recipe(recipe, tmp_path):
    recipe(epochs=1, batch_size=32, lr=2e-3)
    lines = []
    result = train_job(dataset="digits", train_limit=96, out=str(tmp_path), progress=False,
                       log=lines.append)
    assert lines[0] == "fashion_cnn's recipe: epochs 1, batch size 32, lr 0.002"
    saved = result.meta["recipe"]
    assert (saved["epochs"], saved["batch_size"], saved["lr"]) == (1, 32, 2e-3)
    assert len(result.history["train_loss"]) == 1


def test_cli_takes_the_recipe_where_no_option_is_given(recipe, tmp_path, capsys):
    recipe(epochs=0)          # nothing to train: the recipe's choice, said before the refusal
    assert main(["train", *DIGITS, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["fashion_cnn's recipe: epochs 0",
                   "--epochs 0: nothing to train; no data read and nothing written"]
    recipe(epochs=3)          # an option given wins over the recipe, silently
    assert main(["train", *DIGITS, "--epochs", "0", "--out", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "--epochs 0: nothing to train; no data read and nothing written"]


def test_train_help_says_the_recipe_chooses_the_defaults():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    defaults = {a.dest: (a.default, a.help) for a in train._actions}
    assert defaults["epochs"] == (None, "default: the model's recipe, else 10")
    assert defaults["batch_size"] == (None, "default: the model's recipe, else 64")
    assert defaults["lr"] == (None, "learning rate (default: the model's recipe, else 1e-3 for adam, "
                                    "0.01 for sgd)")


# ---------------------------------------------------------------------------- the typed result
def test_epochs_0_returns_an_empty_result():
    result = train_job(epochs=0, log=None)
    assert result == TrainResult()
    assert (result.checkpoint, result.history, result.interrupted, result.evaluation) == (None, {}, False, None)


# ---------------------------------------------------------------------------- the process strategy
def test_one_process_is_the_single_process_strategy():
    strategy = choose_strategy()
    assert type(strategy) is SingleProcess and strategy.ranks == 1 and strategy.is_main
    assert strategy.parallel is None
    net = object()
    assert strategy.prepare(net, {"model": "m"}) is net
    meta = {}
    strategy.record(meta)
    assert meta == {}


def test_data_parallel_refuses_a_global_batch_the_ranks_cannot_share():
    strategy = DataParallel(3)
    strategy.check_batch_size(63)
    with pytest.raises(ValueError, match=r"^train: --batch-size 64 is the global batch and must be a "
                                         r"multiple of the 3 ranks \(each rank takes batch_size / 3\)$"):
        strategy.check_batch_size(64)
    meta = {}
    strategy.record(meta)
    assert meta == {"world_size": 3}


def test_data_parallel_silences_every_rank_but_the_first():
    strategy = DataParallel(2)
    assert strategy.quiet(print, True) == (print, True)        # one process: rank 0
    strategy.is_main = False
    assert strategy.quiet(print, True) == (None, False)
