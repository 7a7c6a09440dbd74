"""Runs Inkling's benchmarks: `python build.py bench [--quick] [--only NAME] [--runs N] [--out FILE]`.

Each benchmark drives the built site in Chromium and returns a JSON-able dict; everything lands in
one JSON file and a short table is printed. A benchmark that cannot run (or fails) says why in its
entry instead of being dropped. Benchmarks are not tests: nothing here passes or fails on a time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import (bench_convnet, bench_data_pipeline, bench_drawn_digits, bench_kernel, bench_main_thread,
               bench_memory, bench_startup, bench_throughput, bench_time_to_accuracy, bench_workers)
from .harness import ROOT, Bench, Settings, Unavailable, load_build

BENCHMARKS = {m.NAME: m for m in (bench_startup, bench_throughput, bench_convnet, bench_kernel, bench_time_to_accuracy,
                                  bench_drawn_digits, bench_main_thread, bench_data_pipeline, bench_memory,
                                  bench_workers)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build.py bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter windows (< 3 min)")
    parser.add_argument("--smoke", action="store_true",
                        help="--quick with windows too short for figures (throughput: its first configuration only): "
                             "only checks that every number is written")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--runs", type=int, help="runs per benchmark (default: 1 quick, 3 full; "
                        "time_to_accuracy and memory default to 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results.json", help="the JSON file to write")
    parser.add_argument("--dist", type=Path, default=Path(os.environ.get("INKLING_DIST", ROOT / "dist")))
    parser.add_argument("--chromium", type=Path, default=os.environ.get("INKLING_CHROMIUM"))
    return parser


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " / ".join(_cell(v) for v in value)
    if not isinstance(value, dict) or value.get("median") is None:
        return "n/a"
    unit = value.get("unit", "")

    def fmt(x: float) -> str:
        if unit == "ms":
            return f"{x / 1000:.2f} s" if x >= 1000 else f"{x:.0f} ms"
        number = f"{x:.3g}" if unit in ("x", "share", "acc") or abs(x) < 10 else f"{x:,.0f}"
        return f"{number} {unit}"

    if value["min"] == value["max"]:
        return fmt(value["median"])
    return f"{fmt(value['median'])} ({fmt(value['min'])} - {fmt(value['max'])})"


def table(results: dict[str, Any]) -> str:
    """The short printed table: one line per headline number, median (min-max)."""
    lines = [f"{'benchmark':<16} {'measure':<52} median (min-max)", "-" * 100]
    for name, entry in results["benchmarks"].items():
        if entry.get("status") != "ok":
            lines.append(f"{name:<16} {entry.get('status')}: {entry.get('reason', '')[:160]}")
            continue
        for label, value in BENCHMARKS[name].rows(entry["result"]):
            lines.append(f"{name:<16} {label:<52} {_cell(value)}")
    return "\n".join(lines)


def run(names: Sequence[str], settings: Settings) -> dict[str, Any]:
    """Run the named benchmarks in one browser; every entry has a status (ok/unavailable/failed)."""
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_avg_at_start": _load()},
        "quick": settings.quick, "smoke": settings.smoke, "runs": settings.runs, "benchmarks": {},
    }
    with Bench(settings) as bench:
        results["machine"]["chromium"] = bench.browser.version
        for name in names:
            started = time.monotonic()
            print(f"[bench] {name} ...", flush=True)
            try:
                entry = {"status": "ok", "result": BENCHMARKS[name].run(bench)}
            except Unavailable as exc:
                entry = {"status": "unavailable", "reason": str(exc)}
            except Exception as exc:  # a broken benchmark is reported, the others still run
                entry = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc()}
            entry["seconds"] = round(time.monotonic() - started, 1)
            print(f"[bench] {name}: {entry['status']} in {entry['seconds']} s", flush=True)
            results["benchmarks"][name] = entry
            bench.server.data_delay_s = 0.0
    results["machine"]["load_avg_at_end"] = _load()
    return results


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run, write the JSON, print the table; 1 if a benchmark failed."""
    args = _parser().parse_args(argv)
    chromium = args.chromium or load_build().find_chromium()
    if chromium is None:
        print(f"error: {load_build().chromium_missing_message()}", file=sys.stderr)
        return 1
    if not (args.dist / "index.html").is_file():
        print(f"error: {args.dist} holds no built site: run `python build.py`", file=sys.stderr)
        return 1
    quick = args.quick or args.smoke
    settings = Settings(quick=quick, runs=args.runs or (1 if quick else 3), dist=args.dist,
                        chromium=Path(chromium), long_runs=args.runs or 1, smoke=args.smoke)
    names = args.only or list(BENCHMARKS)
    results = run(names, settings)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"wrote {args.out}")
    return 0 if all(e["status"] != "failed" for e in results["benchmarks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
