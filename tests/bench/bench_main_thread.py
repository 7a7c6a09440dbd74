"""main_thread: how the page feels while it trains and one cell is redrawn again and again."""
from __future__ import annotations

import time
from typing import Any

from .harness import Bench, percentile, start_training, summary

NAME = "main_thread"
CELL = 0
PACED_EVERY_S = 1.0  # a person drawing: one clear-and-stroke a second

# Stroke starts on cell 0 (pointerdown) and the first non-empty prediction after each one.
WATCH_JS = """cell => {
  const B = window.__bench;
  B.downs = []; B.shown = [];
  const canvas = document.querySelector(`[data-testid=cell-${cell}]`);
  const digit = document.querySelector(`[data-testid=prediction-${cell}]`);
  canvas.addEventListener("pointerdown", (e) => B.downs.push(e.timeStamp), { capture: true });
  let was = digit.textContent.trim();
  new MutationObserver(() => {
    const now = digit.textContent.trim();
    if (now !== "" && was === "") B.shown.push(performance.now());
    was = now;
  }).observe(digit, { subtree: true, childList: true, characterData: true });
  B.longTasks = [];
  B.recordFrames();
}"""


def _metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def _busy_share(page: Any, cdp: Any, seconds: float) -> float:
    before, t0 = _metrics(cdp), time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    return (_metrics(cdp)["TaskDuration"] - before["TaskDuration"]) / (time.monotonic() - t0)


def _stroke(page: Any, box: dict[str, float], k: int) -> None:
    """One stroke across the cell (a slanted line, shifted a little each time)."""
    x0 = box["x"] + box["width"] * (0.35 + 0.02 * (k % 5))
    page.mouse.move(x0, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.15, box["y"] + box["height"] * 0.8, steps=6)
    page.mouse.up()


def _cycle(page: Any, clear: dict[str, float], box: dict[str, float], digit: str, k: int) -> None:
    """Clear the cell, draw one stroke, wait for its prediction."""
    page.mouse.click(clear["x"] + clear["width"] / 2, clear["y"] + clear["height"] / 2)
    page.wait_for_function(f"() => document.querySelector('{digit}').textContent.trim() === ''", timeout=10_000)
    _stroke(page, box, k)
    page.wait_for_function(f"() => document.querySelector('{digit}').textContent.trim() !== ''", timeout=10_000)


def _one_run(bench: Bench, window_s: float) -> dict[str, Any]:
    with bench.ready_page() as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        idle = _busy_share(page, cdp, 2.0)
        start_training(page)
        page.wait_for_timeout(1000)
        training_only = _busy_share(page, cdp, 3.0)
        # The mouse acts where the viewport shows things: the tile and its Clear button, whole.
        page.get_by_test_id(f"card-{CELL}").scroll_into_view_if_needed()
        box = page.get_by_test_id(f"cell-{CELL}").bounding_box()
        clear = page.get_by_test_id(f"clear-{CELL}").bounding_box()
        digit = f"[data-testid=prediction-{CELL}]"
        page.evaluate(WATCH_JS, CELL)
        before, t0 = _metrics(cdp), time.monotonic()
        frame_stats0 = page.evaluate("() => ({...window.inklingBridge.frameStats})")
        strokes = 0
        while time.monotonic() - t0 < window_s:
            _cycle(page, clear, box, digit, strokes)
            strokes += 1
        after, wall = _metrics(cdp), time.monotonic() - t0
        data = page.evaluate("""() => { const B = window.__bench;
            return {downs: B.downs, shown: B.shown, longTasks: B.longTasks, frames: B.stopFrames(),
                    frameStats: {...window.inklingBridge.frameStats}, last: B.last}; }""")
        # The same cycle at a person's pace: one stroke a second.
        paced0, p0 = _metrics(cdp), time.monotonic()
        k = 0
        while time.monotonic() - p0 < window_s / 2:
            started = time.monotonic()
            _cycle(page, clear, box, digit, k)
            k += 1
            page.wait_for_timeout(max(0.0, PACED_EVERY_S - (time.monotonic() - started)) * 1000)
        paced = (_metrics(cdp)["TaskDuration"] - paced0["TaskDuration"]) / (time.monotonic() - p0)
        training = data["last"]["training"]
    latencies = []
    for down in data["downs"]:
        shown = next((t for t in data["shown"] if t >= down), None)
        if shown is not None:
            latencies.append(shown - down)
    frames = data["frames"] or []
    intervals = [b - a for a, b in zip(frames, frames[1:])]
    long_tasks = data["longTasks"]
    bridge_frames = data["frameStats"]["frames"] - frame_stats0["frames"]
    return {
        "strokes": strokes, "seconds": wall, "still_training": training,
        "long_tasks": len(long_tasks), "long_task_ms": sum(d for _, d in long_tasks),
        "longest_task_ms": max((d for _, d in long_tasks), default=0.0),
        "busy_share_idle": idle, "busy_share_training_no_drawing": training_only,
        "busy_share": (after["TaskDuration"] - before["TaskDuration"]) / wall,
        "busy_share_paced_drawing": paced,
        # The loop draws as fast as it can, so a cheaper page draws more strokes at much the same
        # busy share: what one clear-stroke-prediction cycle costs beyond training says more.
        "drawing_cycle_ms": (1000 * ((after["TaskDuration"] - before["TaskDuration"]) - training_only * wall) / strokes
                             if strokes else None),
        "script_share": (after["ScriptDuration"] - before["ScriptDuration"]) / wall,
        "frame_p50_ms": percentile(intervals, 50), "frame_p95_ms": percentile(intervals, 95),
        "frames_per_s": len(frames) / wall,
        "latency_p50_ms": percentile(latencies, 50), "latency_p95_ms": percentile(latencies, 95),
        "latency_samples": len(latencies),
        "bridge_frame_handler_ms_mean": ((data["frameStats"]["ms"] - frame_stats0["ms"]) / bridge_frames
                                         if bridge_frames else None),
    }


def run(bench: Bench) -> dict[str, Any]:
    """Train, and redraw cell 0 (clear, one stroke, wait for its prediction) for the window."""
    window_s = bench.settings.pick(5.0, 30.0)
    runs = [_one_run(bench, window_s) for _ in range(bench.settings.pick(1, min(bench.settings.runs, 2)))]
    keys = {"long_tasks": "count", "long_task_ms": "ms", "longest_task_ms": "ms", "busy_share": "share", "busy_share_idle": "share",
            "busy_share_training_no_drawing": "share",
            "script_share": "share", "frame_p50_ms": "ms", "frame_p95_ms": "ms", "frames_per_s": "fps",
            "latency_p50_ms": "ms", "latency_p95_ms": "ms", "latency_samples": "count", "strokes": "count",
            "drawing_cycle_ms": "ms", "busy_share_paced_drawing": "share",
            "bridge_frame_handler_ms_mean": "ms"}
    result: dict[str, Any] = {key: summary([r[key] for r in runs], unit) for key, unit in keys.items()}
    result["still_training_at_end"] = [r["still_training"] for r in runs]
    result["note"] = (f"{window_s:g} s of training while cell {CELL} is cleared and redrawn with one synthetic "
                      "mouse stroke after another (Playwright mouse = CDP input events); long tasks from "
                      "PerformanceObserver('longtask'); busy share = Chromium's TaskDuration metric of the "
                      "page's main thread over wall time; frame intervals from requestAnimationFrame; latency "
                      "= pointerdown event timeStamp on an empty cell -> its prediction appearing in the DOM; "
                      "drawing cycle = the drawing window's busy time beyond the training-only share, per "
                      f"stroke; paced = then {window_s / 2:g} s of one clear-and-stroke every {PACED_EVERY_S:g} s")
    return result


def rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the printed table."""
    return [
        ("long tasks (> 50 ms): count", result["long_tasks"]),
        ("long tasks: total ms", result["long_task_ms"]),
        ("main thread busy share: idle / training / +drawing",
         [result["busy_share_idle"], result["busy_share_training_no_drawing"], result["busy_share"]]),
        ("main thread per drawing cycle beyond training (ms) / strokes", [result["drawing_cycle_ms"], result["strokes"]]),
        ("main thread busy share: training + one stroke a second", result["busy_share_paced_drawing"]),
        ("frame interval p50 / p95 (ms)", [result["frame_p50_ms"], result["frame_p95_ms"]]),
        ("pointerdown -> prediction p50 / p95 (ms)", [result["latency_p50_ms"], result["latency_p95_ms"]]),
    ]
