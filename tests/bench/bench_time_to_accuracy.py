"""time_to_accuracy: seconds from Start to a full-test-set accuracy, for the page as it opens
(95/97/98%), the 98.5% recipe (98/98.5%) and the convnet recipe (99/99.3%), each two clicks away;
and, from the same runs, which of the page's default and the convnet is ahead during the first minute
(what decides the page's default network)."""
from __future__ import annotations

import time
from typing import Any

from .harness import Bench, start_training, summary

NAME = "time_to_accuracy"
# What each run is held to: the recipe's button (None: the page as it opens) and the levels.
RUNS = {"default": (None, (0.95, 0.97, 0.98)), "best": ("recipe-best", (0.98, 0.985)),
        "convnet": ("recipe-convnet", (0.99, 0.993))}
FIRST_MINUTE = tuple(range(10, 61, 10))  # seconds after Start at which the default and the convnet are compared


def _one_run(bench: Bench, button: str | None, levels: tuple[float, ...], cap_s: float) -> dict[str, Any]:
    with bench.ready_page() as page:
        if button is not None:
            page.get_by_test_id(button).click()
            page.wait_for_function("() => document.querySelector('[data-testid=message]').textContent"
                                   ".includes('Press Start')")
        start_training(page)
        started = page.evaluate("() => window.__bench.workerOut.filter(([, type]) => type === 'start').pop()[0]")
        deadline = time.monotonic() + cap_s
        # The worker measures the test set by itself every few seconds while training (a block per
        # slice): each result is one point of `evals`, as the page's test curve shows it.
        while time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            best = page.evaluate("() => Math.max(0, ...window.__bench.evals.map(e => e[1]))")
            if best >= levels[-1]:
                break
        evals = page.evaluate("() => window.__bench.evals")
        rate = page.evaluate("() => (window.__bench.last || {}).samples_per_s || 0")
    reached = {}
    for level in levels:
        hit = next((e for e in evals if e[1] >= level), None)
        reached[f"{level:.1%}"] = None if hit is None else {
            "seconds": (hit[0] - started) / 1000, "samples_seen": hit[2], "epochs": hit[2] / 60_000}
    best = max(evals, key=lambda e: e[1]) if evals else None
    return {"reached": reached, "evaluations": len(evals), "samples_per_s_at_end": rate,
            "best": None if best is None else {"test_acc": best[1], "seconds": (best[0] - started) / 1000,
                                               "epochs": best[2] / 60_000},
            "curve": [[round((e[0] - started) / 1000, 2), e[1]] for e in evals]}


def accuracy_at(curve: list[list[float]], seconds: float) -> float | None:
    """The best test accuracy a run had shown by ``seconds`` after Start (None: no evaluation yet).

    A run that stopped at its last level before then counts with its last result: it could only have
    gone on higher, so the comparison it enters is not tilted in its favour.
    """
    shown = [acc for at, acc in curve if at <= seconds]
    return max(shown) if shown else None


def first_minute(default: list[dict[str, Any]], convnet: list[dict[str, Any]]) -> dict[str, Any]:
    """Median accuracy of each at every `FIRST_MINUTE` mark, and which was ahead there."""
    marks = {}
    for second in FIRST_MINUTE:
        mark = {}
        for name, runs in (("default", default), ("convnet", convnet)):
            mark[name] = summary([accuracy_at(r["curve"], second) for r in runs], "acc")
        a, b = mark["default"]["median"], mark["convnet"]["median"]
        mark["ahead"] = None if a is None and b is None else (
            "default" if b is None or (a is not None and a >= b) else "convnet")
        marks[f"{second}s"] = mark
    return marks


def run(bench: Bench) -> dict[str, Any]:
    """Train each way until its last level or the time cap, reading the worker's own evaluations."""
    caps = {"default": bench.settings.pick(20.0, 120.0), "best": bench.settings.pick(30.0, 420.0),
            "convnet": bench.settings.pick(30.0, 360.0)}
    result: dict[str, Any] = {}
    for name, (button, levels) in RUNS.items():
        runs = [_one_run(bench, button, levels, caps[name]) for _ in range(bench.settings.long_runs)]
        part: dict[str, Any] = {}
        for level in levels:
            key = f"{level:.1%}"
            part[f"seconds_to_{key}"] = summary(
                [r["reached"][key]["seconds"] if r["reached"][key] else None for r in runs], "s")
            part[f"seconds_to_{key}"]["reached_in_runs"] = sum(1 for r in runs if r["reached"][key])
        part["best_test_acc"] = summary([r["best"]["test_acc"] if r["best"] else None for r in runs], "acc")
        part["runs_detail"] = runs
        part["cap_s"] = caps[name]
        result[name] = part
    result["first_minute"] = first_minute(result["default"]["runs_detail"], result["convnet"]["runs_detail"])
    result["note"] = ("'default': the page as it opens, Start pressed; 'best' and 'convnet': the recipe's button, "
                      "then Start. Accuracy from the worker's evaluations while training (every 5 s, or less often "
                      "when a pass would take over 10% of training time: a convnet's takes seconds; the time is when "
                      "the result arrived, a second or so after the weights it measured); capped at cap_s; a level "
                      "not reached is null. first_minute: each one's best accuracy shown by then (a run that stopped "
                      "at its last level keeps its last result)")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    lines = []
    for name, (_, levels) in RUNS.items():
        part = result[name]
        for level in levels:
            key = f"{level:.1%}"
            lines.append((f"{name}: seconds to {key} test accuracy (reached in "
                          f"{part[f'seconds_to_{key}']['reached_in_runs']} run(s), cap {part['cap_s']:g} s)",
                          part[f"seconds_to_{key}"]))
        lines.append((f"{name}: best test accuracy within the cap", part["best_test_acc"]))
    for mark, entry in result.get("first_minute", {}).items():
        lines.append((f"{mark} after Start: default / convnet test accuracy (ahead: {entry['ahead']})",
                      [entry["default"], entry["convnet"]]))
    return lines
