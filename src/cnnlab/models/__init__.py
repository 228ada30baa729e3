"""The model zoo: every architecture is a function returning an ``nn.Module``, declared as a config table.
May import nn, optim, data, functional and below; not train, inspect, interop or cli.
"""

from ._common import skip_init
from .alexnet import alexnet, alexnet_owt, zfnet
from .alphago import alphago_policy
from .detection import GridDetector, GridDetectionLoss, grid_detector
from .captioning import Captioner, captioner
from .densenet import densenet, densenet121, densenet161, densenet169, densenet201
from .efficientnet import (efficientnet, efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3,
                           efficientnet_b4, efficientnet_b5, efficientnet_b6, efficientnet_b7)
from .ensemble import Ensemble
from .googlenet import GoogLeNetOutputs, googlenet, googlenet_loss, inception_module
from .inception import Inception3, InceptionOutputs, inception_v3
from .mobilenet import mobilenet_v1
from .registry import default_recipe, get, input_size, list_models, min_input_size, register_model, task_of
from .resnet import (cifar_resnet, preact_resnet, resnet, resnet18, resnet20, resnet32, resnet34, resnet44, resnet50,
                     resnet56, resnet101, resnet110, resnet152, wide_resnet, wide_resnet50_2, wide_resnet101_2)
from .segmentation import FCN, UNet, fcn, unet
from .small import fashion_cnn, lenet5
from .squeezenet import squeezenet1_0, squeezenet1_1
from .vgg import (vgg, vgg11, vgg11_bn, vgg11_lrn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg16_c, vgg16_c_bn, vgg19,
                  vgg19_bn)

__all__ = [
    "get", "list_models", "register_model", "input_size", "min_input_size", "skip_init",
    "lenet5", "fashion_cnn",
    "alexnet", "alexnet_owt", "zfnet",
    "vgg", "vgg11", "vgg11_bn", "vgg11_lrn", "vgg13", "vgg13_bn", "vgg16_c", "vgg16_c_bn", "vgg16", "vgg16_bn",
    "vgg19", "vgg19_bn",
    "googlenet", "inception_module", "GoogLeNetOutputs", "googlenet_loss",
    "resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2", "wide_resnet101_2",
    "cifar_resnet", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "preact_resnet", "wide_resnet",
    "densenet", "densenet121", "densenet161", "densenet169", "densenet201",
    "mobilenet_v1", "squeezenet1_0", "squeezenet1_1", "alphago_policy",
]
__all__ += ["inception_v3", "Inception3", "InceptionOutputs"]
__all__ += ["efficientnet"] + [f"efficientnet_b{i}" for i in range(8)]
__all__ += ["Ensemble"]
__all__ += ["unet", "fcn", "UNet", "FCN", "task_of", "default_recipe"]
__all__ += ["grid_detector", "GridDetector", "GridDetectionLoss"]
__all__ += ["captioner", "Captioner"]
