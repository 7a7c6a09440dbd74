"""A value other than the default for every setting of the table: what the tests of the table (the
unit one and the browser one) take each row through. A new setting needs its sample here."""
from __future__ import annotations

from typing import Any

SAMPLES: dict[str, Any] = {"optimizer": "adam", "lrate": 0.002, "lr_decay": 0.9, "weight_decay": 0.0005,
                           "batch_size": 48, "cache_size": 5, "augment": True, "workers": 2, "hidden": (64, 32),
                           "seed": 7}
