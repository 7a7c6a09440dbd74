"""The commands the page sends the training worker: one frozen dataclass each, whose fields carry
their own checks (`inkling.messages.checks.checked`), so the class is the schema.

The commands that set one setting (``set_batch_size`` ...) and the run settings a `Reset` takes are
made from the settings table (`inkling.messages.tunables`): a new setting gets its command from its row.
Every command may carry an ``id``; the worker echoes it as ``reply_to``. `inkling.messages.protocol` turns
them into wire dicts and back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Union

import numpy as np

from ..network.layers import N_CLASSES
from .checks import MAX_ID, MAX_SEED, checked, integer, layer_widths, optional, pixels, weights
from .tunables import LIVE, RUN, Tunable

MAX_EPOCHS = 1000
_ID = optional(integer(0, MAX_ID))


@dataclass(frozen=True)
class Start:
    """Begin (or resume) training; with ``epochs``, stop by itself once that many more epochs of
    samples have been trained on (a run that two tabs can repeat exactly)."""

    epochs: int | None = checked(optional(integer(1, MAX_EPOCHS)), None)
    type: ClassVar[str] = "start"
    id: int | None = checked(_ID, None)


@dataclass(frozen=True)
class Stop:
    """Pause training after the current iteration."""

    type: ClassVar[str] = "stop"
    id: int | None = checked(_ID, None)


@dataclass(frozen=True)
class Status:
    """Reply with one `ResponseSignal` now."""

    type: ClassVar[str] = "status"
    id: int | None = checked(_ID, None)


@dataclass(frozen=True)
class Evaluate:
    """Measure accuracy on the whole test set; the reply carries it as ``test_acc``."""

    type: ClassVar[str] = "evaluate"
    id: int | None = checked(_ID, None)


@dataclass(frozen=True, eq=False)
class SetWeights:
    """Replace the model's weights (``W1, b1, ...`` shaped arrays, float32).

    Weights of other hidden layers replace the network with one of that shape; ``hidden`` names
    their layers (a convnet's weights need it; an MLP's shapes tell them). ``seed`` is the
    seed of the run they come from, when one is known (a restore of this browser's own run);
    without it the worker reports no seed: nothing it knows made these weights.
    """

    weights: dict[str, np.ndarray] = checked(weights)
    seed: int | None = checked(optional(integer(0, MAX_SEED)), None)
    hidden: tuple[Any, ...] | None = checked(optional(layer_widths), None)
    type: ClassVar[str] = "set_weights"
    id: int | None = checked(_ID, None)


@dataclass(frozen=True, eq=False)
class TrainDrawing:
    """Take a few SGD steps on one labelled drawing (784 preprocessed pixels in [0, 1])."""

    pixels: np.ndarray = checked(pixels)
    label: int = checked(integer(0, N_CLASSES - 1))
    type: ClassVar[str] = "train_drawing"
    id: int | None = checked(_ID, None)


def _class_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def _setting_command(setting: Tunable) -> type:
    """The command that sets one live setting: ``set_x`` with the one field ``x``."""
    cls = dataclasses.make_dataclass(
        _class_name(setting.command),
        [(setting.field, setting.type, checked(setting.check)), ("id", "int | None", checked(_ID, None))],
        namespace={"__doc__": f"Set the {setting.label.lower()}: {setting.about}.", "__module__": __name__},
        frozen=True,
    )
    cls.type = setting.command  # a class constant, like the ``ClassVar`` of the written classes
    return cls


# The live settings' commands, by field, in the table's order.
SETTING_COMMANDS: dict[str, type] = {t.field: _setting_command(t) for t in LIVE}
# Names for the commands code refers to by name; a new setting needs none (`SETTING_COMMANDS`).
SetOptimizer = SETTING_COMMANDS["optimizer"]
SetLearningRate = SETTING_COMMANDS["lrate"]
SetLrDecay = SETTING_COMMANDS["lr_decay"]
SetBatchSize = SETTING_COMMANDS["batch_size"]
SetCacheSize = SETTING_COMMANDS["cache_size"]
SetAugment = SETTING_COMMANDS["augment"]

# Start again from new random weights, with what the run settings (the table's `RUN`: the hidden
# layers, the seed) say, each left as it is when None. ``hidden`` lists the hidden layers' widths,
# first first (``(256, 128)``); on the wire one layer may also be given as its width alone.
Reset = dataclasses.make_dataclass(
    "Reset",
    [(t.field, "Any", checked(optional(t.check), None)) for t in RUN] + [("id", "int | None", checked(_ID, None))],
    namespace={"__module__": __name__,
               "__doc__": "Start again from new random weights; given run settings (" +
                          ", ".join(t.field for t in RUN) + ") replace the current ones."},
    frozen=True,
)
Reset.type = "reset"

_ALL = (Start, Stop, Status, Evaluate, SetWeights, *SETTING_COMMANDS.values(), Reset, TrainDrawing)
Command = Union[_ALL]  # type: ignore[valid-type]
COMMAND_CLASSES: dict[str, type] = {cls.type: cls for cls in _ALL}  # by wire type
