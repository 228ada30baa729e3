"""`cnnlab saliency` and `cnnlab dream` on a checkpoint trained one epoch on the Digits."""

import numpy as np
import pytest

from cnnlab.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("sklearn")
    from cnnlab.data import get_dataset
    from cnnlab.inspect.images import write_png

    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    write_png(out / "q.png", get_dataset("digits", train=False).data[0] / 16)
    return out


def test_saliency_writes_the_map_beside_the_image(run, capsys):
    from PIL import Image

    capsys.readouterr()
    assert main(["saliency", str(run / "last.npz"), str(run / "q.png"), "--out", str(run / "map.png")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{run / 'q.png'}: predicted ") and line.endswith(f"-> {run / 'map.png'}")
    picture = np.asarray(Image.open(run / "map.png"))
    assert picture.ndim == 3 and picture.shape[1] > 2 * picture.shape[0] * 0.9   # image and map side by side


def test_saliency_refuses_a_bad_target(run, capsys):
    assert main(["saliency", str(run / "last.npz"), str(run / "q.png"), "--out", str(run / "m.png"),
                 "--target", "10"]) == 2
    assert capsys.readouterr().err.strip() == ("cnnlab saliency: error: saliency: --target must be a class "
                                               "index in 0..9. Received: 10")


@pytest.mark.parametrize("how", [["--layer", "features.4"], ["--class", "3", "--image", "IMAGE"]])
def test_dream_raises_its_objective_and_writes_the_picture(run, how, capsys):
    how = [str(run / "q.png") if a == "IMAGE" else a for a in how]
    capsys.readouterr()
    assert main(["dream", str(run / "last.npz"), *how, "--steps", "3", "--out", str(run / "d.png")]) == 0
    line = capsys.readouterr().out.strip()
    start, end = (float(v) for v in line.split("objective ")[1].split(" after")[0].split(" -> "))
    assert end > start and line.endswith(f"-> {run / 'd.png'}")
    assert (run / "d.png").stat().st_size > 0


def test_dream_needs_one_objective(run, capsys):
    assert main(["dream", str(run / "last.npz"), "--out", str(run / "d.png")]) == 2
    assert "give --layer NAME (amplify its activations) or --class N" in capsys.readouterr().err
