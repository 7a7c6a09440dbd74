"""The settings a person tunes: one table, read by the page's inputs, stats and address, the
autosave, the recipes and the command line.

Each `Tunable` says what the setting is called where (the command and signal field, the page's
input and stat, the CLI flag), how it is written as text and read back, and whether it applies
at once or starts a new run at the next reset. Its range is the protocol's: a typed value is
checked by decoding the command it becomes, so the page, the CLI and the worker hold it to one
set of rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ProtocolError
from .layers import format_hidden, parse_hidden
from .optim import OPTIMIZERS
from .protocol import Command, make_command

DASH = "–"  # how a setting without a value (a seed no one knows) is shown
SWITCH_TEXT = {True: "on", False: "off"}
_WHOLE = re.compile(r"[+-]?\d+")


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
        live: True: applied at once, while training goes on; False: part of a run, applied by a reset.
        choices: The values a ``choice`` takes.
    """

    field: str
    command: str
    testid: str
    stat: str
    label: str
    kind: str
    cli: str
    about: str
    live: bool = True
    choices: tuple[str, ...] = ()

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

    def command_of(self, value: Any, typed: str | None = None) -> Command:
        """The command that gives the worker ``value``, checked by the protocol's decoder.

        Raises:
            SettingError: The worker would refuse it; says the allowed range, and names the value
                as it was ``typed`` if it was.
        """
        try:
            return make_command(self.command, **{self.field: value})
        except ProtocolError as error:
            shown = typed.strip() if typed is not None else self._shown(value)
            raise SettingError(f"{self.label}: {shown} is refused: {error.reason}") from None

    def _shown(self, value: Any) -> str:
        """``value`` for a message: as `text` writes it, or as Python does when it is not of this kind."""
        try:
            return self.text(value)
        except (TypeError, ValueError, KeyError):
            shown = repr(value)
            return shown if len(shown) <= 40 else shown[:37] + "..."

    def command_from_text(self, text: str) -> Command:
        """`parse` then `command_of`: the command a typed value becomes.

        Raises:
            SettingError: It cannot be read, or the worker would refuse it.
        """
        return self.command_of(self.parse(text), typed=text)


# Applied in this order: the optimizer first, as choosing one resets the learning rate.
OPTIMIZER = Tunable("optimizer", "set_optimizer", "optimizer", "stat-optimizer", "Optimizer", "choice", "--optimizer",
                    "how each step follows the gradient", choices=OPTIMIZERS)
LEARNING_RATE = Tunable("lrate", "set_learning_rate", "learning-rate", "stat-lrate", "Learning rate", "real", "--lr",
                        "the size of each step")
LR_DECAY = Tunable("lr_decay", "set_lr_decay", "lr-decay", "stat-lr-decay", "Learning-rate decay", "real",
                   "--lr-decay", "the factor the learning rate is multiplied by after each epoch")
BATCH_SIZE = Tunable("batch_size", "set_batch_size", "batch-size", "stat-batch-size", "Batch size", "whole",
                     "--batch-size", "samples per step")
CACHE_SIZE = Tunable("cache_size", "set_cache_size", "cache-size", "stat-cache-size", "Cache size", "whole",
                     "--cache-size", "blocks of 1000 samples kept cached or in flight")
AUGMENT = Tunable("augment", "set_augment", "augment", "stat-augment", "Augmentation", "switch", "--augment",
                  "train on randomly shifted, rotated and scaled copies of the images")
HIDDEN_SIZE = Tunable("hidden", "reset", "hidden-size", "stat-hidden", "Hidden layers", "layers", "--hidden",
                      "the hidden layers' widths, first first: 256, or 256,128", live=False)
SEED = Tunable("seed", "reset", "seed", "stat-seed", "Seed", "whole", "--seed",
               "the seed of the first weights, the data order and the distortions", live=False)

TUNABLES = (OPTIMIZER, LEARNING_RATE, LR_DECAY, BATCH_SIZE, CACHE_SIZE, AUGMENT, HIDDEN_SIZE, SEED)
LIVE = tuple(t for t in TUNABLES if t.live)  # what a worker is given to carry on a run (the autosave's settings)
RUN = tuple(t for t in TUNABLES if not t.live)  # what a reset starts a new run from
BY_FIELD = {t.field: t for t in TUNABLES}
