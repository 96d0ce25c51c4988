"""Probability mass per alternative from a partial list of token probabilities.

One function, :func:`alternative_mass`, is the single source of truth for how listed token
probabilities become ``raw``, ``upper_bound``, ``covered_mass`` and ``missing_mass``, for a
provider's top-k list (:func:`~beliefreg.belief.extract`) and for a backend's probability
subset (:func:`~beliefreg.belief.exact_belief` with a mapping).

.. math::

   \\text{raw}_a = \\sum_{t \\in L,\\ t \\in V_a} p_t, \\qquad
   \\text{upper}_a = \\text{raw}_a + \\min\\bigl((|V_a| - m_a)\\, p_{\\min},\\ 1 - \\sum_{t \\in L} p_t\\bigr)

where :math:`L` is the set of listed tokens, :math:`V_a` the token variants of alternative
:math:`a`, :math:`m_a` the number of its variants that are listed and :math:`p_{\\min}` the
smallest probability in the top-k list (every unlisted token is at most that, since the list
holds the *k* most likely tokens). Without a top-k list (only the sampled token known) the
per-token bound is dropped and only :math:`1 - \\sum_L p_t` remains.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["AlternativeMass", "alternative_mass", "SUM_TOLERANCE"]

#: Listed probabilities may sum to slightly more than one through float rounding (a full
#: llama.cpp list summed to 1.0001); beyond this the payload is inconsistent.
SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class AlternativeMass:
    """Listed mass per alternative and its bounds (see the module docstring)."""

    raw: dict[str, float]
    upper_bound: dict[str, float]
    covered_mass: float
    missing_mass: float
    listed_total: float
    p_min: float | None
    unlisted: tuple[str, ...]  # alternatives without any listed variant
    inconsistent: str | None  # why the listed probabilities cannot be right, or None


def alternative_mass(
    alternatives: tuple[str, ...],
    listed: Iterable[tuple[str | None, str, float]],
    *,
    n_variants: Mapping[str, int],
    p_min: float | None,
) -> AlternativeMass:
    """Sum listed token probabilities by alternative and bound the unlisted variants.

    Parameters
    ----------
    alternatives : tuple of str
        Alternative ids, in order.
    listed : iterable of (alternative or None, variant key, probability)
        One item per *distinct* known token: the alternative it stands for (None for other
        tokens), a key naming the variant (its canonical text), and its exact probability.
    n_variants : mapping of str to int
        Number of distinct variant keys that can stand for each alternative.
    p_min : float or None
        Upper bound on the probability of any unlisted token (smallest probability of a top-k
        list), or None when there is no such bound.

    Returns
    -------
    AlternativeMass

    Examples
    --------
    A top-3 list: " Yes" 0.5, "Yes" 0.2, " The" 0.1; "no" has 4 variants, none listed.

    >>> m = alternative_mass(("yes", "no"), [("yes", " Yes", 0.5), ("yes", "Yes", 0.2),
    ...     (None, " The", 0.1)], n_variants={"yes": 4, "no": 4}, p_min=0.1)
    >>> m.raw, m.unlisted
    ({'yes': 0.7, 'no': 0.0}, ('no',))
    >>> round(m.upper_bound["no"], 6), round(m.upper_bound["yes"], 6)  # min(4 x 0.1, 1 - 0.8)
    (0.2, 0.9)
    """
    # math.fsum: exactly rounded, so the order of the list never changes a digit
    parts: dict[str, list[float]] = {a: [] for a in alternatives}
    seen: dict[str, set[str]] = {a: set() for a in alternatives}
    every: list[float] = []
    for alt, key, p in listed:
        every.append(p)
        if alt is not None:
            parts[alt].append(p)
            seen[alt].add(key)
    raw = {a: math.fsum(parts[a]) for a in alternatives}
    total = math.fsum(every)
    inconsistent = None
    if total > 1.0 + SUM_TOLERANCE:
        inconsistent = f"the listed probabilities sum to {total:.6g} > 1"
    slack = max(0.0, 1.0 - total)
    upper: dict[str, float] = {}
    for a in alternatives:
        n_missing = max(0, n_variants[a] - len(seen[a]))
        if n_missing == 0:
            extra = 0.0
        elif p_min is None:
            extra = slack
        else:
            extra = min(n_missing * p_min, slack)
        upper[a] = min(1.0, raw[a] + extra)
    covered = math.fsum(raw.values())
    unlisted = tuple(a for a in alternatives if not seen[a])
    return AlternativeMass(
        raw=raw,
        upper_bound=upper,
        covered_mass=covered,
        missing_mass=max(0.0, 1.0 - covered),
        listed_total=total,
        p_min=p_min,
        unlisted=unlisted,
        inconsistent=inconsistent,
    )


def normalise(raw: Mapping[str, float], covered: float) -> dict[str, float]:
    """``raw / covered``, NaN for every alternative when ``covered`` is not positive."""
    if not covered > 0:
        return {a: math.nan for a in raw}
    return {a: v / covered for a, v in raw.items()}
