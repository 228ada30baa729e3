"""ONNX export: the exported graph passes onnx.checker and onnxruntime computes what the model computes."""

import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx package is not installed (pip install 'cnnlab[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'cnnlab[onnx]')")

import cnnlab  # noqa: E402
from cnnlab import Tensor, models, nn  # noqa: E402
from cnnlab import functional as F  # noqa: E402
from cnnlab.interop import export_onnx, to_onnx  # noqa: E402
from cnnlab.interop.onnx_export import OnnxExportError  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
from helpers import assert_close  # noqa: E402


def randomize(model, seed=0):
    """Random weights and BatchNorm statistics on a scale that keeps activations O(1)."""
    rng = np.random.default_rng(seed)
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.data.dtype.kind != "f":
            continue
        if name.endswith("running_var") or (t.ndim == 1 and name.endswith("weight")):
            t.data[...] = rng.uniform(0.5, 1.5, t.shape)
        elif t.ndim <= 1:
            t.data[...] = rng.normal(0, 0.1, t.shape)
        else:
            t.data[...] = rng.normal(0, 1.4 / np.sqrt(np.prod(t.shape[1:])), t.shape)
    return model


def run_both(model, path, shape, batch=2):
    x = np.random.default_rng(1).standard_normal((batch,) + tuple(shape)).astype(np.float32)
    model.eval()
    with cnnlab.no_grad():
        ours = model(Tensor(x)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"input": x})[0]
    return ours, theirs


ZOO = [("lenet5", {}, (1, 28, 28)), ("fashion_cnn", {}, (1, 28, 28)), ("resnet18", {}, (3, 64, 64)),
       ("googlenet", {}, (3, 64, 64)), ("googlenet", {"variant": "torchvision"}, (3, 64, 64)),
       ("squeezenet1_1", {}, (3, 64, 64))]


@pytest.mark.parametrize("name,config,shape", ZOO, ids=[f"{n}-{c.get('variant', '')}" for n, c, _ in ZOO])
def test_zoo_models_run_in_onnxruntime_as_they_run_here(name, config, shape, tmp_path):
    cnnlab.manual_seed(0)
    model = randomize(models.get(name, **config))
    model.train()
    path = export_onnx(model, tmp_path / f"{name}.onnx", shape)
    assert model.training, "export must restore the training mode"
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    ours, theirs = run_both(model, path, shape)            # batch 2 through a graph traced with batch 1
    assert ours.shape == theirs.shape
    assert_close(theirs, ours, "float32", name)
    params = {n for n, _ in model.named_parameters()}
    initializers = {i.name for i in proto.graph.initializer}
    unused = {n for n in params if n.startswith("aux")}                 # GoogLeNet's auxiliary heads
    assert params - initializers == unused
    ops = {n.op_type for n in proto.graph.node}
    name = f"{name}-{config['variant']}" if config else name
    expected = {"lenet5": {"Conv", "Relu", "MaxPool", "Flatten", "Gemm"},
                "fashion_cnn": {"Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm"},
                "resnet18": {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "GlobalAveragePool", "Gemm"},
                "googlenet": {"Conv", "LRN", "MaxPool", "Concat", "GlobalAveragePool", "Dropout", "Gemm"},
                "googlenet-torchvision": {"Conv", "BatchNormalization", "MaxPool", "Concat", "GlobalAveragePool"},
                "squeezenet1_1": {"Conv", "Relu", "MaxPool", "Concat", "Dropout", "GlobalAveragePool", "Flatten"}}
    assert expected[name] <= ops, f"{name}: missing {expected[name] - ops}"


class Everything(nn.Module):
    """One of each op the export writes, including the settings that need care."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, stride=2, padding=(1, 2), dilation=(1, 2), groups=2)
        self.reflect = nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect")
        self.bn = nn.BatchNorm2d(8)
        self.lrn = nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=1.5)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.adaptive = nn.AdaptiveAvgPool2d((2, 3))
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(8, 5)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        x = self.bn(self.reflect(self.conv(x)))
        x = F.relu6(self.act(x))
        x = self.lrn(x) * 0.5 + F.elu(x)
        x = self.avg(x) - F.min_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
        y = self.adaptive(self.pool(F.sigmoid(x)))                  # (N, 8, 2, 3)
        z = self.fc(y.permute(0, 2, 3, 1))                          # Linear on a 4-D input: (N, 2, 3, 5)
        z = F.tanh(z).mean(axis=(1, 2))                             # (N, 5)
        return F.softmax(self.drop(z / 2.0), dim=1) + F.log_softmax(z, dim=1)


def test_every_supported_op_matches_onnxruntime(tmp_path):
    cnnlab.manual_seed(0)
    model = randomize(Everything())
    path = export_onnx(model, tmp_path / "all.onnx", (4, 13, 17))
    ours, theirs = run_both(model, path, (4, 13, 17), batch=3)
    assert_close(theirs, ours, "float32", "every op")
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert {"Pad", "LRN", "AveragePool", "Neg", "LeakyRelu", "Clip", "Elu", "Transpose", "MatMul", "ReduceMean",
            "Softmax", "LogSoftmax", "Dropout", "Sigmoid", "Tanh", "Mul", "Sub", "Div"} <= ops


def test_tanh_avg_pool_lenet_and_upsampling_adaptive_pool(tmp_path):
    model = randomize(models.get("lenet5", activation="tanh", pool="avg"))
    path = export_onnx(model, tmp_path / "lenet_tanh.onnx", (1, 28, 28))
    assert_close(*run_both(model, path, (1, 28, 28))[::-1], "float32", "lenet tanh")
    up = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d((6, 9)))   # 3x3 -> 6x9: whole-factor upsampling
    randomize(up)
    path = export_onnx(up, tmp_path / "up.onnx", (1, 5, 5))
    assert_close(*run_both(up, path, (1, 5, 5))[::-1], "float32", "adaptive upsampling")


def test_ops_onnx_cannot_express_name_the_layer_and_the_op(tmp_path):
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.StochasticPool2d(2), nn.Flatten())
    with pytest.raises(OnnxExportError, match=r"export_onnx: layer '2' \(StochasticPool2d\) uses the op "
                                              r"StochasticPool2d, which samples a random element"):
        export_onnx(net, tmp_path / "x.onnx", (1, 8, 8))
    uneven = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d((4, 4)))
    with pytest.raises(OnnxExportError, match=r"layer '1' \(AdaptiveAvgPool2d\) uses the op AdaptiveAvgPool2d, "
                                              r"which from 6x6 to 4x4 has uneven windows"):
        export_onnx(uneven, tmp_path / "y.onnx", (1, 8, 8))
    assert not os.path.exists(tmp_path / "x.onnx") and not os.path.exists(tmp_path / "y.onnx")
    with pytest.raises(ValueError, match=r"export_onnx: `input_shape` must be \(C, H, W\) or \(N, C, H, W\)"):
        to_onnx(net, (8, 8))


def test_static_batch_and_graph_io_names(tmp_path):
    model = randomize(models.get("fashion_cnn"))
    proto = to_onnx(model, (3, 1, 28, 28), dynamic_batch=False, input_name="images", output_name="scores")
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [3, 1, 28, 28] and proto.graph.input[0].name == "images"
    assert proto.graph.output[0].name == "scores"
    assert [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim] == [3, 10]
