"""The build compiles the Python every start imports to bytecode, with the pinned Pyodide under Node."""
from __future__ import annotations

import _imp
import io
import zipfile
from pathlib import Path

import pytest

from inkling_build import bytecode
from inkling_build.bytecode import STDLIB_PREFIX, Archive, compile_archives
from inkling_build.errors import BuildError
from inkling_build.fetcher import Fetcher
from inkling_build.pins import RUNTIME_PINS
from inkling_build.workspace import Paths, build_lock

PYTHON_312_MAGIC = (3531).to_bytes(2, "little") + b"\r\n"  # Pyodide 0.27 runs CPython 3.12
UNCHECKED_HASH = (1).to_bytes(4, "little")  # hash-based, and the source is not read to check it
SOURCE = b"VALUE = 6 * 7\n"


@pytest.fixture(scope="module")
def pyodide_dir() -> Path:
    """The pinned Pyodide, as the build fetched it (fetching if needed)."""
    paths = Paths()
    with Fetcher(paths.cache) as fetcher, build_lock(paths.cache):
        fetched = fetcher.ensure_all(RUNTIME_PINS)
    return fetched["pyodide/pyodide.mjs"].parent


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_sources_become_bytecode_of_pyodides_python_that_loads_without_its_source(
        pyodide_dir: Path, tmp_path: Path) -> None:
    inputs = {"pkg/mod.py": SOURCE, "pkg/data.txt": b"kept as it is", "pkg/broken.py": b"def (:\n"}
    out = compile_archives(tmp_path, pyodide_dir, {
        "lib.zip": Archive(_zip(inputs), sourceless=True, prefix=STDLIB_PREFIX),
        "app.whl": Archive(_zip(inputs), sourceless=False),
    }, log=lambda _: None)

    lib = _files(out["lib.zip"])
    assert set(lib) == {"pkg/mod.pyc", "pkg/data.txt", "pkg/broken.py"}  # what does not compile stays source
    pyc = lib["pkg/mod.pyc"]
    assert pyc[:4] == PYTHON_312_MAGIC and pyc[4:8] == UNCHECKED_HASH
    # The hash of this source, as Python 3.12 keys it (by its magic number), not this Python's.
    assert pyc[8:16] == _imp.source_hash(int.from_bytes(PYTHON_312_MAGIC, "little"), SOURCE)
    assert lib["pkg/data.txt"] == b"kept as it is"

    app = _files(out["app.whl"])  # inkling's own: the source stays beside, for readable tracebacks
    assert app["pkg/mod.py"] == SOURCE
    assert app["pkg/__pycache__/mod.cpython-312.pyc"][:8] == PYTHON_312_MAGIC + UNCHECKED_HASH
    assert "pkg/__pycache__/broken.cpython-312.pyc" not in app


def test_compiled_once_per_input_then_read_from_the_cache(pyodide_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    archives = {"a.whl": Archive(_zip({"a.py": SOURCE}), sourceless=False)}
    logs: list[str] = []
    first = compile_archives(tmp_path, pyodide_dir, archives, log=logs.append)
    assert len(logs) == 1 and "bytecode: a.whl (1 modules)" in logs[0]
    monkeypatch.setattr(bytecode.shutil, "which", lambda _name: None)  # no Node: only the cache can answer
    assert compile_archives(tmp_path, pyodide_dir, archives, log=logs.append) == first
    assert len(logs) == 1

    changed = {"a.whl": Archive(_zip({"a.py": b"VALUE = 1\n"}), sourceless=False)}
    with pytest.raises(BuildError, match=r"node is not installed.*Node\.js"):
        compile_archives(tmp_path, pyodide_dir, changed, log=logs.append)
