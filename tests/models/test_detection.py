"""grid_detector: shapes, target encoding and decoding, the composite loss against PyTorch, and learning."""

import numpy as np
import pytest

from cnnlab import Tensor, optim
from cnnlab.models import GridDetectionLoss, get, task_of
from cnnlab.models.detection import decode_boxes, decode_detections, encode_targets

ROWS = np.array([[[17, 5, 34, 26, 3], [11, 38, 26, 54, 4], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1]],
                 [[40, 40, 64, 64, 9], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1]]], np.float32)


def test_shapes_and_registry():
    model = get("grid_detector")
    assert task_of("grid_detector") == "detect" and model.stride == 8
    out = model(Tensor(np.zeros((2, 1, 64, 64), np.float32)))
    assert out.shape == (2, 5 + 10, 8, 8)
    assert get("grid_detector", num_classes=4)(Tensor(np.zeros((1, 1, 32, 48), np.float32))).shape == (1, 8, 4, 6)
    with pytest.raises(ValueError, match="grid_detector: `num_classes` counts the background and at least one "
                                         "object class, so it must be >= 2. Received: num_classes=1"):
        get("grid_detector", num_classes=1)


def test_parameters_counted_layer_by_layer():
    convs = [(1, 8), (8, 16), (16, 32), (32, 32), (32, 64), (64, 64)]         # 3x3, no bias, then BN
    expected = sum(9 * i * o + 2 * o for i, o in convs) + 64 * 15 + 15       # head: 1x1 to 5 + 10
    assert sum(p.numel() for p in get("grid_detector").parameters()) == expected == 71_751


def test_encode_targets_puts_each_box_in_the_cell_of_its_centre():
    t = encode_targets(ROWS, grid=8, stride=8)
    assert t.shape == (2, 6, 8, 8)
    assert t[0, 0].sum() == 2 and t[1, 0].sum() == 1
    # box (17, 5, 34, 26): centre (25.5, 15.5) -> column 3, row 1, offsets 0.1875, 0.9375
    np.testing.assert_allclose(t[0, :, 1, 3], [1, 0.1875, 0.9375, np.sqrt(17 / 64), np.sqrt(21 / 64), 3])
    # box (40, 40, 64, 64): centre (52, 52) -> cell (6, 6), offsets one half
    np.testing.assert_allclose(t[1, :, 6, 6], [1, 0.5, 0.5, np.sqrt(24 / 64), np.sqrt(24 / 64), 9])
    assert (t[:, 5][t[:, 0] == 0] == -1).all()


def test_two_centres_in_one_cell_keep_the_larger_box():
    rows = np.array([[[0, 0, 10, 10, 1], [0, 0, 12, 12, 2], [0, 0, 9, 9, 3]]], np.float32)
    t = encode_targets(rows, 8, 8)
    assert t[0, 0].sum() == 1 and t[0, 5, 0, 0] == 2


def test_decoding_inverts_the_encoding():
    t = encode_targets(ROWS, 8, 8)
    xyxy = decode_boxes(t[:, 1], t[:, 2], t[:, 3], t[:, 4], 8)                   # (N, S, S, 4)
    for image in range(2):
        rows = ROWS[image][ROWS[image, :, 4] >= 0]
        got = xyxy[image][t[image, 0] > 0]
        np.testing.assert_allclose(sorted(map(tuple, got)), sorted(map(tuple, rows[:, :4])), atol=1e-4)


def _logits_of(targets, classes=10, confident=8.0):
    """Grid outputs that say exactly ``targets``: the logits of their probabilities."""
    n, _, s, _ = targets.shape
    out = np.zeros((n, 5 + classes, s, s))
    out[:, 0] = np.where(targets[:, 0] > 0, confident, -confident)
    p = np.clip(targets[:, 1:5], 1e-6, 1 - 1e-6)
    out[:, 1:5] = np.log(p / (1 - p))
    label = np.maximum(targets[:, 5], 0).astype(int)
    np.put_along_axis(out[:, 5:], label[:, None], confident, axis=1)
    return out


def test_decode_detections_finds_the_boxes_and_suppresses_duplicates():
    out = _logits_of(encode_targets(ROWS, 8, 8))
    found = decode_detections(out, 8, score_threshold=0.5)
    boxes, scores, labels = found[0]
    assert sorted(labels.tolist()) == [3, 4] and (scores > 0.99).all()
    np.testing.assert_allclose(sorted(map(tuple, boxes)), sorted(map(tuple, ROWS[0, :2, :4])), atol=1e-3)
    # the cell below says nearly the same box (centre 0.5 pixel lower), a little less surely
    out[0, :, 2, 3] = out[0, :, 1, 3]
    out[0, 2, 2, 3] = np.log(1e-6)                                 # y offset 0 in row 2: centre y 16
    out[0, 0, 2, 3] = 4.0
    again = decode_detections(out, 8, score_threshold=0.5)[0]      # IoU 348.5 / 365.5: suppressed
    assert len(again[1]) == 2 and sorted(again[2].tolist()) == [3, 4]
    assert len(decode_detections(out, 8, score_threshold=0.5, iou_threshold=0.96)[0][1]) == 3
    out[0, 5:, 2, 3] = np.roll(out[0, 5:, 2, 3], 1)                # another class: never suppressed
    assert sorted(decode_detections(out, 8, score_threshold=0.5)[0][2].tolist()) == [3, 4, 4]


def _torch_yolo_loss(torch, out, t, lambda_coord=5.0, lambda_noobj=0.5):
    """The same loss written independently with PyTorch's functions, from the encoded targets."""
    import torch.nn.functional as tf

    obj = torch.from_numpy(t[:, 0]).double()
    weight = torch.where(obj > 0, 1.0, lambda_noobj).double()
    objectness = tf.binary_cross_entropy_with_logits(out[:, 0], obj, weight=weight, reduction="sum")
    box = torch.sigmoid(out[:, 1:5])
    coord = (((box - torch.from_numpy(t[:, 1:5]).double()) ** 2) * obj[:, None]).sum()
    label = torch.from_numpy(np.where(t[:, 0] > 0, t[:, 5], -100).astype(np.int64))
    classes = tf.cross_entropy(out[:, 5:], label, ignore_index=-100, reduction="sum")
    return (lambda_coord * coord + objectness + classes) / out.shape[0]


def test_loss_and_its_gradient_match_pytorch_in_float64():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 15, 8, 8))
    ours = Tensor(logits.copy(), requires_grad=True)
    loss = GridDetectionLoss(stride=8)(ours, Tensor(ROWS))
    loss.backward()
    theirs = torch.tensor(logits, requires_grad=True)
    expected = _torch_yolo_loss(torch, theirs, encode_targets(ROWS, 8, 8))
    expected.backward()
    assert float(loss.item()) == pytest.approx(expected.item(), rel=1e-10)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_loss_decreases_on_a_tiny_batch():
    from cnnlab import backend

    backend.manual_seed(0)
    model = get("grid_detector")
    loss_fn = GridDetectionLoss(model.stride)
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(2, 1, 64, 64)).astype(np.float32))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = loss_fn(model(x), Tensor(ROWS))
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.5 * losses[0]
