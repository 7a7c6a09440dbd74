"""The confusion matrix on the page: counts by true and read digit, each class's accuracy, and a
click on a count that puts those test digits in the grid."""

from __future__ import annotations

from typing import Any, Callable

from ..messages.confusion import Confusion
from ..messages.protocol import N_CLASSES, ResponseSignal
from .dom import element, listen

ShowPair = Callable[[int, int, Confusion], None]  # (true digit, read as, the matrix it came from)
TINTS = 10  # classes t0..t9 in style.css: how strongly a count is tinted


class ConfusionView:
    """Fills ``table`` from the newest evaluation; empties it when the weights it judged are gone.

    The table is built while the page loads (built at the first evaluation, mid-training, it made
    a long task); an evaluation then only writes each count's text, tint and state, and one
    listener serves every count.

    Args:
        table: The ``<table>`` (``data-testid="confusion-matrix"``); its card is the parent element,
            which carries ``data-empty`` while there is nothing to show.
        show_pair: Called with ``(true, predicted, confusion)`` when a count is clicked.
    """

    def __init__(self, table: Any, show_pair: ShowPair) -> None:
        self.table = table
        self._show_pair = show_pair
        self.confusion: Confusion | None = None
        self._counts: dict[tuple[int, int], Any] = {}
        self._class_acc: list[Any] = []
        self._build(N_CLASSES)
        listen(table, "click", self._clicked)

    def follow(self, signal: ResponseSignal) -> None:
        """Show a signal's matrix; drop the shown one once the worker's weights have no evaluation."""
        if signal.confusion is not None:
            self.show(signal.confusion)
        elif signal.test_acc is None and self.confusion is not None:
            self.clear()

    def show(self, confusion: Confusion) -> None:
        """Show ``confusion``: every count, each true digit's accuracy, tinted by share of its row."""
        if confusion.classes != len(self._class_acc):
            self._build(confusion.classes)
        self.confusion = confusion
        rows = confusion.counts.sum(axis=1)
        for (r, c), button in self._counts.items():
            n = int(confusion.counts[r, c])
            button.textContent = str(n)
            button.className = f"{'diagonal' if r == c else 'mistake'} t{tint(n, int(rows[r]), r == c)}"
            button.disabled = n == 0
        for node, acc in zip(self._class_acc, confusion.class_accuracy()):
            node.textContent = "–" if acc is None else f"{100 * acc:.1f}%"
        self.table.parentElement.removeAttribute("data-empty")

    def clear(self) -> None:
        """Nothing to show (new or imported weights have not been evaluated)."""
        self.confusion = None
        for button in self._counts.values():
            button.textContent = ""
            button.disabled = True
        for node in self._class_acc:
            node.textContent = ""
        self.table.parentElement.setAttribute("data-empty", "")

    def _build(self, classes: int) -> None:
        self.table.replaceChildren()
        head = element("tr", parent=element("thead", parent=self.table))
        element("th", parent=head, text="true \u2193 read \u2192", scope="col", cls="corner")
        for c in range(classes):
            element("th", parent=head, text=str(c), scope="col")
        element("th", parent=head, text="right", scope="col", title="Share of each true digit read right")
        body = element("tbody", parent=self.table)
        self._counts.clear()
        self._class_acc = []
        for r in range(classes):
            row = element("tr", parent=body)
            element("th", parent=row, text=str(r), scope="row")
            for c in range(classes):
                button = element("button", parent=element("td", parent=row), cls="diagonal" if r == c else "mistake",
                                 data_testid=f"confusion-{r}-{c}", data_pair=f"{r},{c}", type="button",
                                 title=f"test digits that are {r}, read as {c}: click to see them")
                button.disabled = True
                self._counts[(r, c)] = button
            self._class_acc.append(element("td", parent=row, cls="class-acc", data_testid=f"class-acc-{r}"))

    def _clicked(self, event: Any) -> None:
        button = event.target.closest("button[data-pair]")
        if button is None or button.disabled or self.confusion is None:
            return
        true, predicted = (int(part) for part in str(button.dataset.pair).split(","))
        self._show_pair(true, predicted, self.confusion)


def tint(count: int, row_total: int, diagonal: bool) -> int:
    """0..TINTS-1: a count's share of its row. Mistakes are rarely more than a few percent of a
    row, so their tint is full at 1/12."""
    share = count / row_total if row_total else 0.0
    return round((TINTS - 1) * (share if diagonal else min(1.0, 12 * share)))
