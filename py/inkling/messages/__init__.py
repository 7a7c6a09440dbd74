"""What crosses a boundary as data: the settings table (`tunables`) and the field checks every value
passes (`checks`), the commands and signals built from them (`commands`, `signals`), the one place
they become dicts (`protocol`) and JS objects (`wire`, the only module here that touches ``js``,
inside its functions), the values they carry (`confusion`), and the record the page keeps in the
browser (`saved_state`, with its `curve`).

It imports `inkling.network` (layer limits, weight names, optimizer and engine names) and
`inkling.errors`, nothing above: no training, page or worker.
"""
