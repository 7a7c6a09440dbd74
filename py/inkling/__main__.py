"""``python -m inkling``: see `inkling.cli`."""

import os

# One BLAS thread: the matrices of a small MLP gain nothing from more, and on a busy
# machine OpenBLAS's spinning threads made training 10-20x slower. Set before numpy
# loads (importing `inkling` does not load it); an explicit setting wins.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from .cli import main  # noqa: E402 - after the thread settings, on purpose

raise SystemExit(main())
