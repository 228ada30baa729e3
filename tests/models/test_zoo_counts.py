"""Exact parameter counts of every zoo model against independent reference figures.

Sources (also in ../shared/REFERENCE.md):
* torchvision 0.29.1 ``num_params`` of its ImageNet models (alexnet, vgg*, resnet*, densenet*,
  squeezenet*, wide_resnet*, googlenet) -- counted on torchvision's own models;
* counts computed from the papers' layer tables (original AlexNet, MobileNet v1, AlphaGo's policy
  network, GoogLeNet), checked by building the same layers in PyTorch;
* hand computations written out below (ZFNet, CIFAR ResNets with projection shortcuts, WRN-28-10,
  pre-activation ResNet-18), each from the paper's layer list.

Models are built inside ``skip_init()``: the random fills are skipped, shapes are untouched.
"""

import pytest

from cnnlab import models, nn

# torchvision 0.29.1 model docs / REFERENCE.md table 1 (weights + biases + BN gamma/beta).
TORCHVISION_COUNTS = {
    "alexnet_owt": 61_100_840,
    "vgg11": 132_863_336, "vgg11_bn": 132_868_840, "vgg13": 133_047_848, "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544, "vgg16_bn": 138_365_992, "vgg19": 143_667_240, "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "densenet121": 7_978_856, "densenet169": 14_149_480, "densenet201": 20_013_928,
    "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
    # torchvision docs: Wide_ResNet50_2 / Wide_ResNet101_2 / DenseNet161 weights, num_params.
    "wide_resnet50_2": 68_883_240, "wide_resnet101_2": 126_886_696, "densenet161": 28_681_000,
    "inception_v3": 27_161_264,
    # REFERENCE.md: torchvision 0.28's EfficientNet builders.
    "efficientnet_b0": 5_288_548, "efficientnet_b1": 7_794_184, "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232, "efficientnet_b4": 19_341_616, "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704, "efficientnet_b7": 66_347_960,
}

# REFERENCE.md table 2: computed from the papers' layer tables.
PAPER_COUNTS = {
    "alexnet": 62_378_344,          # Krizhevsky et al. 2012, one tower 96-256-384-384-256
    "mobilenet_v1": 4_231_976,      # Howard et al. 2017, width 1.0 (paper: 4.2M)
    "alphago_policy": 3_882_793,    # Silver et al. 2016, k = 192, per-position bias on the last 1x1 conv
    "googlenet": 13_378_280,        # Szegedy et al. 2014 widths, with the two auxiliary heads
    "lenet5": 44_426,
    "fashion_cnn": 29_034,
}


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def fc(cin, cout):
    return cin * cout + cout


def bn(c):
    return 2 * c


def cifar_resnet_count(n, classes=10):
    """He et al. 2015 Sec. 4.2 with option-B projections: conv3x3(3,16)+BN, 3 stages of n basic blocks."""
    total = conv(3, 16, 3, False) + bn(16)
    cin = 16
    for width in (16, 32, 64):
        for i in range(n):
            total += conv(cin, width, 3, False) + bn(width) + conv(width, width, 3, False) + bn(width)
            if cin != width:  # 1x1 projection + BN
                total += conv(cin, width, 1, False) + bn(width)
            cin = width
    return total + fc(64, classes)


def zfnet_count():
    """Zeiler & Fergus 2013, Figure 3: 96 7x7, 256 5x5, 512/1024/512 3x3; FC 6*6*512 -> 4096 -> 4096 -> 1000."""
    return (conv(3, 96, 7) + conv(96, 256, 5) + conv(256, 512, 3) + conv(512, 1024, 3) + conv(1024, 512, 3)
            + fc(6 * 6 * 512, 4096) + fc(4096, 4096) + fc(4096, 1000))


def wrn_count(depth, k, classes=10):
    """Zagoruyko & Komodakis 2016: pre-activation basic blocks, widths 16k/32k/64k, 1x1 projections, final BN."""
    n = (depth - 4) // 6
    total = conv(3, 16, 3, False)
    cin = 16
    for width in (16 * k, 32 * k, 64 * k):
        for i in range(n):
            total += bn(cin) + conv(cin, width, 3, False) + bn(width) + conv(width, width, 3, False)
            if cin != width:
                total += conv(cin, width, 1, False)
            cin = width
    return total + bn(cin) + fc(cin, classes)


def preact_resnet18_count():
    """He et al. 2016 pre-activation ResNet-18: stem conv+BN, blocks BN-conv-BN-conv (the first block of
    layer1 takes the stem's activation, so no BN of its own), bare 1x1 projections, final BN, FC."""
    total = conv(3, 64, 7, False) + bn(64)
    cin = 64
    for s, width in enumerate((64, 128, 256, 512)):
        for i in range(2):
            first_of_net = s == 0 and i == 0
            total += (0 if first_of_net else bn(cin)) + conv(cin, width, 3, False) + bn(width)
            total += conv(width, width, 3, False)
            if cin != width:
                total += conv(cin, width, 1, False)
            cin = width
    return total + bn(512) + fc(512, 1000)


@pytest.fixture(scope="module")
def build():
    def make(name, **kw):
        with models.skip_init():
            return models.get(name, **kw)
    return make


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_torchvision_counts(build, name):
    assert count_parameters(build(name)) == TORCHVISION_COUNTS[name]


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_paper_counts(build, name):
    assert count_parameters(build(name)) == PAPER_COUNTS[name]


def test_alexnet_two_gpu_groups(build):
    # REFERENCE.md: groups=2 in conv2/4/5 gives 60,965,224, the paper's "60 million parameters".
    model = build("alexnet", groups=2)
    assert count_parameters(model) == 60_965_224
    assert [m.groups for m in model.features if isinstance(m, nn.Conv2d)] == [1, 2, 1, 2, 2]


def test_googlenet_without_aux_and_torchvision_variant(build):
    # REFERENCE.md: paper-faithful 6,998,552 without the auxiliary heads; torchvision's googlenet 6,624,904.
    assert count_parameters(build("googlenet", aux_logits=False)) == 6_998_552
    assert count_parameters(build("googlenet", aux_logits=False, variant="torchvision")) == 6_624_904


@pytest.mark.parametrize("depth,n", [(20, 3), (32, 5), (44, 7), (56, 9), (110, 18)])
def test_cifar_resnets(build, depth, n):
    assert count_parameters(build(f"resnet{depth}")) == cifar_resnet_count(n)


def test_cifar_resnet20_hand_value(build):
    # 0.27M in He et al. 2015 Table 6 (option A: 269,722); option B adds the two projections:
    # 16*32 + 2*32 + 32*64 + 2*64 = 2,752.
    assert count_parameters(build("resnet20")) == 269_722 + 2_752


def test_zfnet(build):
    assert count_parameters(build("zfnet")) == zfnet_count() == 107_627_624


def test_wide_resnet_28_10(build):
    # WRN-28-10: 36.5M in Zagoruyko & Komodakis 2016, Table 1.
    assert count_parameters(build("wide_resnet")) == wrn_count(28, 10) == 36_479_194
    assert count_parameters(build("wide_resnet", depth=16, widen_factor=4)) == wrn_count(16, 4)


def test_preact_resnet18(build):
    assert count_parameters(build("preact_resnet")) == preact_resnet18_count()


def test_vgg_paper_table2_millions(build):
    # Simonyan & Zisserman 2014, Table 2: A, A-LRN, B, C, D, E = 133, 133, 133, 134, 138, 144 million.
    expected = {"vgg11": 133, "vgg11_lrn": 133, "vgg13": 133, "vgg16_c": 134, "vgg16": 138, "vgg19": 144}
    for name, millions in expected.items():
        assert round(count_parameters(build(name)) / 1e6) == millions, name


def test_vgg16_c_hand_count(build):
    # Configuration C = D with the last conv of stages 3, 4, 5 as 1x1.
    d = count_parameters(build("vgg16"))
    diff = (conv(256, 256, 3) - conv(256, 256, 1)) + 2 * (conv(512, 512, 3) - conv(512, 512, 1))
    assert count_parameters(build("vgg16_c")) == d - diff


def test_mobilenet_width_multiplier(build):
    # Howard et al. 2017 Table 6: 1.0 -> 4.2M, 0.75 -> 2.6M, 0.5 -> 1.3M, 0.25 -> 0.5M.
    for alpha, millions in ((0.75, 2.6), (0.5, 1.3), (0.25, 0.5)):
        assert round(count_parameters(build("mobilenet_v1", width_mult=alpha)) / 1e6, 1) == millions


def test_alphago_filter_options(build):
    # conv5x5(48, k) + 11 conv3x3(k, k) with biases + 1x1 (k -> 1, no bias) + 361 per-position biases.
    for k in (128, 256, 384):
        expected = conv(48, k, 5) + 11 * conv(k, k, 3) + k + 361
        assert count_parameters(build("alphago_policy", filters=k)) == expected


def test_every_registered_model_is_counted():
    counted = (set(TORCHVISION_COUNTS) | set(PAPER_COUNTS) | {f"resnet{d}" for d in (20, 32, 44, 56, 110)}
               | {"zfnet", "wide_resnet", "preact_resnet", "vgg11_lrn", "vgg16_c", "vgg16_c_bn"}
               | {"unet", "fcn"}    # counted layer by layer in test_segmentation.py
               | {"grid_detector", "captioner"})  # and in test_detection.py, test_captioning.py
    assert set(models.list_models()) <= counted


def test_registered_input_sizes():
    expected = {"alexnet": (3, 227, 227), "alexnet_owt": (3, 224, 224), "vgg16": (3, 224, 224),
                "googlenet": (3, 224, 224), "resnet50": (3, 224, 224), "resnet20": (3, 32, 32),
                "resnet110": (3, 32, 32), "alphago_policy": (48, 19, 19), "mobilenet_v1": (3, 224, 224),
                "squeezenet1_0": (3, 224, 224), "densenet121": (3, 224, 224), "wide_resnet": (3, 32, 32)}
    for name, size in expected.items():
        assert models.input_size(name) == size


def test_unknown_model_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'vgg17'.*Known models: .*vgg16.*vgg19"):
        models.get("vgg17")


def test_skip_init_restores_random_fills():
    from cnnlab.nn import init

    before = init.normal_
    with models.skip_init():
        assert init.normal_ is not before
    assert init.normal_ is before
    layer = nn.Linear(50, 50)
    assert float(abs(layer.weight.numpy()).sum()) > 0
