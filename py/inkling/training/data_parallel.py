"""Data-parallel steps: a batch cut into fixed shares, each share's gradient computed by whichever
worker has it, combined in a fixed order, so a step's result depends only on the batch and the
number of shares (not on which worker computed what, nor on one dying).

The workers meet on a `Board`: shared memory holding the parameters, the batch, each helper's
gradients and a few control integers, with a wait/notify on those integers (in the browser a
`SharedArrayBuffer` with `Atomics`, `inkling.worker.board`; in tests, threads). No message crosses
between workers per step. The leader (the worker the page talks to) owns the weights and the
optimizer; helpers only compute gradients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ..messages.tunables import MAX_WORKERS
from ..network.layers import N_PIXELS
from ..network.mlp import StepResult
from ..network.models import Model

MAX_HELPERS = MAX_WORKERS - 1
# Control integers: the step's number, the quit flag, then per helper its share and the number of
# the last step it finished.
SEQ, QUIT = 0, 1
_HELPER_BASE, _PER_HELPER = 4, 3
START, COUNT, DONE = 0, 1, 2
CTRL_INTS = _HELPER_BASE + _PER_HELPER * MAX_HELPERS
CTRL_BYTES = 4 * 64  # the float32 region starts here (CTRL_INTS fit; aligned for any view)
# How long the leader waits for a share beyond its own share's time before computing it itself.
MIN_PATIENCE_S = 1.0
PATIENCE_FACTOR = 10.0
# A share smaller than this costs more to hand out and gather than it saves: handing out a share costs
# 1-2 ms a step (copies, waking, the slower of the two), so a share is worth it from about 10 ms of work.
# Measured in the page here (bench `workers`): 784-128-10 at batch 64, 20 MFLOP a share, trained at
# 0.7x on two workers; at batch 256, 78 MFLOP a share, at 0.9-1.0x; the convnet at batch 32, 107 MFLOP
# a share, at 1.04-1.56x. Smaller steps are cut into fewer shares, down to one.
MIN_SHARE_FLOPS = 100e6
# A board bigger than this is not allocated: the group trains on the leader alone, saying why.
MAX_BOARD_BYTES = 512 << 20


@dataclass(frozen=True)
class GroupStatus:
    """What a group of workers says about itself in every signal."""

    training: int = 1  # workers that computed shares of the last step
    barrier_ms: float = 0.0  # mean wait per recent step for the others' shares
    note: str = ""  # why fewer train than asked for, or what happened to one


class Group(Protocol):
    """The workers that share each step, as the Trainer sees them (`inkling.worker.group` in the browser)."""

    def gradients(self, model: Model, x: np.ndarray, y: np.ndarray) -> StepResult:
        """The loss and gradients over the whole batch, computed in shares."""

    def resize(self, workers: int) -> None:
        """Share the next steps among ``workers`` workers (this one included)."""

    def status(self) -> GroupStatus:
        """How the group stands now."""


class Board(Protocol):
    """Shared memory between workers: a float32 region and control integers with wait/notify."""

    def write(self, offset: int, values: np.ndarray) -> None:
        """Copy a contiguous float32 array into the float region at ``offset`` (in floats)."""

    def read(self, offset: int, out: np.ndarray) -> None:
        """Copy ``out.size`` floats from ``offset`` into the contiguous float32 array ``out``."""

    def load(self, index: int) -> int:
        """The control integer at ``index``."""

    def store(self, index: int, value: int) -> None:
        """Set a control integer (ordered after every write before it)."""

    def wait(self, index: int, value: int, timeout_s: float) -> None:
        """Sleep while the control integer at ``index`` is ``value``, at most ``timeout_s``."""

    def notify(self, index: int) -> None:
        """Wake whoever waits on the control integer at ``index``."""


@dataclass(frozen=True)
class BoardLayout:
    """Where everything sits in the float region, for a network's parameters and a largest batch."""

    param_sizes: tuple[int, ...]
    max_batch: int
    helpers: int

    @property
    def params(self) -> int:
        return sum(self.param_sizes)

    @property
    def x(self) -> int:
        return self.params

    @property
    def y(self) -> int:
        return self.x + self.max_batch * N_PIXELS

    @property
    def results(self) -> int:
        return self.y + self.max_batch

    def grads(self, helper: int) -> int:
        """Where helper ``helper``'s gradients start."""
        return self.results + 2 * self.helpers + helper * self.params

    @property
    def floats(self) -> int:
        return self.grads(self.helpers)

    @property
    def nbytes(self) -> int:
        return CTRL_BYTES + 4 * self.floats


def layout_for(model: Model, batch_size: int, helpers: int) -> BoardLayout:
    """A layout for ``model`` with room for ``batch_size`` (rounded up to a power of two, so a few
    changes of the batch size do not each need a new board)."""
    max_batch = 1 << max(6, (int(batch_size) - 1).bit_length())
    return BoardLayout(tuple(int(p.size) for p in model.params), max_batch, helpers)


def share_count(flops_per_sample: int, batch: int, workers: int) -> int:
    """Into how many shares a step is cut: one per worker, but none smaller than `MIN_SHARE_FLOPS`.
    It depends on the network, the batch size and the worker count alone, so a run repeats."""
    return max(1, min(workers, batch, int(flops_per_sample * batch // MIN_SHARE_FLOPS)))


def shares(n: int, parts: int) -> list[slice]:
    """``n`` samples cut into ``parts`` contiguous shares, the larger ones first."""
    base, extra = divmod(n, parts)
    cuts = [0]
    for part in range(parts):
        cuts.append(cuts[-1] + base + (part < extra))
    return [slice(a, b) for a, b in zip(cuts, cuts[1:])]


def combine(results: Sequence[StepResult], counts: Sequence[int]) -> StepResult:
    """The result over a whole batch from the results of its shares (each a mean over its share)."""
    total = sum(counts)
    weights = [count / total for count in counts]
    grads = [g * np.float32(weights[0]) for g in results[0].grads]
    scratch = [np.empty_like(g) for g in grads]
    for result, weight in zip(results[1:], weights[1:]):
        for into, g, tmp in zip(grads, result.grads, scratch):
            into += np.multiply(g, np.float32(weight), out=tmp)
    loss = sum(r.loss * w for r, w in zip(results, weights))
    acc = sum(r.acc * w for r, w in zip(results, weights))
    return StepResult(float(loss), float(acc), grads)


def _ctrl(helper: int, field: int) -> int:
    return _HELPER_BASE + _PER_HELPER * helper + field


def put_params(board: Board, params: Sequence[np.ndarray], at: int = 0) -> None:
    """Write the parameters (or gradients) one after the other from float ``at``."""
    for p in params:
        board.write(at, p.reshape(-1))
        at += p.size


def take_params(board: Board, params: Sequence[np.ndarray], at: int = 0) -> None:
    """Read parameters (or gradients) written by `put_params` into ``params``, in place."""
    for p in params:
        board.read(at, p.reshape(-1))
        at += p.size


class SharedStep:
    """The leader's side of a step: shares out, computes its own, gathers the rest.

    Args:
        board: The group's shared memory, laid out by ``layout``.
        layout: Where everything sits.
        clock: Seconds (tests pass a fake one only if they must).
    """

    def __init__(self, board: Board, layout: BoardLayout, clock: Callable[[], float] = time.perf_counter) -> None:
        self.board = board
        self.layout = layout
        self._clock = clock
        self._seq = board.load(SEQ)
        self.wait_s = 0.0  # time spent waiting for helpers in the last step

    def __call__(self, model: Model, x: np.ndarray, y: np.ndarray, parts: int,
                 helpers: Sequence[int]) -> tuple[StepResult, list[int]]:
        """The step's result over the batch cut into ``parts`` shares: the first is the leader's, the
        next ones go to ``helpers`` (slot numbers, in order; fewer than ``parts - 1`` is allowed: the
        leader computes the rest). Returns the result and the helpers that did not answer in time
        (their shares computed here instead).
        """
        board, layout = self.board, self.layout
        cuts = shares(len(y), parts)
        given = list(zip(helpers, cuts[1:]))
        if given:
            put_params(board, model.params)
            first = given[0][1].start
            board.write(layout.x + first * N_PIXELS, np.ascontiguousarray(x[first:], np.float32).reshape(-1))
            board.write(layout.y + first, np.asarray(y[first:], np.float32))
            for slot in range(layout.helpers):
                board.store(_ctrl(slot, COUNT), 0)
            for slot, cut in given:
                board.store(_ctrl(slot, START), cut.start)
                board.store(_ctrl(slot, COUNT), cut.stop - cut.start)
            self._seq += 1
            board.store(SEQ, self._seq)
            board.notify(SEQ)
        started = self._clock()
        results: list[StepResult | None] = [model.loss_and_grads(x[cuts[0]], y[cuts[0]])]
        own_s = self._clock() - started
        # Shares no helper has are computed here while the helpers compute theirs.
        results += [None] * len(given) + [model.loss_and_grads(x[cut], y[cut]) for cut in cuts[1 + len(given):]]
        lost: list[int] = []
        waited = self._clock()
        deadline = waited + max(MIN_PATIENCE_S, PATIENCE_FACTOR * own_s)
        for k, (slot, cut) in enumerate(given, start=1):
            if self._finished(slot, deadline):
                results[k] = self._gathered(model, slot)
            else:  # gone or stuck: its share is computed here, so no step is lost
                lost.append(slot)
                results[k] = model.loss_and_grads(x[cut], y[cut])
        self.wait_s = self._clock() - waited
        return combine(results, [cut.stop - cut.start for cut in cuts]), lost

    def quit(self) -> None:
        """Tell every helper on this board to leave it (a new board, or none, comes next)."""
        self.board.store(QUIT, 1)
        self.board.notify(SEQ)

    def _finished(self, slot: int, deadline: float) -> bool:
        index = _ctrl(slot, DONE)
        while True:
            done = self.board.load(index)
            if done == self._seq:
                return True
            left = deadline - self._clock()
            if left <= 0:
                return False
            self.board.wait(index, done, left)

    def _gathered(self, model: Model, slot: int) -> StepResult:
        grads = [np.empty_like(p) for p in model.params]
        take_params(self.board, grads, self.layout.grads(slot))
        pair = np.empty(2, np.float32)
        self.board.read(self.layout.results + 2 * slot, pair)
        return StepResult(float(pair[0]), float(pair[1]), grads)


def serve_steps(board: Board, layout: BoardLayout, slot: int, model: Model, poll_s: float = 1.0) -> int:
    """A helper's loop: wait for a step, compute its share's gradients with ``model`` (its parameters
    read from the board first), write them back, say done; until the board's quit flag. Returns the
    number of shares computed.
    """
    seen = board.load(_ctrl(slot, DONE))  # a step begun before this helper came is still its to answer
    served = 0
    x = np.empty((layout.max_batch, N_PIXELS), np.float32)
    y = np.empty(layout.max_batch, np.float32)
    while not board.load(QUIT):
        board.wait(SEQ, seen, poll_s)
        seq = board.load(SEQ)
        if seq == seen or board.load(QUIT):
            continue
        seen = seq
        start, count = board.load(_ctrl(slot, START)), board.load(_ctrl(slot, COUNT))
        if count:
            take_params(board, model.params)
            board.read(layout.x + start * N_PIXELS, x[:count].reshape(-1))
            board.read(layout.y + start, y[:count])
            result = model.loss_and_grads(x[:count], y[:count].astype(np.int64))
            put_params(board, result.grads, layout.grads(slot))
            board.write(layout.results + 2 * slot, np.array([result.loss, result.acc], np.float32))
            served += 1
        board.store(_ctrl(slot, DONE), seq)
        board.notify(_ctrl(slot, DONE))
    return served
