"""startup: navigation -> page ready and worker ready, cold and warm, by stage; the bare-Pyodide floor."""
from __future__ import annotations

from typing import Any

from .harness import FLOOR_PREFIX, Bench, summary, wait_ready

NAME = "startup"
# Times (ms since navigation) the probe records, in the order they happen.
MARKS = ("worker_runtime", "worker_numpy", "worker_package", "worker_data", "worker_ready",
         "page_python", "page_ready", "first_prediction")


def _stages(marks: dict[str, float]) -> dict[str, float | None]:
    """Durations of each stage from the marks (ms); None when a mark is missing."""
    def span(a: str | None, b: str) -> float | None:
        if b not in marks or (a is not None and a not in marks):
            return None
        return marks[b] - (marks[a] if a else 0.0)

    return {
        "page_runtime_ms": span(None, "page_python"),  # PyScript + Pyodide + numpy + wheel, main thread
        "worker_start_ms": span(None, "worker_runtime"),  # navigation -> worker script running
        "worker_runtime_ms": span("worker_runtime", "worker_numpy"),
        "worker_numpy_ms": span("worker_numpy", "worker_package"),
        "worker_inkling_wheel_ms": span("worker_package", "worker_data"),
        "worker_first_data_block_ms": span("worker_data", "worker_ready"),
        "worker_ready_ms": span(None, "worker_ready"),
        "page_ready_ms": span(None, "page_ready"),
        "first_prediction_ms": span(None, "first_prediction"),
    }


def _load(page: Any) -> dict[str, float | None]:
    wait_ready(page)
    page.wait_for_function("() => 'first_prediction' in window.__bench.stages", timeout=60_000)
    return _stages(page.evaluate("() => window.__bench.stages"))


def _floor(bench: Bench, workers: int) -> float:
    """ms from navigation until ``workers`` bare Pyodide + numpy workers, started at once, are all ready."""
    with bench.context() as context:
        page = context.new_page()
        page.goto(bench.url + FLOOR_PREFIX.lstrip("/") + f"index.html?workers={workers}")
        wait_ready(page)
        return page.evaluate("() => window.floorReadyAt")


def run(bench: Bench) -> dict[str, Any]:
    """Cold (fresh context) and warm (reload in it) loads per run, and the floor page per run."""
    cold: list[dict[str, float | None]] = []
    warm: list[dict[str, float | None]] = []
    floor: list[float] = []
    floor2: list[float] = []
    for _ in range(bench.settings.runs):
        with bench.context(service_workers="allow") as context:
            page = context.new_page()
            page.goto(bench.url)
            cold.append(_load(page))
            # The second visit: once the service worker has kept the site, the page starts from it.
            page.evaluate("() => { navigator.serviceWorker.ready.then(() => { window.__kept = true; }); }")
            page.wait_for_function("() => window.__kept === true", timeout=120_000)
            page.reload()
            warm.append(_load(page))
        floor.append(_floor(bench, 1))
        floor2.append(_floor(bench, 2))

    def by_stage(loads: list[dict[str, float | None]]) -> dict[str, Any]:
        return {key: summary([load[key] for load in loads], "ms") for key in loads[0]}

    ratios_ready = [c["page_ready_ms"] / f for c, f in zip(cold, floor) if c["page_ready_ms"]]
    ratios_worker = [c["worker_ready_ms"] / f for c, f in zip(cold, floor) if c["worker_ready_ms"]]
    ratios_warm = [w["page_ready_ms"] / f for w, f in zip(warm, floor) if w["page_ready_ms"]]
    # cold / floor = (two bare runtimes / one) x (cold / two bare runtimes): what this machine's cores
    # allow two runtimes booting at once, and what Inkling adds on top of that.
    ratios_two = [f2 / f for f2, f in zip(floor2, floor)]
    ratios_over_two = [c["page_ready_ms"] / f2 for c, f2 in zip(cold, floor2) if c["page_ready_ms"]]
    return {
        "cold": by_stage(cold),
        "warm": by_stage(warm),
        "floor_bare_pyodide_numpy_ms": summary(floor, "ms"),
        "cold_page_ready_over_floor": summary(ratios_ready, "x"),
        "cold_worker_ready_over_floor": summary(ratios_worker, "x"),
        "warm_page_ready_over_floor": summary(ratios_warm, "x"),
        "floor_two_runtimes_ms": summary(floor2, "ms"),
        "two_runtimes_over_floor": summary(ratios_two, "x"),
        "cold_page_ready_over_two_runtimes": summary(ratios_over_two, "x"),
        "note": "ms since navigation start; warm = the second visit (a reload in the same context once "
                "the service worker has kept the site: every file from local storage); floor = a blank "
                "page whose worker boots Pyodide + numpy only, cold; two runtimes = the same page booting "
                "two such workers at once (Inkling boots two runtimes: the page's and the worker's)",
    }


def rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The lines of the printed table."""
    return [
        ("cold: page ready", result["cold"]["page_ready_ms"]),
        ("cold: worker ready", result["cold"]["worker_ready_ms"]),
        ("cold: page runtime (main thread)", result["cold"]["page_runtime_ms"]),
        ("cold: worker runtime / numpy / wheel / 1st block",
         [result["cold"][k] for k in ("worker_runtime_ms", "worker_numpy_ms",
                                      "worker_inkling_wheel_ms", "worker_first_data_block_ms")]),
        ("cold: first prediction", result["cold"]["first_prediction_ms"]),
        ("warm: page ready", result["warm"]["page_ready_ms"]),
        ("floor: bare Pyodide + numpy worker", result["floor_bare_pyodide_numpy_ms"]),
        ("cold page ready / floor", result["cold_page_ready_over_floor"]),
        ("warm page ready / floor", result["warm_page_ready_over_floor"]),
        ("two bare runtimes at once / floor", result["two_runtimes_over_floor"]),
        ("cold page ready / two bare runtimes at once", result["cold_page_ready_over_two_runtimes"]),
    ]
