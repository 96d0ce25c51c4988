"""The passes over the data of a binary fit, by kind (issue 16's benchmarks).

A pass is one call of ``beliefreg.models.bernoulli.evaluate``: over all n rows with the Hessian
(``"hessian"``), over all rows with the gradient only (``"gradient"``), or over the subsample
of the start (``"subsample"``, fewer rows).
"""

from __future__ import annotations

KINDS = ("hessian", "gradient", "subsample")


def pass_kind(rows: int, n: int, kwargs: dict) -> str:
    """The kind of an ``evaluate`` call over ``rows`` rows of a design of ``n`` rows."""
    if rows < n:
        return "subsample"
    return "hessian" if kwargs.get("with_info", True) else "gradient"


def count_passes(fit, n: int, *, plain: bool = False) -> dict[str, int]:
    """Call ``fit()`` and count its passes by kind; ``plain`` switches the reuse off (plain
    Newton steps, as before issue 16's fewer passes) for the call."""
    from beliefreg.models import bernoulli

    counts = dict.fromkeys(KINDS, 0)
    evaluate, threshold = bernoulli.evaluate, bernoulli.REUSE_MIN_ROWS

    def counted(y, *args, **kwargs):
        counts[pass_kind(len(y), n, kwargs)] += 1
        return evaluate(y, *args, **kwargs)

    bernoulli.evaluate = counted
    if plain:
        bernoulli.REUSE_MIN_ROWS = 10 ** 12
    try:
        fit()
    finally:
        bernoulli.evaluate, bernoulli.REUSE_MIN_ROWS = evaluate, threshold
    return counts
