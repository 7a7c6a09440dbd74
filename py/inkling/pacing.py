"""How often the worker reports to the page and the page redraws: the one place these rates live.

Every message from the worker wakes the page's main thread, and everything it shows costs that
thread style, layout and paint. Numbers that change ten times a second read as live; a chart
or a prediction that moves four or five times a second looks smooth. More would only take time
from the person drawing (and, on a 2-core machine, from the worker).
"""

from __future__ import annotations

SIGNAL_EVERY_S = 0.1  # while training: progress signals, i.e. the stats panel's numbers
WEIGHTS_EVERY_S = 0.2  # while training: new weights, i.e. every prediction on the grid
CHART_EVERY_S = 0.25  # chart redraws
STROKE_EVERY_S = 0.05  # a tile's prediction while a stroke goes on (its first point is shown at once)
WEIGHTS_VIEW_EVERY_S = 1.0  # the first layer's weights as pictures (a few ms of the main thread each)
EVAL_EVERY_S = 5.0  # while training: test accuracy and confusion matrix (a pass costs a few slices)


def wait_left(last: float, every: float, now: float) -> float:
    """Seconds until something done at ``last`` may be done again (0 when it may now)."""
    return max(0.0, last + every - now)
