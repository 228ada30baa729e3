"""The detect task: its table entry, its batch score and its evaluation (one process and several ranks)."""

import numpy as np
import pytest

from cnnlab import Tensor
from cnnlab.data import TensorDataset
from cnnlab.data.loader import DataLoader
from cnnlab.models import get
from cnnlab.runs.detect import count_hits, detection_evaluation, map_line
from cnnlab.runs.tasks import get_task

ROWS = np.array([[[17, 5, 34, 26, 3], [11, 38, 26, 54, 4], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1]],
                 [[40, 40, 64, 64, 9], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1], [0, 0, 0, 0, -1]]], np.float32)


def test_the_task_table_has_detect():
    task = get_task("detect")
    assert task.name == "detect" and task.result_keys == (("test_map50", "map50"),)
    assert map_line({"map50": 0.8123}) == "test mAP@0.5 81.2%"


def test_count_hits_counts_images_with_the_right_number_of_confident_cells():
    out = np.full((2, 15, 8, 8), -3.0, np.float32)
    out[0, 0, 1, 3] = out[0, 0, 5, 2] = 2.0                       # two objects found, two there
    out[1, 0, 0, 0] = out[1, 0, 7, 7] = 2.0                       # two found, one there
    assert count_hits(Tensor(out), Tensor(ROWS)) == (1, None)


class _Ranks:
    """Two ranks' gathers in one process: rank 0 records what it sends; rank 1 gets both, in order."""

    def __init__(self, rank, sent=None):
        self.rank, self.sent, self.calls = rank, sent if sent is not None else [], 0

    def gather(self, array):
        if self.rank == 0:
            self.sent.append(array)
            return array                      # rank 0's own result is not checked
        first = self.sent[self.calls]
        self.calls += 1
        return np.concatenate([first, array])

    def sum(self, *values):
        return values


def test_evaluation_gathers_every_ranks_images():
    from cnnlab import backend

    backend.manual_seed(0)
    model = get("grid_detector")
    images = np.random.default_rng(0).normal(size=(5, 1, 64, 64)).astype(np.float32)
    rows = np.concatenate([ROWS, ROWS, ROWS[:1]])
    whole = detection_evaluation(model, DataLoader(TensorDataset(images, rows), batch_size=2), None)
    rank0 = _Ranks(0)
    detection_evaluation(model, DataLoader(TensorDataset(images[:3], rows[:3]), batch_size=2), None, rank0)
    shared = detection_evaluation(model, DataLoader(TensorDataset(images[3:], rows[3:]), batch_size=2), None,
                                  _Ranks(1, rank0.sent))
    assert len(shared["detections"]) == 5 and shared["map50"] == pytest.approx(whole["map50"])
    np.testing.assert_array_equal(shared["support"], whole["support"])
    for (b, s, c), (b2, s2, c2) in zip(shared["detections"], whole["detections"]):
        np.testing.assert_allclose(b, b2, rtol=1e-6)
        np.testing.assert_allclose(s, s2, rtol=1e-6)
        np.testing.assert_array_equal(c, c2)
