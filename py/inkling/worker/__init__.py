"""The training worker's thread (a Pyodide web worker): a Trainer wired to postMessage and fetch.

Its JS half is ``workers/worker.js``, which loads Pyodide and this package and calls
`inkling.worker.main.boot`. Everything it runs besides that adapter is the core in `inkling`,
which runs anywhere.

It may import every room of the core (`inkling.training` and what that stands on), never
`inkling.page`.
"""
