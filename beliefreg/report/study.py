"""The demo's study: the paper's diaper demand question at 16 prices, with shopper personas.

The paper (arXiv 2512.23184) asked GPT-4o, at temperature 1, whether it would buy Pampers
diapers at 16 price points. :func:`demand_study` builds the same design as a
:class:`~beliefreg.Study`: one condition per price, ``runs`` requests per price, the answer Yes
or No at the first generated token (the pivot).

Why personas
------------
With the pivot at the first generated token nothing is sampled before it, so the model belief
is the same in every run: one run gives it exactly, and a runs-needed comparison is degenerate
for belief (it needs one run). In the paper beliefs varied from run to run because tokens were
sampled before the pivot. Here each run draws a shopper persona (a household and a budget,
5 x 4 = 20 combinations) that is written into the question: a per-run latent state, like the
tokens sampled before the pivot, that moves the pivot distribution. Given the persona the
belief is exact; the choice is a draw from it. A short sampled reasoning before an ``Answer:``
anchor would let the model pick its own latent state, but it costs a generation of several
tokens per request on a CPU, and a 270M base model's reasoning means nothing.
``personas=False`` gives the degenerate version.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..simulation import Study

__all__ = ["DEFAULT_PRICES", "HOUSEHOLDS", "BUDGETS", "EXAMPLES", "demand_study",
           "parse_prices"]

#: The paper's 16 price points: 20 to 95 cents per diaper in steps of 5.
DEFAULT_PRICES: tuple[int, ...] = tuple(range(20, 100, 5))

#: Sampled per run (with :data:`BUDGETS`): who is shopping.
HOUSEHOLDS: tuple[str, ...] = (
    "a parent of a newborn",
    "a parent of twins",
    "a parent of a toddler",
    "a grandparent babysitting for a week",
    "a single parent",
)

#: Sampled per run (with :data:`HOUSEHOLDS`): the shopper's budget or attitude.
BUDGETS: tuple[str, ...] = (
    "money is tight",
    "you earn a comfortable income",
    "you always hunt for deals",
    "you buy only brands you trust",
)

#: Few-shot examples: a base model answers Yes/No after them (about 96% of the next-token
#: mass on Yes/No for the embedded model); one Yes, one No, purchase questions without prices,
#: so that they teach the answer format and not a response to price.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Would you buy a bag of fresh apples? Answer Yes or No.", "Yes"),
    ("Would you buy a broken umbrella? Answer Yes or No.", "No"),
)

_QUESTION = "Pampers diapers cost {price} cents per diaper. Would you buy a pack? Answer {choices}."
_PERSONA = "You are {household}, and {budget}. "


def demand_study(prices: Sequence[float] = DEFAULT_PRICES, *, runs: int = 10, seed: int = 0,
                 personas: bool = True, model: str | None = None) -> Study:
    """The demo's demand study: buy Pampers diapers at each price, Yes or No.

    Parameters
    ----------
    prices : sequence of numbers
        Prices in cents per diaper (one condition each).
    runs : int
        Requests per price.
    seed : int
        Seeds the personas and the sampled choices.
    personas : bool
        Draw a shopper persona per run (see the module docstring); False: the same question in
        every run, so that belief does not vary across runs.
    model : str, optional
        The model (default: the backend's).

    Returns
    -------
    Study

    Examples
    --------
    >>> study = demand_study(runs=3)
    >>> study.n_requests, study.temperature, study.pivot
    (48, 1.0, 'first')
    >>> print(demand_study([30], personas=False).prompt)
    Pampers diapers cost {price} cents per diaper. Would you buy a pack? Answer {choices}.
    """
    return Study(
        prompt=(_PERSONA if personas else "") + _QUESTION,
        choices={"yes": ["Yes"], "no": ["No"]},
        conditions={"price": [_number(p) for p in prices]},
        sampled={"household": list(HOUSEHOLDS), "budget": list(BUDGETS)} if personas else None,
        runs=runs,
        examples=list(EXAMPLES),
        temperature=1.0,
        max_tokens=1,
        pivot="first",
        seed=seed,
        model=model,
        name="beliefreg demo: diaper demand",
    )


def _number(p: float) -> int | float:
    """Whole prices as ints (the prompt says ``35 cents``, not ``35.0 cents``)."""
    p = float(p)
    return int(p) if p.is_integer() else p


def parse_prices(text: str) -> list[int | float]:
    """Prices from the command line: ``'20:95:5'`` (start:stop:step, stop included) or a list.

    Examples
    --------
    >>> parse_prices("20:95:5")[:3], len(parse_prices("20:95:5"))
    ([20, 25, 30], 16)
    >>> parse_prices("30, 45,60")
    [30, 45, 60]
    """
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(x) for x in text.split(":")]
            if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
                raise ValueError
            start, stop, step = parts
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            values = [start + i * step for i in range(n)]
        else:
            values = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise ValueError(f"prices must be 'start:stop:step' (e.g. 20:95:5) or a comma-separated "
                         f"list (e.g. 30,45,60); got {text!r}") from None
    if len(values) < 2 or any(not np.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"give at least two positive prices (the demand model regresses on "
                         f"log price); got {text!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"prices repeat in {text!r}")
    return [_number(round(v, 10)) for v in values]
