"""``python -m inkling``: see `inkling.cli`."""

from .cli import main

raise SystemExit(main())
