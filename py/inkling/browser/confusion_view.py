"""The confusion matrix on the page: counts by true and read digit, each class's accuracy, and a
click on a count that puts those test digits in the grid."""

from __future__ import annotations

from typing import Any, Callable

from ..confusion import Confusion
from ..protocol import ResponseSignal
from .dom import element, listen

ShowPair = Callable[[int, int, Confusion], None]  # (true digit, read as, the matrix it came from)


class ConfusionView:
    """Fills ``table`` from the newest evaluation; empties it when the weights it judged are gone.

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

    def follow(self, signal: ResponseSignal) -> None:
        """Show a signal's matrix; drop the shown one once the worker's weights have no evaluation."""
        if signal.confusion is not None:
            self.show(signal.confusion)
        elif signal.test_acc is None and self.confusion is not None:
            self.clear()

    def show(self, confusion: Confusion) -> None:
        """Show ``confusion``: every count, each true digit's accuracy, shading by share of its row."""
        if len(self._class_acc) != confusion.classes:
            self._build(confusion.classes)
        self.confusion = confusion
        rows = confusion.counts.sum(axis=1)
        for (r, c), button in self._counts.items():
            n = int(confusion.counts[r, c])
            button.textContent = str(n)
            button.disabled = n == 0
            # Shading by share of the row: a class's mistakes stand out however many digits it has.
            button.style.setProperty("--share", f"{n / rows[r]:.3f}" if rows[r] else "0")
            button.title = f"{n} test digit{'s' * (n != 1)} that {'is' if n == 1 else 'are'} {r}, read as {c}"
        for r, (node, acc) in enumerate(zip(self._class_acc, confusion.class_accuracy())):
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
                cell = element("td", parent=row)
                button = element("button", parent=cell, cls="diagonal" if r == c else "mistake",
                                 data_testid=f"confusion-{r}-{c}", type="button")
                button.disabled = True
                listen(button, "click", lambda _event, r=r, c=c: self._clicked(r, c))
                self._counts[(r, c)] = button
            self._class_acc.append(element("td", parent=row, cls="class-acc", data_testid=f"class-acc-{r}"))

    def _clicked(self, true: int, predicted: int) -> None:
        if self.confusion is not None:
            self._show_pair(true, predicted, self.confusion)
