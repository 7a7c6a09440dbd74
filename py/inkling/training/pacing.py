"""How often the worker reports to the page and the page redraws: the one place these rates live,
and the one place the worker's signals are paced (`SignalPacer`).

Every message from the worker wakes the page's main thread, and everything it shows costs that
thread style, layout and paint. One beat for all of it: five progress signals a second carry the
numbers, and every other one carries the weights (every prediction on the grid) while the charts
redraw in that signal's frame too. Numbers that move five times a second read as live; predictions
and curves that move two and a half times a second still do, and the page's main thread is busy
about 11% of the time while training instead of 16% (bench `main_thread`, run just before and just
after this change), most of it the render of a grid whose predictions changed. More would only take
time from the person drawing (and, on a 2-core machine, from the worker).
"""

from __future__ import annotations

import math
from typing import Callable

SIGNAL_EVERY_S = 0.2  # while training: progress signals, i.e. the stats panel's numbers
WEIGHTS_EVERY_S = 0.4  # while training: new weights, i.e. every prediction on the grid
CHART_EVERY_S = 0.4  # chart redraws
STROKE_EVERY_S = 0.05  # a tile's prediction while a stroke goes on (its first point is shown at once)
WEIGHTS_VIEW_EVERY_S = 1.0  # the first layer's weights as pictures (a few ms of the main thread each)
RESPONSE_VIEW_EVERY_S = 0.25  # the first layer's response to the drawing going on (new weights alone: as above)
EVAL_EVERY_S = 5.0  # while training: test accuracy and confusion matrix (a pass costs a few slices)
# ... but evaluating takes at most this share of training time: a convnet's pass of the 10,000 test
# digits took ~2.5 s in the worker (relaxed SIMD), which every 5 s cut training from ~1,300 to ~900
# samples/s; the MLP's pass (a fraction of a second) keeps the 5 s period.
EVAL_MAX_SHARE = 0.1


def wait_left(last: float, every: float, now: float) -> float:
    """Seconds until something done at ``last`` may be done again (0 when it may now)."""
    return max(0.0, last + every - now)


def on_the_beat(every: float, signal_every: float = SIGNAL_EVERY_S) -> float:
    """The least time between two things done every ``every`` seconds on progress signals.

    Signals come every ``signal_every`` or so: without half a period of slack, one that came a
    little early would hold the thing back a whole period.
    """
    return every - signal_every / 2


class SignalPacer:
    """When the worker's progress signals go out, and which of them carry the weights.

    Replies, errors and changes of state are never held back; only progress while training is.

    Args:
        signal_every_s: At most one progress signal per this many seconds while training.
        weights_every_s: At most one set of weights per this many seconds while training (replies
            and idle signals always carry them): each set costs a copy on both threads.
        clock: Seconds (tests pass a fake one).
    """

    def __init__(self, signal_every_s: float, weights_every_s: float, clock: Callable[[], float]) -> None:
        self.signal_every_s = signal_every_s
        self.weights_every_s = weights_every_s
        self._clock = clock
        self._signal_at = -math.inf
        self._weights_at = -math.inf

    def progress_due(self) -> bool:
        """Whether a progress signal may go out now."""
        return self._clock() - self._signal_at >= self.signal_every_s

    def sent(self, training: bool, reply_to: int | None) -> bool:
        """A signal goes out now; returns whether it carries the weights."""
        now = self._signal_at = self._clock()
        due = on_the_beat(self.weights_every_s, self.signal_every_s)
        if training and reply_to is None and now - self._weights_at < due:
            return False
        self._weights_at = now
        return True
