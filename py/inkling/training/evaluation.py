"""Measuring a model on the test set: the blocks fetched once, and passes over them a block at a time.

A pass works on a copy of the weights taken when it starts, so it can be spread over the slices of
a training run (no long pause) and still judge one set of weights.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Sequence

import numpy as np

from ..data.blocks import Block, BlockEntry
from ..errors import DataError
from ..messages.confusion import Confusion
from ..network.layers import N_CLASSES
from ..network.models import Model, network_from_weights
from .pacing import EVAL_MAX_SHARE

LoadBlock = Callable[[BlockEntry], Awaitable[Block]]


class TestSet:
    """The test blocks, fetched on first use (in parallel, each with the cache's retries) and kept.

    Args:
        load: ``await load(entry)`` fetches and decodes one block (`SampleCache.load`).
        entries: The manifest's test blocks.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, load: LoadBlock, entries: Sequence[BlockEntry]) -> None:
        self._load = load
        self._entries = list(entries)
        self.blocks: list[Block] | None = None
        self._loading: asyncio.Task[list[Block]] | None = None

    async def load(self) -> list[Block]:
        """The test blocks; callers at the same time share one fetch.

        Raises:
            DataError: A block could not be fetched (all are tried; a later call tries again).
        """
        if self.blocks is not None:
            return self.blocks
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._fetch_all())
        task = self._loading
        try:
            self.blocks = await asyncio.shield(task)
        finally:
            if task.done() and self._loading is task:
                self._loading = None
        return self.blocks

    def start_loading(self) -> None:
        """Begin fetching in the background (for an evaluation later); failures wait for `load`."""
        if self.blocks is None and self._loading is None:
            self._loading = asyncio.ensure_future(self._fetch_all())
            self._loading.add_done_callback(self._loaded)

    def _loaded(self, task: asyncio.Task[list[Block]]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.blocks = task.result()
        if self._loading is task:
            self._loading = None

    async def _fetch_all(self) -> list[Block]:
        results = await asyncio.gather(*(self._load(e) for e in self._entries), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            if not all(isinstance(r, DataError) for r in failed):
                raise next(r for r in failed if not isinstance(r, DataError))
            raise DataError(f"could not fetch the test set ({'; '.join(map(str, failed))}); try evaluate again")
        return [r for r in results if isinstance(r, Block)]


class EvaluationPass:
    """One evaluation of the weights ``model`` has now, over ``blocks``, one block per `step`."""

    def __init__(self, model: Model, blocks: Sequence[Block]) -> None:
        self._model = network_from_weights(model.get_weights(), model.hidden)  # training may go on between steps
        self._blocks = list(blocks)
        self._predicted: list[np.ndarray] = []

    @property
    def done(self) -> bool:
        return len(self._predicted) == len(self._blocks)

    def step(self) -> None:
        """Predict the next block."""
        block = self._blocks[len(self._predicted)]
        self._predicted.append(self._model.predict(block.pixels / np.float32(255)))

    def result(self) -> Confusion:
        """The confusion matrix of the whole pass (call once `done`)."""
        labels = np.concatenate([b.labels for b in self._blocks])
        return Confusion.tally(labels, np.concatenate(self._predicted), N_CLASSES)


class EvaluationSchedule:
    """Evaluations in passing: while training, about every ``every_s`` seconds (or less often, so that
    they take at most `EVAL_MAX_SHARE` of the time), the weights of that moment measured on the test
    set one block per slice (no long pause).

    Args:
        test_set: Where the blocks come from (fetched on first use).
        every_s: How often; 0 turns evaluations in passing off.
        clock: Seconds (tests pass a fake one).
    """

    def __init__(self, test_set: TestSet, every_s: float, clock: Callable[[], float]) -> None:
        self._test_set = test_set
        self._every_s = every_s
        self._clock = clock
        self._passing: EvaluationPass | None = None  # part done
        self._next_at = 0.0
        self._pass_s = 0.0  # the time the pass under way has taken so far

    def start(self) -> None:
        """Training starts: the first evaluation is a period away, its blocks fetched meanwhile."""
        self._next_at = self._clock() + self._every_s
        if self._every_s > 0:
            self._test_set.start_loading()

    def drop(self) -> None:
        """Forget the pass under way: it judged weights that are gone (or training stopped)."""
        self._passing = None
        self._pass_s = 0.0

    def step(self, model: Model) -> Confusion | None:
        """One block of the pass under way (starting one if it is time); its result when it ends."""
        if self._every_s <= 0:
            return None
        if self._passing is None:
            if self._clock() < self._next_at:
                return None
            if self._test_set.blocks is None:
                self._test_set.start_loading()  # a failure is tried again a period later
                self._next_at = self._clock() + self._every_s
                return None
            self._passing = EvaluationPass(model, self._test_set.blocks)
        began = self._clock()
        self._passing.step()
        self._pass_s += self._clock() - began
        if not self._passing.done:
            return None
        result, self._passing = self._passing.result(), None
        # A pass of a convnet costs seconds (the MLP's a fraction of one): space them so that
        # evaluating takes at most EVAL_MAX_SHARE of the time training runs.
        self._next_at = self._clock() + max(self._every_s, self._pass_s * (1 / EVAL_MAX_SHARE - 1))
        self._pass_s = 0.0
        return result
