"""The recipes: settings the worker accepts, and the default one is what a fresh trainer starts with."""
from __future__ import annotations

import pytest

from inkling.errors import ProtocolError
from inkling.messages import protocol as p
from inkling.messages.tunables import DEFAULTS
from inkling.network.layers import hidden_problem
from inkling.network.optim import SUGGESTED_LRATES
from inkling.training.recipes import DEFAULT, RECIPES, Recipe


@pytest.mark.parametrize("recipe", RECIPES.values(), ids=list(RECIPES))
def test_every_recipe_is_settings_the_worker_accepts(recipe: Recipe) -> None:
    commands = recipe.settings(cache_size=8).commands()
    assert isinstance(commands[0], p.SetOptimizer)  # first: choosing one resets the rate
    assert all(p.decode_command(p.encode_command(c)) == c for c in commands)
    assert p.decode_command({"type": "reset", "hidden": list(recipe.hidden)}).hidden == recipe.hidden
    assert hidden_problem(recipe.hidden) is None and recipe.epochs > 0
    # switching back to its optimizer gives its rate, unless the recipe measured a rate of its own
    # (the convnet's 0.03: at momentum's usual 0.05 seed 0 stopped short of 99.3%)
    assert recipe.value("lrate") == recipe.changes.get("lrate", SUGGESTED_LRATES[recipe.value("optimizer")])
    assert recipe.value("lrate") <= SUGGESTED_LRATES[recipe.value("optimizer")]


def test_a_fresh_trainer_starts_with_the_default_recipe() -> None:
    assert DEFAULTS["hidden"] == DEFAULT.hidden
    assert (DEFAULTS["optimizer"], DEFAULTS["lrate"], DEFAULTS["lr_decay"], DEFAULTS["batch_size"]) == (
        DEFAULT.value("optimizer"), DEFAULT.value("lrate"), DEFAULT.value("lr_decay"), DEFAULT.value("batch_size"))
    assert not DEFAULT.value("augment") and RECIPES["best"].value("augment")


def test_a_recipe_holds_to_the_settings_rules() -> None:
    with pytest.raises(ProtocolError, match="batch_size"):
        Recipe("broken", 1, "nothing", {"batch_size": 0})
    with pytest.raises(KeyError):
        Recipe("unknown", 1, "nothing", {"momentum": 0.9})
