"""Worker restarts: the crash-loop guard and counts that go on across restarts and reloads."""
from __future__ import annotations

from inkling.messages.protocol import ResponseSignal
from inkling.page.recovery import Continuity, RestartGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signal(iteration: int, samples: int, epoch: float) -> ResponseSignal:
    return ResponseSignal(seq=1, iteration=iteration, training=True, loss=0.5, acc=0.8, batch_size=64,
                          lrate=0.1, lr_decay=1.0, optimizer="sgd", hidden=128, data_len=3,
                          data_futures_len=1, cache_size=8, samples_per_s=1000.0, cache_waits=0,
                          data_errors=0, test_acc=None, samples_seen=samples, epoch=epoch)


def test_a_few_restarts_are_allowed_then_a_crash_loop_is_stopped() -> None:
    clock = Clock()
    guard = RestartGuard(max_restarts=3, window_s=120.0, clock=clock)
    assert [guard.allow() for _ in range(3)] == [True, True, True]
    clock.now += 60
    assert not guard.allow()  # a fourth death within two minutes
    assert not guard.allow()
    assert guard.total == 3


def test_restarts_spread_out_in_time_are_always_allowed() -> None:
    clock = Clock()
    guard = RestartGuard(max_restarts=3, window_s=120.0, clock=clock)
    for _ in range(20):
        assert guard.allow()
        clock.now += 45  # at most 3 in any 120 s
    assert guard.total == 20


def test_the_window_slides() -> None:
    clock = Clock()
    guard = RestartGuard(max_restarts=2, window_s=10.0, clock=clock)
    assert guard.allow() and guard.allow()
    clock.now += 9.9
    assert not guard.allow()
    clock.now += 0.1  # the first restart leaves the window
    assert guard.allow()


def test_counts_go_on_from_where_the_lost_worker_was() -> None:
    counts = Continuity()
    assert counts.apply(signal(500, 32_000, 0.53)).iteration == 500
    counts.restarted(signal(500, 32_000, 0.53))
    shown = counts.apply(signal(0, 0, 0.0))
    assert (shown.iteration, shown.samples_seen, shown.epoch) == (500, 32_000, 0.53)
    shown = counts.apply(signal(10, 640, 0.01))
    assert (shown.iteration, shown.samples_seen) == (510, 32_640)
    assert abs(shown.epoch - 0.54) < 1e-9


def test_a_reset_after_a_restart_counts_from_zero_again() -> None:
    counts = Continuity()
    counts.restarted(signal(500, 32_000, 0.53))
    counts.apply(signal(40, 2560, 0.04))
    assert counts.apply(signal(0, 0, 0.0)).iteration == 0  # the new worker's count fell: a reset
    counts.restarted(signal(7, 448, 0.01))
    counts.clear()  # the page sent reset
    assert counts.apply(signal(0, 0, 0.0)).iteration == 0


def test_counts_go_on_from_a_restored_run() -> None:
    counts = Continuity()
    counts.apply(signal(0, 0, 0.0))  # the fresh worker's first status
    counts.carry(1234, 59_232, 0.9872)  # the saved record's counts
    shown = counts.apply(signal(0, 0, 0.0))
    assert (shown.iteration, shown.samples_seen, shown.epoch) == (1234, 59_232, 0.9872)
    assert counts.apply(signal(6, 384, 0.0064)).iteration == 1240
