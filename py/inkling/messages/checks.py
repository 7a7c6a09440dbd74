"""Checks of message fields: each takes (field name, raw value) and returns the clean value or
raises `ProtocolError` naming the field.

A message class carries its checks on its fields (`checked`), and a setting carries its own in
the settings table (`inkling.messages.tunables`), so a value is held to one rule wherever it comes from:
the wire, a typed input, an address, the autosave or the command line.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import ProtocolError
from ..network.layers import (MAX_HIDDEN, MAX_HIDDEN_LAYERS, N_PIXELS, Dense, HiddenLayer, hidden_layer,
                              hidden_problem, layer_spec)
from ..network.weight_rules import MAX_WEIGHT_ARRAYS, MAX_WEIGHT_VALUES, WEIGHT_NAME

MAX_ID = 2**53 - 1  # the largest integer a JS number holds exactly
MAX_SEED = 2**32 - 1

Check = Callable[[str, Any], Any]
CHECK = "check"  # the metadata key of a field's check


def checked(check: Check, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that carries ``check`` (and ``default``, if it is optional on the wire)."""
    return dataclasses.field(default=default, metadata={CHECK: check})


def check_of(field: dataclasses.Field) -> Check:
    """The check a field carries (`checked`)."""
    return field.metadata[CHECK]


Check = Callable[[str, Any], Any]


def integer(lo: int, hi: int) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ProtocolError(name, f"must be an integer, got {describe(value)}")
        if not lo <= value <= hi:
            raise ProtocolError(name, f"must be between {lo} and {hi}, got {value}")
        return int(value)

    return check


def number(lo: float, hi: float, *, lo_open: bool = False) -> Check:
    def check(name: str, value: Any) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ProtocolError(name, f"must be a number, got {describe(value)}")
        try:
            x = float(value)
        except OverflowError:
            raise ProtocolError(name, f"must be at most {hi}, got an integer too large for a float") from None
        if not math.isfinite(x):
            raise ProtocolError(name, f"must be finite, got {x}")
        if x < lo or (lo_open and x == lo) or x > hi:
            low = f"greater than {lo}" if lo_open else f"at least {lo}"
            raise ProtocolError(name, f"must be {low} and at most {hi}, got {x}")
        return x

    return check


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ProtocolError(name, f"must be true or false, got {describe(value)}")
    return bool(value)


def text(choices: tuple[str, ...] | None = None) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ProtocolError(name, f"must be a string, got {describe(value)}")
        if choices is not None and value not in choices:
            raise ProtocolError(name, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    return check


def optional(check: Check) -> Check:
    def optional(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return optional


def layer_widths(name: str, value: Any) -> tuple[HiddenLayer, ...]:
    """Hidden layers: a list of dense widths and conv or pool layers' texts (``["c16:5", "p2", 128]``;
    one dense layer may be given as its width alone) that `layers.hidden_problem` accepts."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ProtocolError(name, f"must be a list of layers such as [256, 128] or [\"c16:5\", \"p2\", 128], "
                                  f"got {describe(value)}")
    if len(value) > MAX_HIDDEN_LAYERS:  # before reading them: a huge list fails fast
        raise ProtocolError(name, str(hidden_problem(value)))
    hidden = []
    for layer in value:
        if isinstance(layer, str) and len(layer) <= 32:
            try:
                spec = layer_spec(layer)
            except ValueError as error:
                raise ProtocolError(name, str(error)) from None
            if isinstance(spec, Dense):  # a width travels as a number: "16" is a typo somewhere upstream
                raise ProtocolError(name, f"a dense layer's width is a number, not the text {layer!r}")
            hidden.append(hidden_layer(spec))
        else:
            hidden.append(integer(1, MAX_HIDDEN)(name, layer))
    problem = hidden_problem(hidden)
    if problem is not None:
        raise ProtocolError(name, problem)
    return tuple(hidden)


def describe(value: Any) -> str:
    """``value`` in a message: its type and a short repr (junk from JS may not even print)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a JS object whose toString is junk must not turn junk into a crash
        text = "(cannot be shown)"
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def float_array(name: str, value: Any, size: int) -> np.ndarray:
    """A 1-D float32 array of ``size`` finite values from an ndarray, buffer or list."""
    try:
        if isinstance(value, (bytes, bytearray)) or (isinstance(value, memoryview) and value.format in ("B", "b", "c")):
            if len(value) % 4:
                raise ProtocolError(name, f"raw bytes must hold float32 values (a multiple of 4 bytes), got {len(value)}")
            array = np.frombuffer(value, dtype="<f4")
        elif isinstance(value, (np.ndarray, memoryview)):
            array = np.asarray(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, bool) or not isinstance(item, (int, float)):
                    raise ProtocolError(name, f"must hold only numbers, found {describe(item)}")
            array = np.array(value, dtype=np.float64)
        else:
            raise ProtocolError(name, f"must be a float32 array, bytes or a list of numbers, got {describe(value)}")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(name, f"cannot be read as numbers: {exc}") from None
    if array.dtype.kind not in "fiu":
        raise ProtocolError(name, f"must hold real numbers, got dtype {array.dtype}")
    if array.ndim != 1 or array.size != size:
        raise ProtocolError(name, f"must be a flat array of {size} values, got shape {array.shape}")
    if array.dtype != np.float32:
        with np.errstate(over="ignore", invalid="ignore"):
            array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ProtocolError(name, "holds NaN or infinite values (or values too large for float32)")
    return array


def pixels(name: str, value: Any) -> np.ndarray:
    array = float_array(name, value, N_PIXELS)
    if array.min() < 0 or array.max() > 1:
        raise ProtocolError(name, f"values must be in [0, 1] (preprocess the drawing first), got {array.min()}..{array.max()}")
    return array


def weights(name: str, value: Any) -> dict[str, np.ndarray]:
    if not isinstance(value, dict) or not value:
        raise ProtocolError(name, f"must be a non-empty dict of name -> {{shape, data}}, got {describe(value)}")
    if len(value) > MAX_WEIGHT_ARRAYS:
        raise ProtocolError(name, f"holds {len(value)} arrays; at most {MAX_WEIGHT_ARRAYS}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not WEIGHT_NAME.fullmatch(key):
            raise ProtocolError(f"{name}.{key}", "unexpected array name; expected W1, b1, W2, b2, ...")
        where = f"{name}.{key}"
        if not isinstance(item, dict):
            raise ProtocolError(where, f"must be a dict with shape and data, got {describe(item)}")
        exact_keys(where, item, {"shape", "data"}, ["shape", "data"])
        # A dense layer's W is 2-D, a convolution's (out, in, k, k); whether they fit the network is
        # the model's to judge (`inkling.network.models.network_from_weights`).
        shape = array_shape(f"{where}.shape", item["shape"], (2, 4) if key[0] == "W" else (1,))
        out[key] = float_array(f"{where}.data", item["data"], math.prod(shape)).reshape(shape)
    if sum(a.size for a in out.values()) > MAX_WEIGHT_VALUES:
        raise ProtocolError(name, f"holds more than {MAX_WEIGHT_VALUES} values in all")
    return out


def array_shape(name: str, value: Any, ndims: tuple[int, ...]) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or len(value) not in ndims:
        raise ProtocolError(name, f"must be a list of {' or '.join(map(str, ndims))} dimension(s), got {describe(value)}")
    dim = integer(1, 1 << 16)
    return tuple(dim(name, d) for d in value)


def exact_keys(name: str, raw: Mapping[Any, Any], allowed: set[str], required: Sequence[str]) -> None:
    for key in raw:
        if key not in allowed:
            field = key if isinstance(key, str) and key else repr(key)
            raise ProtocolError(
                f"{name}.{field}" if name else field,
                f"unexpected field; expected only {', '.join(sorted(allowed))}",
            )
    for key in required:
        if key not in raw:
            raise ProtocolError(f"{name}.{key}" if name else key, "missing")
