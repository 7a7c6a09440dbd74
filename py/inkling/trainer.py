"""The Trainer: the worker's state machine (idle / training) driven by wire commands.

Each loop iteration applies the commands that arrived, tops up the sample cache,
and, while training, takes a batch, takes one optimizer step and sends a
`ResponseSignal`. Everything it says goes through ``send(dict)``; everything it
reads goes through ``fetch(path) -> bytes``. It never touches the browser, so the
CLI and the tests drive exactly the code the web worker runs. The settings it obeys are the
table's (`inkling.tunables`); what each means is written here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from . import protocol as p
from .augment import Augmenter
from .blocks import MANIFEST, Manifest
from .cache import DEFAULT_TIMEOUT, Fetch, SampleCache
from .confusion import Confusion
from .engine import engine_name
from .errors import DataError, ProtocolError, WeightsError
from .evaluation import EvaluationPass, EvaluationSchedule, TestSet
from .layers import N_CLASSES, N_PIXELS, format_hidden, hidden_of, hidden_problem
from .mlp import MLP
from .optim import SUGGESTED_LRATES, make_optimizer
from .safeguard import DIVERGED_LOSS, GoodWeights, teach
from .throughput import Throughput
from .tunables import DEFAULTS, RUN, TUNABLES

# Defaults shared by the page and the CLI: the table's (see `inkling.recipes` for their figures).
DEFAULT_SIZES = (N_PIXELS, *DEFAULTS["hidden"], N_CLASSES)
DEFAULT_OPTIMIZER = DEFAULTS["optimizer"]
DEFAULT_LRATE = DEFAULTS["lrate"]
DEFAULT_LR_DECAY = DEFAULTS["lr_decay"]
DEFAULT_BATCH_SIZE = DEFAULTS["batch_size"]
DEFAULT_CACHE_SIZE = DEFAULTS["cache_size"]
MIN_LRATE = 1e-6  # per-epoch decay stops here, so the rate never reaches 0
__all__ = ["DEFAULT_SIZES", "DEFAULT_OPTIMIZER", "DEFAULT_LRATE", "DEFAULT_LR_DECAY", "DEFAULT_BATCH_SIZE",
           "DEFAULT_CACHE_SIZE", "MIN_LRATE", "SUGGESTED_LRATES", "Trainer"]

Send = Callable[[dict[str, Any]], None]
log = logging.getLogger(__name__)
_SETTING_FIELD = {cls: field for field, cls in p.SETTING_COMMANDS.items()}


class Trainer:
    """Trains an MLP on blocks from ``fetch``, obeying commands and reporting through ``send``."""

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
        fetch_attempts: int = 4,
        fetch_backoff: float = 0.25,
        fetch_max_backoff: float = 4.0,
        fetch_timeout: float = DEFAULT_TIMEOUT,
        **settings: Any,
    ) -> None:
        """Create an idle trainer; call `setup` (or just `run`) to load the manifest.

        Args:
            send: Called with each outgoing wire dict (signals and errors).
            fetch: ``await fetch("manifest.json")`` returns that file's bytes.
            weights_in_signals: Attach the weights to every signal (the page needs
                them; the CLI does not).
            weights_every_s: While training, attach them to at most one signal per this
                many seconds (replies and idle signals always carry them): the page shows
                a few sets a second, and each set costs a copy on both threads.
            signal_every_s: While training, send at most one progress signal per this
                many seconds (replies, errors and changes of state are never held back):
                each one wakes the page's main thread, which shows ten a second at most.
            slice_s: While training, take steps for up to this many seconds (at least
                one) before sending a signal (if `signal_every_s` allows) and letting the
                event loop run. 0 means a yield after every step. In the browser each yield and
                each message costs about as much as a whole step, and the page shows
                only the newest signal per frame, so the worker trains in slices.
            eval_every_s: While training, measure the test accuracy (and confusion matrix) by
                itself about this often, a block per slice; 0: only when asked (``evaluate``).
            clock: Seconds, for `weights_every_s`, `signal_every_s`, `slice_s` and `eval_every_s` (tests
                pass a fake one).
            fetch_attempts, fetch_backoff, fetch_max_backoff, fetch_timeout: Retry policy
                of block fetches (see `SampleCache`).
            **settings: Settings of the table by field (``batch_size=64``, ``hidden=(128,)``,
                ``seed=3``, ...); the others take the table's defaults.

        Raises:
            TypeError: A setting the table does not have.
            ProtocolError: A setting's value breaks its rule.
        """
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"Trainer() got settings the table does not have: {', '.join(unknown)}")
        # Every setting as last chosen (the reset's seed, the base rate before decay, ...).
        self.settings = SimpleNamespace(**{t.field: t.check(t.field, settings.get(t.field, t.default))
                                           for t in TUNABLES})
        self._send = send
        self._fetch = fetch
        self.run_seed: int | None = self.settings.seed  # what made the weights in use: None for weights from outside
        self.model = MLP((N_PIXELS, *self.settings.hidden, N_CLASSES), self.settings.seed)
        self.optimizer = make_optimizer(self.settings.optimizer, self.settings.lrate)
        self._augmenter = Augmenter(self.settings.seed)
        self.weights_in_signals = weights_in_signals
        self.weights_every_s = weights_every_s
        self.signal_every_s = signal_every_s
        self.slice_s = slice_s
        self.eval_every_s = eval_every_s
        self._clock = clock
        self._weights_at = -math.inf
        self._signal_at = -math.inf
        self.training = False
        self.iteration = 0
        self.samples_seen = 0
        self.loss: float | None = None
        self.acc: float | None = None
        self.test_acc: float | None = None
        self.confusion: Confusion | None = None  # of the last evaluation, like test_acc
        self._confusion_due = False  # the next signal carries it (once: it is only news once)
        self._stop_at: int | None = None  # samples_seen at which a Start with epochs stops
        self.manifest: Manifest | None = None
        self.cache: SampleCache | None = None
        self._fetch_attempts, self._fetch_backoff = fetch_attempts, fetch_backoff
        self._fetch_max_backoff, self._fetch_timeout = fetch_max_backoff, fetch_timeout
        self.waiting_for_data = False  # the cache is starved: training pauses until a block arrives
        self._inbox: deque[Any] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._seq = 0
        self._good = GoodWeights(self.model)
        self._throughput = Throughput()
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
        try:
            raw = await self._fetch(MANIFEST)
        except Exception as exc:  # noqa: BLE001 - fetch is foreign code
            raise DataError(f"could not fetch {MANIFEST}: {type(exc).__name__}: {exc}", MANIFEST) from exc
        manifest = Manifest.from_json(raw)
        if manifest.rows * manifest.cols != self.model.sizes[0]:
            raise DataError(f"{MANIFEST}: images of {manifest.rows}x{manifest.cols} do not fit a "
                            f"{self.model.sizes[0]}-input network", MANIFEST)
        try:  # the cache is the one judge of what it may hold (its memory budget)
            cache = SampleCache(self._fetch, manifest.train, cache_size=self.settings.cache_size, seed=self.settings.seed,
                                rows=manifest.rows, cols=manifest.cols, attempts=self._fetch_attempts,
                                backoff=self._fetch_backoff, max_backoff=self._fetch_max_backoff,
                                timeout=self._fetch_timeout)
        except ValueError as exc:
            raise ProtocolError("cache_size", str(exc)) from None
        self.manifest, self.cache = manifest, cache
        self._test_set = TestSet(cache.load, manifest.test)
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
                self._report_data()
                if self.training and self.waiting_for_data:
                    await self._wait_for_data()
                elif self.training:
                    await self._train_slice()
                    await asyncio.sleep(0)  # let the event loop deliver commands and finished fetches
                elif not self._inbox:
                    await self._wake.wait()
        finally:
            self.cache.close()

    def _report_data(self) -> None:
        """Report blocks given up on, and pausing for (or resuming with) data.

        Each block given up on is told once: in an error of its own, or as the last one
        in the message that training pauses. While the cache is starved the trainer stays
        quiet about each further block it cannot fetch (``data_errors`` still counts them).
        """
        assert self.cache is not None
        failures = self.cache.drain_failures()
        # Starved, and what is left of the block being read does not fill a batch.
        starved = self.cache.starved and self.cache.available() < self.settings.batch_size
        if starved != self.waiting_for_data:
            self.waiting_for_data = starved
            if starved:
                # Given up on before the trainer looked (it may have been idle): the pause names the last.
                for failure in failures[:-1]:
                    self._error("data", failure)
                self._error("data", (
                    f"No training data could be fetched: the last {self.cache.skipped_in_row} blocks all failed "
                    f"(last: {self.cache.last_failure}). Training is paused and resumes by itself when blocks "
                    f"arrive; check the network connection."))
            self._signal()
        elif not starved:
            for failure in failures:
                self._error("data", failure)

    async def _wait_for_data(self) -> None:
        """While starved: sleep until a fetch attempt ends or a command arrives; report the count."""
        assert self.cache is not None
        change = asyncio.ensure_future(self.cache.next_change().wait())
        wake = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({change, wake}, return_when=asyncio.FIRST_COMPLETED)
        change.cancel()
        wake.cancel()
        if change.done() and not change.cancelled():
            self._signal()  # the page's data-error count keeps climbing while it waits

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
            except ProtocolError as exc:
                self._error("protocol", str(exc), field=exc.field, command=kind, reply_to=reply_to)
            except WeightsError as exc:
                self._error("weights", str(exc), field="weights", command=kind, reply_to=reply_to)
            except DataError as exc:
                self._error("data", str(exc), command=kind, reply_to=reply_to)
            except Exception as exc:  # noqa: BLE001 - the worker edge: report, never die
                log.exception("command %s failed", kind)
                self._error("internal", f"{type(exc).__name__}: {exc}", command=kind, reply_to=reply_to)
            else:
                self._signal(reply_to=reply_to)

    def _start(self, command: p.Start) -> None:
        if not self.training:
            self._throughput.reset()
            if self._evaluations is not None:
                self._evaluations.start()  # the first in a period; its blocks fetched meanwhile
        self.training = True
        assert self.manifest is not None
        self._stop_at = None if command.epochs is None else (
            self.samples_seen + command.epochs * self.manifest.train_count)

    def _stop(self, _: p.Stop) -> None:
        self.training = False
        self._stop_at = None
        if self._evaluations is not None:
            self._evaluations.drop()

    def _set_setting(self, command: Any) -> None:
        """A live setting's command: what it means, if more than being kept, then kept."""
        field = _SETTING_FIELD[type(command)]
        value = getattr(command, field)
        if field == "lrate":
            self.optimizer.lr = value  # and per-epoch decay starts again from it
        elif field == "optimizer":
            self.optimizer = make_optimizer(value, self.optimizer.lr)  # its state starts fresh
        elif field == "cache_size":
            assert self.cache is not None
            try:
                self.cache.resize(value)
            except ValueError as exc:  # resize changes nothing when it refuses
                raise ProtocolError("cache_size", f"{exc}; the cache stays at {self.cache.cache_size}") from None
        setattr(self.settings, field, value)

    def _set_weights(self, command: p.SetWeights) -> None:
        model = MLP.from_weights(command.weights)
        if (model.sizes[0], model.sizes[-1]) != (self.model.sizes[0], self.model.sizes[-1]):
            raise WeightsError(
                f"the weights take {model.sizes[0]} inputs to {model.sizes[-1]} classes; this trainer needs "
                f"{self.model.sizes[0]} inputs and {self.model.sizes[-1]} classes"
            )
        problem = hidden_problem(hidden_of(model.sizes))
        if problem is not None:
            raise WeightsError(f"the weights' hidden layers ({format_hidden(hidden_of(model.sizes))}): {problem}")
        self._use_model(model)
        self.settings.hidden = hidden_of(model.sizes)
        self.run_seed = command.seed

    def _reset(self, command: p.Reset) -> None:
        """A new run from the run settings (`tunables.RUN`): the layers, and the seed of the
        weights, of the data order and of the distortions."""
        for t in RUN:
            if getattr(command, t.field) is not None:
                setattr(self.settings, t.field, getattr(command, t.field))
        seed = self.run_seed = self.settings.seed
        self._use_model(MLP((N_PIXELS, *self.settings.hidden, N_CLASSES), seed))
        # A reset is a new run from its seed: the data order too starts again, so two tabs with
        # the same seed and settings train the same weights.
        if self.cache is not None:
            self.cache.reseed(seed)
        self._augmenter = Augmenter(seed)
        self._stop_at = None
        self.optimizer.lr = self.settings.lrate
        self.iteration = self.samples_seen = 0
        self.loss = self.acc = None
        self._throughput.reset()

    def _train_drawing(self, command: p.TrainDrawing) -> None:
        teach(self._good, command.pixels, command.label)

    async def _evaluate(self, _: p.Evaluate) -> None:
        assert self._test_set is not None
        evaluation = EvaluationPass(self.model, await self._test_set.load())
        while not evaluation.done:
            evaluation.step()
            await asyncio.sleep(0)  # one block at a time, so the worker stays responsive
        self._evaluated(evaluation.result())

    def _evaluated(self, confusion: Confusion) -> None:
        self.confusion = confusion
        self.test_acc = confusion.accuracy()
        self._confusion_due = True

    def _use_model(self, model: MLP) -> None:
        """Swap in a new model: fresh optimizer state, no test accuracy yet."""
        self.model = model
        self.optimizer = make_optimizer(self.optimizer.name, self.optimizer.lr)
        self.test_acc = None
        self.confusion = None
        if self._evaluations is not None:
            self._evaluations.drop()  # it judged weights that are gone
        self._good = GoodWeights(model)

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
                self._error("internal", f"training stopped: {type(exc).__name__}: {exc}")
                self._signal()
                return
            stepped = True
            if self._clock() >= deadline:
                break
        if stepped and self.training and self._clock() - self._signal_at >= self.signal_every_s:
            self._signal()
        if self.training and self._evaluations is not None:
            confusion = self._evaluations.step(self.model)  # a block of an evaluation in passing
            if confusion is not None:
                self._evaluated(confusion)

    async def _train_iteration(self, remember: bool = True) -> bool:
        """One step on the next batch; False if none was taken (no batch yet, or divergence)."""
        assert self.cache is not None and self.manifest is not None
        settings = self.settings
        batch = await self.cache.take(settings.batch_size, interrupt=self._wake)
        if batch is None:
            return False  # a command arrived while we waited for data: handle it first
        x, y = batch
        if settings.augment:
            x = self._augmenter(x)
        result = self.model.loss_and_grads(x, y)
        if not result.loss <= DIVERGED_LOSS:  # also catches NaN
            self._diverged(result.loss)
            return False
        if remember:
            self._good.remember()
        self.optimizer.step(self.model.params, result.grads)
        epoch_before = self.samples_seen // self.manifest.train_count
        self.iteration += 1
        self.samples_seen += len(y)
        self.loss, self.acc = result.loss, result.acc
        if self.samples_seen // self.manifest.train_count > epoch_before:
            self.optimizer.lr = max(self.optimizer.lr * settings.lr_decay, min(self.optimizer.lr, MIN_LRATE))
        self._throughput.add(self.samples_seen)
        if self._stop_at is not None and self.samples_seen >= self._stop_at:
            self.training = False  # the epochs asked for are done
            self._stop_at = None
            self._signal()
        return True

    def _diverged(self, loss: float) -> None:
        self._good.restore()
        self.optimizer = make_optimizer(self.optimizer.name, self.optimizer.lr)  # its state is poisoned
        self.training = False
        self._error(
            "divergence",
            f"the loss became {loss:.4g} at iteration {self.iteration + 1} with learning rate {self.optimizer.lr:g}; "
            f"training stopped and the last weights with a sane loss were restored. "
            f"Lower the learning rate and start again.",
            field="lrate",
        )
        self._signal()

    # ---- what we say -----------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _settings_now(self) -> dict[str, Any]:
        """Every setting as it is in use now: the rate after decay, the network's layers, the
        cache's size, the seed of the weights in use."""
        cache = self.cache
        return {**vars(self.settings), "lrate": self.optimizer.lr, "optimizer": self.optimizer.name,
                "hidden": hidden_of(self.model.sizes), "seed": self.run_seed,
                "cache_size": cache.cache_size if cache else self.settings.cache_size}

    def _signal(self, reply_to: int | None = None) -> None:
        cache = self.cache
        self._signal_at = self._clock()
        train_count = self.manifest.train_count if self.manifest else 0
        self._send(p.encode_signal(p.ResponseSignal(
            **self._settings_now(),
            seq=self._next_seq(),
            iteration=self.iteration,
            training=self.training,
            loss=self.loss,
            acc=self.acc,
            data_len=cache.data_len if cache else 0,
            data_futures_len=cache.data_futures_len if cache else 0,
            samples_per_s=self._throughput.rate() if self.training else 0.0,
            cache_waits=cache.waits if cache else 0,
            data_errors=cache.errors if cache else 0,
            test_acc=self.test_acc,
            samples_seen=self.samples_seen,
            epoch=self.samples_seen / train_count if train_count else 0.0,
            waiting_for_data=self.waiting_for_data,
            engine=engine_name(),
            reply_to=reply_to,
            weights=self._weights_for_signal(reply_to),
            confusion=self._confusion_for_signal(),
        )))

    def _confusion_for_signal(self) -> Confusion | None:
        due, self._confusion_due = self._confusion_due, False
        return self.confusion if due else None

    def _weights_for_signal(self, reply_to: int | None) -> dict[str, np.ndarray] | None:
        """A copy of the weights if this signal should carry them, else None (and no copy)."""
        if not self.weights_in_signals:
            return None
        now = self._clock()
        # Progress signals come every signal_every_s or so: without the half period of slack, one
        # that came a little early would hold the weights back a whole period.
        due = self.weights_every_s - self.signal_every_s / 2
        if self.training and reply_to is None and now - self._weights_at < due:
            return None
        self._weights_at = now
        return self.model.get_weights()

    def _error(self, kind: str, message: str, *, field: str | None = None, command: str | None = None,
               reply_to: int | None = None) -> None:
        self._send(p.encode_signal(p.ErrorSignal(
            seq=self._next_seq(), kind=kind, message=message, field=field, command=command, reply_to=reply_to,
        )))


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
