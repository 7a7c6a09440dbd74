"""Settings in the page's URL: every setting and the run's seed are written into the address as
they change, and an address that carries them applies them (a link reproduces a run).

The query names are the inputs' test ids (``?batch-size=64&optimizer=adam&seed=7``), checked with
the same rules as typed values. Pure Python: the page hands in and takes back query strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..layers import format_hidden
from ..optim import OPTIMIZERS
from ..protocol import ResponseSignal
from .settings import (
    AUGMENT, BATCH_SIZE, CACHE_SIZE, HIDDEN_SIZE, LEARNING_RATE, LR_DECAY, SEED, SWITCH_TEXT, SettingError,
    setting_command)

OPTIMIZER = "optimizer"
# Applied in this order: the optimizer first, as choosing one sets its own suggested rate.
LIVE = (LEARNING_RATE, LR_DECAY, BATCH_SIZE, CACHE_SIZE, AUGMENT)
RUN = (HIDDEN_SIZE, SEED)  # what a Reset starts a run from
NAMES = (OPTIMIZER, *(s.testid for s in (*LIVE, *RUN)))


@dataclass
class Link:
    """What an address asks for, checked.

    Attributes:
        commands: Wire commands for the live settings (optimizer first).
        run: ``{"hidden": (256, 128), "seed": s}`` (either may be missing) when the link names a run.
        refused: ``name=value: why`` for each value that cannot be used (the rest still apply).
    """

    commands: list[dict[str, Any]] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def read_link(query: str) -> Link:
    """Check the settings in a URL's query string (``?a=1&b=2`` or without the ``?``).

    Names it does not know (``engine``, say) are left alone; a name given twice counts once, its last value.
    """
    values = dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    link = Link()
    optimizer = values.get(OPTIMIZER)
    if optimizer is not None:
        if optimizer in OPTIMIZERS:
            link.commands.append({"type": "set_optimizer", "optimizer": optimizer})
        else:
            link.refused.append(f"{OPTIMIZER}={optimizer}: choose one of {', '.join(OPTIMIZERS)}")
    for setting in (*LIVE, *RUN):
        text = values.get(setting.testid)
        if text is None:
            continue
        try:
            command = setting_command(setting, text)
        except SettingError as error:
            link.refused.append(f"{setting.testid}={text}: {error}")
            continue
        if setting in RUN:
            link.run[setting.field] = command[setting.field]
        else:
            link.commands.append(command)
    return link


def link_query(signal: ResponseSignal, query: str) -> str:
    """``query`` (a URL's, with or without ``?``) with the settings of ``signal`` written in.

    Other names in it are kept; the seed is left out when no seed made the weights.
    """
    kept = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True) if k not in NAMES]
    ours: list[tuple[str, str]] = [
        (OPTIMIZER, signal.optimizer),
        (LEARNING_RATE.testid, f"{signal.lrate:g}"),
        (LR_DECAY.testid, f"{signal.lr_decay:g}"),
        (BATCH_SIZE.testid, str(signal.batch_size)),
        (CACHE_SIZE.testid, str(signal.cache_size)),
        (AUGMENT.testid, SWITCH_TEXT[signal.augment]),
        (HIDDEN_SIZE.testid, format_hidden(signal.hidden)),
    ]
    if signal.seed is not None:
        ours.append((SEED.testid, str(signal.seed)))
    return "?" + urlencode(kept + ours)


def changes(link: Link, signal: ResponseSignal) -> Link:
    """The part of ``link`` that differs from what ``signal`` reports (its refusals kept)."""
    current = read_link(link_query(signal, ""))
    commands = [command for command in link.commands if command not in current.commands]
    run = link.run if any(current.run.get(name) != value for name, value in link.run.items()) else {}
    return Link(commands, dict(run), list(link.refused))


def describe(link: Link) -> str:
    """``optimizer adam, learning rate 0.001, seed 7``: what a link sets, for a message."""
    parts = []
    for command in link.commands:
        if command["type"] == "set_optimizer":
            parts.append(f"optimizer {command['optimizer']}")
        else:
            setting = next(s for s in LIVE if s.command == command["type"])
            value = command[setting.field]
            parts.append(f"{setting.label.lower()} {SWITCH_TEXT[value] if setting is AUGMENT else format(value, 'g')}")
    if "hidden" in link.run:
        parts.append(f"{HIDDEN_SIZE.label.lower()} {format_hidden(link.run['hidden'])}")
    if "seed" in link.run:
        parts.append(f"{SEED.label.lower()} {link.run['seed']}")
    return ", ".join(parts)
