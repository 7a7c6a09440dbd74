"""The page's Python entry point (PyScript): everything it does lives in inkling.page.app."""

from inkling.page.app import main
from inkling.page.diagnostics import install

app = main()
install(app.bridge)
