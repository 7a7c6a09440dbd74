"""Training: what trains and what each setting means (`learner`, `safeguard` against divergence), the
worker's state machine over commands (`trainer`) and what it says (`reporter`, paced by `pacing`,
with `throughput`), evaluation on the test set (`evaluation`) and the recipes (`recipes`).

It imports `inkling.network`, `inkling.data`, `inkling.messages` and `inkling.errors`: the page, the
worker and the command line stand on it, and it knows none of them.
"""
