"""build.py's code, one concern a module; build.py itself is only the command line.

    pins        every file that comes from elsewhere: version, sha256, sources (sources: their kinds)
    fetcher     getting pinned files into .cache/, hash-checked (files: hashing, atomic writes)
    data        data/: the MNIST blocks and manifest
    kernel      kernel.c compiled to WebAssembly with the pinned zig
    wheel       the inkling wheel, written directly
    site        assembling dist/
    server      serving dist/ with the site's headers
    runner      Chromium, test dependencies, and running pytest and the benchmarks
    workspace   the checkout's folders, pyproject.toml and the build lock (errors: BuildError)

Only the standard library is used, except that preparing data/ imports `inkling.data.blocks` (numpy).
This package is not installed with inkling nor shipped in its wheel (see pyproject.toml).
"""
