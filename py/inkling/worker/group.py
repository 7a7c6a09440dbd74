"""The training worker's helpers: started, joined to a shared board, replaced when one dies, and the
`Group` the Trainer computes each step through (`inkling.training.data_parallel`).

The helpers are web workers this worker starts (``workers/worker.js`` with ``role=helper``). They
learn of a board by one message; every step after that goes through the board alone. A helper that
dies is noticed by its Web Lock (or by missing a step's deadline): its share is computed here, it is
said once, and a new one is started.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..messages.protocol import (BoardJoined, JoinBoard, ReadySignal, StartFailed, decode_helper_message,
                                 encode_signal)
from ..messages.wire import from_js_message, to_js_message
from ..network.layers import format_hidden, step_flops_per_sample
from ..network.mlp import StepResult
from ..network.models import Model
from ..training.data_parallel import (MAX_BOARD_BYTES, MIN_SHARE_FLOPS, GroupStatus, SharedStep, layout_for,
                                      share_count)
from .board import JsBoard, new_buffer, shared_memory_problem

MAX_RESTARTS = 3  # helpers that fail to start in a row before the group stops starting new ones
_RECENT_STEPS = 50


@dataclass
class _Helper:
    worker: Any  # the Worker (its JsProxy)
    ready: bool = False  # booted: it can be given a board
    generation: int = 0  # of the board it waits on (0: none)


class WorkerGroup:
    """The workers that share each step: this one (the leader: weights, optimizer, data) and helpers.

    Args:
        spawn: ``spawn(on_message, on_lost)`` starts a helper worker and returns it
            (``workers/worker.js``'s ``inklingSpawnHelper``).
    """

    def __init__(self, spawn: Callable[[Callable[[Any], None], Callable[[str], None]], Any]) -> None:
        self._spawn = spawn
        self._problem = shared_memory_problem()
        self._helpers: dict[int, _Helper] = {}
        self._wanted = 1
        self._step: SharedStep | None = None
        self._generation = 0
        self._hidden = ""
        self._training = 1
        self._waits: deque[float] = deque(maxlen=_RECENT_STEPS)
        self._news = ""  # the last thing that happened to a helper (lost, could not join)
        self._too_large = ""  # why the last network could not be shared, if it could not
        self._failed_starts = 0
        self._small = False  # the last step was cut into fewer shares than workers: too small to share
        self._flops_of: tuple[tuple, int] = ((), 0)  # a network's hidden layers and its step's work per sample
        self._proxies: list[Any] = []  # callbacks handed to JS: they live as long as their helper may call

    # ---- Group ------------------------------------------------------------------------------

    def resize(self, workers: int) -> None:
        """Share the next steps among ``workers`` (fewer if memory cannot be shared, or a step is too small
        to share): helpers beyond the count end now; missing ones start when a step needs them."""
        self._wanted = workers
        for slot in sorted(self._helpers):
            if slot >= workers - 1:
                self._end(slot)
        if self._step is not None and self._step.layout.helpers > workers - 1:
            self._leave_board()

    def gradients(self, model: Model, x: np.ndarray, y: np.ndarray) -> StepResult:
        """The step's loss and gradients: the batch in ``workers`` fixed shares (so the bits depend on
        the seed and the worker count alone), each computed by a helper on the board, or here."""
        parts = share_count(self._flops(model), len(y), self._wanted) if self._problem is None else 1
        if self._wanted > 1 and self._problem is None:
            self._small = parts < self._wanted
        if parts == 1:
            self._training = 1
            return model.loss_and_grads(x, y)
        for slot in range(parts - 1):  # started when a step first needs them: each is a runtime's memory
            if slot not in self._helpers:
                self._start(slot)
        if not self._fits(model, len(y), parts - 1):
            self._new_board(model, len(y), parts - 1)
        if self._step is None:  # too large to share: this worker computes the whole batch
            self._training = 1
            return model.loss_and_grads(x, y)
        joined = [slot for slot, helper in sorted(self._helpers.items()) if helper.generation == self._generation]
        result, lost = self._step(model, x, y, parts, joined)
        self._waits.append(self._step.wait_s)
        self._training = 1 + len(joined) - len(lost)
        for slot in lost:
            self._replace(slot, "it did not answer in time")
        return result

    def status(self) -> GroupStatus:
        """Who computed the last step, the recent mean wait for the others, and any note."""
        wait_ms = 1000 * sum(self._waits) / len(self._waits) if self._waits else 0.0
        return GroupStatus(self._training, wait_ms, self._why_fewer() or self._news)

    def _why_fewer(self) -> str:
        """Why fewer workers share the steps than asked for, while it holds."""
        if self._wanted == 1:
            return ""
        if self._problem is not None:
            return f"one worker trains: {self._problem}"
        if self._too_large:
            return self._too_large
        if self._small:
            return (f"{self._training} of {self._wanted} workers share each step: shares of this network's steps "
                    f"at this batch size would be smaller than {MIN_SHARE_FLOPS / 1e6:.0f} MFLOP, which cost more "
                    "to hand out than they save (a larger batch or network uses more)")
        return ""

    def _flops(self, model: Model) -> int:
        hidden = tuple(model.hidden)
        if hidden != self._flops_of[0]:
            self._flops_of = (hidden, step_flops_per_sample(hidden))
        return self._flops_of[1]

    # ---- the board ----------------------------------------------------------------------------

    def _fits(self, model: Model, batch: int, helpers: int) -> bool:
        if self._step is None:
            return False
        layout = self._step.layout
        return (layout.helpers == helpers and batch <= layout.max_batch and format_hidden(model.hidden) == self._hidden
                and layout.param_sizes == tuple(int(p.size) for p in model.params))

    def _new_board(self, model: Model, batch: int, helpers: int) -> None:
        self._leave_board()
        layout = layout_for(model, batch, helpers)
        if layout.nbytes > MAX_BOARD_BYTES:
            self._too_large = (f"one worker trains: sharing this network at batch {batch} needs "
                               f"{layout.nbytes / 2**20:.0f} MiB of shared memory, more than {MAX_BOARD_BYTES >> 20} MiB")
            return
        self._too_large = ""
        self._generation += 1
        self._hidden = format_hidden(model.hidden)
        self._step = SharedStep(JsBoard(new_buffer(layout)), layout)
        for slot, helper in self._helpers.items():
            if helper.ready and slot < helpers:  # the others wait for a step large enough to need them
                self._join(slot)

    def _leave_board(self) -> None:
        if self._step is not None:
            self._step.quit()  # helpers on it return to their event loop, ready for the next
            self._step = None

    def _join(self, slot: int) -> None:
        assert self._step is not None
        layout = self._step.layout
        message, _ = to_js_message(encode_signal(JoinBoard(slot, self._generation, self._hidden, layout.param_sizes,
                                                           layout.max_batch, layout.helpers)))
        message.board = self._step.board.buffer  # shared, so never a field of a dict (or copied)
        self._helpers[slot].worker.postMessage(message)

    # ---- helpers ------------------------------------------------------------------------------

    def _start(self, slot: int) -> None:
        from pyodide.ffi import create_proxy

        if self._failed_starts >= MAX_RESTARTS:
            return
        helper = _Helper(None)
        # Bound to this helper, not its slot: the last words of one replaced must not end its successor.
        on_message = create_proxy(lambda data: self._heard(slot, helper, data))
        on_lost = create_proxy(lambda reason: self._lost(slot, helper, str(reason)))
        self._proxies += [on_message, on_lost]
        helper.worker = self._spawn(on_message, on_lost)
        self._helpers[slot] = helper

    def _end(self, slot: int) -> None:
        helper = self._helpers.pop(slot, None)
        if helper is not None:
            helper.worker.terminate()

    def _heard(self, slot: int, helper: _Helper, data: Any) -> None:
        if self._helpers.get(slot) is not helper:
            return
        try:
            self._take(slot, helper, from_js_message(data))
        except Exception as error:  # noqa: BLE001 - a helper's bad word must not end the training worker
            self._replace(slot, f"it said something unreadable: {error}")

    def _take(self, slot: int, helper: _Helper, raw: Any) -> None:
        """What a helper said: it booted, it joined the board (or could not), or it could not start."""
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind == ReadySignal.type:
            helper.ready = True
            self._failed_starts = 0
            if self._step is not None and slot < self._step.layout.helpers:
                self._join(slot)
        elif kind == BoardJoined.type:
            joined = decode_helper_message(raw)
            assert isinstance(joined, BoardJoined)
            if joined.problem:
                self._news = f"worker {slot + 2} could not join: {joined.problem}"
            elif self._step is not None and joined.generation == self._generation:
                helper.generation = joined.generation
        elif kind == StartFailed.type:
            self._replace(slot, f"it could not start: {raw.get('message', '')}")

    def _lost(self, slot: int, helper: _Helper, reason: str) -> None:
        if self._helpers.get(slot) is helper:
            self._replace(slot, reason)

    def _replace(self, slot: int, reason: str) -> None:
        """Said once per loss: its shares are computed here meanwhile; a new helper takes the slot."""
        if slot in self._helpers and not self._helpers[slot].ready:
            self._failed_starts += 1  # it never started: do not start new ones forever
        self._end(slot)
        again = self._failed_starts < MAX_RESTARTS  # then the next step that needs it starts a new one
        self._news = (f"worker {slot + 2} stopped ({reason}): nothing was lost, the others computed its "
                      "shares" + ("; a new one took its place" if again else "; no new one is started"))
