"""Pictures of a network: filters, activation maps, top patches, occlusion, saliency, and the image helpers."""

import io

import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from cnnlab.cli import main
from cnnlab.data import ArrayDataset, TensorDataset
from cnnlab.inspect import images, visualize as V

Image = pytest.importorskip("PIL.Image")


def _decode(data):
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
        im.load()
        return np.asarray(im)


def _check_picture(pic, shape=None, tmp_path=None):
    assert pic.ndim == 3 and pic.shape[2] == 3 and pic.dtype == np.float32
    assert pic.min() >= 0.0 and pic.max() <= 1.0
    if shape is not None:
        assert pic.shape == shape
    if tmp_path is not None:
        path = images.write_png(tmp_path / "p.png", pic)
        np.testing.assert_array_equal(_decode(path), images.to_uint8(pic))


class Quadrant(nn.Module):
    """Two classes scored only from the top-left 8x8 quadrant of a 16x16 image: logits (s, -s), s = mean."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.conv.weight.data[...] = 1.0
        self.flat = nn.Flatten()
        self.fc = nn.Linear(64, 2)
        self.fc.weight.data[...] = np.stack([np.full(64, 1 / 64), np.full(64, -1 / 64)])
        self.fc.bias.data[...] = 0.0

    def forward(self, x):
        return self.fc(self.flat(self.conv(x)[:, :, :8, :8]))


def _small_cnn(seed=0):
    cnnlab.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 3, 3))


def _uint8_dataset(n=30, side=12, seed=0):
    rng = np.random.default_rng(seed)
    return ArrayDataset(rng.integers(0, 256, (n, side, side), dtype=np.uint8), rng.integers(0, 3, n))


# ------------------------------------------------------------------------------------------ image helpers
@pytest.mark.parametrize("shape", [(7, 5), (6, 9, 3), (4, 4, 4)])
def test_png_encoder_round_trips_through_pillow(shape):
    a = np.random.default_rng(0).random(shape)
    np.testing.assert_array_equal(_decode(images.encode_png(a)), images.to_uint8(a))
    u = images.to_uint8(a)
    np.testing.assert_array_equal(_decode(images.encode_png(u)), u)
    assert images.png_data_uri(a).startswith("data:image/png;base64,iVBORw0KGgo")


def test_grid_colormap_rescale_and_overlay():
    tiles = [np.full((3, 4), v) for v in (0.0, 0.5, 1.0, 0.25, 0.75)]
    g = images.grid(tiles, ncols=3, pad=1, background=1.0)
    assert g.shape == (2 * 4 + 1, 3 * 5 + 1, 3)
    np.testing.assert_allclose(g[1:4, 6:10], 0.5)                      # second tile
    np.testing.assert_allclose(g[5:8, 11:], 1.0)                       # the empty sixth cell: background
    np.testing.assert_allclose(images.colormap(np.array([0.0, 1.0]), "viridis"),
                               [[0.267, 0.005, 0.329], [0.993, 0.906, 0.144]], atol=1e-6)
    np.testing.assert_allclose(images.colormap(0.5, "gray"), [0.5, 0.5, 0.5])
    assert images.rescale(np.full((2, 2), 3.0)).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    np.testing.assert_allclose(images.rescale(np.array([2.0, 4.0, 3.0])), [0, 1, 0.5])
    np.testing.assert_allclose(images.rescale_symmetric(np.array([-2.0, 0.0, 1.0])), [0, 0.5, 0.75])
    assert images.overlay(np.zeros((8, 8)), np.zeros((4, 4))).shape == (8, 8, 3)
    with pytest.raises(ValueError, match=r"heat map \(3, 3\) does not tile the image \(8, 8\)"):
        images.overlay(np.zeros((8, 8)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown colour map 'jet'"):
        images.colormap(0.5, "jet")
    with pytest.raises(ValueError, match="same size"):
        images.grid([np.zeros((2, 2)), np.zeros((3, 3))])
    assert images.side_by_side(np.zeros((4, 5)), np.zeros((6, 2, 3)), pad=1).shape == (8, 1 + 5 + 1 + 2 + 1, 3)


def test_read_image_converts_channels_and_size(tmp_path):
    rgb = (np.random.default_rng(0).random((10, 8, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    a = images.read_image(tmp_path / "a.png")
    np.testing.assert_allclose(a, rgb / 255.0, atol=1e-6)
    assert images.read_image(tmp_path / "a.png", channels=1).shape == (10, 8)
    assert images.read_image(tmp_path / "a.png", channels=3, size=(5, 4)).shape == (5, 4, 3)
    (tmp_path / "b.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read .* as an image"):
        images.read_image(tmp_path / "b.png")


# ------------------------------------------------------------------------------------------ filters
def test_show_filters_grey_kernels_normalised_each(tmp_path):
    w = np.random.default_rng(0).standard_normal((16, 1, 5, 5)).astype(np.float32)
    pic = V.show_filters(w, scale=2)
    _check_picture(pic, (4 * (10 + 2) + 2, 4 * (10 + 2) + 2, 3), tmp_path)
    for i in range(16):
        r, c = divmod(i, 4)
        tile = pic[2 + r * 12:2 + r * 12 + 10:2, 2 + c * 12:2 + c * 12 + 10:2, 0]
        k = w[i, 0]
        np.testing.assert_allclose(tile, (k - k.min()) / (k.max() - k.min()), atol=1e-6)


def test_show_filters_rgb_in_colour_and_from_a_model():
    w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
    pic = V.show_filters(w, ncols=4, scale=1)
    _check_picture(pic, (3 + 4, 4 * 5 + 2, 3))
    k = w[2]
    np.testing.assert_allclose(pic[2:5, 12:15], ((k - k.min()) / (k.max() - k.min())).transpose(1, 2, 0), atol=1e-6)
    net = _small_cnn()
    from_model = V.show_filters(net)
    np.testing.assert_array_equal(from_model, V.show_filters(net[0]))
    many = V.show_filters(net[3], scale=1)      # 3 kernels of 4 channels: a row per kernel
    assert many.shape == (3 * 5 + 2, 4 * 5 + 2, 3)


# ------------------------------------------------------------------------------------------ activations
def test_activation_maps_shape_range_and_layer_errors(tmp_path):
    net = _small_cnn()
    x = np.random.default_rng(0).standard_normal((1, 12, 12)).astype(np.float32)
    pic = V.activation_maps(net, x, "1", scale=2)                       # 4 maps 12x12 -> 2x2 grid of 24
    _check_picture(pic, (2 * 26 + 2, 2 * 26 + 2, 3), tmp_path)
    maps = V.activations(net, x, "1")
    assert maps.shape == (4, 12, 12) and maps.min() >= 0                 # after the ReLU
    assert V.activation_maps(net, x, normalize="channel").shape[2] == 3   # default: the first convolution
    assert V.activation_maps(net, np.repeat(x, 3, axis=0)).shape == V.activation_maps(net, x).shape  # RGB -> grey
    with pytest.raises(ValueError, match=r"the model has no layer 'conv9'. Layer names: 0, 1, 2, 3"):
        V.activation_maps(net, x, "conv9")
    with pytest.raises(ValueError, match="the image has 2 channels but the model's first convolution expects 1"):
        V.activation_maps(net, np.zeros((2, 12, 12), np.float32))
    with pytest.raises(ValueError, match=r"layer 'fc' outputs shape \(1, 2\); activation maps need"):
        V.activation_maps(Quadrant(), np.ones((1, 16, 16), np.float32), "fc")
    with pytest.raises(ValueError, match="`normalize` must be 'layer' or 'channel'"):
        V.activation_maps(net, x, normalize="global")


# ------------------------------------------------------------------------------------------ top patches
def _brute_force(net, ds, channel, upto=4):
    """Each image alone through the first ``upto`` layers: every unit's value of ``channel``."""
    rows = []
    for i in range(len(ds)):
        h = cnnlab.tensor(ds[i][0].numpy()[None])
        with cnnlab.no_grad():
            for m in list(net)[:upto]:
                h = m(h)
        fmap = h.numpy()[0, channel]
        for y in range(fmap.shape[0]):
            for x in range(fmap.shape[1]):
                rows.append((float(fmap[y, x]), i, y, x))
    return rows


@pytest.mark.parametrize("one_per_image", [True, False])
def test_top_patches_are_the_top_activations(one_per_image, tmp_path):
    net = _small_cnn(seed=2)
    ds = _uint8_dataset()
    k = 5
    result = V.top_patches(net, ds, "3", channel=1, k=k, batch_size=7, one_per_image=one_per_image)
    rows = _brute_force(net, ds, 1)
    if one_per_image:
        best = {}
        for v, i, y, x in rows:
            if i not in best or v > best[i][0]:
                best[i] = (v, i, y, x)
        rows = list(best.values())
    rows.sort(key=lambda r: -r[0])
    top = rows[:k]
    np.testing.assert_allclose(result.values[0], [r[0] for r in top], rtol=1e-5)
    np.testing.assert_array_equal(result.indices[0], [r[1] for r in top])
    np.testing.assert_array_equal(result.positions[0], [[r[2], r[3]] for r in top])
    # Receptive field of conv3(p1) -> pool2 -> conv3: 8x8 with step 2, starting one pixel before the image.
    for (y, x), box, idx, patch in zip(result.positions[0], result.boxes[0], result.indices[0], result.patches[0]):
        assert tuple(box) == (-1 + 2 * y, -1 + 2 * x, 7 + 2 * y, 7 + 2 * x)
        raw = ds.data[idx].astype(np.float32) / 255
        t, l_, b, r = max(box[0], 0), max(box[1], 0), min(box[2], 12), min(box[3], 12)
        inside = patch[t - box[0]:b - box[0], l_ - box[1]:r - box[1], 0]
        np.testing.assert_allclose(inside, raw[t:b, l_:r], atol=1e-6)
        outside = np.ones((8, 8), bool)
        outside[t - box[0]:b - box[0], l_ - box[1]:r - box[1]] = False
        np.testing.assert_allclose(patch[outside], 0.5)                   # beyond the border: grey
    assert result.patches.shape == (1, k, 8, 8, 3)
    _check_picture(result.picture, (1 * (32 + 2) + 2, k * (32 + 2) + 2, 3), tmp_path)


def test_top_patches_every_channel_and_errors():
    net = _small_cnn(seed=3)
    x = np.random.default_rng(0).standard_normal((20, 1, 12, 12)).astype(np.float32)
    ds = TensorDataset(x, np.zeros(20, np.int64))                       # no raw images: inputs are stretched
    result = V.top_patches(net, ds, net[3], k=3)
    assert result.layer == "3" and result.values.shape == (3, 3) and list(result.channels) == [0, 1, 2]
    assert np.all(np.diff(result.values, axis=1) <= 0)
    _check_picture(result.picture, (3 * 34 + 2, 3 * 34 + 2, 3))
    with pytest.raises(ValueError, match=r"`channel` must be in 0..2 for layer '3' \(3 channels\). Received: channel=3"):
        V.top_patches(net, ds, "3", channel=3)
    with pytest.raises(ValueError, match="the model has no layer 'features.4'. Layer names: 0, 1, 2, 3"):
        V.top_patches(net, ds, "features.4")
    with pytest.raises(ValueError, match="`k` must be a positive int"):
        V.top_patches(net, ds, "3", k=0)


def test_receptive_geometry_of_the_fashion_network():
    from cnnlab import models

    net = models.get("fashion_cnn")
    g = V.receptive_geometry(net, np.zeros((1, 28, 28), np.float32), "features.4")
    # conv5 pad 2: 5 wide from -2; pool 2: 6 wide, step 2; conv5 pad 2: 6 + 4*2 = 14 wide from -2 - 2*2.
    assert (g.first, g.jump, g.size) == ((-6, -6), (2, 2), (14, 14))
    assert g.box(3, 1) == (0, -4, 14, 10)
    whole = V.receptive_geometry(net, np.zeros((1, 28, 28), np.float32), "classifier.1")
    assert whole.size == (28, 28)


# ------------------------------------------------------------------------------------------ occlusion, saliency
def test_occlusion_lights_up_only_the_quadrant_the_model_looks_at(tmp_path):
    model = Quadrant()
    image = np.ones((1, 16, 16), np.float32)
    heat = V.occlusion_map(model, image, target=0, patch=4, stride=4)
    assert heat.shape == (16, 16) and heat.dtype == np.float32
    assert np.all(heat[:8, :8] > 0.05)                                    # hiding a quarter of s lowers p(0)
    assert np.all(heat[8:, :] == 0) and np.all(heat[:, 8:] == 0)
    # overlapping squares: a square reaching into the quadrant colours at most patch-1 pixels beyond it
    heat = V.occlusion_map(model, image, patch=4, stride=2)
    assert np.all(heat[:8, :8] > 0) and np.all(heat[11:, :] == 0) and np.all(heat[:, 11:] == 0)
    assert heat.min() >= -1 and heat.max() <= 1
    # the other class gains what class 0 loses
    np.testing.assert_allclose(V.occlusion_map(model, image, target=1, patch=4, stride=2), -heat, atol=1e-6)
    pic = V.heatmap_picture(image, heat, signed=True, scale=2)
    _check_picture(pic, (32 + 8, 2 * 32 + 12, 3), tmp_path)
    with pytest.raises(ValueError, match=r"`target` must be a class index in 0..1. Received: target=2"):
        V.occlusion_map(model, image, target=2)
    with pytest.raises(ValueError, match=r"`patch` must be an int in \[1, 16\]"):
        V.occlusion_map(model, image, patch=20)


def test_saliency_is_the_input_gradient_magnitude():
    model = Quadrant()
    image = np.random.default_rng(0).random((1, 16, 16)).astype(np.float32)
    s = V.saliency(model, image, target=0)
    expected = np.zeros((16, 16))
    expected[:8, :8] = 1.0                                                # d s / d x = 1/64 there, normalised
    np.testing.assert_allclose(s, expected, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())                # the model's gradients are untouched
    # A linear model: the gradient of score t is row t of the weight; the map is its largest |.| per pixel.
    cnnlab.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(2 * 5 * 4, 3))
    x = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    w = lin[1].weight.numpy().reshape(3, 2, 5, 4)
    for t in range(3):
        ref = np.abs(w[t]).max(axis=0)
        np.testing.assert_allclose(V.saliency(lin, x, t), ref / ref.max(), rtol=1e-5)
        np.testing.assert_allclose(V.saliency(lin, x, t, normalize=False), ref, rtol=1e-5)
    assert V.heatmap_picture(x[:1], V.saliency(lin, x)).shape[2] == 3


# ------------------------------------------------------------------------------------------ the command
@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory):
    pytest.importorskip("sklearn")
    from cnnlab.train.run import train_job

    out = tmp_path_factory.mktemp("run")
    train_job(model="fashion_cnn", dataset="digits", epochs=1, out=str(out), progress=False, train_limit=256,
              log=lambda *a: None)
    return out / "last.npz"


@pytest.mark.parametrize("what,extra,shape", [
    ("filters", [], (4 * 52 + 2, 4 * 52 + 2, 3)),
    ("activations", ["--image", "test:3"], (4 * 50 + 2, 4 * 50 + 2, 3)),
    ("top-patches", ["--layer", "features.4", "--channel", "2", "--k", "4"], (1 * 44 + 2, 4 * 44 + 2, 3)),
    ("top-patches", ["--channel", "0-2,7", "--k", "3", "--limit", "50"], (4 * 37 + 2, 3 * 37 + 2, 3)),
    ("occlusion", ["--patch", "2", "--stride", "1"], (160 + 8, 2 * 160 + 12, 3)),
    ("saliency", ["--target", "1"], (160 + 8, 2 * 160 + 12, 3)),
])
def test_visualize_command_writes_pngs(digits_checkpoint, tmp_path, capsys, what, extra, shape):
    assert main(["visualize", str(digits_checkpoint), "--what", what, "--out", str(tmp_path)] + extra) == 0
    paths = [line for line in capsys.readouterr().out.splitlines() if line.endswith(".png")]
    assert len(paths) == 1
    decoded = _decode(paths[0])
    assert decoded.shape == shape and decoded.dtype == np.uint8


def test_visualize_command_with_an_image_file_and_bad_input(digits_checkpoint, tmp_path, capsys):
    rgb = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)   # colour, larger: converted
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    assert main(["visualize", str(digits_checkpoint), "--what", "saliency", "--image", str(tmp_path / "photo.png"),
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "saliency-photo.png").is_file()
    capsys.readouterr()
    assert main(["visualize", str(digits_checkpoint), "--what", "activations", "--layer", "conv1",
                 "--out", str(tmp_path)]) == 2
    assert "no layer 'conv1'. Layer names: features, features.0" in capsys.readouterr().err
    assert main(["visualize", str(digits_checkpoint), "--what", "top-patches", "--channel", "99",
                 "--out", str(tmp_path)]) == 2
    assert "`channel` must be in 0..15" in capsys.readouterr().err
    assert main(["visualize", str(digits_checkpoint), "--what", "top-patches", "--channel", "3-1",
                 "--out", str(tmp_path)]) == 2
    assert "the channel range '3-1' runs backwards" in capsys.readouterr().err
    assert main(["visualize", str(digits_checkpoint), "--what", "top-patches", "--channel", "two",
                 "--out", str(tmp_path)]) == 2
    assert "`channel` must be like 5, 0-7 or 1,4,9. Received: channel='two'" in capsys.readouterr().err
    assert main(["visualize", str(digits_checkpoint), "--what", "occlusion", "--image", "test:100000",
                 "--out", str(tmp_path)]) == 2
    assert "test image 100000 does not exist" in capsys.readouterr().err
