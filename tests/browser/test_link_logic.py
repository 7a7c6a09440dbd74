"""Settings in the page's address, in CPython: reading a link, writing the settings back."""
from __future__ import annotations

from urllib.parse import parse_qsl

from inkling.messages.protocol import ResponseSignal, SetAugment, SetBatchSize, SetLearningRate, SetOptimizer
from inkling.page.link import Link, changes, describe, link_query, read_link


def _signal(**changed: object) -> ResponseSignal:
    values = dict(seq=1, iteration=0, training=False, loss=None, acc=None, batch_size=32, lrate=0.05, lr_decay=1.0,
                  optimizer="momentum", hidden=(128,), data_len=0, data_futures_len=0, cache_size=8, samples_per_s=0.0,
                  cache_waits=0, data_errors=0, test_acc=None, samples_seen=0, epoch=0.0, seed=0)
    values.update(changed)
    return ResponseSignal(**values)  # type: ignore[arg-type]


def test_a_link_becomes_commands_a_run_and_refusals_naming_each_bad_value() -> None:
    link = read_link("?engine=numpy&learning-rate=0.002&optimizer=adam&batch-size=abc&lr-decay=2&hidden-size=64&seed=9")
    assert link.commands[0] == SetOptimizer("adam")  # first: it sets its own rate
    assert SetLearningRate(0.002) in link.commands
    assert link.run == {"hidden": (64,), "seed": 9}
    assert len(link.refused) == 2
    assert link.refused[0].startswith("lr-decay=2: ") and link.refused[1].startswith("batch-size=abc: ")
    assert read_link("optimizer=rmsprop").refused == ["optimizer=rmsprop: Optimizer: choose one of sgd, momentum, adam"]
    assert read_link("seed=-1").refused and read_link("").commands == [] and read_link("").run == {}


def test_the_settings_written_into_an_address_read_back_as_the_same_settings() -> None:
    signal = _signal(optimizer="adam", lrate=0.001, batch_size=48, hidden=(256, 64), seed=7, augment=True)
    query = link_query(signal, "?engine=numpy&batch-size=1")
    pairs = parse_qsl(query[1:])
    assert ("engine", "numpy") in pairs and ("batch-size", "48") in pairs and ("batch-size", "1") not in pairs
    assert ("hidden-size", "256,64") in pairs and ("augment", "on") in pairs
    assert changes(read_link(query), signal) == Link()  # nothing differs from what it came from
    assert "seed" not in dict(parse_qsl(link_query(_signal(seed=None), "")[1:]))  # weights no seed made


def test_only_what_differs_is_applied_and_said() -> None:
    link = changes(read_link("?optimizer=momentum&batch-size=64&seed=0&hidden-size=128"), _signal())
    assert link.commands == [SetBatchSize(64)] and link.run == {}
    assert describe(link) == "batch size 64"
    assert describe(changes(read_link("?seed=5"), _signal())) == "seed 5"
    deeper = changes(read_link("?hidden-size=256,128&augment=on"), _signal())
    assert deeper.run == {"hidden": (256, 128)} and deeper.commands == [SetAugment(True)]
    assert describe(deeper) == "augmentation on, hidden layers 256,128"
    assert read_link("?augment=maybe").refused == ["augment=maybe: Augmentation: 'maybe' is not on or off"]
