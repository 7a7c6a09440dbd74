"""The settings a person tunes: one table, from which the protocol's setting commands and the
signal's settings, the Trainer's defaults, the autosave, the recipes, the page's inputs (written
into ``index.html`` by the build), stats and address, and the command line's flags are derived.

Each `Tunable` says what the setting is called where (the command and signal field, the page's
input and stat, the CLI flag), its default and the check every value of it passes (the worker's
rule, wherever the value comes from), how it is written as text and read back, and whether it
applies at once or starts a new run at the next reset. Adding a setting is adding a row here and
giving it a meaning in the `Learner` (`inkling.training.learner`). The table knows no message:
the commands and signals are built from it (`inkling.messages.commands`, `inkling.messages.signals`),
and `inkling.messages.protocol.setting_command` turns a value into its command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..network.layers import format_hidden, parse_hidden
from ..network.optim import OPTIMIZERS
from . import checks

DASH = "–"  # how a setting without a value (a seed no one knows) is shown
SWITCH_TEXT = {True: "on", False: "off"}
_WHOLE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class PageText:
    """How the page presents a setting: a short name (else the label), a hint beside it, a tooltip
    (else what it does), a placeholder for an empty input, and the names of a choice's values."""

    name: str = ""
    hint: str = ""
    tooltip: str = ""
    placeholder: str = ""
    choice_names: tuple[str, ...] = ()


class SettingError(ValueError):
    """A value typed for a setting cannot be used; the message says why and what is allowed."""


@dataclass(frozen=True)
class Tunable:
    """One setting and its names.

    Attributes:
        field: The field of the command that sets it and of the signal that reports it.
        command: That command's ``type``.
        testid: The page's input (its ``data-testid`` and id) and the name in the page's address.
        stat: The page's stat that shows it.
        label: How people call it, in messages.
        kind: ``whole``, ``real``, ``choice`` (one of ``choices``), ``switch`` (on/off) or ``layers``
            (hidden layer widths such as ``256,128``).
        cli: The command line's flag.
        about: What it does, for help texts.
        check: The rule every value passes (`inkling.messages.checks`): the protocol's field check.
        default: Its value when nothing else says.
        live: True: applied at once, while training goes on, by its own command; False: part of a
            run, given to a reset (``command`` is ``reset``).
        choices: The values a ``choice`` takes.
        unknown: The signal may report it as None (unknown), shown as ``–``.
        page: The page's short name for it, its hint and its tooltip (`inkling.page.settings_markup`
            writes its input and stat from these).
        kept: Part of how a run trains: recipes set it and the autosave keeps it. False for a
            setting of the machine (how many workers compute a step), which changes no result.
    """

    field: str
    command: str
    testid: str
    stat: str
    label: str
    kind: str
    cli: str
    about: str
    check: checks.Check
    default: Any
    live: bool = True
    choices: tuple[str, ...] = ()
    unknown: bool = False
    page: PageText = PageText()
    kept: bool = True

    @property
    def type(self) -> Any:
        """The Python type of a value (the annotation of its command's field)."""
        return _TYPES[self.kind]

    def text(self, value: Any) -> str:
        """``value`` as the page shows it and `parse` reads it back (``–`` for None)."""
        if value is None:
            return DASH
        if self.kind == "real":
            return f"{value:g}"
        if self.kind == "switch":
            if not isinstance(value, bool):
                raise TypeError(f"{self.label} is on or off, not {value!r}")
            return SWITCH_TEXT[value]
        if self.kind == "layers":
            return format_hidden(value)
        return str(value)

    def parse(self, text: str) -> Any:
        """Read a value typed (or in an address) as ``text``, blanks around it allowed.

        Raises:
            SettingError: Empty, or not a value of this kind; says why.
        """
        text = text.strip()
        if not text:
            raise SettingError(f"{self.label}: enter {'a number' if self.kind in ('whole', 'real') else 'a value'}")
        if self.kind == "whole":
            if not _WHOLE.fullmatch(text):
                raise SettingError(f"{self.label}: '{text}' is not a whole number")
            return int(text)
        if self.kind == "real":
            try:
                return float(text)
            except ValueError:
                raise SettingError(f"{self.label}: '{text}' is not a number") from None
        if self.kind == "switch":
            for value, name in SWITCH_TEXT.items():
                if text.lower() == name:
                    return value
            raise SettingError(f"{self.label}: '{text}' is not on or off")
        if self.kind == "layers":
            try:
                return parse_hidden(text)
            except ValueError as error:
                raise SettingError(f"{self.label}: {error}") from None
        if text not in self.choices:
            raise SettingError(f"{self.label}: choose one of {', '.join(self.choices)}")
        return text

    def shown(self, value: Any) -> str:
        """``value`` for a message: as `text` writes it, or as Python does when it is not of this kind."""
        try:
            return self.text(value)
        except (TypeError, ValueError, KeyError):
            shown = repr(value)
            return shown if len(shown) <= 40 else shown[:37] + "..."


_TYPES = {"whole": int, "real": float, "choice": str, "switch": bool, "layers": tuple[int, ...]}

# Applied in this order: the optimizer first, as choosing one resets the learning rate. The defaults
# are the default recipe's (`inkling.training.recipes`, where their figures are).
OPTIMIZER = Tunable("optimizer", "set_optimizer", "optimizer", "stat-optimizer", "Optimizer", "choice", "--optimizer",
                    "how each step follows the gradient", checks.text(OPTIMIZERS), "momentum", choices=OPTIMIZERS,
                    page=PageText(choice_names=("SGD", "Momentum", "Adam")))
LEARNING_RATE = Tunable("lrate", "set_learning_rate", "learning-rate", "stat-lrate", "Learning rate", "real", "--lr",
                        "the size of each step", checks.number(0.0, 10.0, lo_open=True), 0.05)
LR_DECAY = Tunable("lr_decay", "set_lr_decay", "lr-decay", "stat-lr-decay", "Learning-rate decay", "real",
                   "--lr-decay", "the factor the learning rate is multiplied by after each epoch",
                   checks.number(0.0, 1.0, lo_open=True), 0.6, page=PageText("LR decay", "(per epoch)"))
WEIGHT_DECAY = Tunable("weight_decay", "set_weight_decay", "weight-decay", "stat-weight-decay", "Weight decay", "real",
                       "--weight-decay", "the L2 penalty: each step also pulls every weight towards 0 by this "
                       "fraction of itself, times the learning rate", checks.number(0.0, 0.1), 0.0,
                       page=PageText(hint="(L2)"))
BATCH_SIZE = Tunable("batch_size", "set_batch_size", "batch-size", "stat-batch-size", "Batch size", "whole",
                     "--batch-size", "samples per step", checks.integer(1, 4096), 32)
# The worker refuses more blocks than its memory budget holds (`cache_budget.max_cache_size`: 85 of
# MNIST's), which only it knows: the limit depends on the data's block size.
CACHE_SIZE = Tunable("cache_size", "set_cache_size", "cache-size", "stat-cache-size", "Cache size", "whole",
                     "--cache-size", "blocks of 1000 samples kept cached or in flight", checks.integer(1, 1024), 8,
                     page=PageText(hint="(blocks)"))
AUGMENT = Tunable("augment", "set_augment", "augment", "stat-augment", "Augmentation", "switch", "--augment",
                  "train on randomly shifted, rotated, stretched and slanted copies of the images, a third of "
                  "them drawn with a thicker pen and a third with a thinner one", checks.boolean, False,
                  page=PageText("Augment", "(shift, rotate, stretch, slant, pen)",
                                "Train on randomly shifted, rotated, stretched and slanted copies of the digits, "
                                "some drawn with a thicker or thinner pen: slower to learn, better in the end, and "
                                "much better at reading digits written in other styles than MNIST's"))
HIDDEN_SIZE = Tunable("hidden", "reset", "hidden-size", "stat-hidden", "Hidden layers", "layers", "--hidden",
                      "the hidden layers, first first: 256, or 256,128, or a convnet c16:5,p2,c32:5,p2,128 "
                      "(c16:5: 16 filters of 5x5; p2: 2x2 max-pooling)", checks.layer_widths, (256,),
                      live=False, page=PageText(hint="(e.g. 256,128)", tooltip=(
                          "The hidden layers, first first: 256 is one dense layer, 256,128 two; c16:5,p2,128 is a "
                          "convnet: 16 filters of 5x5 pixels, 2x2 max-pooling, then 128 dense units")))
SEED = Tunable("seed", "reset", "seed", "stat-seed", "Seed", "whole", "--seed",
               "the seed of the first weights, the data order and the distortions",
               checks.integer(0, checks.MAX_SEED), 0, live=False, unknown=True,
               page=PageText(hint="(for Reset)", placeholder="random", tooltip=(
                   "Reset starts from this seed (weights and data order): the same seed and settings train the "
                   "same weights. Empty: a new random seed each time.")))
# How many workers share each step (`inkling.training.data_parallel`): the result is the same up to float
# summation order, so it is the machine's setting, not the run's. The page's worker starts with the cores
# the browser reports less one for the page; the table's 1 is what the command line and tests use.
MAX_WORKERS = 16
WORKERS = Tunable("workers", "set_workers", "workers", "stat-workers", "Workers", "whole", "",
                  "how many web workers share each training step (on their own cores)",
                  checks.integer(1, MAX_WORKERS), 1, kept=False,
                  page=PageText(hint="(cores)", tooltip=(
                      "How many web workers compute each training step, each on its own core: the same "
                      "result, sooner where cores are free and steps are large (a small step stays one "
                      "worker's). Needs a cross-origin isolated page; each worker costs memory.")))

TUNABLES = (OPTIMIZER, LEARNING_RATE, LR_DECAY, WEIGHT_DECAY, BATCH_SIZE, CACHE_SIZE, AUGMENT, WORKERS, HIDDEN_SIZE,
            SEED)
LIVE = tuple(t for t in TUNABLES if t.live)  # applied at once, each by its own command
KEPT = tuple(t for t in LIVE if t.kept)  # the live settings a recipe sets and the autosave keeps
RUN = tuple(t for t in TUNABLES if not t.live)  # what a reset starts a new run from
BY_FIELD = {t.field: t for t in TUNABLES}
DEFAULTS = {t.field: t.default for t in TUNABLES}
