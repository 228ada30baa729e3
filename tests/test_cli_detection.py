"""`cnnlab train/evaluate/predict` with grid_detector on mnist-scenes (a tiny set of scenes)."""

import numpy as np
import pytest

from cnnlab.cli import main
from helpers import train_on_scenes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run shared by the tests: (exit code, run folder, what it printed)."""
    return train_on_scenes(tmp_path_factory, "grid_detector", {True: 40, False: 12}, "--batch-size", "8",
                           "--train-limit", "30")


@pytest.fixture
def scene_png(tmp_path):
    from cnnlab.data.scenes import MNISTScenes
    from cnnlab.inspect.images import write_png

    write_png(tmp_path / "scene.png", MNISTScenes(train=False, num_scenes=1).data[0] / 255)
    return tmp_path / "scene.png"


def test_train_prints_test_map(trained):
    code, out, printed = trained
    assert code == 0
    assert "mnist-scenes: 27 train / 3 validation / 12 test images" in printed
    last = printed.strip().splitlines()[-1]
    assert last.startswith("test mAP@0.5 ") and "(evaluated once, after training" in last
    assert 0 <= float(last.split()[2].rstrip("%")) <= 100
    from cnnlab.runs.checkpoint import load_checkpoint

    meta = load_checkpoint(out / "last.npz")["meta"]
    assert meta["task"] == "detect" and meta["config"]["num_classes"] == 11


def test_evaluate_prints_map_and_ap_per_class(trained, small_scenes, capsys):
    _, out, _ = trained
    assert main(["evaluate", str(out / "last.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "grid_detector on mnist-scenes test set (12 images)"
    assert "test mAP@0.5 " in lines[1] and "PASCAL VOC" in lines[1]
    assert lines[3].split() == ["class", "AP@0.5", "objects"]
    rows = [line.split() for line in lines[4:]]
    assert [r[0] for r in rows] == [str(d) for d in range(10)]
    assert sum(int(r[-1]) for r in rows) > 12                      # 1-4 digits per scene


def test_predict_writes_the_scene_with_its_boxes(trained, scene_png, tmp_path, capsys):
    from PIL import Image

    _, out, _ = trained
    assert main(["predict", str(out / "last.npz"), str(scene_png), "--out", str(tmp_path / "boxes.png")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{scene_png}: ") and line.endswith(f"-> {tmp_path / 'boxes.png'}")
    assert np.asarray(Image.open(tmp_path / "boxes.png")).shape == (256, 256, 3)


def test_boxes_are_drawn_in_their_class_colour_and_listed():
    from cnnlab.inspect.detection import boxes_picture, format_detections
    from cnnlab.inspect.segmentation import PALETTE

    found = (np.array([[8.0, 16, 24, 40]]), np.array([0.87]), np.array([3]))
    picture = boxes_picture(np.zeros((64, 64)), found, [str(d) for d in range(10)])
    assert picture.shape == (256, 256, 3) and picture.dtype == np.uint8
    colour = np.round(PALETTE[4] * 255).astype(np.uint8)
    assert (picture[100, 32] == colour).all() and (picture[100, 95] == colour).all()   # left, right sides
    assert (picture[100, 60] == 0).all()                                               # inside: the scene
    assert format_detections("a.png", found, [str(d) for d in range(10)]) == "a.png: 3 0.87 (8, 16, 24, 40)"
    assert format_detections("b.png", (np.zeros((0, 4)), [], []), []) == "b.png: no object found"


def test_predict_without_out_prints_only(trained, tmp_path, capsys):
    from cnnlab.inspect.images import write_png

    _, out, _ = trained
    write_png(tmp_path / "blank.png", np.zeros((64, 64)))
    assert main(["predict", str(out / "last.npz"), str(tmp_path / "blank.png")]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'blank.png'}: ")


def test_detect_is_one_python_call(trained, scene_png):
    from cnnlab.cli import load_image
    from cnnlab.inspect import detect
    from cnnlab.runs.saved import load_trained

    _, out, _ = trained
    model, meta = load_trained(out / "last.npz")
    norm = meta["normalize"]
    image = (load_image(scene_png, 1, (64, 64)) - norm["mean"][0]) / norm["std"][0]
    (boxes, scores, labels), = detect(model, image[None].astype(np.float32), score_threshold=0.0)
    assert boxes.shape == (len(scores), 4) and labels.dtype == np.int64
    assert (np.diff(scores) <= 0).all() and ((0 <= labels) & (labels < 10)).all()
