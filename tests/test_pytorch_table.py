"""docs/pytorch.md stays true: names it calls same/differs exist, names it calls missing do not."""

import pytest

import cnnlab
import cnnlab.data
import cnnlab.distributed
import cnnlab.functional as F
import cnnlab.utils.data
import cnnlab.vision
from cnnlab import nn, optim
from cnnlab.optim import lr_scheduler

PRESENT = {
    cnnlab: "tensor zeros ones randn rand arange from_numpy cat stack no_grad enable_grad "
            "softmax log_softmax relu sigmoid tanh reshape transpose permute squeeze unsqueeze "
            "concat concatenate clip mm bmm "
            "set_grad_enabled "
            "is_grad_enabled inference_mode manual_seed set_default_dtype get_default_dtype save "
            "load device "
            "float32 float64 int64 Size zeros_like ones_like full full_like eye linspace randint "
            "randperm empty where max min maximum minimum sum mean std var norm cumsum argmax "
            "argmin flatten equal exp log sqrt abs clamp matmul topk sort argsort eq ne lt le gt "
            "ge Generator cuda accelerator models utils vision",
    cnnlab.cuda: "is_available device_count manual_seed manual_seed_all synchronize empty_cache",
    cnnlab.accelerator: "is_available current_accelerator device_count",
    cnnlab.Tensor: "shape ndim dtype dim numel size device to cpu float double long int bool numpy "
                   "item tolist "
                   "detach clone requires_grad_ retain_grad backward view reshape flatten squeeze "
                   "unsqueeze "
                   "permute transpose T t expand expand_as repeat masked_fill zero_ sum mean var "
                   "max min amax "
                   "amin argmax argmin exp log sqrt abs clamp relu sigmoid tanh softmax "
                   "log_softmax astype data cuda is_cuda add_ sub_ mul_ div_ clamp_ copy_ "
                   "fill_ masked_fill_ normal_ uniform_ __setitem__ __index__ __format__ "
                   "__iter__ std norm cumsum sort argsort topk view_as reshape_as eq ne lt le "
                   "gt ge equal add sub mul div pow contiguous",
    F: "conv2d conv_transpose2d linear dropout dropout2d pad relu relu6 leaky_relu elu hardtanh "
       "sigmoid tanh "
       "softmax log_softmax gelu max_pool2d avg_pool2d lp_pool2d adaptive_avg_pool2d "
       "adaptive_max_pool2d "
       "fractional_max_pool2d interpolate upsample batch_norm local_response_norm cross_entropy "
       "nll_loss "
       "mse_loss binary_cross_entropy binary_cross_entropy_with_logits one_hot embedding",
    nn: "Module Sequential ModuleList ModuleDict Identity Parameter Conv2d ConvTranspose2d Linear "
        "Flatten Dropout "
        "Dropout2d MaxPool2d AvgPool2d LPPool2d AdaptiveAvgPool2d AdaptiveMaxPool2d "
        "FractionalMaxPool2d Upsample "
        "UpsamplingNearest2d UpsamplingBilinear2d ReLU ReLU6 LeakyReLU ELU Hardtanh Sigmoid Tanh "
        "Softmax "
        "LogSoftmax GELU BatchNorm1d BatchNorm2d LocalResponseNorm CrossEntropyLoss NLLLoss "
        "MSELoss BCELoss "
        "BCEWithLogitsLoss LSTMCell Embedding",
    nn.Module: "forward parameters named_parameters children modules train eval zero_grad apply "
               "register_buffer "
               "register_forward_hook to float double cpu state_dict load_state_dict",
    nn.init: "kaiming_uniform_ kaiming_normal_ xavier_uniform_ xavier_normal_ normal_ uniform_ "
             "constant_ zeros_ "
             "ones_ trunc_normal_ calculate_gain",
    nn.utils: "clip_grad_norm_ clip_grad_value_",
    optim: "SGD Adam AdamW RMSprop Adadelta Adagrad NAdam",
    lr_scheduler: "StepLR MultiStepLR ExponentialLR CosineAnnealingLR LinearLR LambdaLR OneCycleLR "
                  "ReduceLROnPlateau CosineAnnealingWarmRestarts SequentialLR",
    nn.parallel: "DistributedDataParallel",
    cnnlab.utils.data: "Dataset IterableDataset TensorDataset Subset ConcatDataset random_split "
                       "DataLoader SequentialSampler RandomSampler SubsetRandomSampler "
                       "WeightedRandomSampler BatchSampler default_collate get_worker_info",
    cnnlab.vision.datasets: "MNIST FashionMNIST CIFAR10 ImageFolder",
    cnnlab.vision.transforms: "ToTensor Normalize Compose Resize CenterCrop RandomResizedCrop "
                              "RandomHorizontalFlip RandomCrop ColorJitter RandomRotation "
                              "Grayscale Lambda",
    cnnlab.vision.models: "resnet18 list_models",
    cnnlab.vision.utils: "make_grid save_image",
    cnnlab.vision.ops: "box_iou nms batched_nms box_area",
    cnnlab.distributed: "init_process_group get_rank get_world_size all_reduce broadcast barrier "
                        "destroy_process_group is_initialized ReduceOp",
    cnnlab.data: "Dataset TensorDataset Subset ConcatDataset random_split DataLoader MNIST "
                 "FashionMNIST CIFAR10 "
                 "ImageFolder",
}

MISSING = {
    cnnlab: "bfloat16 compile jit hub prod",
    cnnlab.Tensor: "half type prod",
    F: "conv1d conv3d unfold fold softplus mish prelu selu layer_norm group_norm instance_norm "
       "l1_loss "
       "smooth_l1_loss huber_loss kl_div grid_sample affine_grid "
       "scaled_dot_product_attention",
    nn: "LayerNorm GroupNorm Conv1d MaxPool1d RNN LSTM GRU MultiheadAttention DataParallel",
    nn.utils: "parameters_to_vector weight_norm spectral_norm",
    optim: "LBFGS",
    lr_scheduler: "ChainedScheduler",
}


def _rows(table):
    return [(owner, name) for owner, names in table.items() for name in names.split()]


@pytest.mark.parametrize("owner,name", _rows(PRESENT))
def test_names_the_table_calls_present_exist(owner, name):
    assert hasattr(owner, name), f"docs/pytorch.md lists {name} as present"


@pytest.mark.parametrize("owner,name", _rows(MISSING))
def test_names_the_table_calls_missing_are_missing(owner, name):
    assert not hasattr(owner, name), f"{name} exists now: update docs/pytorch.md"


def _answer_rows():
    from cnnlab.pytorch_names import TABLES

    owners = {"torch": cnnlab, "torch.nn": nn, "torch.nn.functional": F,
              "torch.Tensor": cnnlab.tensor(1.0)}
    return [(owner, owners[owner], name) for owner, names in TABLES.items() for name in names]


@pytest.mark.parametrize("owner_name,owner,name", _answer_rows())
def test_names_with_a_one_line_answer_are_missing_and_answer(owner_name, owner, name):
    """The answers table (cnnlab/pytorch_names.py) lists only names cnnlab lacks, each answered."""
    with pytest.raises(AttributeError, match=f"^cnnlab has no `{owner_name}.{name}`"):
        getattr(owner, name)


def test_answers_table_rows_read_whole():
    """Every row of the text table is a "use" or "why" answer; a continued line joins its answer."""
    from cnnlab.pytorch_names import TABLES

    kinds = {kind for names in TABLES.values() for kind, _ in names.values()}
    assert kinds == {"use", "why"}
    assert TABLES["torch"]["backends"][1] == ("cnnlab picks its kernels itself; cnnlab.backend.set_kernels "
                                              "chooses between the compiled and the reference ones")
    assert sum(len(names) for names in TABLES.values()) == 54   # the rows of _TABLE
