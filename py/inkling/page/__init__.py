"""The page's thread (PyScript on the main thread): the grid, the controls, the views and the
worker's client. Its JS half is ``web/`` (``web/main.py`` starts `inkling.page.app`, and
``web/bridge.js`` is the glue it calls).

Only these modules, `inkling.worker` and `inkling.messages.wire` touch js, pyodide or pyscript, and each
imports them inside its functions, so the package still imports (and its pure parts run under
pytest) in plain CPython.

It may import every room of the core (`inkling.training` and what that stands on), never
`inkling.worker`.
"""
