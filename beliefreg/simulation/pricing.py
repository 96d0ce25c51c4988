"""Prices and cost estimates.

Prices are US dollars per million tokens (input, output) as published by OpenAI for its standard
tier (checked 2025; verify against the provider's price page, and pass ``prices=`` to a backend
to override or to price another server). Where no price is known, ``cost_usd`` is NaN, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Price", "OPENAI_PRICES", "price_for", "CostEstimate", "estimate_tokens"]


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        """Cost of one request in USD (NaN when a token count is unknown)."""
        if input_tokens is None or output_tokens is None:
            return math.nan
        return (input_tokens * self.input_per_million
                + output_tokens * self.output_per_million) / 1e6


#: Standard-tier prices of models that return log-probabilities, longest prefix first wins.
OPENAI_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}


def price_for(model: str, table: Mapping[str, Price | tuple[float, float]]) -> Price | None:
    """The price of ``model``: an exact entry, else the longest matching prefix
    (``"gpt-4o-2024-08-06"`` takes the ``"gpt-4o"`` price), else None."""
    def as_price(p: Price | tuple[float, float]) -> Price:
        return p if isinstance(p, Price) else Price(float(p[0]), float(p[1]))

    if model in table:
        return as_price(table[model])
    best = None
    for prefix in table:
        if model.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return None if best is None else as_price(table[best])


def estimate_tokens(text: str) -> int:
    """Rough token count of ``text`` (4 characters per token, the usual rule for English)."""
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class CostEstimate:
    """What a run will send and roughly cost, computed before sending anything.

    Attributes
    ----------
    n_requests : int
        Requests of the study (conditions x runs).
    n_cached : int
        Requests already answered in the store (not sent again).
    n_to_send : int
        Requests to send.
    input_tokens, output_tokens : int
        Estimated tokens of the requests to send (input: 4 characters per token plus 4 per
        message; output: ``max_tokens``, an upper bound).
    cost_usd : float
        Estimated cost in USD; NaN when the model's price is unknown; 0 for the local backend.
    price : Price or None
    model, backend : str
    """

    n_requests: int
    n_cached: int
    n_to_send: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    price: Price | None
    model: str
    backend: str
    paid: bool = False
    """Whether the backend charges (OpenAI's API, or a server given ``prices``)."""
    seconds: float | None = None
    """Expected wall time of the requests to send (local backend: measured per-request
    constants on a quiet 2-core machine; None when unknown)."""

    def __str__(self) -> str:
        cost = "unknown (no price for this model)" if math.isnan(self.cost_usd) \
            else f"about ${self.cost_usd:,.4f}"
        return (f"{self.backend}/{self.model}: {self.n_to_send} requests to send "
                f"({self.n_cached} of {self.n_requests} already stored), about "
                f"{self.input_tokens:,} input and at most {self.output_tokens:,} output tokens; "
                f"cost {cost}"
                + ("" if self.seconds is None else
                   f"; expected time about {_duration(self.seconds)} (a quiet 2-core machine; "
                   "longer under load)"))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
