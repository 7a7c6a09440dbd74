"""The confusion matrix: counts, examples of each pair, accuracies, and its wire form's checks."""

from __future__ import annotations

import numpy as np
import pytest

from inkling.errors import ProtocolError
from inkling.messages.confusion import EXAMPLES_PER_PAIR, Confusion


def test_counts_examples_and_accuracies_follow_the_predictions() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 0])
    predicted = np.array([0, 1, 1, 1, 0, 2, 2, 1, 2, 0])
    confusion = Confusion.tally(labels, predicted, classes=3)
    assert confusion.counts.tolist() == [[2, 1, 0], [1, 2, 0], [0, 1, 3]]
    assert confusion.total == 10 and confusion.accuracy() == pytest.approx(0.7)
    assert confusion.class_accuracy() == pytest.approx([2 / 3, 2 / 3, 3 / 4])
    assert confusion.pair_examples(0, 0) == (0, 9)  # in test-set order
    assert confusion.pair_examples(2, 1) == (7,) and confusion.pair_examples(0, 2) == ()


def test_a_pair_keeps_only_the_first_examples_and_a_class_without_digits_has_no_accuracy() -> None:
    labels = np.zeros(40, np.int64)
    confusion = Confusion.tally(labels, labels, classes=10)
    assert confusion.counts[0, 0] == 40 and confusion.pair_examples(0, 0) == tuple(range(EXAMPLES_PER_PAIR))
    assert confusion.class_accuracy()[0] == 1.0 and confusion.class_accuracy()[1] is None


def test_the_wire_form_round_trips() -> None:
    rng = np.random.default_rng(0)
    labels, predicted = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    confusion = Confusion.tally(labels, predicted, classes=10)
    back = Confusion.from_wire("confusion", confusion.to_wire())
    assert np.array_equal(back.counts, confusion.counts) and back.examples == confusion.examples


def _wire(**change: object) -> dict[str, object]:
    wire = Confusion.tally(np.array([0, 1, 1]), np.array([0, 1, 0]), classes=2).to_wire()
    wire.update(change)
    return wire


@pytest.mark.parametrize("wire, field", [
    ([1, 2, 3], "confusion"),
    ({"counts": [1, 2, 3, 4]}, "confusion"),
    (_wire(counts=[1, 0, 1]), "confusion.counts"),  # not square
    (_wire(counts=[1, 0, -1, 1]), "confusion.counts"),
    (_wire(counts=[1, 0, 1.5, 1]), "confusion.counts"),
    (_wire(examples=[[0], [], [2]]), "confusion.examples"),
    (_wire(examples=[[0, 5], [], [2], [1]]), "confusion.examples[0]"),  # more examples than the count
    (_wire(examples=[[-1], [], [2], [1]]), "confusion.examples[0]"),
])
def test_a_malformed_matrix_is_refused_naming_the_part(wire: object, field: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        Confusion.from_wire("confusion", wire)
    assert refused.value.field == field
