"""The messages between the page and the training worker, and the one place they become dicts.

Commands (`inkling.messages.commands`) go main thread -> worker, signals (`inkling.messages.signals`)
worker -> main thread. On the wire each is a plain dict with a ``"type"``; here each is a frozen dataclass whose
fields carry their checks. `decode_command` and `decode_signal` validate every field (type, range,
finiteness) and raise `ProtocolError` naming the field; `encode_command` and `encode_signal` build
the dicts. Arrays travel as ``{"shape": [...], "data": <1-D float32 ndarray>}`` so the browser
adapter can hand their buffers over without copying them into JSON.
"""

from __future__ import annotations

import functools
from dataclasses import MISSING, fields
from typing import Any, Mapping

import numpy as np

from ..errors import ProtocolError
from ..network.layers import N_CLASSES, N_PIXELS
from .checks import MAX_ID, MAX_SEED, MAX_WEIGHT_ARRAYS, MAX_WEIGHT_VALUES, check_of, describe, exact_keys
from .commands import (COMMAND_CLASSES, MAX_EPOCHS, SETTING_COMMANDS, Command, Evaluate, Reset, SetAugment,
                       SetBatchSize, SetCacheSize, SetLearningRate, SetLrDecay, SetOptimizer, SetWeights, Start, Status,
                       Stop, TrainDrawing)
from .signals import (ABSENT_MEANS_NONE, ERROR_KINDS, GLUE_ONLY, HELPER_CLASSES, OFFLINE_STATES, SIGNAL_CLASSES,
                      BoardJoined, ErrorSignal, JoinBoard, OfflineState, ProgressSignal, ReadySignal, ResponseSignal,
                      Signal, StartFailed, UnreadableMessage, WorkerLost)
from .tunables import SettingError, Tunable

__all__ = [
    "COMMAND_CLASSES", "ERROR_KINDS", "GLUE_ONLY", "OFFLINE_STATES", "OfflineState", "StartFailed", "WorkerLost",
    "MAX_EPOCHS", "MAX_ID", "MAX_SEED", "MAX_WEIGHT_ARRAYS", "MAX_WEIGHT_VALUES",
    "N_CLASSES", "N_PIXELS", "SETTING_COMMANDS", "SIGNAL_CLASSES", "Command", "ErrorSignal", "Evaluate",
    "ProgressSignal", "ReadySignal", "Reset", "ResponseSignal", "SetAugment", "SetBatchSize", "SetCacheSize",
    "SetLearningRate", "SetLrDecay", "SetOptimizer", "SetWeights", "Signal", "Start", "Status", "Stop",
    "TrainDrawing", "UnreadableMessage", "BoardJoined", "JoinBoard", "decode_helper_message", "decode_command",
    "decode_signal", "encode_command", "encode_signal", "make_command", "setting_command", "setting_command_from_text",
]


def decode_command(raw: Any) -> Command:
    """Validate a wire dict and return its command object.

    Raises:
        ProtocolError: Not a dict, unknown ``type``, or a field missing, extra or
            invalid; ``error.field`` names it.
    """
    cls = COMMAND_CLASSES[_message_type(raw, "command", COMMAND_CLASSES)]
    return _decode(cls, raw, absent_means_none=frozenset())


def make_command(kind: str, **values: Any) -> Command:
    """The command of type ``kind`` with ``values``, checked as if it had come over the wire.

    Raises:
        ProtocolError: ``kind`` is unknown, or a field is missing, extra or invalid.
    """
    return decode_command({"type": kind, **values})


def setting_command(setting: Tunable, value: Any, typed: str | None = None) -> Command:
    """The command that gives the worker ``value`` for ``setting``, checked as the worker checks it.

    Raises:
        SettingError: The worker would refuse it; says the allowed range, and names the value
            as it was ``typed`` if it was.
    """
    try:
        return make_command(setting.command, **{setting.field: value})
    except ProtocolError as error:
        shown = typed.strip() if typed is not None else setting.shown(value)
        raise SettingError(f"{setting.label}: {shown} is refused: {error.reason}") from None


def setting_command_from_text(setting: Tunable, text: str) -> Command:
    """`Tunable.parse` then `setting_command`: the command a typed value becomes.

    Raises:
        SettingError: It cannot be read, or the worker would refuse it.
    """
    return setting_command(setting, setting.parse(text), typed=text)

def encode_command(command: Command) -> dict[str, Any]:
    """The wire dict of a command (arrays as 1-D float32 ndarrays)."""
    out: dict[str, Any] = {"type": command.type}
    for f in fields(command):
        value = getattr(command, f.name)
        if f.name == "pixels":
            value = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
        if value is not None:  # absent and None mean the same: id, start's epochs, reset's hidden/seed
            out[f.name] = _wire_value(f.name, value)
    return out


def encode_signal(signal: Signal | JoinBoard | BoardJoined) -> dict[str, Any]:
    """The wire dict of a signal; weights become ``{name: {"shape", "data"}}``, a confusion matrix
    plain lists (left out when there is none)."""
    out: dict[str, Any] = {"type": signal.type}
    for f in fields(signal):
        value = getattr(signal, f.name)
        if f.name in ABSENT_MEANS_NONE:
            if value is None:
                continue
            value = value.to_wire()
        out[f.name] = _wire_value(f.name, value)
    return out


def decode_signal(raw: Any) -> Signal:
    """Validate a signal dict from the worker (or an event of the page's JS glue) and return its object.

    ``weights[...]["data"]`` may be an ndarray, memoryview, bytes or list (what
    ``to_py()`` gives for a Float32Array); it comes back as shaped float32 arrays.

    Raises:
        ProtocolError: Not a known signal, or a field missing, extra or invalid.
    """
    cls = SIGNAL_CLASSES[_message_type(raw, "signal", SIGNAL_CLASSES)]
    return _decode(cls, raw, absent_means_none=ABSENT_MEANS_NONE, strict=True)


def decode_helper_message(raw: Any) -> JoinBoard | BoardJoined:
    """Validate a message between the training worker and a helper and return its object.

    Raises:
        ProtocolError: Not one of theirs, or a field missing, extra or invalid.
    """
    cls = HELPER_CLASSES[_message_type(raw, "helper message", HELPER_CLASSES)]
    return _decode(cls, raw, absent_means_none=frozenset(), strict=True)


def _decode(cls: type, raw: Mapping[str, Any], *, absent_means_none: frozenset[str], strict: bool = False) -> Any:
    """An instance of ``cls`` from ``raw``, each field through the check it carries.

    A command's fields with defaults may be left out; a signal (``strict``) must carry every field
    but those in ``absent_means_none``.
    """
    own, required = _plan(cls, absent_means_none, strict)
    exact_keys("", raw, {"type", *(name for name, _ in own)}, required)
    if strict:
        return cls(**{name: check(name, raw.get(name)) for name, check in own})
    return cls(**{name: check(name, raw[name]) for name, check in own if name in raw})


@functools.cache
def _plan(cls: type, absent_means_none: frozenset[str],
          strict: bool) -> tuple[tuple[tuple[str, Any], ...], tuple[str, ...]]:
    """A class's fields and checks, its own fields first (then a base's, so a missing ``seq`` is
    named before a setting), and the fields a message must carry: worked out once per class, as
    the page decodes ten signals a second."""
    own = sorted(fields(cls), key=lambda f: f.name not in cls.__annotations__)
    required = tuple(f.name for f in own if f.name not in absent_means_none and (
        strict or (f.default is MISSING and f.default_factory is MISSING)))
    return tuple((f.name, check_of(f)) for f in own), required


def _wire_value(name: str, value: Any) -> Any:
    if name == "weights" and value is not None:
        return {key: {"shape": list(array.shape), "data": np.ascontiguousarray(array, dtype=np.float32).reshape(-1)}
                for key, array in value.items()}
    return list(value) if isinstance(value, tuple) else value


def _message_type(raw: Any, what: str, known: Mapping[str, Any]) -> str:
    if isinstance(raw, UnreadableMessage):
        raise ProtocolError(what, f"could not be read ({raw.reason}); send a flat dict with a 'type' field")
    if not isinstance(raw, dict):
        raise ProtocolError(what, f"must be a dict with a 'type' field, got {describe(raw)}")
    if "type" not in raw:
        raise ProtocolError("type", "missing")
    kind = raw["type"]
    if not isinstance(kind, str) or kind not in known:
        raise ProtocolError("type", f"unknown {what} type {describe(kind)}; expected one of {', '.join(known)}")
    return kind
