#!/usr/bin/env python3
"""Build, serve and test Inkling's static site: a pinned, offline, self-contained `dist/`.

Usage:
    python build.py                 assemble dist/ (fetching pinned files into .cache/ if needed)
    python build.py data            prepare only data/ (MNIST blocks + manifest) from the pinned IDX files
    python build.py serve [--port N]  build if needed, then serve dist/ on http://127.0.0.1:N/
    python build.py test [ARGS...]  build, find Chromium, run pytest (ARGS are passed through)
Add --offline (or set INKLING_OFFLINE=1) to build from the cache alone.

This file is only the command line; the work is done by the modules of py/inkling_build/. Every
file that comes from elsewhere is listed once, in py/inkling_build/pins.py, with its sha256 and
the sources to try in order. Only the standard library is used here, except that preparing
data/ imports `inkling.data.blocks` (which needs numpy) from ./py.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Run as `python build.py` from a fresh checkout: nothing is installed yet, so py/ goes on the path.
_PY = str(Path(__file__).resolve().parent / "py")
if _PY not in sys.path:
    sys.path.insert(0, _PY)

from inkling_build.data import prepare_data  # noqa: E402 (needs py/ on the path)
from inkling_build.errors import BuildError  # noqa: E402
from inkling_build.fetcher import Fetcher  # noqa: E402
from inkling_build.runner import run_bench, run_tests  # noqa: E402
from inkling_build.server import serve  # noqa: E402
from inkling_build.site import build_site  # noqa: E402
from inkling_build.workspace import Paths, build_lock  # noqa: E402

# Not used here: tests/browser and tests/bench load build.py (the `build_py` fixture, `load_build`)
# and take the server, the service worker and Chromium from it.
from inkling_build.pins import AXE_PIN  # noqa: E402, F401
from inkling_build.runner import chromium_missing_message, find_chromium  # noqa: E402, F401
from inkling_build.server import SiteHandler, SiteServer  # noqa: E402, F401
from inkling_build.site import SERVICE_WORKER, service_worker  # noqa: E402, F401


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0..65535; 0 picks a free one)")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Build, serve and test Inkling's static site.",
        epilog="`python build.py test [ARGS...]` builds, then runs pytest ARGS (slow tests need --run-slow). "
               "`python build.py bench [--quick] [--only NAME] [--runs N] [--out FILE]` builds, then runs the "
               "benchmarks (tests/bench/) and writes bench-results.json.")
    parser.add_argument("command", nargs="?", default="build", choices=("build", "data", "serve"))
    parser.add_argument("--port", type=_port, default=8000, help="port for `serve` (0: any free port)")
    parser.add_argument("--offline", action="store_true",
                        help="use only the cache; never run npm, pip or download (also INKLING_OFFLINE=1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a build.py command; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    paths = Paths()
    offline = os.environ.get("INKLING_OFFLINE", "") not in ("", "0")
    try:
        if argv[:1] == ["test"]:  # everything after `test` belongs to pytest
            with Fetcher(paths.cache, network=not offline) as fetcher:
                return run_tests(paths, fetcher, argv[1:])
        if argv[:1] == ["bench"]:  # everything after `bench` belongs to tests/bench's runner
            with Fetcher(paths.cache, network=not offline) as fetcher:
                return run_bench(paths, fetcher, argv[1:])
        args = _parser().parse_args(argv)
        with Fetcher(paths.cache, network=not (offline or args.offline)) as fetcher:
            if args.command == "serve":
                serve(paths, fetcher, args.port)
            else:
                with build_lock(paths.cache):
                    if args.command == "data":
                        prepare_data(paths, fetcher)
                    else:
                        build_site(paths, fetcher)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
