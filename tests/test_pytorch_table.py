"""docs/pytorch.md stays true: names it calls same/differs exist, names it calls missing do not."""

import pytest

import cnnlab
import cnnlab.data
import cnnlab.functional as F
from cnnlab import nn, optim
from cnnlab.optim import lr_scheduler

PRESENT = {
    cnnlab: "tensor zeros ones randn rand arange from_numpy cat stack no_grad enable_grad "
            "set_grad_enabled "
            "is_grad_enabled inference_mode manual_seed set_default_dtype get_default_dtype save "
            "load device "
            "float32 float64 int64 Size",
    cnnlab.Tensor: "shape ndim dtype dim numel size device to cpu float double long int bool numpy "
                   "item tolist "
                   "detach clone requires_grad_ retain_grad backward view reshape flatten squeeze "
                   "unsqueeze "
                   "permute transpose T t expand expand_as repeat masked_fill zero_ sum mean var "
                   "max min amax "
                   "amin argmax argmin exp log sqrt abs clamp relu sigmoid tanh softmax "
                   "log_softmax astype",
    F: "conv2d conv_transpose2d linear dropout dropout2d pad relu relu6 leaky_relu elu hardtanh "
       "sigmoid tanh "
       "softmax log_softmax gelu max_pool2d avg_pool2d lp_pool2d adaptive_avg_pool2d "
       "adaptive_max_pool2d "
       "fractional_max_pool2d interpolate upsample batch_norm local_response_norm cross_entropy "
       "nll_loss "
       "mse_loss binary_cross_entropy binary_cross_entropy_with_logits one_hot",
    nn: "Module Sequential ModuleList ModuleDict Identity Parameter Conv2d ConvTranspose2d Linear "
        "Flatten Dropout "
        "Dropout2d MaxPool2d AvgPool2d LPPool2d AdaptiveAvgPool2d AdaptiveMaxPool2d "
        "FractionalMaxPool2d Upsample "
        "UpsamplingNearest2d UpsamplingBilinear2d ReLU ReLU6 LeakyReLU ELU Hardtanh Sigmoid Tanh "
        "Softmax "
        "LogSoftmax GELU BatchNorm1d BatchNorm2d LocalResponseNorm CrossEntropyLoss NLLLoss "
        "MSELoss BCELoss "
        "BCEWithLogitsLoss",
    nn.Module: "forward parameters named_parameters children modules train eval zero_grad apply "
               "register_buffer "
               "register_forward_hook to float double cpu state_dict load_state_dict",
    nn.init: "kaiming_uniform_ kaiming_normal_ xavier_uniform_ xavier_normal_ normal_ uniform_ "
             "constant_ zeros_ "
             "ones_ trunc_normal_ calculate_gain",
    nn.utils: "clip_grad_norm_ clip_grad_value_",
    optim: "SGD Adam AdamW RMSprop",
    lr_scheduler: "StepLR MultiStepLR ExponentialLR CosineAnnealingLR LinearLR LambdaLR OneCycleLR "
                  "ReduceLROnPlateau",
    cnnlab.data: "Dataset TensorDataset Subset ConcatDataset random_split DataLoader MNIST "
                 "FashionMNIST CIFAR10 "
                 "ImageFolder",
}

MISSING = {
    cnnlab: "zeros_like full eye linspace randint randperm empty where",
    cnnlab.Tensor: "half type is_cuda masked_fill_ add_ mul_ std prod norm cumsum sort topk "
                   "__setitem__",
    F: "conv1d conv3d unfold fold softplus mish prelu selu layer_norm group_norm instance_norm "
       "l1_loss "
       "smooth_l1_loss huber_loss kl_div embedding grid_sample affine_grid "
       "scaled_dot_product_attention",
    nn: "LayerNorm GroupNorm Embedding Conv1d MaxPool1d RNN LSTM MultiheadAttention",
    nn.utils: "parameters_to_vector weight_norm spectral_norm",
    optim: "Adagrad Adadelta LBFGS",
    lr_scheduler: "CosineAnnealingWarmRestarts SequentialLR ChainedScheduler",
}


def _rows(table):
    return [(owner, name) for owner, names in table.items() for name in names.split()]


@pytest.mark.parametrize("owner,name", _rows(PRESENT))
def test_names_the_table_calls_present_exist(owner, name):
    assert hasattr(owner, name), f"docs/pytorch.md lists {name} as present"


@pytest.mark.parametrize("owner,name", _rows(MISSING))
def test_names_the_table_calls_missing_are_missing(owner, name):
    assert not hasattr(owner, name), f"{name} exists now: update docs/pytorch.md"
