"""The messages between the page and the training worker, and the one place they become dicts.

Commands go main thread -> worker, signals worker -> main thread. On the wire each
is a plain dict with a ``"type"``; here each is a frozen dataclass. `decode_command`
and `decode_signal` validate every field (type, range, finiteness) and raise
`ProtocolError` naming the field; `encode_command` and `encode_signal` build the
dicts. Arrays travel as ``{"shape": [...], "data": <1-D float32 ndarray>}`` so the
browser adapter can hand their buffers over without copying them into JSON.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, Mapping, Union

import numpy as np

from .confusion import Confusion
from .engine import ENGINE_NAMES
from .errors import ProtocolError
from .layers import MAX_HIDDEN, N_CLASSES, N_PIXELS, hidden_problem
from .optim import OPTIMIZERS

MAX_ID = 2**53 - 1  # the largest integer a JS number holds exactly
MAX_BATCH_SIZE = 4096
MAX_CACHE_SIZE = 1024
MAX_LRATE = 10.0
MAX_SEED = 2**32 - 1
MAX_EPOCHS = 1000
MAX_WEIGHT_ARRAYS = 64
MAX_WEIGHT_VALUES = 1 << 24
ERROR_KINDS = ("protocol", "weights", "data", "divergence", "internal")

# ---- commands ----------------------------------------------------------------------
# Every command may carry an ``id``; the worker echoes it as ``reply_to``.


@dataclass(frozen=True)
class Start:
    """Begin (or resume) training; with ``epochs``, stop by itself once that many more epochs of
    samples have been trained on (a run that two tabs can repeat exactly)."""

    epochs: int | None = None
    type: ClassVar[str] = "start"
    id: int | None = None


@dataclass(frozen=True)
class Stop:
    """Pause training after the current iteration."""

    type: ClassVar[str] = "stop"
    id: int | None = None


@dataclass(frozen=True)
class Status:
    """Reply with one `ResponseSignal` now."""

    type: ClassVar[str] = "status"
    id: int | None = None


@dataclass(frozen=True)
class Evaluate:
    """Measure accuracy on the whole test set; the reply carries it as ``test_acc``."""

    type: ClassVar[str] = "evaluate"
    id: int | None = None


@dataclass(frozen=True, eq=False)
class SetWeights:
    """Replace the model's weights (``W1, b1, ...`` shaped arrays, float32).

    Weights of other hidden layers replace the network with one of that shape. ``seed`` is the
    seed of the run they come from, when one is known (a restore of this browser's own run);
    without it the worker reports no seed: nothing it knows made these weights.
    """

    weights: dict[str, np.ndarray]
    seed: int | None = None
    type: ClassVar[str] = "set_weights"
    id: int | None = None


@dataclass(frozen=True)
class SetBatchSize:
    """Samples per training step, 1..4096; takes effect next iteration."""

    batch_size: int
    type: ClassVar[str] = "set_batch_size"
    id: int | None = None


@dataclass(frozen=True)
class SetLearningRate:
    """The learning rate, finite, 0 < lrate <= 10; takes effect next iteration."""

    lrate: float
    type: ClassVar[str] = "set_learning_rate"
    id: int | None = None


@dataclass(frozen=True)
class SetLrDecay:
    """Factor the learning rate is multiplied by at the end of each epoch, 0 < lr_decay <= 1."""

    lr_decay: float
    type: ClassVar[str] = "set_lr_decay"
    id: int | None = None


@dataclass(frozen=True)
class SetAugment:
    """Train on randomly shifted, rotated and scaled copies of each image (True) or on the images as they are."""

    augment: bool
    type: ClassVar[str] = "set_augment"
    id: int | None = None


@dataclass(frozen=True)
class SetCacheSize:
    """Blocks to keep cached or in flight, 1..1024; the cache grows or shrinks to it.

    The worker refuses more blocks than its memory budget holds (``cache.max_cache_size``:
    85 of MNIST's), which only it knows: the limit depends on the data's block size.
    """

    cache_size: int
    type: ClassVar[str] = "set_cache_size"
    id: int | None = None


@dataclass(frozen=True)
class SetOptimizer:
    """Switch optimizer (``sgd``, ``momentum`` or ``adam``); its state starts fresh."""

    optimizer: str
    type: ClassVar[str] = "set_optimizer"
    id: int | None = None


@dataclass(frozen=True)
class Reset:
    """Start again from new random weights, optionally with other hidden layers or another seed.

    ``hidden`` lists the hidden layers' widths, first first (``(256, 128)``); on the wire one
    layer may also be given as its width alone.
    """

    hidden: tuple[int, ...] | None = None
    seed: int | None = None
    type: ClassVar[str] = "reset"
    id: int | None = None


@dataclass(frozen=True, eq=False)
class TrainDrawing:
    """Take a few SGD steps on one labelled drawing (784 preprocessed pixels in [0, 1])."""

    pixels: np.ndarray
    label: int
    type: ClassVar[str] = "train_drawing"
    id: int | None = None


Command = Union[
    Start, Stop, Status, Evaluate, SetWeights, SetBatchSize, SetLearningRate,
    SetLrDecay, SetAugment, SetCacheSize, SetOptimizer, Reset, TrainDrawing,
]

# ---- signals -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ResponseSignal:
    """The worker's state, sent after every training iteration and in reply to commands.

    Attributes:
        seq: Number of this message among all the worker sent (signals and errors).
        iteration: Training steps taken since the last reset.
        training: Whether training is running.
        loss, acc: Loss and accuracy of the last training batch (None before the first).
        batch_size, lrate, lr_decay, optimizer, hidden, cache_size: Current settings;
            ``lrate`` is the rate in use now, after any per-epoch decay; ``hidden`` the
            widths of the hidden layers, first first.
        data_len: Blocks held in the sample cache.
        data_futures_len: Block fetches in flight.
        samples_per_s: Recent training throughput (0 when idle).
        cache_waits: Batches that had to wait for data since start-up.
        data_errors: Failed or corrupt block fetches since start-up.
        test_acc: Accuracy on the test set at the last ``evaluate`` since the model
            was last reset or replaced, else None.
        samples_seen: Training samples consumed since the last reset.
        seed: Seed of the weights at the last reset and of the data order since; None once
            weights were set from outside (an import, a restore): no seed made them.
        augment: Whether training images are randomly distorted (`inkling.augment`).
        epoch: ``samples_seen`` in epochs of the training set (fractional).
        waiting_for_data: No training block could be fetched lately: training is
            paused until one arrives (it resumes by itself).
        engine: What computes the worker's matrix products: ``numpy``, ``wasm simd128``
            or ``wasm relaxed-simd`` (see `inkling.engine`).
        reply_to: The ``id`` of the command this answers, if any.
        weights: ``{"W1": array, ...}`` of the model after this iteration, or None.
        confusion: The confusion matrix of the evaluation this signal answers (or the
            first signal after one), else None: it rides once, not on every signal.
    """

    seq: int
    iteration: int
    training: bool
    loss: float | None
    acc: float | None
    batch_size: int
    lrate: float
    lr_decay: float
    optimizer: str
    hidden: tuple[int, ...]
    data_len: int
    data_futures_len: int
    cache_size: int
    samples_per_s: float
    cache_waits: int
    data_errors: int
    test_acc: float | None
    samples_seen: int
    epoch: float
    waiting_for_data: bool = False
    engine: str = "numpy"
    seed: int | None = 0
    augment: bool = False
    reply_to: int | None = None
    weights: dict[str, np.ndarray] | None = None
    confusion: Confusion | None = None
    type: ClassVar[str] = "signal"


@dataclass(frozen=True)
class ErrorSignal:
    """Something went wrong; the worker's state is as the message says (usually unchanged).

    Attributes:
        kind: ``protocol``, ``weights``, ``data``, ``divergence`` or ``internal``.
        field: The offending field of the command, if one is to blame.
        message: What happened and what to do, for a person to read.
        command: The ``type`` of the command that failed, if any.
    """

    seq: int
    kind: str
    message: str
    field: str | None = None
    command: str | None = None
    reply_to: int | None = None
    type: ClassVar[str] = "error"


@dataclass(frozen=True)
class ProgressSignal:
    """Start-up progress of the worker (sent by its browser adapter, not the Trainer)."""

    stage: str
    detail: str = ""
    type: ClassVar[str] = "progress"


@dataclass(frozen=True)
class ReadySignal:
    """The worker has started and accepts commands."""

    type: ClassVar[str] = "ready"


Signal = Union[ResponseSignal, ErrorSignal, ProgressSignal, ReadySignal]


@dataclass(frozen=True)
class UnreadableMessage:
    """What the browser adapter hands on for a message it could not convert to Python at all.

    The decoders refuse it (field ``command``) with ``reason``, so it gets an error reply like any junk.
    """

    reason: str

# ---- field validators ------------------------------------------------------------------
# Each takes (field name, raw value) and returns the clean value or raises ProtocolError.

Check = Callable[[str, Any], Any]


def _integer(lo: int, hi: int) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ProtocolError(name, f"must be an integer, got {_describe(value)}")
        if not lo <= value <= hi:
            raise ProtocolError(name, f"must be between {lo} and {hi}, got {value}")
        return int(value)

    return check


def _number(lo: float, hi: float, *, lo_open: bool = False) -> Check:
    def check(name: str, value: Any) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ProtocolError(name, f"must be a number, got {_describe(value)}")
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


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ProtocolError(name, f"must be true or false, got {_describe(value)}")
    return bool(value)


def _text(choices: tuple[str, ...] | None = None) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ProtocolError(name, f"must be a string, got {_describe(value)}")
        if choices is not None and value not in choices:
            raise ProtocolError(name, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    return check


def _optional(check: Check) -> Check:
    def optional(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return optional


def _widths(max_layers: int, *, checked: bool) -> Check:
    """Hidden layer widths: a list of integers (or, for one layer, its width alone)."""
    def check(name: str, value: Any) -> tuple[int, ...]:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ProtocolError(name, f"must be a list of layer widths such as [256, 128], got {_describe(value)}")
        if len(value) > max_layers:
            raise ProtocolError(name, f"lists {len(value)} layers; at most {max_layers}")
        widths = tuple(_integer(1, MAX_HIDDEN)(name, width) for width in value)
        problem = hidden_problem(widths) if checked else None
        if problem is not None:
            raise ProtocolError(name, problem)
        return widths

    return check


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a JS object whose toString is junk must not turn junk into a crash
        text = "(cannot be shown)"
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _float_array(name: str, value: Any, size: int) -> np.ndarray:
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
                    raise ProtocolError(name, f"must hold only numbers, found {_describe(item)}")
            array = np.array(value, dtype=np.float64)
        else:
            raise ProtocolError(name, f"must be a float32 array, bytes or a list of numbers, got {_describe(value)}")
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


def _pixels(name: str, value: Any) -> np.ndarray:
    array = _float_array(name, value, N_PIXELS)
    if array.min() < 0 or array.max() > 1:
        raise ProtocolError(name, f"values must be in [0, 1] (preprocess the drawing first), got {array.min()}..{array.max()}")
    return array


_WEIGHT_NAME = re.compile(r"[Wb][1-9][0-9]{0,2}")


def _weights(name: str, value: Any) -> dict[str, np.ndarray]:
    if not isinstance(value, dict) or not value:
        raise ProtocolError(name, f"must be a non-empty dict of name -> {{shape, data}}, got {_describe(value)}")
    if len(value) > MAX_WEIGHT_ARRAYS:
        raise ProtocolError(name, f"holds {len(value)} arrays; at most {MAX_WEIGHT_ARRAYS}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _WEIGHT_NAME.fullmatch(key):
            raise ProtocolError(f"{name}.{key}", "unexpected array name; expected W1, b1, W2, b2, ...")
        where = f"{name}.{key}"
        if not isinstance(item, dict):
            raise ProtocolError(where, f"must be a dict with shape and data, got {_describe(item)}")
        _exact_keys(where, item, {"shape", "data"}, ["shape", "data"])
        shape = _shape(f"{where}.shape", item["shape"], 2 if key[0] == "W" else 1)
        out[key] = _float_array(f"{where}.data", item["data"], math.prod(shape)).reshape(shape)
    if sum(a.size for a in out.values()) > MAX_WEIGHT_VALUES:
        raise ProtocolError(name, f"holds more than {MAX_WEIGHT_VALUES} values in all")
    return out


def _shape(name: str, value: Any, ndim: int) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != ndim:
        raise ProtocolError(name, f"must be a list of {ndim} dimension(s), got {_describe(value)}")
    dim = _integer(1, 1 << 16)
    return tuple(dim(name, d) for d in value)


def _exact_keys(name: str, raw: Mapping[Any, Any], allowed: set[str], required: list[str]) -> None:
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


# ---- commands <-> dicts -----------------------------------------------------------------

_ID = _integer(0, MAX_ID)
_COMMANDS: dict[str, tuple[type, dict[str, Check], set[str]]] = {
    # type: (class, {field: check}, required fields)
    "start": (Start, {"epochs": _optional(_integer(1, MAX_EPOCHS))}, set()),
    "stop": (Stop, {}, set()),
    "status": (Status, {}, set()),
    "evaluate": (Evaluate, {}, set()),
    "set_weights": (SetWeights, {"weights": _weights, "seed": _optional(_integer(0, MAX_SEED))}, {"weights"}),
    "set_batch_size": (SetBatchSize, {"batch_size": _integer(1, MAX_BATCH_SIZE)}, {"batch_size"}),
    "set_learning_rate": (SetLearningRate, {"lrate": _number(0.0, MAX_LRATE, lo_open=True)}, {"lrate"}),
    "set_lr_decay": (SetLrDecay, {"lr_decay": _number(0.0, 1.0, lo_open=True)}, {"lr_decay"}),
    "set_augment": (SetAugment, {"augment": _boolean}, {"augment"}),
    "set_cache_size": (SetCacheSize, {"cache_size": _integer(1, MAX_CACHE_SIZE)}, {"cache_size"}),
    "set_optimizer": (SetOptimizer, {"optimizer": _text(OPTIMIZERS)}, {"optimizer"}),
    "reset": (Reset, {"hidden": _optional(_widths(MAX_WEIGHT_ARRAYS, checked=True)),
                      "seed": _optional(_integer(0, MAX_SEED))}, set()),
    "train_drawing": (TrainDrawing, {"pixels": _pixels, "label": _integer(0, N_CLASSES - 1)}, {"pixels", "label"}),
}


def decode_command(raw: Any) -> Command:
    """Validate a wire dict and return its command object.

    Raises:
        ProtocolError: Not a dict, unknown ``type``, or a field missing, extra or
            invalid; ``error.field`` names it.
    """
    kind = _message_type(raw, "command", _COMMANDS)
    cls, checks, required = _COMMANDS[kind]
    _exact_keys("", raw, {"type", "id", *checks}, [name for name in checks if name in required])
    values = {name: check(name, raw[name]) for name, check in checks.items() if name in raw}
    values["id"] = _optional(_ID)("id", raw.get("id"))
    return cls(**values)


def make_command(kind: str, **fields: Any) -> Command:
    """The command of type ``kind`` with ``fields``, checked as if it had come over the wire.

    Raises:
        ProtocolError: ``kind`` is unknown, or a field is missing, extra or invalid.
    """
    return decode_command({"type": kind, **fields})


def encode_command(command: Command) -> dict[str, Any]:
    """The wire dict of a command (arrays as 1-D float32 ndarrays)."""
    out: dict[str, Any] = {"type": command.type}
    for f in fields(command):
        value = getattr(command, f.name)
        if f.name == "weights":
            value = _encode_weights(value)
        elif f.name == "pixels":
            value = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
        elif isinstance(value, tuple):
            value = list(value)
        if value is not None:  # absent and None mean the same: id, start's epochs, reset's hidden/seed
            out[f.name] = value
    return out


def _message_type(raw: Any, what: str, known: Mapping[str, Any]) -> str:
    if isinstance(raw, UnreadableMessage):
        raise ProtocolError(what, f"could not be read ({raw.reason}); send a flat dict with a 'type' field")
    if not isinstance(raw, dict):
        raise ProtocolError(what, f"must be a dict with a 'type' field, got {_describe(raw)}")
    if "type" not in raw:
        raise ProtocolError("type", "missing")
    kind = raw["type"]
    if not isinstance(kind, str) or kind not in known:
        raise ProtocolError("type", f"unknown {what} type {_describe(kind)}; expected one of {', '.join(known)}")
    return kind


def _encode_weights(weights: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    return {
        name: {"shape": list(array.shape), "data": np.ascontiguousarray(array, dtype=np.float32).reshape(-1)}
        for name, array in weights.items()
    }


# ---- signals <-> dicts ------------------------------------------------------------------

_COUNT = _integer(0, MAX_ID)
_RATIO = _number(0.0, 1.0)
_SIGNALS: dict[str, tuple[type, dict[str, Check]]] = {
    "signal": (ResponseSignal, {
        "seq": _COUNT, "iteration": _COUNT, "training": _boolean,
        "loss": _optional(_number(0.0, math.inf)), "acc": _optional(_RATIO),
        "batch_size": _integer(1, MAX_BATCH_SIZE), "lrate": _number(0.0, MAX_LRATE, lo_open=True),
        "lr_decay": _number(0.0, 1.0, lo_open=True), "optimizer": _text(OPTIMIZERS),
        # Any depth of weights a set_weights took (a reset's are checked tighter, in Reset).
        "hidden": _widths(MAX_WEIGHT_ARRAYS // 2, checked=False), "data_len": _COUNT, "data_futures_len": _COUNT,
        "cache_size": _integer(1, MAX_CACHE_SIZE), "samples_per_s": _number(0.0, math.inf),
        "cache_waits": _COUNT, "data_errors": _COUNT, "test_acc": _optional(_RATIO),
        "samples_seen": _COUNT, "epoch": _number(0.0, math.inf), "waiting_for_data": _boolean,
        "engine": _text(ENGINE_NAMES), "seed": _optional(_integer(0, MAX_SEED)), "augment": _boolean,
        "reply_to": _optional(_ID),
        "weights": _optional(_weights), "confusion": _optional(Confusion.from_wire),
    }),
    "error": (ErrorSignal, {
        "seq": _COUNT, "kind": _text(ERROR_KINDS), "message": _text(), "field": _optional(_text()),
        "command": _optional(_text()), "reply_to": _optional(_ID),
    }),
    "progress": (ProgressSignal, {"stage": _text(), "detail": _text()}),
    "ready": (ReadySignal, {}),
}


# Signal fields that are left out of the wire dict when None (rare, and only some signals carry them).
_ABSENT_MEANS_NONE = frozenset({"confusion"})


def encode_signal(signal: Signal) -> dict[str, Any]:
    """The wire dict of a signal; weights become ``{name: {"shape", "data"}}``, a confusion matrix
    plain lists (left out when there is none)."""
    out: dict[str, Any] = {"type": signal.type}
    for f in fields(signal):
        value = getattr(signal, f.name)
        if value is not None and f.name == "weights":
            value = _encode_weights(value)
        elif f.name in _ABSENT_MEANS_NONE:
            if value is None:
                continue
            value = value.to_wire()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def decode_signal(raw: Any) -> Signal:
    """Validate a signal dict from the worker and return its object.

    ``weights[...]["data"]`` may be an ndarray, memoryview, bytes or list (what
    ``to_py()`` gives for a Float32Array); it comes back as shaped float32 arrays.

    Raises:
        ProtocolError: Not a known signal, or a field missing, extra or invalid.
    """
    kind = _message_type(raw, "signal", _SIGNALS)
    cls, checks = _SIGNALS[kind]
    _exact_keys("", raw, {"type", *checks}, [name for name in checks if name not in _ABSENT_MEANS_NONE])
    return cls(**{name: check(name, raw.get(name)) for name, check in checks.items()})
