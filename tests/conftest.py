"""Shared test setup: the --run-slow option, the order tests run in, and access to build.py as a module."""
from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
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
                     help="run the long forms of the stress and soak tests (and any test marked slow)")


@pytest.fixture(scope="session")
def long_form(request: pytest.FixtureRequest) -> bool:
    """True under --run-slow: stress and soak tests run their long form, else a short one that checks the
    same things over less time (every run, CI's included, has the short form)."""
    return bool(request.config.getoption("--run-slow"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that drive Chromium first: they are the long ones, so parallel workers (pytest-xdist) that
    # take them first end together, the short CPython tests filling the gaps.
    items.sort(key=lambda item: "browser" not in getattr(item, "fixturenames", ()))
    # Slow tests are deselected (not skipped) unless asked for, by --run-slow or a -m naming them.
    if config.getoption("--run-slow") or "slow" in (config.getoption("markexpr") or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(autouse=True)
def _own_event_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that does not drive Chromium gets this thread's asyncio to itself.

    While Playwright's sync API holds the browser open (a session fixture, so for the rest of a worker's
    session once any browser test ran), it marks its own event loop as running in this thread, and
    `asyncio.run()` in a later CPython test would refuse to start. Such a test runs with that mark
    lifted, and Playwright gets it back afterwards (it is not called meanwhile).
    """
    borrowed = asyncio.events._get_running_loop()
    if borrowed is None or "browser" in request.fixturenames:
        yield
        return
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(borrowed)
