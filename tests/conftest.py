"""Shared test setup: the --run-slow option and access to build.py as a module."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_build() -> ModuleType:
    """Import ./build.py by path (the bare name `build` may belong to an installed package).

    Its work is done by py/inkling_build/ (import from there); build.py hands on the few names
    that tests/browser and tests/bench take from it. Loaded as `build_py`, not `inkling_build`:
    that name is the package's.
    """
    name = "build_py"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def build_py() -> ModuleType:
    """The build.py module."""
    return load_build()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (long soak tests)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that drive Chromium run last: while Playwright's sync API has the browser open, this
    # thread's asyncio loop counts as running, and asyncio.run() in a later test would fail.
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))
    # Slow tests are deselected (not skipped) unless asked for, by --run-slow or a -m naming them.
    if config.getoption("--run-slow") or "slow" in (config.getoption("markexpr") or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
