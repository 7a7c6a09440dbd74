"""The images the network learns from and reads: MNIST's blocks and their manifest (`blocks`),
fetching them (`block_fetcher`, `prefetch`, within `cache_budget`), the sample cache that training draws batches from
(`cache`), and a drawing made MNIST-like (`drawing`).

It imports nothing of Inkling but `inkling.errors`: it knows no network, message or page.
"""
