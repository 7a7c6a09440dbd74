"""Browser adapters: the only inkling modules that touch js, pyodide or pyscript.

Each module imports those names inside its functions, so the package still
imports (and its pure parts run under pytest) in plain CPython.
"""
