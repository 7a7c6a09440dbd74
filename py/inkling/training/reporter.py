"""What the training worker says: every signal and error numbered in one sequence, progress paced
(`pacing.SignalPacer`), weights attached when due, an evaluation's matrix once, and the news of
blocks given up on and of pausing for data.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from ..data.blocks import Manifest
from ..data.cache import SampleCache
from ..errors import DataError, ProtocolError, WeightsError
from ..messages import protocol as p
from ..network.engine import engine_name
from .data_parallel import Group, GroupStatus
from .learner import Learner
from .pacing import SignalPacer
from .throughput import Throughput

Send = Callable[[dict[str, Any]], None]
log = logging.getLogger("inkling.training.trainer")  # the worker's log, whoever writes it


class TrainerState(Protocol):
    """What a signal reports from the `Trainer` (read only): so the Reporter need not import it."""

    learner: Learner
    cache: SampleCache | None
    manifest: Manifest | None
    training: bool
    throughput: Throughput
    group: Group | None


class Reporter:
    """Turns the Trainer's state into signals and its troubles into errors, through ``send``.

    Args:
        send: Called with each outgoing wire dict.
        pacer: When progress goes out and which signals carry the weights.
        weights_in_signals: Attach the weights at all (the page needs them; the CLI does not).
    """

    def __init__(self, send: Send, pacer: SignalPacer, weights_in_signals: bool) -> None:
        self._send = send
        self.pacer = pacer
        self.weights_in_signals = weights_in_signals
        self._seq = 0
        self._confusion_due = False  # the next signal carries the last evaluation (it is only news once)
        self.waiting_for_data = False  # the cache is starved: training pauses until a block arrives

    def evaluated(self) -> None:
        """An evaluation ended: the next signal carries its confusion matrix."""
        self._confusion_due = True

    def error(self, kind: str, message: str, *, field: str | None = None, command: str | None = None,
              reply_to: int | None = None) -> None:
        """Send an `ErrorSignal`."""
        self._send(p.encode_signal(p.ErrorSignal(
            seq=self._next_seq(), kind=kind, message=message, field=field, command=command, reply_to=reply_to,
        )))

    def refused(self, exc: Exception, command: str | None, reply_to: int | None) -> None:
        """Tell that ``command`` failed with ``exc``: a bad field, weights or data, or a bug (logged)."""
        if isinstance(exc, ProtocolError):
            self.error("protocol", str(exc), field=exc.field, command=command, reply_to=reply_to)
        elif isinstance(exc, WeightsError):
            self.error("weights", str(exc), field="weights", command=command, reply_to=reply_to)
        elif isinstance(exc, DataError):
            self.error("data", str(exc), command=command, reply_to=reply_to)
        else:
            log.error("command %s failed", command, exc_info=exc)
            self.error("internal", f"{type(exc).__name__}: {exc}", command=command, reply_to=reply_to)

    def diverged(self, loss: float, iteration: int, lrate: float) -> None:
        """Tell that training stopped because the loss blew up (the last good weights are back)."""
        self.error("divergence", f"the loss became {loss:.4g} at iteration {iteration} with learning rate {lrate:g}; "
                   "training stopped and the last weights with a sane loss were restored. Lower the learning "
                   "rate and start again.", field="lrate")

    def signal(self, trainer: TrainerState, reply_to: int | None = None) -> None:
        """Send a `ResponseSignal` of ``trainer``'s state now."""
        cache, learner = trainer.cache, trainer.learner
        with_weights = self.pacer.sent(trainer.training, reply_to) and self.weights_in_signals
        train_count = trainer.manifest.train_count if trainer.manifest else 0
        confusion_due, self._confusion_due = self._confusion_due, False
        group = trainer.group.status() if trainer.group is not None else GroupStatus()
        self._send(p.encode_signal(p.ResponseSignal(
            **{**learner.settings_now(), "cache_size": cache.cache_size if cache else learner.settings.cache_size},
            seq=self._next_seq(),
            iteration=learner.iteration,
            training=trainer.training,
            loss=learner.loss,
            acc=learner.acc,
            data_len=cache.data_len if cache else 0,
            data_futures_len=cache.data_futures_len if cache else 0,
            samples_per_s=trainer.throughput.rate() if trainer.training else 0.0,
            cache_waits=cache.waits if cache else 0,
            data_errors=cache.errors if cache else 0,
            test_acc=learner.test_acc,
            samples_seen=learner.samples_seen,
            epoch=learner.samples_seen / train_count if train_count else 0.0,
            waiting_for_data=self.waiting_for_data,
            engine=engine_name(),
            workers_training=group.training,
            barrier_ms=group.barrier_ms,
            workers_note=group.note,
            reply_to=reply_to,
            weights=learner.model.get_weights() if with_weights else None,
            confusion=learner.confusion if confusion_due else None,
        )))

    def data_news(self, trainer: TrainerState) -> None:
        """Report blocks given up on, and pausing for (or resuming with) data.

        Each block given up on is told once: in an error of its own, or as the last one
        in the message that training pauses. While the cache is starved the trainer stays
        quiet about each further block it cannot fetch (``data_errors`` still counts them).
        """
        cache = trainer.cache
        assert cache is not None
        failures = cache.drain_failures()
        # Starved, and what is left of the block being read does not fill a batch.
        starved = cache.starved and cache.available() < trainer.learner.settings.batch_size
        if starved != self.waiting_for_data:
            self.waiting_for_data = starved
            if starved:
                # Given up on before the trainer looked (it may have been idle): the pause names the last.
                for failure in failures[:-1]:
                    self.error("data", failure)
                self.error("data", (
                    f"No training data could be fetched: the last {cache.skipped_in_row} blocks all failed "
                    f"(last: {cache.last_failure}). Training is paused and resumes by itself when blocks "
                    f"arrive; check the network connection."))
            self.signal(trainer)
        elif not starved:
            for failure in failures:
                self.error("data", failure)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq
