"""The messages the worker sends the page, and the page's own events about the worker: one frozen
dataclass each, whose fields carry their own checks (`inkling.messages.checks.checked`).

A `ResponseSignal` reports every setting of the table (`inkling.messages.tunables`) under its field: its
`SettingsReport` base is made from the table, so a new setting is reported from its row.
`inkling.messages.protocol` turns them into wire dicts and back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Union

import numpy as np

from ..network.engine import ENGINE_NAMES
from ..errors import ProtocolError
from .checks import CHECK, MAX_ID, boolean, checked, describe, integer, number, optional, text, weights
from .confusion import Confusion
from .tunables import MAX_WORKERS, TUNABLES

ERROR_KINDS = ("protocol", "weights", "data", "divergence", "internal")
_COUNT = integer(0, MAX_ID)
_RATIO = number(0.0, 1.0)
_ID = optional(integer(0, MAX_ID))

# Every setting as the worker has it now, one field per row of the table (keyword-only, so the
# fields of the signal that follow may come in any order). ``lrate`` is the rate in use, after any
# per-epoch decay; ``hidden`` the widths of the hidden layers of the network in use; a setting the
# table marks ``unknown`` (the seed) is None when nothing the worker knows made the weights.
SettingsReport = dataclasses.make_dataclass(
    "SettingsReport",
    [(t.field, "Any", dataclasses.field(default=t.default, kw_only=True,
                                        metadata={CHECK: optional(t.check) if t.unknown else t.check}))
     for t in TUNABLES],
    namespace={"__module__": __name__, "__doc__": "The settings part of a `ResponseSignal` (from the table)."},
    frozen=True, eq=False,
)


@dataclass(frozen=True, eq=False)
class ResponseSignal(SettingsReport):  # type: ignore[misc, valid-type]
    """The worker's state, sent after every training iteration and in reply to commands.

    Besides every setting (`SettingsReport`):

    Attributes:
        seq: Number of this message among all the worker sent (signals and errors).
        iteration: Training steps taken since the last reset.
        training: Whether training is running.
        loss, acc: Loss and accuracy of the last training batch (None before the first).
        data_len: Blocks held in the sample cache.
        data_futures_len: Block fetches in flight.
        samples_per_s: Recent training throughput (0 when idle).
        cache_waits: Batches that had to wait for data since start-up.
        data_errors: Failed or corrupt block fetches since start-up.
        test_acc: Accuracy on the test set at the last ``evaluate`` since the model
            was last reset or replaced, else None.
        samples_seen: Training samples consumed since the last reset.
        epoch: ``samples_seen`` in epochs of the training set (fractional).
        waiting_for_data: No training block could be fetched lately: training is
            paused until one arrives (it resumes by itself).
        engine: What computes the worker's matrix products: ``numpy``, ``wasm simd128``
            or ``wasm relaxed-simd`` (see `inkling.network.engine`).
        workers_training: How many workers computed shares of the last step (of ``workers`` asked for).
        barrier_ms: The mean time per recent step the worker waited for the others' shares.
        workers_note: Why fewer workers train than asked for (or what happened to one), else "".
        reply_to: The ``id`` of the command this answers, if any.
        weights: ``{"W1": array, ...}`` of the model after this iteration, or None.
        confusion: The confusion matrix of the evaluation this signal answers (or the
            first signal after one), else None: it rides once, not on every signal.
    """

    seq: int = checked(_COUNT)
    iteration: int = checked(_COUNT)
    training: bool = checked(boolean)
    loss: float | None = checked(optional(number(0.0, math.inf)))
    acc: float | None = checked(optional(_RATIO))
    data_len: int = checked(_COUNT)
    data_futures_len: int = checked(_COUNT)
    samples_per_s: float = checked(number(0.0, math.inf))
    cache_waits: int = checked(_COUNT)
    data_errors: int = checked(_COUNT)
    test_acc: float | None = checked(optional(_RATIO))
    samples_seen: int = checked(_COUNT)
    epoch: float = checked(number(0.0, math.inf))
    waiting_for_data: bool = checked(boolean, False)
    engine: str = checked(text(ENGINE_NAMES), "numpy")
    workers_training: int = checked(integer(1, MAX_WORKERS), 1)
    barrier_ms: float = checked(number(0.0, math.inf), 0.0)
    workers_note: str = checked(text(), "")
    reply_to: int | None = checked(_ID, None)
    weights: dict[str, np.ndarray] | None = checked(optional(weights), None)
    # Left out of the wire dict when None: it rides on few signals.
    confusion: Confusion | None = checked(optional(Confusion.from_wire), None)
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

    seq: int = checked(_COUNT)
    kind: str = checked(text(ERROR_KINDS))
    message: str = checked(text())
    field: str | None = checked(optional(text()), None)
    command: str | None = checked(optional(text()), None)
    reply_to: int | None = checked(_ID, None)
    type: ClassVar[str] = "error"


@dataclass(frozen=True)
class ProgressSignal:
    """Start-up progress of the worker (sent by its browser adapter, not the Trainer)."""

    stage: str = checked(text())
    detail: str = checked(text(), "")
    type: ClassVar[str] = "progress"


@dataclass(frozen=True)
class ReadySignal:
    """The worker has started and accepts commands."""

    type: ClassVar[str] = "ready"


# ---- the JS glue's own messages ---------------------------------------------------------------
# Every message that crosses postMessage is here, the ones the glue (web/bridge.js, workers/worker.js)
# makes too; a test holds the JS files to these types.


@dataclass(frozen=True)
class StartFailed:
    """The worker could not start (its script failed to load, or its boot failed at ``stage``): from
    the JS glue, outside the Trainer's numbering, so it carries no ``seq`` (an `ErrorSignal` always
    does)."""

    message: str = checked(text())
    stage: str | None = checked(optional(text()), None)
    type: ClassVar[str] = "start_failed"


@dataclass(frozen=True)
class WorkerLost:
    """The bridge noticed the worker's death (its Web Lock released, a fatal error, silence);
    ``at`` is the page's clock (ms) then."""

    reason: str = checked(text())
    at: float = checked(number(0.0, math.inf))
    type: ClassVar[str] = "worker_lost"


OFFLINE_STATES = ("unsupported", "saving", "saving_update", "ready", "failed", "update")


@dataclass(frozen=True)
class OfflineState:
    """A state of the service worker that keeps the site in this browser (``web/sw.js``), from the bridge."""

    state: str = checked(text(OFFLINE_STATES))
    detail: str = checked(text(), "")
    type: ClassVar[str] = "offline"


@dataclass(frozen=True)
class LockHeld:
    """worker.js -> bridge.js: the worker holds its Web Lock (the browser frees it when the worker dies)."""

    type: ClassVar[str] = "lock"


@dataclass(frozen=True)
class FatalError:
    """worker.js -> bridge.js: the worker's Python runtime cannot go on (the bridge ends the worker)."""

    message: str = checked(text())
    type: ClassVar[str] = "fatal"


@dataclass(frozen=True)
class SkipWaiting:
    """bridge.js -> sw.js: the waiting build takes over now (the person pressed Update now)."""

    type: ClassVar[str] = "skip_waiting"


# ---- the training worker and its helpers (inkling.worker.group, inkling.worker.helper) -------------
# Said once per board: every step after that goes through the board (shared memory), never a message.

_HELPER_SLOT = integer(0, MAX_WORKERS - 2)


def _sizes(name: str, value: Any) -> tuple[int, ...]:
    """A list of parameter sizes (whole numbers), at most 64 of them."""
    if not isinstance(value, (list, tuple)) or len(value) > 64:
        raise ProtocolError(name, f"must be a list of at most 64 sizes, got {describe(value)}")
    return tuple(_COUNT(name, size) for size in value)


@dataclass(frozen=True)
class JoinBoard:
    """Training worker -> helper: compute slot ``slot``'s shares of each step on the board, a
    SharedArrayBuffer riding beside this message (its ``board`` property: no dict carries it), laid out
    for a network (its text) of these parameter sizes, ``max_batch`` samples and ``helpers`` helpers."""

    slot: int = checked(_HELPER_SLOT)
    generation: int = checked(_COUNT)
    hidden: str = checked(text())
    param_sizes: tuple[int, ...] = checked(_sizes)
    max_batch: int = checked(integer(1, 1 << 16))
    helpers: int = checked(integer(1, MAX_WORKERS - 1))
    type: ClassVar[str] = "join_board"


@dataclass(frozen=True)
class BoardJoined:
    """Helper -> training worker: slot ``slot`` waits for steps on the board of ``generation``, or
    could not join it (``problem`` says why)."""

    slot: int = checked(_HELPER_SLOT)
    generation: int = checked(_COUNT)
    problem: str = checked(text(), "")
    type: ClassVar[str] = "board_joined"


HELPER_CLASSES: dict[str, type] = {cls.type: cls for cls in (JoinBoard, BoardJoined)}

Signal = Union[ResponseSignal, ErrorSignal, ProgressSignal, ReadySignal, StartFailed, WorkerLost, OfflineState]
# What reaches the page's Python, by wire type.
SIGNAL_CLASSES: dict[str, type] = {cls.type: cls for cls in (
    ResponseSignal, ErrorSignal, ProgressSignal, ReadySignal, StartFailed, WorkerLost, OfflineState)}
GLUE_ONLY: dict[str, type] = {cls.type: cls for cls in (LockHeld, FatalError, SkipWaiting)}  # read by JS alone
ABSENT_MEANS_NONE = frozenset({"confusion"})  # signal fields left out of the wire dict when None


@dataclass(frozen=True)
class UnreadableMessage:
    """What the browser adapter hands on for a message it could not convert to Python at all.

    The decoders refuse it (field ``command``) with ``reason``, so it gets an error reply like any junk.
    """

    reason: str
