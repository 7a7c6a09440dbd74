"""The Trainer: the worker's state machine (idle / training) driven by wire commands.

Each loop iteration applies the commands that arrived, tops up the sample cache,
and, while training, takes a batch, takes one optimizer step and sends a
`ResponseSignal`. Everything it says goes through ``send(dict)``; everything it
reads goes through ``fetch(path) -> bytes``. It never touches the browser, so the
CLI and the tests drive exactly the code the web worker runs. What is trained, and what each
setting means, is the `Learner`'s; the Trainer feeds it, obeys commands and says what happens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Callable

from ..data.block_fetcher import Fetch
from ..data.blocks import Manifest
from ..data.cache import SampleCache, open_training_data
from ..errors import ProtocolError
from ..messages import protocol as p
from ..messages.confusion import Confusion
from ..messages.tunables import RUN
from ..network.layers import N_PIXELS
from .data_parallel import Group
from .evaluation import EvaluationPass, EvaluationSchedule, TestSet
from .learner import Learner
from .pacing import SignalPacer
from .reporter import Reporter
from .throughput import Throughput

Send = Callable[[dict[str, Any]], None]
log = logging.getLogger(__name__)
_SETTING_FIELD = {cls: field for field, cls in p.SETTING_COMMANDS.items()}


class Trainer:
    """Trains a `Learner` on blocks from ``fetch``, obeying commands and reporting through ``send``."""

    def __init__(
        self,
        send: Send,
        fetch: Fetch,
        *,
        weights_in_signals: bool = True,
        weights_every_s: float = 0.0,
        signal_every_s: float = 0.0,
        slice_s: float = 0.0,
        eval_every_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        fetch_attempts: int | None = None,
        fetch_backoff: float | None = None,
        fetch_max_backoff: float | None = None,
        fetch_timeout: float | None = None,
        group: Group | None = None,
        **settings: Any,
    ) -> None:
        """Create an idle trainer; call `setup` (or just `run`) to load the manifest.

        Args:
            send: Called with each outgoing wire dict (signals and errors).
            fetch: ``await fetch("manifest.json")`` returns that file's bytes.
            weights_in_signals: Attach the weights to signals (the page needs them; the CLI does not).
            weights_every_s, signal_every_s: While training, at most one set of weights, and one
                progress signal, per this many seconds (see `SignalPacer`).
            slice_s: While training, take steps for up to this many seconds (at least
                one) before sending a signal (if `signal_every_s` allows) and letting the
                event loop run. 0 means a yield after every step. In the browser each yield and
                each message costs about as much as a whole step, and the page shows
                only the newest signal per frame, so the worker trains in slices.
            eval_every_s: While training, measure the test accuracy (and confusion matrix) by
                itself about this often, a block per slice; 0: only when asked (``evaluate``).
            clock: Seconds, for the pacing, `slice_s` and `eval_every_s` (tests pass a fake one).
            fetch_attempts, fetch_backoff, fetch_max_backoff, fetch_timeout: Retry policy
                of block fetches, where not `BlockFetcher`'s own.
            group: The workers that share each step (the ``workers`` setting sizes it); None: this
                one alone, whatever the setting says (the command line, tests).
            **settings: Settings of the table by field (see `Learner`).
        """
        self.learner = Learner(settings)
        self.group = group
        if group is not None:
            self.learner.gradients = group.gradients
            group.resize(self.learner.settings.workers)
        self._fetch = fetch
        self._say = Reporter(send, SignalPacer(signal_every_s, weights_every_s, clock), weights_in_signals)
        self.slice_s = slice_s
        self.eval_every_s = eval_every_s
        self._clock = clock
        self.training = False
        self._stop_at: int | None = None  # samples_seen at which a Start with epochs stops
        self.manifest: Manifest | None = None
        self.cache: SampleCache | None = None
        policy = {"attempts": fetch_attempts, "backoff": fetch_backoff, "max_backoff": fetch_max_backoff,
                  "timeout": fetch_timeout}
        self._fetch_policy = {name: value for name, value in policy.items() if value is not None}
        self._inbox: deque[Any] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self.throughput = Throughput()
        self._test_set: TestSet | None = None
        self._evaluations: EvaluationSchedule | None = None
        self._handlers: dict[type, Callable[[Any], Any]] = {
            p.Start: self._start, p.Stop: self._stop, p.Status: _nothing, p.Evaluate: self._evaluate,
            p.SetWeights: self._set_weights, p.Reset: self._reset, p.TrainDrawing: self._train_drawing,
            **{cls: self._set_setting for cls in p.SETTING_COMMANDS.values()},
        }

    async def setup(self) -> None:
        """Fetch and check the manifest and create the sample cache.

        Raises:
            DataError: The manifest cannot be fetched or read, or its images do not
                match the model's input size.
            ProtocolError: ``cache_size`` is more than the cache's memory budget holds.
        """
        settings = self.learner.settings
        try:  # the cache is the one judge of what it may hold (its memory budget)
            self.manifest, self.cache = await open_training_data(
                self._fetch, N_PIXELS, cache_size=settings.cache_size, seed=settings.seed, **self._fetch_policy)
        except ValueError as exc:
            raise ProtocolError("cache_size", str(exc)) from None
        self._test_set = TestSet(self.cache.load, self.manifest.test)
        self._evaluations = EvaluationSchedule(self._test_set, self.eval_every_s, self._clock)

    def submit(self, raw: Any) -> None:
        """Queue a wire command; it is decoded and applied between iterations."""
        self._inbox.append(raw)
        self._wake.set()

    def close(self) -> None:
        """Make `run` return after the current iteration."""
        self._closed = True
        self._wake.set()

    async def run(self) -> None:
        """The loop: commands, cache top-up, one training step; until `close`."""
        if self.cache is None:
            await self.setup()
        assert self.cache is not None
        try:
            while not self._closed:
                await self._apply_commands()
                if self._closed:
                    break
                self.cache.replenish()
                self._say.data_news(self)
                if self.training and self._say.waiting_for_data:
                    await self._wait_for_data()
                elif self.training:
                    await self._train_slice()
                    await asyncio.sleep(0)  # let the event loop deliver commands and finished fetches
                elif not self._inbox:
                    await self._wake.wait()
        finally:
            self.cache.close()

    def report_failure(self, message: str) -> None:
        """Tell the page of a failure outside the command loop (numbered like every error)."""
        self._say.error("internal", message)

    async def _wait_for_data(self) -> None:
        """While starved: sleep until a fetch attempt ends, a command arrives or a hung fetch makes room
        for a probe; report the count."""
        assert self.cache is not None
        change = asyncio.ensure_future(self.cache.next_change().wait())
        wake = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({change, wake}, timeout=self.cache.wait_limit(), return_when=asyncio.FIRST_COMPLETED)
        change.cancel()
        wake.cancel()
        if change.done() and not change.cancelled():
            self._say.signal(self)  # the page's data-error count keeps climbing while it waits

    # ---- commands ---------------------------------------------------------------------------

    async def _apply_commands(self) -> None:
        self._wake.clear()
        while self._inbox:
            raw = self._inbox.popleft()
            reply_to = _reply_id(raw)
            kind = raw.get("type") if isinstance(raw, dict) and isinstance(raw.get("type"), str) else None
            try:
                command = p.decode_command(raw)
                await _maybe_await(self._handlers[type(command)](command))
            except Exception as exc:  # noqa: BLE001 - the worker edge: report, never die
                self._say.refused(exc, kind, reply_to)
            else:
                self._say.signal(self, reply_to)

    def _start(self, command: p.Start) -> None:
        if not self.training:
            self.throughput.reset()
            if self._evaluations is not None:
                self._evaluations.start()  # the first in a period; its blocks fetched meanwhile
        self.training = True
        assert self.manifest is not None
        self._stop_at = None if command.epochs is None else (
            self.learner.samples_seen + command.epochs * self.manifest.train_count)

    def _stop(self, _: p.Stop) -> None:
        self.training = False
        self._stop_at = None
        self._new_weights()

    def _set_setting(self, command: Any) -> None:
        field = _SETTING_FIELD[type(command)]
        value = getattr(command, field)
        if field == "cache_size":  # the cache is the one judge of what it may hold
            assert self.cache is not None
            try:
                self.cache.resize(value)
            except ValueError as exc:  # resize changes nothing when it refuses
                raise ProtocolError("cache_size", f"{exc}; the cache stays at {self.cache.cache_size}") from None
        if field == "workers" and self.group is not None:
            self.group.resize(value)
        self.learner.set(field, value)

    def _set_weights(self, command: p.SetWeights) -> None:
        self.learner.use_weights(command.weights, command.seed, command.hidden)
        self._new_weights()

    def _reset(self, command: p.Reset) -> None:
        seed = self.learner.reset({t.field: getattr(command, t.field) for t in RUN})
        # A reset is a new run from its seed: the data order too starts again, so two tabs with
        # the same seed and settings train the same weights.
        if self.cache is not None:
            self.cache.reseed(seed)
        self._stop_at = None
        self.throughput.reset()
        self._new_weights()

    def _new_weights(self) -> None:
        """An evaluation under way judged weights that are gone (or training stopped): drop it."""
        if self._evaluations is not None:
            self._evaluations.drop()

    def _train_drawing(self, command: p.TrainDrawing) -> None:
        self.learner.teach(command.pixels, command.label)

    async def _evaluate(self, _: p.Evaluate) -> None:
        assert self._test_set is not None
        evaluation = EvaluationPass(self.learner.model, await self._test_set.load())
        while not evaluation.done:
            evaluation.step()
            await asyncio.sleep(0)  # one block at a time, so the worker stays responsive
        self._evaluated(evaluation.result())

    def _evaluated(self, confusion: Confusion) -> None:
        self.learner.evaluated(confusion)
        self._say.evaluated()

    # ---- training ---------------------------------------------------------------------------

    async def _train_slice(self) -> None:
        """Steps for up to `slice_s` seconds (at least one), then one signal if any step was taken.

        The weights at the start of the slice, whose loss is the first one checked, are
        the good ones a divergence later in the slice goes back to.
        """
        deadline = self._clock() + self.slice_s
        stepped = False
        while self.training and not self._inbox:
            try:
                if not await self._train_iteration(remember=not stepped):
                    break
            except Exception as exc:  # noqa: BLE001 - the worker edge: report, never die
                log.exception("training iteration failed")
                self.training = False
                self._say.error("internal", f"training stopped: {type(exc).__name__}: {exc}")
                self._say.signal(self)
                return
            stepped = True
            if self._clock() >= deadline:
                break
        if stepped and self.training and self._say.pacer.progress_due():
            self._say.signal(self)
        if self.training and self._evaluations is not None:
            confusion = self._evaluations.step(self.learner.model)  # a block of an evaluation in passing
            if confusion is not None:
                self._evaluated(confusion)

    async def _train_iteration(self, remember: bool = True) -> bool:
        """One step on the next batch; False if none was taken (no batch yet, or divergence)."""
        assert self.cache is not None and self.manifest is not None
        batch = await self.cache.take(self.learner.settings.batch_size, interrupt=self._wake)
        if batch is None:
            return False  # a command arrived while we waited for data: handle it first
        diverged = self.learner.step(*batch, self.manifest.train_count, remember)
        if diverged is not None:
            self.training = False
            self._say.diverged(diverged, self.learner.iteration + 1, self.learner.optimizer.lr)
            self._say.signal(self)
            return False
        self.throughput.add(self.learner.samples_seen)
        if self._stop_at is not None and self.learner.samples_seen >= self._stop_at:
            self.training = False  # the epochs asked for are done
            self._stop_at = None
            self._say.signal(self)
        return True


def _nothing(_: Any) -> None:
    """`status` changes nothing; its reply is the signal every command gets."""


def _reply_id(raw: Any) -> int | None:
    """The command's ``id`` if it is a valid one, so even a rejected command gets its reply."""
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= p.MAX_ID:
            return value
    return None


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value
