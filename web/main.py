"""Page entry point: runs in PyScript on the main thread."""
from __future__ import annotations

import numpy as np
import inkling
from pyscript import document

document.querySelector("[data-testid=status]").textContent = "ready"
