"""startup: navigation -> page ready (the grid draws and predicts), worker ready and everything ready,
cold and warm, by stage; the floors: one bare Pyodide + numpy worker as published, and as the site ships it."""
from __future__ import annotations

from typing import Any

from .harness import FLOOR_PREFIX, STOCK_PYODIDE, Bench, Unavailable, summary, wait_ready

NAME = "startup"
# Times (ms since navigation) the probe records, in the order they happen.
MARKS = ("worker_runtime", "worker_numpy", "worker_package", "worker_data", "worker_ready",
         "page_python", "page_ready", "first_prediction", "all_ready")


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
        "page_ready_ms": span(None, "page_ready"),  # the grid draws and predicts
        "first_prediction_ms": span(None, "first_prediction"),
        "all_ready_ms": span(None, "all_ready"),  # status "ready": Start works, saved state restored
    }


def _load(page: Any) -> dict[str, float | None]:
    wait_ready(page)
    page.wait_for_function("() => ['first_prediction', 'page_ready'].every(s => s in window.__bench.stages)",
                           timeout=60_000)
    return _stages(page.evaluate("() => window.__bench.stages"))


def _floor(bench: Bench, workers: int, runtime: str) -> float:
    """ms from navigation until ``workers`` bare Pyodide + numpy workers, started at once, are all ready;
    ``runtime`` "stock" (Pyodide as published) or "site" (the site's copy, its Python as bytecode)."""
    with bench.context() as context:
        page = context.new_page()
        page.goto(bench.url + FLOOR_PREFIX.lstrip("/") + f"index.html?workers={workers}&runtime={runtime}")
        wait_ready(page)
        return page.evaluate("() => window.floorReadyAt")


def run(bench: Bench) -> dict[str, Any]:
    """Cold (fresh context) and warm (reload in it) loads per run, and the floor pages per run."""
    if not (STOCK_PYODIDE / "pyodide.mjs").is_file():
        raise Unavailable(f"Pyodide as published is not in {STOCK_PYODIDE}: run `python build.py` first")
    cold: list[dict[str, float | None]] = []
    warm: list[dict[str, float | None]] = []
    offline: list[dict[str, float | None]] = []
    floor: list[float] = []
    floor_site: list[float] = []
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
            # And with the network gone: every file from local storage, nothing else to wait for.
            context.set_offline(True)
            page.reload()
            offline.append(_load(page))
        floor.append(_floor(bench, 1, "stock"))
        floor_site.append(_floor(bench, 1, "site"))
        floor2.append(_floor(bench, 2, "site"))

    def by_stage(loads: list[dict[str, float | None]]) -> dict[str, Any]:
        return {key: summary([load[key] for load in loads], "ms") for key in loads[0]}

    ratios_ready = [c["page_ready_ms"] / f for c, f in zip(cold, floor) if c["page_ready_ms"]]
    ratios_worker = [c["worker_ready_ms"] / f for c, f in zip(cold, floor) if c["worker_ready_ms"]]
    ratios_all = [c["all_ready_ms"] / f for c, f in zip(cold, floor) if c["all_ready_ms"]]
    ratios_warm = [w["page_ready_ms"] / f for w, f in zip(warm, floor) if w["page_ready_ms"]]
    ratios_offline = [o["page_ready_ms"] / f for o, f in zip(offline, floor) if o["page_ready_ms"]]
    ratios_site = [c["page_ready_ms"] / f for c, f in zip(cold, floor_site) if c["page_ready_ms"]]
    # What the site's runtime files buy (its Python as bytecode), and, with them, what this machine's
    # cores allow two runtimes booting at once and what Inkling adds on top of that.
    ratios_runtime = [fs / f for fs, f in zip(floor_site, floor)]
    ratios_two = [f2 / f for f2, f in zip(floor2, floor_site)]
    ratios_over_two = [c["all_ready_ms"] / f2 for c, f2 in zip(cold, floor2) if c["all_ready_ms"]]
    return {
        "cold": by_stage(cold),
        "warm": by_stage(warm),
        "offline": by_stage(offline),
        "floor_bare_pyodide_numpy_ms": summary(floor, "ms"),
        "floor_site_runtime_ms": summary(floor_site, "ms"),
        "cold_page_ready_over_floor": summary(ratios_ready, "x"),
        "cold_worker_ready_over_floor": summary(ratios_worker, "x"),
        "cold_all_ready_over_floor": summary(ratios_all, "x"),
        "warm_page_ready_over_floor": summary(ratios_warm, "x"),
        "offline_page_ready_over_floor": summary(ratios_offline, "x"),
        "site_runtime_over_floor": summary(ratios_runtime, "x"),
        "cold_page_ready_over_site_runtime": summary(ratios_site, "x"),
        "floor_two_runtimes_ms": summary(floor2, "ms"),
        "two_site_runtimes_over_one": summary(ratios_two, "x"),
        "cold_all_ready_over_two_site_runtimes": summary(ratios_over_two, "x"),
        "note": "ms since navigation start; page ready = the grid draws and predicts (the worker may "
                "still load); all ready = status 'ready' (Start works); warm = the second visit (a reload "
                "in the same context once the service worker has kept the site: every file from local "
                "storage); offline = one more reload with the context offline; floor = a blank page "
                "whose worker boots Pyodide + numpy only, cold, from Pyodide's files as published; site "
                "runtime = the same from the site's copy (its Python compiled to bytecode); two runtimes = "
                "that page booting two such workers at once (Inkling boots two runtimes: the page's and "
                "the worker's)",
    }


def rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The lines of the printed table."""
    return [
        ("cold: page ready (grid draws and predicts)", result["cold"]["page_ready_ms"]),
        ("cold: worker ready", result["cold"]["worker_ready_ms"]),
        ("cold: all ready (status ready)", result["cold"]["all_ready_ms"]),
        ("cold: page runtime (main thread)", result["cold"]["page_runtime_ms"]),
        ("cold: worker runtime / numpy / wheel / 1st block",
         [result["cold"][k] for k in ("worker_runtime_ms", "worker_numpy_ms",
                                      "worker_inkling_wheel_ms", "worker_first_data_block_ms")]),
        ("cold: first prediction", result["cold"]["first_prediction_ms"]),
        ("warm: page ready / all ready", [result["warm"]["page_ready_ms"], result["warm"]["all_ready_ms"]]),
        ("offline: page ready / all ready", [result["offline"]["page_ready_ms"], result["offline"]["all_ready_ms"]]),
        ("floor: bare Pyodide + numpy worker", result["floor_bare_pyodide_numpy_ms"]),
        ("floor, the site's runtime files", result["floor_site_runtime_ms"]),
        ("cold page ready / floor", result["cold_page_ready_over_floor"]),
        ("cold worker ready / floor", result["cold_worker_ready_over_floor"]),
        ("cold all ready / floor", result["cold_all_ready_over_floor"]),
        ("warm page ready / floor", result["warm_page_ready_over_floor"]),
        ("offline page ready / floor", result["offline_page_ready_over_floor"]),
        ("site runtime / floor", result["site_runtime_over_floor"]),
        ("cold page ready / site runtime", result["cold_page_ready_over_site_runtime"]),
        ("two site runtimes at once / one", result["two_site_runtimes_over_one"]),
        ("cold all ready / two site runtimes at once", result["cold_all_ready_over_two_site_runtimes"]),
    ]
