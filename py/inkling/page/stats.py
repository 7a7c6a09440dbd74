"""What the stats panel shows for a ResponseSignal: plain numbers, keyed by data-testid."""

from __future__ import annotations

import math

from ..messages.protocol import ResponseSignal
from ..messages.tunables import DASH, TUNABLES

DATA_OK = "ok"
DATA_WAITING = "waiting for data"


def _number(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:.{digits}f}"


def _percent(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{100 * value:.{digits}f}%"


def stat_texts(signal: ResponseSignal) -> dict[str, str]:
    """The text of every ``stat-*`` element for ``signal``.

    Accuracies are percentages with ``%``; everything else is a bare number with
    no thousands separators, so it reads back with ``float(text)``.
    """
    return {
        "stat-iteration": str(signal.iteration),
        "stat-epoch": _number(signal.epoch, 2),
        "stat-loss": _number(signal.loss, 4),
        "stat-acc": _percent(signal.acc, 1),
        "stat-test-acc": _percent(signal.test_acc, 2),
        "stat-samples-per-s": _number(signal.samples_per_s, 0),
        **{t.stat: t.text(getattr(signal, t.field)) for t in TUNABLES},
        "stat-data-len": str(signal.data_len),
        "stat-data-futures-len": str(signal.data_futures_len),
        "stat-cache-waits": str(signal.cache_waits),
        "stat-samples-seen": str(signal.samples_seen),
        "stat-data-errors": str(signal.data_errors),
        "stat-data-state": DATA_WAITING if signal.waiting_for_data else DATA_OK,
        "stat-engine": signal.engine,
        "stat-workers-training": str(signal.workers_training),
        "stat-barrier-ms": _number(signal.barrier_ms, 1),
        "stat-workers-note": signal.workers_note or DASH,
    }


def train_state_text(signal: ResponseSignal) -> str:
    """The ``train-state`` pill: ``training``, ``idle``, or ``waiting for data`` while training is paused for it."""
    if signal.training:
        return DATA_WAITING if signal.waiting_for_data else "training"
    return "idle"


def data_news(before: ResponseSignal | None, after: ResponseSignal) -> str | None:
    """What to tell the user if training data arrives again between two shown signals, else None.

    (Pausing needs no news from here: the worker says why in an error message.)
    """
    if before is None or not before.waiting_for_data or after.waiting_for_data:
        return None
    if after.training:
        return "Training data arrives again: training resumed by itself."
    return "Training data arrives again."
