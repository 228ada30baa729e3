"""The ``cnnlab`` command, called through its entry function (and once as a real subprocess)."""

import subprocess
import sys

import numpy as np
import pytest

from cnnlab.cli import build_parser, main
from cnnlab.runs.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--dataset", "digits", "--epochs", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def test_every_command_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"train", "evaluate", "predict", "models", "arith"} <= set(commands)
    for name in commands:
        if name == "bench":   # a thin entry: its --help is the checkout's benchmark's (tests/test_bench.py)
            assert main([name, "--help"]) == 0
            continue
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
        assert "usage: cnnlab " + name in capsys.readouterr().out


def test_each_command_runs_its_own_function_and_is_listed_with_its_help():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0]
    listed = {action.dest: action.help for action in sub._choices_actions}
    assert list(listed) == list(sub.choices)   # `cnnlab --help` lists every command, in COMMANDS' order
    for name, command in sub.choices.items():
        assert command.get_default("func").__name__ == "cmd_" + name
        assert listed[name] and command.description   # a line in `cnnlab --help`, a paragraph in its own
    assert sub.choices["bench"].prefix_chars == "+" and not sub.choices["bench"].add_help
    for name in ("predict", "retrieve"):   # the positionals they share
        args = parser.parse_args([name, "run/best.npz", "a.png", "b.png"])
        assert (args.checkpoint, args.images) == ("run/best.npz", ["a.png", "b.png"])


def test_train_reports_parameters_accuracy_and_checkpoint(digits_run, capsys):
    state = load_checkpoint(digits_run / "last.npz")
    assert state["meta"]["model"] == "fashion_cnn" and state["epoch"] == 2
    assert state["history"]["val_acc"][-1] > 0.7  # ten classes: chance is 0.1


def test_evaluate_prints_metrics_per_class(digits_run, capsys):
    assert main(["evaluate", str(digits_run / "last.npz")]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "precision" in out and "macro avg" in out
    assert len([line for line in out.splitlines() if line[:1].isdigit()]) == 10  # one row per digit class


def test_predict_classifies_image_files(digits_run, tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    from cnnlab.data import get_dataset

    ds = get_dataset("digits", train=False)
    image = (ds.data[0].astype(np.float32) / 16 * 255).astype(np.uint8)
    path = tmp_path / "digit.png"
    Image.fromarray(image).resize((32, 32)).save(path)
    assert main(["predict", str(digits_run / "last.npz"), str(path), "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(path)) and line.count("%") == 2


def test_predict_rejects_a_file_that_is_not_an_image(digits_run, tmp_path, capsys):
    pytest.importorskip("PIL")
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    assert main(["predict", str(digits_run / "last.npz"), str(bad)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_unknown_model_lists_the_known_ones(capsys):
    assert main(["train", "--model", "nosuchnet", "--dataset", "digits", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nosuchnet'" in err and "fashion_cnn" in err and "lenet5" in err


def test_unknown_dataset_lists_the_known_ones(capsys):
    assert main(["train", "--dataset", "imagenet-22k", "--no-progress"]) == 2
    assert "fashion-mnist" in capsys.readouterr().err


def test_checkpoint_of_another_architecture_names_the_mismatched_keys(digits_run, tmp_path, capsys):
    state = load_checkpoint(digits_run / "last.npz")
    state["meta"]["model"] = "lenet5"
    state["meta"]["config"] = {"num_classes": 10, "in_channels": 1}
    path = save_checkpoint(tmp_path / "other.npz", state)
    before = open(path, "rb").read()
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "classifier.1.weight" in err  # a key whose shape differs between the two networks
    assert open(path, "rb").read() == before  # nothing on disk touched


def test_corrupt_checkpoint_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "last.npz"
    bad.write_bytes(b"\x00" * 100)
    assert main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable cnnlab checkpoint" in err and len(err.splitlines()) == 1


def test_resume_continues_to_more_epochs(digits_run, capsys):
    code = main(["train", "--dataset", "digits", "--epochs", "3", "--out", str(digits_run), "--resume",
                 "--no-progress"])
    assert code == 0
    assert load_checkpoint(digits_run / "last.npz")["epoch"] == 3
    assert "Resumed" in capsys.readouterr().out


def test_arith_prints_size_formula_and_fit(capsys):
    assert main(["arith", "--input", "7", "--kernel", "3", "--stride", "3"]) == 0
    out = capsys.readouterr().out
    assert "output size: 2" in out and "does not fit" in out
    assert main(["arith", "--input", "227", "--kernel", "11", "--stride", "4"]) == 0
    assert "output size: 55" in capsys.readouterr().out


def test_console_script_runs_as_a_process():
    result = subprocess.run([sys.executable, "-m", "cnnlab.cli", "models"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "fashion_cnn" in result.stdout and "29,034" in result.stdout


def test_main_job_falls_back_to_the_bundled_subset_without_network_or_data(tmp_path, capsys, monkeypatch):
    import cnnlab.data.download as download

    def offline(folder, filename, *args, **kwargs):
        raise download.DownloadError(f"download_url: could not fetch {filename}: no network")

    monkeypatch.setattr(download, "SYSTEM_DIRS", {})  # ignore a Debian-installed copy on this machine
    monkeypatch.setattr(download, "download_resource", offline)
    empty = tmp_path / "nodata"
    empty.mkdir()
    code = main(["train", "--epochs", "1", "--data-dir", str(empty), "--out", str(tmp_path / "run"),
                 "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.out + captured.err
    notes = [line for line in captured.out.splitlines() if "training on the bundled fashion-mnist-mini" in line]
    assert len(notes) == 1 and notes[0].startswith("fashion-mnist is not available")
    assert str(empty / "fashion-mnist") in notes[0]
    assert "test accuracy" in captured.out
    meta = load_checkpoint(tmp_path / "run" / "last.npz")["meta"]
    assert meta["dataset"] == "fashion-mnist-mini" and meta["model"] == "fashion_cnn"


def test_a_missing_optional_package_is_one_line_with_the_pip_command(monkeypatch, capsys):
    import cnnlab.cli as cli

    def needs_sklearn(args):
        import sklearn_not_installed_here  # noqa: F401

    monkeypatch.setattr(cli, "PIP_NAMES", {"sklearn_not_installed_here": "scikit-learn"})
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["models"].set_defaults(func=needs_sklearn)
    assert main(["models"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("cnnlab models: error: this needs the scikit-learn package, which is not installed: "
                   "pip install scikit-learn")


def test_corrupt_dataset_file_is_a_one_line_error_with_exit_code_2(tmp_path, capsys):
    import gzip

    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        with gzip.open(folder / name, "wb") as f:
            f.write(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        with gzip.open(folder / name, "wb") as f:
            f.write(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"\x01" * 5)
    before = sorted(p.name for p in folder.iterdir())
    code = main(["train", "--data-dir", str(tmp_path), "--out", str(tmp_path / "run"), "--no-progress",
                 "--no-fallback"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train-images-idx3-ubyte.gz" in err
    assert sorted(p.name for p in folder.iterdir()) == before and not (tmp_path / "run").exists()
