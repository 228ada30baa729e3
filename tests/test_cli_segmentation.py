"""`cnnlab train/evaluate/predict` with a segmentation model on mnist-scenes (a tiny set of scenes)."""

import numpy as np
import pytest

from cnnlab.cli import main
from helpers import train_on_scenes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run shared by the tests: (exit code, run folder, what it printed)."""
    return train_on_scenes(tmp_path_factory, "unet", {True: 40, False: 12}, "--batch-size", "8")


def test_train_prints_test_miou_and_pixel_accuracy(trained):
    code, out, printed = trained
    assert code == 0
    assert "unet: 121,123 parameters | mnist-scenes: 35 train / 5 validation / 12 test images" in printed
    last = printed.strip().splitlines()[-1]
    assert last.startswith("test mIoU ") and "% | pixel accuracy " in last
    value = float(last.split()[2].rstrip("%"))
    assert 0 <= value <= 100
    from cnnlab.runs.checkpoint import load_checkpoint

    meta = load_checkpoint(out / "last.npz")["meta"]
    assert meta["task"] == "segment" and meta["classes"][0] == "background" and len(meta["classes"]) == 11


def test_evaluate_prints_iou_per_class(trained, small_scenes, capsys):
    _, out, _ = trained
    assert main(["evaluate", str(out / "last.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "unet on mnist-scenes test set (12 images)"
    assert "test mIoU" in lines[1] and "pixel accuracy" in lines[1]
    rows = [line.split()[0] for line in lines[4:]]
    assert rows == ["background"] + [str(d) for d in range(10)]


def test_predict_writes_a_colour_mask(trained, tmp_path, capsys):
    from PIL import Image

    from cnnlab.data.scenes import MNISTScenes
    from cnnlab.inspect.images import write_png
    from cnnlab.inspect.segmentation import PALETTE

    _, out, _ = trained
    scene = MNISTScenes(train=False, num_scenes=1)
    write_png(tmp_path / "scene.png", scene.data[0] / 255)
    assert main(["predict", str(out / "last.npz"), str(tmp_path / "scene.png"), "--out",
                 str(tmp_path / "mask.png")]) == 0
    assert capsys.readouterr().out.strip().endswith(f"-> {tmp_path / 'mask.png'}")
    mask = np.asarray(Image.open(tmp_path / "mask.png"))
    assert mask.shape == (64, 64, 3)
    colours = {tuple(c) for c in np.round(PALETTE * 255).astype(int)}
    assert {tuple(c) for c in mask.reshape(-1, 3)} <= colours


def test_predict_without_out_is_one_line(trained, tmp_path, capsys):
    from cnnlab.inspect.images import write_png

    _, out, _ = trained
    write_png(tmp_path / "scene.png", np.zeros((64, 64)))
    assert main(["predict", str(out / "last.npz"), str(tmp_path / "scene.png")]) == 2
    assert capsys.readouterr().err.strip() == ("cnnlab predict: error: predict: unet predicts a mask per image; "
                                               "give --out MASK.png")


@pytest.mark.parametrize("model,dataset,message", [
    ("unet", "fashion-mnist", "train: unet segments images (a class per pixel), but fashion-mnist has one class "
                              "per image; use --dataset mnist-scenes"),
    ("fashion_cnn", "mnist-scenes", "train: fashion_cnn classifies whole images (one class per image), but "
                                    "mnist-scenes has no single class per image (its scenes have masks, boxes "
                                    "and captions); train a segmentation (unet, fcn), detection (grid_detector) "
                                    "or captioning (captioner) model on it"),
])
def test_a_model_and_a_dataset_of_other_tasks_are_refused_before_reading_data(model, dataset, message, tmp_path,
                                                                             capsys):
    assert main(["train", "--model", model, "--dataset", dataset, "--out", str(tmp_path / "run"),
                 "--data-dir", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.strip() == f"cnnlab train: error: {message}"


def test_augment_is_refused_for_segmentation(tmp_path, capsys):
    assert main(["train", "--model", "fcn", "--dataset", "mnist-scenes", "--augment", "flip",
                 "--out", str(tmp_path / "run")]) == 2
    assert "--augment transforms the images only" in capsys.readouterr().err
