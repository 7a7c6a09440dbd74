"""Settings in the page's URL: every setting and the run's seed are written into the address as
they change, and an address that carries them applies them (a link reproduces a run).

The query names are the inputs' test ids (``?batch-size=64&optimizer=adam&seed=7``), checked with
the same rules as typed values. Pure Python: the page hands in and takes back query strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..messages.protocol import Command, ResponseSignal, setting_command_from_text
from ..messages.tunables import LIVE, RUN, TUNABLES, SettingError

NAMES = tuple(t.testid for t in TUNABLES)


@dataclass
class Link:
    """What an address asks for, checked.

    Attributes:
        commands: Commands for the live settings (optimizer first).
        run: ``{"hidden": (256, 128), "seed": s}`` (either may be missing) when the link names a run.
        refused: ``name=value: why`` for each value that cannot be used (the rest still apply).
    """

    commands: list[Command] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def read_link(query: str) -> Link:
    """Check the settings in a URL's query string (``?a=1&b=2`` or without the ``?``).

    Names it does not know (``engine``, say) are left alone; a name given twice counts once, its last value.
    """
    values = dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    link = Link()
    for setting in TUNABLES:  # the table's order: the optimizer first, as it sets its own rate
        text = values.get(setting.testid)
        if text is None:
            continue
        try:
            command = setting_command_from_text(setting, text)
        except SettingError as error:
            link.refused.append(f"{setting.testid}={text}: {error}")
            continue
        if setting.live:
            link.commands.append(command)
        else:
            link.run[setting.field] = getattr(command, setting.field)
    return link


def link_query(signal: ResponseSignal, query: str) -> str:
    """``query`` (a URL's, with or without ``?``) with the settings of ``signal`` written in.

    Other names in it are kept; the seed is left out when no seed made the weights.
    """
    kept = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True) if k not in NAMES]
    ours = [(t.testid, t.text(getattr(signal, t.field))) for t in TUNABLES if getattr(signal, t.field) is not None]
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
        setting = next(t for t in LIVE if t.command == command.type)
        parts.append(f"{setting.label.lower()} {setting.text(getattr(command, setting.field))}")
    parts += [f"{t.label.lower()} {t.text(link.run[t.field])}" for t in RUN if t.field in link.run]
    return ", ".join(parts)
