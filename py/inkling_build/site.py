"""Assembling dist/: the pinned runtime, the trimmed Pyodide lock, the wheel, data/ and the service worker."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from inkling_build.bytecode import STDLIB_PREFIX, Archive, compile_archives
from inkling_build.data import data_files, data_is_current, prepare_data
from inkling_build.errors import BuildError
from inkling_build.fetcher import Fetcher
from inkling_build.files import sha256_bytes, write_atomic
from inkling_build.kernel import build_kernel
from inkling_build.pins import LOCK_NAME, PYODIDE, PYSCRIPT, RUNTIME_PINS, SHIPPED_PACKAGES, UPLOT
from inkling_build.wheel import build_wheel
from inkling_build.workspace import Paths, read_project


class SiteWriter:
    """Writes files into dist/, skipping unchanged ones, and removes what was not written."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist
        self.written: set[str] = set()
        self.changed = 0

    def _claim(self, rel: str) -> Path:
        if rel in self.written:
            raise BuildError(f"two sources write dist/{rel}: rename one of them")
        self.written.add(rel)
        return self.dist / rel

    def copy(self, src: Path, rel: str) -> None:
        """Copy `src` to dist/`rel` unless an identical copy (same size and mtime) is there."""
        dst = self._claim(rel)
        stat = src.stat()
        with contextlib.suppress(FileNotFoundError):
            have = dst.stat()
            if have.st_size == stat.st_size and int(have.st_mtime) == int(stat.st_mtime):
                return
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
        self.changed += 1

    def write(self, rel: str, data: bytes) -> None:
        """Write `data` to dist/`rel` unless it already holds exactly these bytes."""
        dst = self._claim(rel)
        with contextlib.suppress(FileNotFoundError):
            if dst.stat().st_size == len(data) and dst.read_bytes() == data:
                return
        write_atomic(dst, data)
        self.changed += 1

    def copy_tree(self, src: Path, rel: str, skip: Iterable[str] = ()) -> None:
        """Copy every file under `src` (skipping hidden files, Python caches and the relative
        paths in `skip`) to dist/`rel`."""
        if not src.is_dir():
            return
        skipped = set(skip)
        for path in sorted(src.rglob("*")):
            parts = path.relative_to(src).parts
            if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in parts) \
                    and path.suffix != ".pyc" and "/".join(parts) not in skipped:
                self.copy(path, "/".join(filter(None, (rel, *parts))))

    def remove_stale(self) -> int:
        """Delete files in dist/ that this build did not write; returns how many."""
        removed = 0
        for path in sorted(self.dist.rglob("*"), reverse=True):
            rel = path.relative_to(self.dist).as_posix()
            if path.is_file() and rel not in self.written and ".tmp-" not in path.name:
                path.unlink()
                removed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        return removed


SERVICE_WORKER = "sw.js"
# The wheel's file name (it carries the version) is known to the build alone: the files that load
# the wheel say this instead, and the build fills the name in. By source folder (a `Paths` name).
WHEEL_PLACEHOLDER = "{{inkling_wheel}}"
NAME_THE_WHEEL = {"web": ("pyscript.json",), "workers": ("worker.js",)}
# The runtime's Python that every start imports, shipped as bytecode (inkling_build/bytecode.py); the
# other shipped packages (micropip, packaging) are not imported at start.
STDLIB = "pyodide/python_stdlib.zip"
COMPILED_WHEELS = ("numpy",)
PAGE = "index.html"  # its settings' inputs and stats are written in from the settings table


def write_the_settings(rel: str, text: bytes) -> bytes:
    """The page ``rel`` with every setting's input and stat written in (`inkling.page.settings_markup`).

    Raises:
        BuildError: The page has no place marked for them.
    """
    from inkling.page.settings_markup import fill_page  # the package's own table, from py/

    try:
        return fill_page(text.decode()).encode()
    except ValueError as error:
        raise BuildError(f"web/{rel}: {error}") from None


def name_the_wheel(rel: str, text: bytes, wheel: str) -> bytes:
    """Site file ``rel`` with the wheel's file name in place of `WHEEL_PLACEHOLDER`.

    Raises:
        BuildError: The file does not name the wheel that way (it would load a stale or missing one).
    """
    if WHEEL_PLACEHOLDER.encode() not in text:
        raise BuildError(f"{rel} must load the inkling wheel as '{WHEEL_PLACEHOLDER}' (the build fills in "
                         f"its file name, {wheel}); it does not")
    return text.replace(WHEEL_PLACEHOLDER.encode(), wheel.encode())


_PRECACHE = re.compile(r"/\* PRECACHE \*/.*?/\* END PRECACHE \*/", re.S)


def service_worker(dist: Path, site_files: Iterable[str], template: bytes) -> tuple[str, bytes]:
    """The site's service worker (web/sw.js) for ``site_files`` of ``dist``: (build id, its bytes).

    Every file but the service worker itself is listed with its sha256 in base64 (what the
    browser's integrity check takes); the build id is a hash of that list, so any changed
    file makes a new id, a new sw.js, and so an update the browser notices.
    """
    files = {rel: base64.b64encode(hashlib.sha256((dist / rel).read_bytes()).digest()).decode()
             for rel in sorted(site_files) if rel != SERVICE_WORKER}
    build = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    listing = json.dumps({"build": build, "files": files}, indent=1)
    text, found = _PRECACHE.subn(lambda _: f"/* PRECACHE */ {listing} /* END PRECACHE */", template.decode(), count=1)
    if not found:
        raise BuildError(f"web/{SERVICE_WORKER} has no /* PRECACHE */ ... /* END PRECACHE */ to fill in")
    return build, text.encode()


def trimmed_lock(full_lock: bytes, compiled: dict[str, bytes]) -> bytes:
    """Pyodide's lock file listing only SHIPPED_PACKAGES; a wheel in `compiled` ({file in dist: bytes})
    gets its new sha256 (Pyodide checks it), other entries are unchanged.

    Any other package then fails to load by name instead of reaching for a network.
    Raises:
        BuildError: the lock and the pinned wheels disagree.
    """
    lock = json.loads(full_lock)
    pinned = {pin.name: pin.sha256 for pin in RUNTIME_PINS}
    packages = {}
    for name in SHIPPED_PACKAGES:
        entry = lock["packages"][name]
        wheel = f"pyodide/{entry['file_name']}"
        if pinned.get(wheel) != entry["sha256"]:
            raise BuildError(f"pyodide-lock.json lists {name} as {entry['file_name']} with sha256 "
                             f"{entry['sha256']}, which is not a pinned wheel: fix RUNTIME_PINS in "
                             "py/inkling_build/pins.py")
        missing = set(entry["depends"]) - set(SHIPPED_PACKAGES)
        if missing:
            raise BuildError(f"{name} depends on {sorted(missing)}: add them to SHIPPED_PACKAGES")
        if wheel in compiled:
            entry = {**entry, "sha256": sha256_bytes(compiled[wheel])}
        packages[name] = entry
    return json.dumps({"info": lock["info"], "packages": packages}).encode()


def _runtime_wheels(fetched: dict[str, Path]) -> list[str]:
    """The pinned wheels of COMPILED_WHEELS (their file names carry versions and tags)."""
    wheels = [rel for rel in fetched for package in COMPILED_WHEELS
              if rel.startswith(f"pyodide/{package}-") and rel.endswith(".whl")]
    if len(wheels) != len(COMPILED_WHEELS):
        raise BuildError(f"expected one pinned wheel for each of {COMPILED_WHEELS}, found {wheels}")
    return wheels


def build_site(paths: Paths, fetcher: Fetcher) -> dict[str, object]:
    """Assemble dist/ (fetching pinned files and preparing data/ when needed).

    Returns:
        The build info written to dist/build-info.json.
    """
    started = time.monotonic()
    fetched = fetcher.ensure_all(RUNTIME_PINS)
    if not data_is_current(paths):
        prepare_data(paths, fetcher)
    if not (paths.web / "index.html").is_file():
        raise BuildError(f"{paths.web / 'index.html'} is missing: the site needs its page")
    kernel = build_kernel(paths, fetcher)
    name, wheel = build_wheel(paths.py, paths.pyproject, kernel)
    compiled = compile_archives(paths.cache, fetched[STDLIB].parent, {
        STDLIB: Archive(fetched[STDLIB].read_bytes(), sourceless=True, prefix=STDLIB_PREFIX),
        **{rel: Archive(fetched[rel].read_bytes(), sourceless=True) for rel in _runtime_wheels(fetched)},
        f"wheels/{name}": Archive(wheel, sourceless=False),
    }, fetcher.log)
    site = SiteWriter(paths.dist)
    for folder, prefix, later in (("web", "", [SERVICE_WORKER, PAGE]), ("workers", "workers", [])):  # sw.js: last
        source = getattr(paths, folder)
        site.copy_tree(source, prefix, skip=[*later, *NAME_THE_WHEEL[folder]])
        for file in NAME_THE_WHEEL[folder]:
            rel = "/".join(filter(None, (prefix, file)))
            site.write(rel, name_the_wheel(rel, (source / file).read_bytes(), name))
    site.write(PAGE, write_the_settings(PAGE, (paths.web / PAGE).read_bytes()))
    for pin in RUNTIME_PINS:
        if pin.name in compiled:
            site.write(pin.name, compiled[pin.name])
        elif pin.name != LOCK_NAME:
            site.copy(fetched[pin.name], pin.name)
    lock = trimmed_lock(fetched[LOCK_NAME].read_bytes(), compiled)
    site.write(LOCK_NAME, lock)
    site.write(f"wheels/{name}", compiled[f"wheels/{name}"])
    for rel in data_files(paths.data):
        site.copy(paths.data / rel, f"data/{rel}")
    info = {
        "inkling_wheel": f"wheels/{name}",
        "inkling_version": read_project(paths.pyproject)["version"],
        "inkling_wheel_sha256": sha256_bytes(compiled[f"wheels/{name}"]),
        "pyodide": PYODIDE.version,
        "pyscript": PYSCRIPT.version,
        "uplot": UPLOT.version,
        "pyodide_packages": {name: entry["version"] for name, entry in json.loads(lock)["packages"].items()},
        "data_manifest": "data/manifest.json",
        "kernel": {Path(arc).name: sha256_bytes(data) for arc, data in kernel.items()},
    }
    site.write("build-info.json", (json.dumps(info, indent=2) + "\n").encode())
    build, worker = service_worker(paths.dist, site.written, (paths.web / SERVICE_WORKER).read_bytes())
    site.write(SERVICE_WORKER, worker)
    removed = site.remove_stale()
    fetcher.log(f"dist/ ready: {len(site.written)} files ({site.changed} updated, {removed} removed), "
                f"build {build}, in {time.monotonic() - started:.1f} s")
    return info
