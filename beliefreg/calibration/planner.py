r"""The planner: how many human answers and LLM requests reach a target standard error at least
cost, and what the LLM rows of a study already run were worth.

From a pilot (a PPI++ fit on some human rows with predictions and some simulated rows), the
variance of coefficient *j* of a PPI++ estimate with *n* human rows, *N* simulated rows and
power-tuning parameter :math:`\lambda` is, to first order,

.. math::

    V(n, N, \lambda) = \frac{a(\lambda)}{n} + \frac{\lambda^2 b}{N}, \quad
    a(\lambda) = w'\,\mathrm{Var}(s_y - \lambda s_f)\,w, \quad b = w'\,\mathrm{Var}(\tilde s)\,w,

with :math:`w` row *j* of the inverse average information, :math:`s_y` and :math:`s_f` the
human rows' scores with the human answer and with the prediction, and :math:`\tilde s` the
simulated rows' scores (all per row, from the pilot). Minimising the cost
:math:`c_h n + c_l N` subject to :math:`V = \mathrm{se}^2` gives, for fixed :math:`\lambda`,
:math:`n = \sqrt{a}(\sqrt{a c_h} + \lambda\sqrt{b c_l}) / (\mathrm{se}^2 \sqrt{c_h})`,
:math:`N = \lambda\sqrt{b}(\sqrt{a c_h} + \lambda\sqrt{b c_l}) / (\mathrm{se}^2 \sqrt{c_l})`
and the cost :math:`(\sqrt{a c_h} + \lambda\sqrt{b c_l})^2/\mathrm{se}^2`; the planner then
minimises over :math:`\lambda \in [0, 1]`. Rows are treated as independent units (HC0): for a
clustered design, plan in clusters (one pilot row per cluster) or treat the result as a lower
bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from ..models.bernoulli import inverse_information

__all__ = ["Plan", "plan", "effective_sample_size", "variance_components"]


@dataclass(frozen=True)
class Plan:
    """A sampling plan for one coefficient.

    Attributes
    ----------
    coef : str
    target_se : float
    n_human, n_llm : int
        Human answers and LLM requests (rows) to collect.
    lam : float
        The power-tuning parameter the plan assumes.
    cost : float
        ``price_human * n_human + price_llm * n_llm``.
    se : float
        The standard error the plan is expected to reach (at most ``target_se``).
    human_only_n : int
        Human answers needed without the LLM.
    human_only_cost : float
    """

    coef: str
    target_se: float
    n_human: int
    n_llm: int
    lam: float
    cost: float
    se: float
    human_only_n: int
    human_only_cost: float

    @property
    def saving(self) -> float:
        """The share of the human-only cost the plan saves."""
        return 1.0 - self.cost / self.human_only_cost

    def to_frame(self) -> pd.DataFrame:
        """The plan and the human-only alternative side by side."""
        return pd.DataFrame(
            {"n_human": [self.n_human, self.human_only_n],
             "n_llm": [self.n_llm, 0],
             "lambda": [self.lam, 0.0],
             "cost": [self.cost, self.human_only_cost]},
            index=pd.Index(["PPI++", "human only"], name="plan"))

    def __str__(self) -> str:
        return (f"Plan for se({self.coef}) <= {self.target_se:g}: {self.n_human} human answers "
                f"and {self.n_llm} LLM requests (lambda {self.lam:.3f}), cost {self.cost:.2f} "
                f"(expected se {self.se:.4g}); humans only: {self.human_only_n} answers, cost "
                f"{self.human_only_cost:.2f}; saving {100 * self.saving:.1f}%")


def variance_components(pilot, coef: str) -> tuple[float, float, float, float]:
    r"""Per-row variance pieces of coefficient ``coef`` from a PPI++ pilot fit.

    Returns ``(A, C, F, b)`` with :math:`a(\lambda) = A - 2\lambda C + \lambda^2 F` (human
    rows) and ``b`` the simulated rows' variance, on the scale of one row.
    """
    samples, theta = pilot._samples, pilot.params.to_numpy()
    names = list(pilot.params.index)
    if coef not in names:
        raise ValueError(f"coef {coef!r} is not a parameter; parameters: {names}")
    j = names.index(coef)
    fam = samples.family
    info = (fam.information(theta, samples.x_h, samples.w_h)
            + fam.information(theta, samples.x_u, samples.w_u)) / (samples.n + samples.N)
    w = inverse_information(info)[j]
    ty = fam.scores(theta, samples.x_h, samples.y_h, samples.w_h) @ w
    tf = fam.scores(theta, samples.x_h, samples.f_h, samples.w_h) @ w
    tu = fam.scores(theta, samples.x_u, samples.f_u, samples.w_u) @ w
    return (float(np.var(ty)), float(np.mean((ty - ty.mean()) * (tf - tf.mean()))),
            float(np.var(tf)), float(np.var(tu)))


def plan(pilot, *, coef: str, target_se: float, price_human: float,
         price_llm: float) -> Plan:
    r"""Human and LLM sample sizes reaching ``target_se`` for ``coef`` at least cost.

    Parameters
    ----------
    pilot : CalibratedBinaryResults or CalibratedMultinomialResults
        A PPI++ fit (:func:`~beliefreg.calibrate`) on pilot data.
    coef : str
        The coefficient whose standard error is targeted.
    target_se : float
    price_human, price_llm : float
        Cost of one human answer and of one LLM request (same currency), positive.

    Returns
    -------
    Plan

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(1)
    >>> def frame(m):
    ...     d = pd.DataFrame({"x": rng.normal(size=m)})
    ...     eta = 0.2 + d.x + rng.normal(0, 2, m)          # taste: the LLM sees it
    ...     d["y"] = (rng.uniform(size=m) < 1 / (1 + np.exp(-eta))).astype(int)
    ...     d["f"] = 1 / (1 + np.exp(-(eta + rng.normal(0, 0.5, m))))
    ...     return d
    >>> pilot = br.calibrate("y ~ x", human=frame(200), llm=frame(2000), prediction="f")
    >>> p = br.calibration.plan(pilot, coef="x", target_se=0.05, price_human=1.0,
    ...                         price_llm=0.01)
    >>> p.n_human < p.human_only_n and p.cost < p.human_only_cost
    True
    >>> print(p)  # doctest: +ELLIPSIS
    Plan for se(x) <= 0.05: ... human answers and ... LLM requests (lambda ...), cost ...
    """
    if getattr(pilot, "method", None) != "PPI++":
        raise ValueError("plan needs a PPI++ pilot fit from beliefreg.calibrate")
    if not (target_se > 0 and price_human > 0 and price_llm > 0):
        free = (" (price_llm=0: with free LLM requests the cheapest plan asks for infinitely "
                "many; give a local model's cost per request, its compute time priced, say)"
                if price_llm == 0 else "")
        raise ValueError("target_se, price_human and price_llm must be positive, got "
                         f"{target_se!r}, {price_human!r} and {price_llm!r}{free}")
    a0, c, f, b = variance_components(pilot, coef)
    v = target_se ** 2

    def pieces(lam: float) -> tuple[float, float]:
        return max(a0 - 2.0 * lam * c + lam * lam * f, 0.0), lam * lam * b

    def cost(lam: float) -> float:
        a, bb = pieces(lam)
        return (math.sqrt(a * price_human) + math.sqrt(bb * price_llm)) ** 2 / v

    grid = np.linspace(0.0, 1.0, 101)
    best = float(grid[np.argmin([cost(x) for x in grid])])
    lo, hi = max(best - 0.01, 0.0), min(best + 0.01, 1.0)
    opt = optimize.minimize_scalar(cost, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-8})
    lam = float(opt.x) if opt.fun < cost(best) else best
    a, bb = pieces(lam)
    root = math.sqrt(a * price_human) + math.sqrt(bb * price_llm)
    n = math.ceil(math.sqrt(a) * root / (v * math.sqrt(price_human)) - 1e-9)
    n_llm = math.ceil(math.sqrt(bb) * root / (v * math.sqrt(price_llm)) - 1e-9) if bb > 0 else 0
    n = max(n, 1)
    se = math.sqrt(a / n + (bb / n_llm if n_llm else 0.0))
    n0 = max(math.ceil(a0 / v - 1e-9), 1)
    return Plan(coef=coef, target_se=float(target_se), n_human=n, n_llm=n_llm, lam=lam,
                cost=n * price_human + n_llm * price_llm, se=se, human_only_n=n0,
                human_only_cost=n0 * price_human)


def effective_sample_size(results) -> pd.Series:
    r"""What a run study's LLM rows were worth: per coefficient, the number of human rows that
    alone would give the calibrated variance, :math:`n\,\hat V_{\text{human}}/\hat V_{\text{PPI++}}`
    (the human-only variance from the same human rows and covariance type).

    Same as ``results.effective_nobs``.
    """
    return results.effective_nobs
