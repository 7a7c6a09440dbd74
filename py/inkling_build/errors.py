"""The one exception every build step raises, so the command line reports them all the same way."""
from __future__ import annotations


class BuildError(Exception):
    """A build step failed; the message says what and how to fix it."""
