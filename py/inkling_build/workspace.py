"""The checkout the build works in: its folders, its pyproject.toml, and the lock that serializes builds."""
from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # this file is py/inkling_build/workspace.py


@dataclass(frozen=True)
class Paths:
    """Where the build reads and writes (the repository's folders by default)."""

    root: Path = ROOT
    cache: Path = ROOT / ".cache"
    dist: Path = ROOT / "dist"
    data: Path = ROOT / "data"

    @property
    def web(self) -> Path:
        """The page's own files."""
        return self.root / "web"

    @property
    def workers(self) -> Path:
        """The web workers' scripts."""
        return self.root / "workers"

    @property
    def py(self) -> Path:
        """The Python packages (the wheel is built from here)."""
        return self.root / "py"

    @property
    def pyproject(self) -> Path:
        """The project's name, version and dependencies."""
        return self.root / "pyproject.toml"


@contextlib.contextmanager
def build_lock(cache_dir: Path) -> Iterator[None]:
    """Serialize builds that share a cache (several shells or test runs on one checkout)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, builds are still atomic per file
        yield
        return
    with (cache_dir / "build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_pyproject(pyproject: Path) -> dict:
    """The whole of pyproject.toml."""
    with pyproject.open("rb") as f:
        return tomllib.load(f)


def read_project(pyproject: Path) -> dict:
    """The [project] table of pyproject.toml."""
    return read_pyproject(pyproject)["project"]
