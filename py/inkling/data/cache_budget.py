"""What a tab can afford to hold of training blocks: the memory budget of a cache, and the
refusal that names it when a cache size is beyond it."""

from __future__ import annotations

from typing import Sequence

from .blocks import HEADER, BlockEntry

# What the cache may hold of training blocks, cached and in flight. A tab runs two Python
# runtimes (page and worker) in 32-bit wasm; 64 MiB holds all of MNIST's training set
# (60 blocks, 47 MB) with room to spare, and leaves the heap to the network and the page.
MEMORY_BUDGET = 64 * 2**20


def block_bytes(entry: BlockEntry, rows: int, cols: int) -> int:
    """What one block of ``entry`` occupies while cached: its file, whose bytes the decoded arrays view."""
    return HEADER.size + entry.count * (rows * cols + 1)


def max_cache_size(entries: Sequence[BlockEntry], rows: int = 28, cols: int = 28,
                   budget: int = MEMORY_BUDGET) -> int:
    """The most blocks a cache over ``entries`` may hold within ``budget`` bytes (at least 1)."""
    return max(1, budget // max(block_bytes(e, rows, cols) for e in entries))


def size_refusal(cache_size: int, entries: Sequence[BlockEntry], rows: int = 28, cols: int = 28) -> str | None:
    """Why a cache of ``cache_size`` blocks over ``entries`` is more than a tab can afford (None if it is not)."""
    most = max_cache_size(entries, rows, cols)
    if cache_size <= most:
        return None
    block_kb = max(block_bytes(e, rows, cols) for e in entries) / 1000
    return (f"{cache_size} blocks are more than a tab can afford: at most {most} blocks of {block_kb:,.0f} KB "
            f"fit the {MEMORY_BUDGET // 2**20} MiB set aside for training data")
