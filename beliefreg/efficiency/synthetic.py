r"""A synthetic respondent with known demand, for Monte Carlo studies (it is not a language model).

It imitates the structure the paper describes, with numbers we choose: each run draws a latent
state (standing in for the tokens an LLM samples before the pivot token), the latent state sets
the probability of "yes" at the pivot (the *belief* *b*), and the *choice* is a Bernoulli draw
with probability *b*. The true demand is, in closed form,

.. math::

   m(p) = E[b \mid p] = P(\text{choice} = \text{yes} \mid p) = \Lambda(a + \beta \log p),

so a fractional logit of belief and a logit of choice on :math:`\log p` are both correctly
specified, with the same true price coefficient :math:`\beta`. Two latent distributions are
offered, both with mean :math:`m` and variance :math:`m(1-m)/(\kappa+1)`:

* ``latent='beta'``: :math:`b \sim \mathrm{Beta}(\kappa m, \kappa(1-m))`;
* ``latent='two_point'``: a "lean" :math:`D \sim \mathrm{Bernoulli}(m)` is drawn and
  :math:`b = (1-t) m + t D` with :math:`t = 1/\sqrt{\kappa+1}`. The mean belief of *R* runs is
  then :math:`(1-t) m + t H / R` with :math:`H` binomial (hypergeometric when resampling
  from a finite panel), so its sampling distribution is known exactly.

Since :math:`\mathrm{Var}(\text{choice} \mid p) = m(1-m)`, the variance ratio of the measures
is :math:`\kappa + 1` at every price, and so is the asymptotic variance ratio of the two price
coefficients (the belief QMLE's sandwich is the logit's inverse information divided by
:math:`\kappa + 1`; :meth:`SyntheticRespondent.asymptotic_cov`). Large :math:`\kappa` mimics a
pivot with little before it (:math:`\kappa = \infty`: the belief is the same in every run);
small :math:`\kappa` a long sampled reasoning that nearly settles the answer before the pivot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["SyntheticRespondent"]

LatentKind = Literal["beta", "two_point"]


class SyntheticRespondent:
    r"""A synthetic respondent with demand :math:`\Lambda(a + \beta \log p)` (not an LLM).

    Parameters
    ----------
    intercept : float
        *a*.
    slope : float
        :math:`\beta`, the coefficient of :math:`\log p` (the true price coefficient).
    precision : float
        :math:`\kappa > 0` (may be ``inf``): the belief varies across runs with variance
        :math:`m(1-m)/(\kappa+1)`; the choice with :math:`m(1-m)`.
    latent : {'beta', 'two_point'}
        The distribution of the latent state (module docstring).
    alternatives : tuple of str
        The ids of the "buy" and "don't buy" alternatives.

    Examples
    --------
    >>> from beliefreg.efficiency import SyntheticRespondent
    >>> r = SyntheticRespondent(10.6, -2.8, precision=18)
    >>> round(float(r.demand(40)), 4), r.variance_ratio
    (0.5674, 19.0)
    >>> panel = r.panel([20, 40, 60], runs=3, seed=0)
    >>> list(panel.columns[:6])
    ['price', 'condition_id', 'run', 'choice', 'belief_yes', 'belief_no']
    """

    def __init__(self, intercept: float, slope: float, *, precision: float = 18.0,
                 latent: LatentKind = "beta",
                 alternatives: tuple[str, str] = ("yes", "no")) -> None:
        for name, v in (("intercept", intercept), ("slope", slope)):
            if not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v}")
        if not precision > 0:
            raise ValueError(f"precision must be positive (or inf), got {precision}")
        if latent not in ("beta", "two_point"):
            raise ValueError(f"latent must be 'beta' or 'two_point', got {latent!r}")
        if len(alternatives) != 2 or alternatives[0] == alternatives[1]:
            raise ValueError(f"alternatives must be two distinct ids, got {alternatives!r}")
        self.intercept = float(intercept)
        self.slope = float(slope)
        self.precision = float(precision)
        self.latent: LatentKind = latent
        self.alternatives = tuple(alternatives)

    def __repr__(self) -> str:
        return (f"SyntheticRespondent(intercept={self.intercept:g}, slope={self.slope:g}, "
                f"precision={self.precision:g}, latent={self.latent!r})")

    # ------------------------------------------------------------------ the truth
    def demand(self, price: Any) -> np.ndarray:
        r"""The true demand :math:`m(p) = E[b \mid p] = \Lambda(a + \beta \log p)` (exact)."""
        p = np.asarray(price, dtype=float)
        if np.any(~np.isfinite(p) | (p <= 0)):
            raise ValueError("prices must be positive and finite")
        return expit(self.intercept + self.slope * np.log(p))

    @property
    def variance_ratio(self) -> float:
        r""":math:`\mathrm{Var}(\text{choice} \mid p) / \mathrm{Var}(b \mid p) = \kappa + 1`."""
        return self.precision + 1.0

    @property
    def lean_weight(self) -> float:
        r""":math:`t = 1/\sqrt{\kappa+1}`, the weight of the lean in the two-point latent."""
        return 1.0 / math.sqrt(self.variance_ratio)

    def belief_variance(self, price: Any) -> np.ndarray:
        r""":math:`\mathrm{Var}(b \mid p) = m(1-m)/(\kappa+1)` (exact)."""
        m = self.demand(price)
        return m * (1.0 - m) / self.variance_ratio

    def choice_variance(self, price: Any) -> np.ndarray:
        r""":math:`\mathrm{Var}(\text{choice} \mid p) = m(1-m)` (exact)."""
        m = self.demand(price)
        return m * (1.0 - m)

    def asymptotic_cov(self, prices: Sequence[float], measure: str) -> np.ndarray:
        r"""Asymptotic covariance of :math:`(\hat a, \hat\beta)` from **one run** per price.

        For the logit of choice it is the inverse information
        :math:`A^{-1} = (\sum_p m_p(1-m_p) x_p x_p')^{-1}` with :math:`x_p = (1, \log p)`; for
        the fractional logit of belief the sandwich :math:`A^{-1} B A^{-1}` with
        :math:`B = \sum_p \mathrm{Var}(b \mid p) x_p x_p' = A / (\kappa+1)`. Divide by *R*
        for *R* runs per price.
        """
        if measure not in ("belief", "choice"):
            raise ValueError(f"measure must be 'belief' or 'choice', got {measure!r}")
        p = np.asarray(prices, dtype=float)
        x = np.column_stack([np.ones(len(p)), np.log(p)])
        m = self.demand(p)
        info_inv = np.linalg.inv(x.T @ (x * (m * (1.0 - m))[:, None]))
        return info_inv / (self.variance_ratio if measure == "belief" else 1.0)

    # ------------------------------------------------------------------ simulation
    def draw(self, price: Any, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One run at each price: ``(latent, belief, choice)`` arrays (choice is 0/1).

        ``latent`` is the drawn latent state: the pivot probability itself for ``'beta'``, the
        lean *D* (0/1) for ``'two_point'``.
        """
        m = self.demand(price)
        if math.isinf(self.precision):
            latent = m.copy()
            belief = m.copy()
        elif self.latent == "beta":
            latent = rng.beta(self.precision * m, self.precision * (1.0 - m))
            belief = latent
        else:
            latent = (rng.random(m.shape) < m).astype(float)
            t = self.lean_weight
            belief = (1.0 - t) * m + t * latent
        choice = (rng.random(m.shape) < belief).astype(float)
        return latent, belief, choice

    def panel(self, prices: Sequence[float], runs: int, seed: Any = None, *,
              price: str = "price") -> pd.DataFrame:
        """A simulated panel in the simulator's schema, one row per (condition, run).

        Parameters
        ----------
        prices : sequence of float
            One condition per price; ``condition_id`` is the position in ``prices``.
        runs : int
            Runs per condition.
        seed : int, numpy Generator or None
        price : str
            Name of the price column.

        Returns
        -------
        pandas.DataFrame
            Columns ``price, condition_id, run, choice`` (the chosen alternative's id),
            ``belief_<yes>, belief_<no>``, ``latent`` (the latent state), and
            ``backend = 'synthetic'``, ``model`` (this respondent's repr), so that a synthetic
            panel is never mistaken for an LLM's.
        """
        if int(runs) != runs or runs < 1:
            raise ValueError(f"runs must be a positive integer, got {runs!r}")
        p = np.asarray(prices, dtype=float)
        if p.ndim != 1 or not len(p):
            raise ValueError("prices must be a non-empty sequence of numbers")
        rng = np.random.default_rng(seed)
        grid = np.tile(p, int(runs))  # run-major: all prices of run 0, then run 1, ...
        latent, belief, choice = self.draw(grid, rng)
        yes, no = self.alternatives
        cond = np.tile(np.arange(len(p)), int(runs))
        frame = pd.DataFrame({
            price: grid,
            "condition_id": cond,
            "run": np.repeat(np.arange(int(runs)), len(p)),
            "choice": np.where(choice == 1.0, yes, no).astype(object),
            f"belief_{yes}": belief,
            f"belief_{no}": 1.0 - belief,
            "latent": latent,
            "backend": "synthetic",
            "model": repr(self),
        })
        return frame.sort_values(["condition_id", "run"], kind="stable").reset_index(drop=True)
