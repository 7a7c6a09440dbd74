"""time_to_accuracy: seconds from Start (default settings) to a full-test-set accuracy of 95/97/98%."""
from __future__ import annotations

import time
from typing import Any

from .harness import Bench, start_training, summary

NAME = "time_to_accuracy"
LEVELS = (0.95, 0.97, 0.98)


def _one_run(bench: Bench, cap_s: float, every_s: float) -> dict[str, Any]:
    with bench.ready_page() as page:
        start_training(page)
        started = page.evaluate("() => window.__bench.workerOut.filter(([, type]) => type === 'start').pop()[0]")
        deadline = time.monotonic() + cap_s
        while time.monotonic() < deadline:
            # Evaluate while training goes on, as a user would: the worker fits it between iterations.
            page.get_by_test_id("evaluate").click()
            page.wait_for_timeout(every_s * 1000)
            best = page.evaluate("() => Math.max(0, ...window.__bench.evals.map(e => e[1]))")
            if best >= LEVELS[-1]:
                break
        evals = page.evaluate("() => window.__bench.evals")
        evaluations = page.evaluate("() => window.__bench.workerOut.filter(([, t]) => t === 'evaluate').length")
    reached = {}
    for level in LEVELS:
        hit = next((e for e in evals if e[1] >= level), None)
        reached[f"{level:.0%}"] = None if hit is None else {
            "seconds": (hit[0] - started) / 1000, "samples_seen": hit[2], "epochs": hit[2] / 60_000}
    best = max(evals, key=lambda e: e[1]) if evals else None
    return {"reached": reached, "evaluations": evaluations,
            "best": None if best is None else {"test_acc": best[1], "seconds": (best[0] - started) / 1000,
                                               "epochs": best[2] / 60_000},
            "curve": [[round((e[0] - started) / 1000, 2), e[1]] for e in evals]}


def run(bench: Bench) -> dict[str, Any]:
    """Train with default settings, pressing Evaluate every few seconds, until 98% or the time cap."""
    cap_s = bench.settings.pick(20.0, 180.0)
    every_s = bench.settings.pick(5.0, 5.0)
    runs = [_one_run(bench, cap_s, every_s) for _ in range(bench.settings.long_runs)]
    result: dict[str, Any] = {}
    for level in LEVELS:
        key = f"{level:.0%}"
        result[f"seconds_to_{key}"] = summary(
            [r["reached"][key]["seconds"] if r["reached"][key] else None for r in runs], "s")
        result[f"seconds_to_{key}"]["reached_in_runs"] = sum(1 for r in runs if r["reached"][key])
    result["best_test_acc"] = summary([r["best"]["test_acc"] if r["best"] else None for r in runs], "acc")
    result["runs_detail"] = runs
    result["note"] = (f"default settings; Evaluate pressed every {every_s:g} s while training (the time is "
                      f"when the result arrived, so it is late by up to that interval plus one evaluation); "
                      f"capped at {cap_s:g} s; a level not reached is null")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    lines = [(f"seconds to {level:.0%} test accuracy (reached in {result[f'seconds_to_{level:.0%}']['reached_in_runs']} run(s))",
              result[f"seconds_to_{level:.0%}"]) for level in LEVELS]
    lines.append(("best test accuracy within the cap", result["best_test_acc"]))
    return lines
