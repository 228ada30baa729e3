"""Retrieval: cosine neighbours and precision@k by hand, penultimate features, and the two commands."""

import numpy as np
import pytest

import cnnlab
from cnnlab import models
from cnnlab.data import TensorDataset
from cnnlab.inspect.retrieval import cosine_neighbours, penultimate_features, precision_at_k


def test_cosine_neighbours_by_hand():
    gallery = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-1.0, 0.0]])
    idx, dist = cosine_neighbours(np.array([[3.0, 0.1]]), gallery, 3)
    # angles from the query (almost along x): 1.9 deg, 43.1 deg, 88.1 deg, 178.1 deg
    assert idx.tolist() == [[0, 2, 1]]
    q = np.array([3.0, 0.1]) / np.hypot(3.0, 0.1)
    expected = [1 - q[0], 1 - (q[0] + q[1]) / np.sqrt(2), 1 - q[1]]
    np.testing.assert_allclose(dist[0], expected, atol=1e-6)   # float32 features


def test_exclude_self_and_precision_at_k_by_hand():
    # two tight clusters of two points, labels 0 0 1 1; the fifth point (label 1) sits with cluster 0
    feats = np.array([[1.0, 0.0], [1.0, 0.05], [0.0, 1.0], [0.05, 1.0], [1.0, 0.02]])
    labels = np.array([0, 0, 1, 1, 1])
    idx, _ = cosine_neighbours(feats, feats, 1, exclude_self=True)
    assert (idx[:, 0] != np.arange(5)).all()
    # nearest other point: 0 -> 4 (wrong), 1 -> 4 (wrong), 2 -> 3, 3 -> 2, 4 -> 0 (wrong)
    assert precision_at_k(feats, labels, 1) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match=r"retrieval: `k` must be an int in 1..4 \(the gallery's size less "
                                         r"the query itself\). Received: k=5"):
        cosine_neighbours(feats, feats, 5, exclude_self=True)


def test_penultimate_features_are_the_last_linear_layers_input():
    cnnlab.manual_seed(0)
    net = models.get("fashion_cnn").eval()
    x = np.random.default_rng(0).standard_normal((5, 1, 28, 28)).astype(np.float32)
    feats = penultimate_features(net, TensorDataset(x, np.zeros(5, np.int64)), batch_size=2)
    with cnnlab.no_grad():
        expected = net.features(cnnlab.tensor(x)).numpy().reshape(5, -1)
    np.testing.assert_allclose(feats, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="retrieval: UNet has no Linear layer"):
        penultimate_features(models.get("unet"), TensorDataset(np.zeros((1, 1, 8, 8), np.float32),
                                                                np.zeros(1, np.int64)))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    pytest.importorskip("sklearn")
    from cnnlab.cli import main

    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    return out


def test_evaluate_retrieval_prints_precision_beside_raw_pixels(digits_run, capsys):
    from cnnlab.cli import main

    capsys.readouterr()
    assert main(["evaluate", str(digits_run / "last.npz"), "--retrieval"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fashion_cnn on digits test set (359 images, each querying the others")
    assert lines[1].startswith("retrieval precision@8 ") and "% (penultimate features, 128 dimensions, cosine) " \
        "| raw pixels " in lines[1]


def test_retrieve_prints_neighbours_and_writes_the_grid(digits_run, tmp_path, capsys):
    from PIL import Image

    from cnnlab.cli import main
    from cnnlab.data import get_dataset
    from cnnlab.inspect.images import write_png

    test = get_dataset("digits", train=False)
    write_png(tmp_path / "q.png", test.data[0] / 16)
    capsys.readouterr()
    assert main(["retrieve", str(digits_run / "last.npz"), str(tmp_path / "q.png"), "--k", "3",
                 "--out", str(tmp_path / "grid.png")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"{tmp_path / 'q.png'}: #") and line.count("#") == 3
    train = get_dataset("digits", train=True)
    for part in line.split(": ", 1)[1].split(", "):
        index, label, distance = part.split()
        assert label == train.classes[train.targets[int(index[1:])]]
        assert 0 <= float(distance) <= 2
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[1] > 4 * 16       # the query and three neighbours side by side, each 16 wide


def test_retrieve_refuses_a_bad_k(digits_run, tmp_path, capsys):
    from cnnlab.cli import main
    from cnnlab.inspect.images import write_png

    write_png(tmp_path / "q.png", np.zeros((8, 8)))
    assert main(["retrieve", str(digits_run / "last.npz"), str(tmp_path / "q.png"), "--k", "0"]) == 2
    assert capsys.readouterr().err.strip() == "cnnlab retrieve: error: retrieve: --k must be in 1..1438. Received: 0"
