"""The registry's recommended recipes: ``default_recipe`` returns what ``register_model(recipe=...)`` declared."""

import pytest

from cnnlab import models
from cnnlab.models.registry import RECIPE_KEYS, register_model


def test_segmentation_models_carry_their_measured_recipe():
    for name in ("unet", "fcn"):
        recipe = models.default_recipe(name)
        assert set(recipe) == set(RECIPE_KEYS), name
        assert isinstance(recipe["epochs"], int) and recipe["epochs"] >= 1
        assert isinstance(recipe["batch_size"], int) and recipe["batch_size"] >= 1
        assert 0 < recipe["lr"] < 1


def test_a_model_without_a_recipe_gets_an_empty_one():
    assert models.default_recipe("fashion_cnn") == {}
    assert models.default_recipe("resnet18") == {}


def test_every_registered_recipe_is_well_formed():
    for name in models.list_models():
        recipe = models.default_recipe(name)
        assert isinstance(recipe, dict) and set(recipe) <= set(RECIPE_KEYS), name


def test_the_recipe_returned_is_a_copy():
    recipe = models.default_recipe("unet")
    recipe["epochs"] = 10_000
    assert models.default_recipe("unet")["epochs"] != 10_000


def test_unknown_model_is_one_error_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'no_such_net'.*Known models: .*unet"):
        models.default_recipe("no_such_net")


@pytest.mark.parametrize("recipe, message", [
    ({"epochs": 3, "momentum": 0.9}, r"keys among epochs, lr, batch_size. Received: recipe=.*momentum"),
    ([("epochs", 3)], r"must be a dict"),
    ({"epochs": 0}, r"recipe\['epochs'\] must be a positive int. Received: epochs=0"),
    ({"epochs": 2.0}, r"recipe\['epochs'\] must be a positive int. Received: epochs=2.0"),
    ({"batch_size": True}, r"recipe\['batch_size'\] must be a positive int. Received: batch_size=True"),
    ({"lr": 0}, r"recipe\['lr'\] must be a positive finite number. Received: lr=0"),
    ({"lr": float("nan")}, r"recipe\['lr'\] must be a positive finite number. Received: lr=nan"),
    ({"lr": "3e-3"}, r"recipe\['lr'\] must be a positive finite number. Received: lr='3e-3'"),
])
def test_a_bad_recipe_is_refused_before_anything_is_registered(recipe, message):
    before = models.list_models()
    with pytest.raises(ValueError, match=message) as info:
        @register_model("probe_net", recipe=recipe)
        def probe_net():
            raise AssertionError("never built")
    assert str(info.value).startswith("register_model: probe_net's ")
    assert models.list_models() == before


def test_train_takes_the_registered_recipe_where_no_setting_is_given():
    from cnnlab.train.run import recipe_settings

    unet = models.default_recipe("unet")
    assert recipe_settings("unet") == (unet["epochs"], unet["batch_size"], unet["lr"])
    assert recipe_settings("fcn", epochs=2, lr=0.1) == (2, models.default_recipe("fcn")["batch_size"], 0.1)


def test_register_variant_names_documents_and_registers_one_variant(monkeypatch):
    from cnnlab.models import registry

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    def build(width=2):
        return ("probe", width)

    made = registry.register_variant("probe_net_w2", build, "Probe, twice as wide.", input_size=(1, 8, 8), min_size=4)
    assert models.get("probe_net_w2", width=3) == ("probe", 3)
    assert (made.__name__, made.__qualname__, made.__doc__) == ("probe_net_w2", "probe_net_w2", "Probe, twice as wide.")
    assert models.input_size("probe_net_w2") == (1, 8, 8) and models.min_input_size("probe_net_w2") == 4
    with pytest.raises(ValueError, match="probe_net_w2: cnnlab does not download pretrained weights"):
        made(pretrained=True)


def test_register_depths_registers_the_family_at_each_depth_with_its_other_arguments(monkeypatch):
    import inspect

    from cnnlab.models import registry

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    def probe_depth(depth=2, width=8, bias=True):
        return ("probe", depth, width, bias)

    made = registry.register_depths("probe_depth", probe_depth, {3: "three", 5: "five"},
                                    lambda depth: f"Probe of depth {depth}.", input_size=(1, 8, 8), min_size=4)
    assert [f.__name__ for f in made] == ["probe_depth3", "probe_depth5"]
    assert [f.__doc__ for f in made] == ["Probe of depth 3.", "Probe of depth 5."]
    assert str(inspect.signature(made[0])) == "(width=8, bias=True)"      # the depth is fixed, not an argument
    assert made[1](4, bias=False) == ("probe", 5, 4, False)
    assert models.get("probe_depth3", width=16) == ("probe", 3, 16, True)
    assert models.input_size("probe_depth5") == (1, 8, 8) and models.min_input_size("probe_depth5") == 4
