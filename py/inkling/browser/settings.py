"""The page's training settings: parse what the user typed, validate it with the protocol's own rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError
from ..layers import parse_hidden
from ..protocol import decode_command

_WHOLE = re.compile(r"[+-]?\d+")


class SettingError(ValueError):
    """A value typed into a setting cannot be used; the message says why and what is allowed."""


@dataclass(frozen=True)
class Setting:
    """One input of the page and the command it turns into.

    Attributes:
        testid: The input's ``data-testid`` (and element id).
        label: How the page names it in messages.
        command: The command ``type`` the value is sent with.
        field: The command's field that carries the value.
        kind: ``"whole"`` (a whole number), ``"real"`` (any number), ``"layers"``
            (hidden layer widths such as ``256,128``) or ``"switch"`` (``on`` or ``off``: a checkbox).
    """

    testid: str
    label: str
    command: str
    field: str
    kind: str


BATCH_SIZE = Setting("batch-size", "Batch size", "set_batch_size", "batch_size", "whole")
LEARNING_RATE = Setting("learning-rate", "Learning rate", "set_learning_rate", "lrate", "real")
CACHE_SIZE = Setting("cache-size", "Cache size", "set_cache_size", "cache_size", "whole")
LR_DECAY = Setting("lr-decay", "Learning-rate decay", "set_lr_decay", "lr_decay", "real")
HIDDEN_SIZE = Setting("hidden-size", "Hidden layers", "reset", "hidden", "layers")
SEED = Setting("seed", "Seed", "reset", "seed", "whole")
AUGMENT = Setting("augment", "Augmentation", "set_augment", "augment", "switch")

SETTINGS = (BATCH_SIZE, LEARNING_RATE, CACHE_SIZE, LR_DECAY, HIDDEN_SIZE, SEED, AUGMENT)
SWITCH_TEXT = {True: "on", False: "off"}

# Which input a worker error's `field` belongs to, so it can be marked there.
INPUT_OF_FIELD = {s.field: s.testid for s in SETTINGS} | {"optimizer": "optimizer"}


def parse_number(setting: Setting, text: str) -> int | float | bool | tuple[int, ...]:
    """Read the value in ``text`` (blanks allowed): a number, hidden layer widths, or on/off.

    Raises:
        SettingError: Empty, not a number, or a fraction where a whole number is needed.
    """
    text = text.strip()
    if setting.kind == "switch":
        for value, name in SWITCH_TEXT.items():
            if text.lower() == name:
                return value
        raise SettingError(f"{setting.label}: '{text}' is not on or off")
    if not text:
        raise SettingError(f"{setting.label}: enter a number")
    if setting.kind == "layers":
        try:
            return parse_hidden(text)
        except ValueError as error:
            raise SettingError(f"{setting.label}: {error}") from None
    if setting.kind == "whole":
        if not _WHOLE.fullmatch(text):
            raise SettingError(f"{setting.label}: '{text}' is not a whole number")
        return int(text)
    try:
        return float(text)
    except ValueError:
        raise SettingError(f"{setting.label}: '{text}' is not a number") from None


def setting_command(setting: Setting, text: str) -> dict[str, Any]:
    """The wire command that applies ``text`` to ``setting``, checked by the protocol's decoder.

    The ranges are the protocol's (one set of rules for the page and the worker),
    so what passes here is what the worker accepts.

    Raises:
        SettingError: The value cannot be parsed or is out of range; says the allowed range.
    """
    value = parse_number(setting, text)
    command = {"type": setting.command, setting.field: value}
    try:
        decode_command(command)
    except ProtocolError as error:
        raise SettingError(f"{setting.label}: {text.strip()} is refused: {error.reason}") from None
    return command
