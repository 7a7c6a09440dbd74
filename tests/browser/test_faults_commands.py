"""Command fuzz against the real training worker: thousands of seeded junk messages, each refused
with an error that names the problem; the worker survives, its weights and settings stay, and
valid commands still work, whether it is idle or training.

The fuzzer (fuzz_commands.js) runs in a same-origin document of the built site and starts
workers/worker.js exactly as the page does; a failure prints the seed and the case to replay.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest

FUZZ_JS = (Path(__file__).parent / "fuzz_commands.js").read_text()
IDLE_CASES = 3000
TRAINING_CASES = 1000
SETTINGS = ("batch_size", "lr_decay", "optimizer", "hidden", "cache_size", "augment")
TIMEOUT_S = 180  # a hang guard on 2 shared cores, not a speed bound


def _poll(page: Any, check: Callable[[], Any], what: str, timeout_s: float = TIMEOUT_S) -> Any:
    """Poll `check` until it returns something truthy (the document's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    tail = page.evaluate("() => inklingFuzz.since(Math.max(0, inklingFuzz.count() - 5))")
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}; the worker's last messages: {tail}")


def _reply(page: Any, id_: int) -> dict[str, Any]:
    return _poll(page, lambda: page.evaluate("id => inklingFuzz.reply(id)", id_), f"the reply to command {id_}")


def _status(page: Any, id_: int) -> dict[str, Any]:
    page.evaluate("id => inklingFuzz.send({type: 'status', id})", id_)
    return _reply(page, id_)


def _weights(page: Any, id_: int) -> dict[str, Any]:
    weights = page.evaluate("id => inklingFuzz.weightsOf(id)", id_)
    assert weights, f"the reply to {id_} carried no weights"
    return weights


@pytest.fixture
def fuzz_page(page: Any, site_url: str) -> Any:
    """A same-origin document running the real worker, waited until it posts ready."""
    page.goto(site_url + "build-info.json")
    page.evaluate(FUZZ_JS)
    page.evaluate("url => inklingFuzz.start(url)", site_url + "workers/worker.js")

    def ready() -> bool:
        kinds = page.evaluate("() => inklingFuzz.since(0).map(m => m && m.type)")
        if "error" in kinds:
            pytest.fail(f"the worker failed to start: {page.evaluate('() => inklingFuzz.since(0)')}")
        return "ready" in kinds

    _poll(page, ready, "the worker to be ready")
    return page


def _check_errors(page: Any, sent: list[dict[str, Any]], start: int, seed: int) -> dict[str, int]:
    """Every sent case got exactly one error, in order, with the expected reply_to and field."""
    messages = page.evaluate("from => inklingFuzz.since(from)", start)
    errors = [m for m in messages if isinstance(m, dict) and m.get("type") == "error"]
    crashes = [m for m in messages if isinstance(m, dict) and m.get("type", "").startswith("worker-")]
    assert not crashes, f"seed {seed}: the worker itself failed: {crashes[:3]}"
    fuzz_ids = {case["id"] for case in sent if case["id"] is not None}
    accepted = [m for m in messages if isinstance(m, dict) and m.get("type") == "signal" and m.get("reply_to") in fuzz_ids]
    assert not accepted, f"seed {seed}: junk was accepted as a command: {accepted[:3]}"
    delivered = [case for case in sent if "unsent" not in case]
    assert len(errors) == len(delivered), (
        f"seed {seed}: {len(delivered)} junk messages got {len(errors)} error replies")
    kinds: dict[str, int] = {}
    for i, (case, error) in enumerate(zip(delivered, errors)):
        where = f"seed {seed}, case {i} ({case['label']}): {error}"
        kinds[error["kind"]] = kinds.get(error["kind"], 0) + 1
        assert error["kind"] in ("protocol", "weights"), where
        assert error["reply_to"] == case["id"], where
        assert isinstance(error["message"], str) and len(error["message"]) > 10, where
        field = error["field"]
        assert isinstance(field, str) and field, where
        expected = case["field"]
        if error["kind"] == "weights":
            assert expected.startswith("weights"), where
        else:
            assert field == expected or field.startswith(expected + "."), where
    return kinds


def test_junk_commands_get_named_errors_and_change_nothing(fuzz_page: Any) -> None:
    page = fuzz_page
    before = _status(page, 1)
    weights_before = _weights(page, 1)

    # Idle: thousands of random cases plus the multi-MB ones.
    start = page.evaluate("() => inklingFuzz.count()")
    sent = page.evaluate("([seed, n]) => inklingFuzz.fuzz(seed, n, true)", [1, IDLE_CASES])
    after = _status(page, 2)
    kinds = _check_errors(page, sent, start, seed=1)
    print(f"idle fuzz: {len(sent)} cases, errors by kind {kinds}, "
          f"not cloneable (never sent): {sum('unsent' in c for c in sent)}")
    assert after["iteration"] == before["iteration"] and after["training"] is False
    assert {k: after[k] for k in SETTINGS + ("lrate",)} == {k: before[k] for k in SETTINGS + ("lrate",)}
    assert _weights(page, 2) == weights_before, "junk changed the weights"

    # A valid command right after works: training starts and iterations rise.
    page.evaluate("() => inklingFuzz.send({type: 'start', id: 3})")
    assert _reply(page, 3)["training"] is True
    _poll(page, lambda: _status(page, 4)["iteration"] > before["iteration"] + 5, "iterations to rise")
    settings = _status(page, 5)

    # While training: junk again; training goes on, settings stay.
    start = page.evaluate("() => inklingFuzz.count()")
    sent = page.evaluate("([seed, n]) => inklingFuzz.fuzz(seed, n, false)", [2, TRAINING_CASES])
    during = _status(page, 6)
    kinds = _check_errors(page, sent, start, seed=2)
    print(f"training fuzz: {len(sent)} cases, errors by kind {kinds}")
    assert during["training"] is True
    assert {k: during[k] for k in SETTINGS} == {k: settings[k] for k in SETTINGS}
    _poll(page, lambda: _status(page, 7)["iteration"] > during["iteration"] + 5, "training to go on after the fuzz")

    # And a valid setting still applies (64: not the default, nor any value the fuzz left).
    assert settings["batch_size"] != 64
    page.evaluate("() => inklingFuzz.send({type: 'set_batch_size', batch_size: 64, id: 8})")
    assert _reply(page, 8)["batch_size"] == 64
    page.evaluate("() => inklingFuzz.send({type: 'stop', id: 9})")
    assert _reply(page, 9)["training"] is False
