"""The exceptions Inkling raises: one per kind of bad input, each saying what to fix."""

from __future__ import annotations


class InklingError(Exception):
    """Base class of every error Inkling raises on purpose."""


class ProtocolError(InklingError):
    """A wire message (command or signal) has a missing, extra or invalid field.

    Attributes:
        field: The dotted name of the offending field (``"lrate"``,
            ``"weights.W1.data"``), ``"type"`` for an unknown message type, or
            ``"command"`` when the message is not a dict at all.
        reason: What is wrong with it and what is expected instead.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class WeightsError(InklingError):
    """Weights cannot be used: wrong names, shapes, dtype, non-finite values or a bad file.

    Attributes:
        name: The array (``"W1"``) or file the problem is in, when known.
    """

    def __init__(self, message: str, name: str | None = None) -> None:
        self.name = name
        super().__init__(message)


class DataError(InklingError):
    """A data file (block, manifest, IDX) is missing, malformed or fails its sha256.

    Attributes:
        file: The file the problem is in, when known.
    """

    def __init__(self, message: str, file: str | None = None) -> None:
        self.file = file
        super().__init__(message)


class SavedStateError(InklingError):
    """A record saved in the browser (weights and settings) is damaged or of another format version.

    Attributes:
        version: The format version the record says it has, when it is another one than this
            Inkling reads; None when the record is damaged.
    """

    def __init__(self, message: str, version: int | None = None) -> None:
        self.version = version
        super().__init__(message)
