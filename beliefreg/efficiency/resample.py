"""Random subsets of runs per condition, for R = 1, 2, ... in blocks.

The values of R are taken in blocks (1-16, 17-32, 33-64, ... doubling); within a block the
resamples are *nested*: resample *b* of R + 1 runs at a condition extends resample *b* of R runs
by one more run, so one random ordering per (resample, condition) serves the whole block and
condition sums are cumulative sums. Each resample of R runs is still a uniformly random subset
of R of the runs available (drawn without replacement, or with replacement if asked). Across
blocks the resamples are independent. Blocks let :func:`~beliefreg.efficiency.runs_needed` stop
early without drawing orderings of all the runs available.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["run_blocks", "draw_orderings"]

# Bound on the random keys drawn at once (rows x runs) when sampling without replacement.
_KEY_BUDGET = 4_000_000


def run_blocks(max_runs: int, first: int = 16) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` blocks of R: (1, 16), (17, 32), (33, 64), ... up to ``max_runs``."""
    lo, hi = 1, min(first, max_runs)
    while lo <= max_runs:
        yield lo, hi
        lo, hi = hi + 1, min(2 * hi, max_runs)


def _ordering_without_replacement(n_avail: int, n_boot: int, size: int,
                                  rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct positions in ``range(n_avail)`` per row, in random order."""
    out = np.empty((n_boot, size), dtype=np.intp)
    chunk = max(1, _KEY_BUDGET // max(n_avail, 1))
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        keys = rng.random((stop - start, n_avail))
        if size < n_avail:
            part = np.argpartition(keys, size - 1, axis=1)[:, :size]
            order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1)
            out[start:stop] = np.take_along_axis(part, order, axis=1)
        else:
            out[start:stop] = np.argsort(keys, axis=1)
    return out


def draw_orderings(available: Sequence[int], n_boot: int, size: int, rng: np.random.Generator,
                   *, replace: bool = False) -> list[np.ndarray]:
    """For each condition, ``(n_boot, size)`` positions into its runs.

    Row *b*'s first R entries are resample *b* of R runs at that condition, for every
    R <= ``size``.
    """
    if replace:
        return [rng.integers(0, n, size=(n_boot, size)) for n in available]
    return [_ordering_without_replacement(n, n_boot, size, rng) for n in available]
