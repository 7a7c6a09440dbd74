"""The page's Python entry point (PyScript): everything it does lives in inkling.browser.app."""

from inkling.browser.app import main
from inkling.browser.diagnostics import install

app = main()
install(app.bridge)
