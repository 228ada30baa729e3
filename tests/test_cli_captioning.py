"""`cnnlab train/evaluate/predict` with the captioner on mnist-scenes (a tiny set of scenes)."""

import pytest

from cnnlab.cli import main
from helpers import train_on_scenes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run shared by the tests: (exit code, run folder, what it printed)."""
    return train_on_scenes(tmp_path_factory, "captioner", {True: 200, False: 12}, "--train-limit", "40",
                           "--batch-size", "8")


def test_train_prints_caption_accuracy_and_token_accuracy(trained):
    code, out, printed = trained
    assert code == 0
    assert "mnist-scenes: 36 train / 4 validation / 12 test images" in printed
    last = printed.strip().splitlines()[-1]
    assert last.startswith("test caption accuracy ") and "% | per-token accuracy " in last
    assert 0 <= float(last.split()[3].rstrip("%")) <= 100
    from cnnlab.runs.checkpoint import load_checkpoint

    meta = load_checkpoint(out / "last.npz")["meta"]
    assert meta["task"] == "caption" and meta["model"] == "captioner"


def test_evaluate_prints_the_same_headline_and_accuracy_by_digit_count(trained, small_scenes, capsys):
    _, out, printed = trained
    assert main(["evaluate", str(out / "best.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "captioner on mnist-scenes test set (12 images)"
    headline = [line for line in printed.splitlines() if line.startswith("test caption")][0]
    assert lines[1].startswith(headline.split(" (evaluated")[0] + " | loss ")
    assert lines[2].startswith("exact captions by digit count: ")


def test_predict_prints_a_caption_per_image(trained, tmp_path, capsys):
    from cnnlab.data.scenes import MNISTScenes
    from cnnlab.inspect.images import write_png

    _, out, _ = trained
    scenes = MNISTScenes(train=False, num_scenes=2)
    paths = [tmp_path / f"scene{i}.png" for i in range(2)]
    for path, image in zip(paths, scenes.data):
        write_png(path, image / 255)
    assert main(["predict", str(out / "last.npz")] + [str(p) for p in paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(p) for p in paths]
    for line in lines:
        words = line.split(": ", 1)[1]
        assert words == "(no digits)" or all(w.isdigit() for w in words.split())


def test_predict_refuses_out_in_one_line(trained, tmp_path, capsys):
    from cnnlab.data.scenes import MNISTScenes
    from cnnlab.inspect.images import write_png

    _, out, _ = trained
    write_png(tmp_path / "scene.png", MNISTScenes(train=False, num_scenes=1).data[0] / 255)
    code = main(["predict", str(out / "last.npz"), str(tmp_path / "scene.png"), "--out", str(tmp_path / "x.png")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("captioner prints a caption per image; --out (a mask or boxes picture) does not apply "
                        "to it") and "\n" not in err
