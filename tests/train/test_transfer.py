"""Transfer learning: freezing keeps weights bit-identical through training, the new head learns, per-layer
learning rates reach the optimizer, and every zoo model's classifier can be replaced."""

import numpy as np
import pytest

import cnnlab
from cnnlab import Tensor, models, nn, optim
from cnnlab.models._common import skip_init
from cnnlab.train.transfer import (find_head, freeze, param_groups_with_lr_mult, parse_lr_mult, replace_head,
                                   select_parameters, trainable_summary, unfreeze)


def lenet():
    cnnlab.manual_seed(0)
    return models.get("lenet5")


def fashion():
    cnnlab.manual_seed(0)
    return models.get("fashion_cnn")


def snapshot(model):
    return {n: p._data.copy() for n, p in model.named_parameters()}


# ------------------------------------------------------------------------------------------------ selection
def test_freeze_by_glob_module_and_list_and_unfreeze():
    m = lenet()
    names = [n for n, _ in m.named_parameters()]
    assert freeze(m, "features.*") == [n for n in names if n.startswith("features.")]
    assert all(not p.requires_grad for n, p in m.named_parameters() if n.startswith("features."))
    assert all(p.requires_grad for n, p in m.named_parameters() if n.startswith("classifier."))
    assert unfreeze(m, "features.3") == ["features.3.weight", "features.3.bias"]   # a module name
    assert m.features[3].weight.requires_grad and not m.features[0].weight.requires_grad
    assert freeze(m, [m.classifier[1], "*.bias"]) == ["features.0.bias", "features.3.bias", "classifier.1.weight",
                                                       "classifier.1.bias", "classifier.3.bias", "classifier.5.bias"]
    assert len(unfreeze(m)) == len(names) and all(p.requires_grad for p in m.parameters())


def test_module_methods_delegate_and_counts_follow():
    m = lenet()
    total = sum(p.numel() for p in m.parameters())
    frozen = m.freeze("features")
    assert frozen == ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias"]
    counts = trainable_summary(m)
    assert counts == {"frozen": 6 * 25 + 6 + 16 * 6 * 25 + 16, "trainable": total - 2572}
    assert m.num_parameters(trainable_only=True) == counts["trainable"]
    m.unfreeze()
    assert trainable_summary(m)["frozen"] == 0


def test_summary_counts_frozen_parameters():
    summary_mod = pytest.importorskip("cnnlab.inspect.summary")
    m = lenet()
    m.freeze("features.*")
    s = summary_mod.summary(m, (1, 28, 28)) if hasattr(summary_mod, "summary") else None
    if s is None:
        pytest.skip("cnnlab.inspect.summary has no summary()")
    assert s.frozen_params == 2572 and s.trainable_params == s.total_params - 2572


def test_selection_errors_name_the_pattern_and_the_modules():
    m = lenet()
    with pytest.raises(ValueError, match=r"freeze: pattern 'feature\.\*' matches no parameter of SmallCNN\. "
                                         r"Its top-level modules are: features, classifier"):
        m.freeze("feature.*")
    with pytest.raises(ValueError, match="unfreeze: the module Linear given as `pattern` is not part of the model"):
        unfreeze(m, nn.Linear(2, 2))
    with pytest.raises(TypeError, match="freeze: `pattern` must be a glob string, a submodule"):
        freeze(m, 3)
    with pytest.raises(TypeError, match="select_parameters: `model` must be a cnnlab.nn.Module"):
        select_parameters("net")


# ------------------------------------------------------------------------------------------------ training
def synthetic(n=96, seed=0):
    """Two classes that differ in where the bright blob is: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.1, (n, 1, 28, 28))
    for i, label in enumerate(y):
        x[i, 0, 4 + 8 * label:10 + 8 * label, 8:20] += 1.0
    return x.astype(np.float32), y


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_frozen_weights_are_bit_identical_after_training_and_the_new_head_learns(opt_name):
    model = fashion()
    assert replace_head(model, 3) == ["classifier.1"]
    model.freeze("features.*")
    before = snapshot(model)
    groups = param_groups_with_lr_mult(model, 0.05 if opt_name == "sgd" else 0.01)
    opt = (optim.SGD(groups, lr=0.05, momentum=0.9, weight_decay=1e-3) if opt_name == "sgd"
           else optim.Adam(groups, lr=0.01, weight_decay=1e-3))
    x, y = synthetic()
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    for epoch in range(4):
        for i in range(0, len(y), 32):
            opt.zero_grad()
            loss = loss_fn(model(Tensor(x[i:i + 32])), Tensor(y[i:i + 32]))
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
    after = snapshot(model)
    for name in before:
        if name.startswith("features."):
            assert np.array_equal(before[name], after[name]), f"{name} changed although frozen"
            assert before[name].tobytes() == after[name].tobytes()
        else:
            assert not np.array_equal(before[name], after[name]), f"{name} did not train"
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    model.eval()
    accuracy = (model(Tensor(x)).numpy().argmax(1) == y).mean()
    assert accuracy > 0.9


# ------------------------------------------------------------------------------------------------ learning rates
def test_param_groups_with_lr_mult_first_match_wins_and_frozen_are_left_out():
    m = lenet()
    m.freeze("features.0")
    groups = param_groups_with_lr_mult(m, 0.1, {"features.*": 0.01, "classifier.5": 1.0, "classifier.*": 0.1})
    by_mult = {g["lr_mult"]: g for g in groups}
    assert sorted(by_mult) == [0.01, 0.1, 1.0]
    assert [p.shape for p in by_mult[0.01]["params"]] == [(16, 6, 5, 5), (16,)]
    assert by_mult[1.0]["params"] == [m.classifier[5].weight, m.classifier[5].bias]
    np.testing.assert_allclose([by_mult[k]["lr"] for k in (0.01, 0.1, 1.0)], [0.001, 0.01, 0.1])
    opt = optim.SGD(groups, lr=0.1)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.001, 0.01, 0.1])
    # Updates scale with each group's rate: one SGD step moves classifier.5 10x more per unit gradient.
    for p in m.parameters():
        p.grad = Tensor(np.ones_like(p.data)) if p.requires_grad else None
    before = snapshot(m)
    opt.step()
    after = snapshot(m)
    np.testing.assert_allclose(before["classifier.5.bias"] - after["classifier.5.bias"], 0.1, rtol=1e-6)
    np.testing.assert_allclose(before["classifier.3.bias"] - after["classifier.3.bias"], 0.01, rtol=1e-5)
    np.testing.assert_allclose(before["features.3.bias"] - after["features.3.bias"], 0.001, rtol=1e-4)
    assert np.array_equal(before["features.0.weight"], after["features.0.weight"])


def test_lr_mult_errors_and_parsing():
    m = lenet()
    with pytest.raises(ValueError, match="param_groups_with_lr_mult: pattern 'feat' matches no parameter"):
        param_groups_with_lr_mult(m, 0.1, {"feat": 0.1})
    with pytest.raises(ValueError, match="the multiplier of 'features' must be a non-negative number"):
        param_groups_with_lr_mult(m, 0.1, {"features": -1})
    m.freeze()
    with pytest.raises(ValueError, match="every parameter of SmallCNN is frozen"):
        param_groups_with_lr_mult(m, 0.1)
    assert parse_lr_mult("features.*=0.01, classifier.*=0.1") == {"features.*": 0.01, "classifier.*": 0.1}
    with pytest.raises(ValueError, match="parse_lr_mult: each item must be PATTERN=MULTIPLIER"):
        parse_lr_mult("features.*:0.1")


# ------------------------------------------------------------------------------------------------ new heads
@pytest.mark.parametrize("name", [m for m in models.list_models() if models.registry.task_of(m) == "classify"])
def test_replace_head_for_every_zoo_classifier(name):
    with skip_init():
        model = models.get(name)
    main, _ = find_head(model)
    names = replace_head(model, 7)
    for n in names:
        layer = model.get_submodule(n)
        out = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
        assert out == 7, f"{n} has {out} outputs"
        assert all(p.requires_grad for p in layer.parameters())


@pytest.mark.parametrize("name,shape", [("lenet5", (2, 1, 28, 28)), ("fashion_cnn", (2, 1, 28, 28)),
                                        ("resnet20", (2, 3, 32, 32)), ("squeezenet1_1", (1, 3, 64, 64)),
                                        ("googlenet", (1, 3, 64, 64))])
def test_replaced_models_predict_the_new_classes(name, shape):
    cnnlab.manual_seed(0)
    model = models.get(name)
    replace_head(model, 5)
    model.eval()
    with cnnlab.no_grad():
        out = model(Tensor(np.random.default_rng(0).random(shape).astype(np.float32)))
    assert out.shape == (shape[0], 5)
    if name == "googlenet":
        model.train()
        assert model.aux1.fc2.out_features == 5 and model.aux2.fc2.out_features == 5


def test_replace_head_appends_a_classifier_to_alphago_and_checks_arguments():
    model = models.get("alphago_policy", filters=4)
    assert replace_head(model, 3) == ["head.3"]
    with cnnlab.no_grad():
        assert model(Tensor(np.zeros((1, 48, 19, 19), np.float32))).shape == (1, 3)
    with pytest.raises(ValueError, match="replace_head: `num_classes` must be a positive int. Received: num_classes=0"):
        replace_head(model, 0)
    with pytest.raises(ValueError, match="replace_head: found no classifier layer in Sequential"):
        replace_head(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), 3)


# ------------------------------------------------------------------------------------------------ commands
def test_train_with_augment_then_finetune_frozen_then_export(tmp_path, capsys):
    from cnnlab.cli import main
    from cnnlab.runs.checkpoint import load_checkpoint

    run, ft = tmp_path / "run", tmp_path / "ft"
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--out", str(run), "--no-progress",
                 "--augment", "flip,crop:2,pca"]) == 0
    source = load_checkpoint(run / "last.npz")
    assert source["meta"]["recipe"]["augment"] == "flip,crop:2,pca"
    assert main(["finetune", str(run / "last.npz"), "--dataset", "digits", "--freeze", "features.*",
                 "--lr-mult", "classifier.*=0.5", "--new-head", "--epochs", "1", "--out", str(ft),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "new classifier for 10 classes: classifier.1" in out and "frozen parameters" in out
    tuned = load_checkpoint(ft / "last.npz")
    for name, value in source["model"].items():
        if name.startswith("features.") and not name.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert np.array_equal(value, tuned["model"][name]), f"{name} changed although frozen"
    assert not np.array_equal(source["model"]["classifier.1.weight"], tuned["model"]["classifier.1.weight"])
    assert tuned["meta"]["finetuned_from"].endswith("last.npz")
    assert main(["export", str(ft / "last.npz"), "--format", "safetensors"]) == 0
    assert (ft / "last.safetensors").is_file()
    pytest.importorskip("onnx")
    assert main(["export", str(ft / "last.npz"), "--out", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").is_file() and "wrote" in capsys.readouterr().out


def test_train_with_an_unknown_augmentation_is_a_one_line_error(tmp_path, capsys):
    from cnnlab.cli import main

    assert main(["train", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path), "--no-progress",
                 "--augment", "flip,twist"]) == 2
    assert "unknown augmentation 'twist'" in capsys.readouterr().err


def _state_dict_weights(path, model):
    """What ``cnnlab finetune`` hands the job for a state-dict file: the weights read by interop, as arrays."""
    from cnnlab.interop import load_torch_state_dict

    net = models.get(model)
    load_torch_state_dict(net, path)
    return {k: v.numpy() for k, v in net.state_dict().items()}


def test_finetune_from_a_state_dict_file(tmp_path, data_dir, capsys):
    from cnnlab.cli import main
    from cnnlab.interop import save_torch_state_dict
    from cnnlab.train.transfer import finetune_job

    source = lenet()
    save_torch_state_dict(source, tmp_path / "w.safetensors")
    logs = []
    result = finetune_job(tmp_path / "w.safetensors", dataset="mnist", model="lenet5", epochs=2, freeze="features",
                          batch_size=16, lr=0.05, weights=_state_dict_weights(tmp_path / "w.safetensors", "lenet5"),
                          lr_mult={"classifier.1": 0.1}, train_limit=256, data_dir=data_dir, out=str(tmp_path / "ft"),
                          progress=False, log=logs.append)
    assert result["replaced"] == [] and result["frozen"][0] == "features.0.weight"
    tuned = result["model"]
    assert np.array_equal(tuned.features[0].weight.data, source.features[0].weight.data)
    assert result["test_accuracy"] > 0.25                  # chance is 0.11: the new head learned
    assert main(["finetune", str(tmp_path / "w.safetensors"), "--dataset", "mnist"]) == 2
    err = capsys.readouterr().err
    assert "finetune: " in err and "w.safetensors' is a state dict; name the architecture" in err, err
    with pytest.raises(ValueError, match="finetune: .*w.safetensors' is a state dict; read it with "):
        finetune_job(tmp_path / "w.safetensors", model="lenet5", dataset="mnist", data_dir=data_dir)
    save_torch_state_dict(models.get("resnet20"), tmp_path / "r.safetensors")
    with pytest.raises(ValueError, match="finetune: resnet20 takes 3-channel images but mnist has 1 channels"):
        finetune_job(tmp_path / "r.safetensors", model="resnet20", dataset="mnist", data_dir=data_dir,
                     weights=_state_dict_weights(tmp_path / "r.safetensors", "resnet20"))
