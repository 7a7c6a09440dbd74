"""The benchmark runner end to end, briefly: `build.py bench --smoke --only throughput`'s runner (the quick
run with windows too short for figures, on the first of its network/batch configurations, in every engine).

No timing thresholds (machines are shared): only that every number it promises is there and positive.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ("784-128-10/b64",)  # what --smoke measures: the others are the same code at other sizes
NATIVE = ("native_samples_per_s", "native_step_only_samples_per_s", "fastest_over_numpy_engine")
ENGINES = ("numpy", "wasm simd128", "wasm relaxed-simd")
PER_ENGINE = ("browser_samples_per_s", "browser_over_native")


def test_the_throughput_bench_writes_every_number(dist_dir: Path, chromium_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    # A subprocess: Playwright's sync API cannot start inside this session, which has a browser open.
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.runner", "--smoke", "--only", "throughput", "--out", str(out),
         "--dist", str(dist_dir), "--chromium", str(chromium_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(out.read_text())
    entry = results["benchmarks"]["throughput"]
    assert entry["status"] == "ok", entry
    values = [(config, number, entry["result"][config][number]) for config in CONFIGS for number in NATIVE]
    values += [(config, f"{engine} {number}", entry["result"][config][engine][number])
               for config in CONFIGS for engine in ENGINES for number in PER_ENGINE]
    for config, number, value in values:
        assert value["median"] > 0 and value["min"] > 0 and value["max"] > 0, (config, number, value)
        assert len(value["runs"]) == 1
    # Each engine's page really ran that engine (the browser here has relaxed SIMD).
    assert entry["result"]["engines_shown"] == {engine: engine for engine in ENGINES}
    assert "browser / native" in done.stdout and "[wasm simd128]" in done.stdout  # the printed table
