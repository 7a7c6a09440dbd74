"""Running the tests and the benchmarks against a fresh build: Chromium, test dependencies, pytest."""
from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from inkling_build.errors import BuildError
from inkling_build.fetcher import Fetcher
from inkling_build.pins import BENCH_PINS, TEST_PINS
from inkling_build.site import build_site
from inkling_build.workspace import Paths, build_lock, read_project

CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"
TEST_WORKERS = min(os.cpu_count() or 2, 8)  # pytest-xdist workers, one a core: see run_tests


def find_chromium() -> Path | None:
    """A Chromium to drive: $INKLING_CHROMIUM, the system one, else Playwright's if installed."""
    explicit = os.environ.get("INKLING_CHROMIUM")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            managed = Path(p.chromium.executable_path)
    except Exception:  # playwright missing or its driver broken: no managed browser then
        return None
    return managed if managed.is_file() else None


def chromium_missing_message() -> str:
    """What to do when no Chromium is found."""
    where = os.environ.get("INKLING_CHROMIUM")
    if where:
        return (f"INKLING_CHROMIUM={where} is not a file: point it at a Chromium executable or unset "
                f"it to use the system one (install it with: {CHROMIUM_INSTALL})")
    return ("No Chromium found (looked for /usr/bin/chromium, chromium on PATH and Playwright's own). "
            f"Install one: {CHROMIUM_INSTALL}")


def _missing_test_deps(paths: Paths) -> list[str]:
    project = read_project(paths.pyproject)
    wanted = [project["name"], *project.get("dependencies", []),
              *project.get("optional-dependencies", {}).get("test", [])]
    missing = []
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def ensure_test_deps(paths: Paths) -> None:
    """pip install -e '.[test]' when any test dependency is missing from this Python."""
    missing = _missing_test_deps(paths)
    if not missing:
        return
    print(f"missing {', '.join(missing)}: running pip install -e '.[test]'", flush=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-e", ".[test]"], cwd=paths.root)
    if result.returncode != 0:
        raise BuildError("pip install -e '.[test]' failed (see above): fix it, then run "
                         "`python build.py test` again")


def _built_with_chromium(paths: Paths, fetcher: Fetcher) -> Path:
    """What the tests and the benchmarks both need first: their dependencies, a fresh dist/, a Chromium.

    Returns:
        The Chromium to drive.
    Raises:
        BuildError: a dependency will not install, the build fails, or there is no Chromium.
    """
    ensure_test_deps(paths)
    with build_lock(paths.cache):
        build_site(paths, fetcher)
    chromium = find_chromium()
    if chromium is None:
        raise BuildError(chromium_missing_message())
    return chromium


def run_tests(paths: Paths, fetcher: Fetcher, pytest_args: Sequence[str]) -> int:
    """Build everything, then run pytest with INKLING_CHROMIUM and INKLING_DIST set, on parallel workers.

    Unless the arguments choose the workers themselves, pytest-xdist runs `TEST_WORKERS` workers, one a
    core. Alone, the suite kept 1.6 of a 2-core machine's cores busy (a page boots two Pyodide runtimes,
    a worker trains flat out); two workers there fill both cores, and a timer one test waits on is
    another's CPU time, while four only contended. A module whose tests share one page runs in one
    worker (tests/browser/conftest.py groups them). Prints the wall time, build included, at the end.

    Returns:
        pytest's exit code (5, "no tests collected", is reported as a failure).
    """
    started = time.monotonic()
    chromium = _built_with_chromium(paths, fetcher)
    with build_lock(paths.cache):
        fetcher.ensure_all(TEST_PINS)  # before the workers start, so they never fetch side by side
    env = {**os.environ, "INKLING_CHROMIUM": str(chromium), "INKLING_DIST": str(paths.dist)}
    # On 2 shared cores a multi-threaded OpenBLAS spins against Chromium and slows numpy 10-20x;
    # one thread also makes seeded runs repeatable. An explicit setting wins.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    print(f"running pytest with Chromium {chromium}", flush=True)
    command = [sys.executable, "-m", "pytest", *parallel_args(pytest_args), *pytest_args]
    code = subprocess.run(command, cwd=paths.root, env=env).returncode
    if code == 5:
        print("error: pytest collected no tests: check the paths and -k/-m arguments", file=sys.stderr)
    print(f"python build.py test: {time.monotonic() - started:.0f} s wall time, build included", flush=True)
    return code


def parallel_args(pytest_args: Sequence[str]) -> list[str]:
    """pytest-xdist's arguments for this run: none when ``pytest_args`` choose the workers or the
    distribution (``-n``, ``--numprocesses``, ``--dist``) or switch xdist off (``-p no:xdist``)."""
    if re.search(r"(^| )(-n|--numprocesses|--dist)( |=|\d|$)|no:xdist", " ".join(pytest_args)):
        return []
    # pytest-benchmark, where a machine has it, switches itself off under xdist with a warning from every
    # worker; this suite has no benchmark of that kind (the benchmarks are `python build.py bench`).
    return ["-n", str(TEST_WORKERS), "--dist", "loadgroup", "--no-loadscope-reorder", "-p", "no:benchmark"]


def run_bench(paths: Paths, fetcher: Fetcher, bench_args: Sequence[str]) -> int:
    """Build everything, then run tests/bench's runner (`--quick`, `--only NAME`, `--runs N`, `--out FILE`).

    Returns:
        The runner's exit code (1 if a benchmark failed; timings never fail it).
    """
    chromium = _built_with_chromium(paths, fetcher)
    try:
        fetcher.ensure_all(BENCH_PINS)
    except BuildError as error:  # the benchmarks that need these say so in their entries; the rest run
        print(f"bench: the pinned files of the TensorFlow.js comparison are missing: {error}", file=sys.stderr)
    command = [sys.executable, "-m", "tests.bench.runner", "--dist", str(paths.dist), "--chromium", str(chromium),
               *bench_args]
    return subprocess.run(command, cwd=paths.root).returncode
