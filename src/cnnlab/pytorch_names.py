"""PyTorch names cnnlab does not have, each with its one-line answer: what to use instead, or why.

A module's ``__getattr__`` (called only for names it lacks) looks the name up here, so a program
written for PyTorch stops at the first such name with a sentence rather than a bare AttributeError.
"""

# Under each [owner], one row per name: the name, "use" (what to use instead) or "why" (why there is
# none), and the answer. An indented line continues the answer above it.
_TABLE = """
[torch]
backends  why  cnnlab picks its kernels itself; cnnlab.backend.set_kernels chooses between the compiled
               and the reference ones
compile   why  cnnlab does not trace or compile models; its kernels are compiled already, so call the
               model as it is
jit       why  there is no TorchScript; export a model with cnnlab.interop.export_onnx
hub       why  cnnlab downloads no code; models come from cnnlab.vision.models and weights through
               cnnlab.interop
amp       why  cnnlab computes in float32 or float64, without mixed precision
autocast  why  cnnlab computes in float32 or float64, without mixed precision
bfloat16  why  NumPy has no bfloat16; use cnnlab.float32
mps       why  cnnlab runs on the CPU (and CUDA through CuPy), not on Apple's MPS
fft       why  no Fourier transforms; numpy.fft works on t.numpy()
linalg    why  no linear-algebra namespace; numpy.linalg works on t.numpy()
sparse    why  cnnlab has dense tensors only
chunk     why  no chunk/split yet; slice with x[a:b]
split     why  no chunk/split yet; slice with x[a:b]
prod      why  no product reduction yet; use x.log().sum().exp() for positive x
half      why  cnnlab computes in float32 or float64

[torch.nn]
DataParallel        use  cnnlab.nn.parallel.DistributedDataParallel under mpiexec (cnnlab.distributed)
LayerNorm           why  no layer norm yet; cnnlab's models use BatchNorm2d
GroupNorm           why  no group norm yet; use BatchNorm2d
InstanceNorm2d      why  no instance norm yet; use BatchNorm2d
Conv1d              why  cnnlab convolves images (2-D); use Conv2d with a height of 1
Conv3d              why  cnnlab convolves images (2-D) only
MaxPool1d           why  cnnlab pools images (2-D); use MaxPool2d with a height of 1
RNN                 use  cnnlab.nn.LSTMCell in a loop over the steps (one cell, no multi-layer sequence
                         module)
LSTM                use  cnnlab.nn.LSTMCell in a loop over the steps (one cell, no multi-layer sequence
                         module)
GRU                 use  cnnlab.nn.LSTMCell in a loop over the steps (there is no GRU cell)
MultiheadAttention  why  cnnlab is for convolutional networks; no attention layers
Transformer         why  cnnlab is for convolutional networks; no transformer layers
Softplus            why  no softplus yet; cnnlab.nn has ReLU, ELU, GELU, SiLU, ...
PReLU               use  cnnlab.nn.LeakyReLU (a fixed slope)
SELU                use  cnnlab.nn.ELU
L1Loss              why  no L1 loss yet; use (out - target).abs().mean()
SmoothL1Loss        why  no smooth L1 loss yet
KLDivLoss           why  no KL-divergence loss yet

[torch.nn.functional]
conv1d                        why  cnnlab convolves images (2-D); use conv2d with a height of 1
conv3d                        why  cnnlab convolves images (2-D) only
unfold                        why  im2col is internal (cnnlab.kernels.reference); not a public op yet
fold                          why  col2im is internal (cnnlab.kernels.reference); not a public op yet
softplus                      why  no softplus yet
mish                          why  no mish yet
prelu                         use  leaky_relu (a fixed slope)
selu                          use  elu
layer_norm                    why  no layer norm yet; use batch_norm
group_norm                    why  no group norm yet; use batch_norm
instance_norm                 why  no instance norm yet; use batch_norm
l1_loss                       why  no L1 loss yet; use (input - target).abs().mean()
smooth_l1_loss                why  no smooth L1 loss yet
huber_loss                    why  no Huber loss yet
kl_div                        why  no KL divergence yet
grid_sample                   why  no sampling grids yet; interpolate resizes
affine_grid                   why  no sampling grids yet
scaled_dot_product_attention  why  cnnlab is for convolutional networks; no attention

[torch.Tensor]
half  why  cnnlab computes in float32 or float64
type  use  x.dtype to read it, x.to(dtype) to change it
prod  why  no product reduction yet; use x.log().sum().exp() for positive x
"""


def _parse(text):
    """owner -> {name: (kind, answer)} from the text table above."""
    tables, entries, name = {}, None, None
    for line in text.strip().splitlines():
        if line.startswith("["):
            entries = tables.setdefault(line.strip("[]"), {})
        elif line.startswith(" "):
            kind, answer = entries[name]
            entries[name] = (kind, f"{answer} {line.strip()}")
        elif line:
            name, kind, answer = line.split(maxsplit=2)
            entries[name] = (kind, answer)
    return tables


TABLES = _parse(_TABLE)


def message(owner, name):
    """The one-line answer for ``owner.name``, or None if the table has no entry for it."""
    entry = TABLES.get(owner, {}).get(name)
    if entry is None:
        return None
    kind, text = entry
    if kind == "use":
        return f"cnnlab has no `{owner}.{name}`; use {text}"
    return f"cnnlab has no `{owner}.{name}` (not supported: {text})"


def missing(owner, module_name, name):
    """The AttributeError for a name module ``module_name`` lacks, worded from the table when it
    can (``module_name`` None: a Tensor attribute)."""
    text = message(owner, name)
    if text is None:
        text = (f"module {module_name!r} has no attribute {name!r}" if module_name else
                f"'Tensor' object has no attribute {name!r}")
    return AttributeError(text)
