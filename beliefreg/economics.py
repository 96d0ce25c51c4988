r"""Demand curves, willingness to pay and the profit-maximising price, with delta-method SEs.

All three are smooth functions of the parameters of a single-index model
:math:`E[y \mid x] = G(x(p)'\beta)` (the fractional logit/probit of a belief, or the logit of a
choice), with the price :math:`p` a raw data variable that may enter the formula through any
transform (``price``, ``np.log(price)``, ``I(price**2)``, interactions).

* **Demand** at price :math:`p`: :math:`D(p) = \sum_r w_r G(x_r(p)'\beta)`, the predicted
  purchase probability averaged over the rows of ``at`` (``'overall'``: the sample, with every
  row's price set to :math:`p`; ``'mean'``: one row of means).
* **Willingness to pay** for an attribute with coefficient :math:`\beta_a`: the price change
  :math:`w` that leaves the index, hence demand, unchanged. For a formula linear in price it is
  :math:`-\beta_a/\beta_p`, in money. For any other price transform it depends on the
  reference price :math:`p_0` and solves :math:`\eta_p(p_0 + w) - \eta_p(p_0) = -\beta_a`.
* **Optimal price**: :math:`p^* = \arg\max_p (p - c) D(p)` within ``bounds``; its SE comes
  from the implicit function theorem on the first-order condition.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from .exceptions import BeliefregError
from .inference.datagrid import AtSpec, EvalFrame, VariableMap, evaluation_frame
from .inference.delta import DeltaResult, _result

__all__ = ["demand_curve", "wtp", "optimal_price", "NoInteriorOptimumError",
           "LogPriceWTPError"]


class NoInteriorOptimumError(BeliefregError):
    """Profit is maximised at a bound of the search interval: there is no interior optimum."""


class LogPriceWTPError(BeliefregError):
    """A coefficient ratio is not a money amount when price enters the formula nonlinearly."""


def _parts(results: Any) -> tuple[Any, pd.Series, np.ndarray, VariableMap]:
    vmap = results._variable_map()
    return (results.model.link, results.params, results.cov_params().to_numpy(), vmap)


def _frame(results: Any, vmap: VariableMap, at: AtSpec, by: Any) -> EvalFrame:
    return evaluation_frame(vmap, at, by=by, weights=results.model.weights)


def _default_grid(vmap: VariableMap, variable: str, n: int = 50) -> np.ndarray:
    vals = vmap.estimation_data()[variable]
    if vmap.kind(variable) != "continuous":
        return np.asarray(vmap.levels(variable), dtype=object)
    return np.linspace(float(vals.min()), float(vals.max()), n)


# ---------------------------------------------------------------------------------- demand
def demand_curve(results: Any, variable: str, values: Any = None, *, at: AtSpec = "overall",
                 by: Any = None) -> DeltaResult:
    r"""Predicted demand :math:`D(v) = \sum_r w_r G(x_r(v)'\beta)` over a grid of ``variable``.

    Parameters
    ----------
    results : BinaryResults
    variable : str
        A raw variable of the formula (e.g. ``'price'``, even if the formula uses
        ``np.log(price)``).
    values : array_like, optional
        The grid; default 50 points over the observed range (the levels for a categorical or
        0/1 variable).
    at : 'overall', 'mean', dict or DataFrame
        The rows averaged at each grid value (see
        :func:`~beliefreg.inference.datagrid.evaluation_frame`); ``'overall'`` is the sample's
        average demand with every row's ``variable`` set to the grid value.
    by : str or list of str, optional
        One curve per group.

    Returns
    -------
    DeltaResult
        Indexed by the grid value (and group); Jacobian :math:`\sum_r w_r g_r x_r(v)'`.
    """
    link, params, cov, vmap = _parts(results)
    (variable,) = vmap.check_variables([variable])
    grid = _default_grid(vmap, variable) if values is None else np.atleast_1d(
        np.asarray(values, dtype=object if vmap.kind(variable) == "categorical" else float))
    if len(grid) == 0:
        raise ValueError("values is empty")
    frame = _frame(results, vmap, at, by)
    b = params.to_numpy(dtype=float)
    est, jac = [], []
    for value in grid:
        x = vmap.with_value(frame.data, frame.exog, variable, value)
        eta = x @ b
        est.append(frame.group_sum(link.cdf(eta)))
        jac.append(frame.group_xsum(link.pdf(eta), x))
    value_index = pd.Index(grid.tolist(), name=variable)
    if frame.groups is None:
        index = value_index
    else:
        tuples = [(v,) + (g if isinstance(g, tuple) else (g,))
                  for v in grid.tolist() for g in frame.groups]
        index = pd.MultiIndex.from_tuples(tuples, names=[variable] + list(frame.groups.names))
    return _result(np.concatenate(est), np.concatenate(jac, axis=0), cov, index,
                   list(params.index), "analytic")


# ---------------------------------------------------------------------------------- WTP
def _price_terms(vmap: VariableMap, price: str) -> list[Any]:
    terms = vmap.terms_using(price)
    others = sorted(set().union(*(t.variables for t in terms)) - {price})
    if others:
        raise LogPriceWTPError(
            f"{price!r} interacts with {others} in the formula, so the price response (and "
            "the willingness to pay) differs across rows; compute the quantity you need with "
            "res.nlcom(...) or res.margins(..., at=...)")
    return terms


def wtp(results: Any, attribute: str, price: str, *, at_price: float | None = None
        ) -> DeltaResult:
    r"""Willingness to pay for ``attribute``: the price change that leaves demand unchanged.

    Parameters
    ----------
    results : BinaryResults
    attribute : str
        A term of the model (a name in ``params``, e.g. ``'organic'`` or
        ``'C(brand)[T.b]'``): its coefficient :math:`\beta_a` is the index shift the
        attribute buys.
    price : str
        The raw price variable.
    at_price : float, optional
        Reference price :math:`p_0`; needed when price enters the formula nonlinearly.

    Returns
    -------
    DeltaResult
        One row, ``'wtp(<attribute>)'``, in money.

    Notes
    -----
    *Price linear in the formula* (``... + price``): :math:`\mathrm{WTP} = -\beta_a/\beta_p`,
    the same at every price, with the analytic Jacobian
    :math:`(-1/\beta_p,\; \beta_a/\beta_p^2)`.

    *Price through a transform* (``np.log(price)``, ``I(price**2)``, ...):
    :math:`-\beta_a/\beta_{\log p}` is a change in **log** price, not money: the attribute is
    worth multiplying the price by :math:`\exp(-\beta_a/\beta_{\log p})` whatever the price.
    Without ``at_price`` this function refuses (:class:`LogPriceWTPError`, with the ratio and
    the implied percentage premium in the message); with ``at_price`` it returns the money
    amount :math:`w` solving :math:`\eta_p(p_0 + w) - \eta_p(p_0) = -\beta_a`
    (for log price, :math:`w = p_0(\exp(-\beta_a/\beta_{\log p}) - 1)`), whose Jacobian
    follows from the implicit function theorem: :math:`\partial w/\partial\beta =
    -(\partial F/\partial\beta)/(\partial F/\partial w)`.
    """
    link, params, cov, vmap = _parts(results)
    if attribute not in params.index:
        raise KeyError(f"unknown attribute {attribute!r}: it must be a term of the model, one "
                       f"of {list(params.index)}")
    (price,) = vmap.check_variables([price], what="price variable")
    terms = _price_terms(vmap, price)
    names = list(params.index)
    ia = names.index(attribute)
    price_cols = np.concatenate([t.columns for t in terms])
    if ia in set(price_cols.tolist()):
        raise ValueError(f"the attribute {attribute!r} is a price term")
    b = params.to_numpy(dtype=float)
    label = f"wtp({attribute})"
    linear = vmap.linear_in(price) and len(price_cols) == 1
    if at_price is None:
        if linear:
            ip = int(price_cols[0])
            jac = np.zeros(len(b))
            jac[ia] = -1.0 / b[ip]
            jac[ip] = b[ia] / b[ip] ** 2
            return _result(np.array([-b[ia] / b[ip]]), jac[None], cov, pd.Index([label]),
                           names, "analytic")
        raise LogPriceWTPError(_log_price_message(vmap, params, attribute, price, terms))
    p0 = float(at_price)

    def price_row(p: float) -> np.ndarray:
        frame = pd.DataFrame({price: [p]})
        return vmap.build_columns(frame, terms)[0]

    bp = b[price_cols]
    f0 = price_row(p0)

    def excess(w: float) -> float:
        with np.errstate(all="ignore"):
            return float((price_row(p0 + w) - f0) @ bp + b[ia])

    w = _solve_wtp(excess, p0, price)
    f1 = price_row(p0 + w)
    cols, d = vmap.derivative(pd.DataFrame({price: [p0 + w]}), price)
    slope = float(d[0] @ b[cols])  # d eta_p / d p at p0 + w
    if slope == 0.0:
        raise LogPriceWTPError(f"demand does not respond to {price!r} at {p0 + w:g}")
    dfdb = np.zeros(len(b))
    dfdb[ia] = 1.0
    dfdb[price_cols] += f1 - f0
    jac = -dfdb / slope
    return _result(np.array([w]), jac[None], cov, pd.Index([label]), names, "analytic")


def _solve_wtp(excess: Any, p0: float, price: str) -> float:
    e0 = excess(0.0)
    if e0 == 0.0:
        return 0.0
    scale = abs(p0) if p0 != 0 else 1.0
    for direction in (1.0, -1.0):
        lo, f_lo = 0.0, e0
        step = 0.01 * scale
        for _ in range(80):
            hi = direction * step
            f_hi = excess(hi)
            if not np.isfinite(f_hi):
                break
            if np.sign(f_hi) != np.sign(f_lo):
                a, b_ = sorted((lo, hi))
                return float(optimize.brentq(excess, a, b_, xtol=1e-14 * scale, rtol=1e-15,
                                             maxiter=500))
            lo, f_lo = hi, f_hi
            step *= 2.0
    raise LogPriceWTPError(f"no price change from {p0:g} offsets the attribute: the index "
                           f"never returns to its level as {price!r} varies")


def _log_price_message(vmap: VariableMap, params: pd.Series, attribute: str, price: str,
                       terms: Sequence[Any]) -> str:
    names = [t.name for t in terms]
    msg = (f"{price!r} enters the formula through {names}, not linearly, so the willingness to "
           "pay in money depends on the reference price.")
    if len(names) == 1 and names[0] in params.index:
        ratio = -params[attribute] / params[names[0]]
        msg += (f" -b[{attribute}] / b[{names[0]}] = {ratio:.4g} is a change in "
                f"{names[0]}")
        if names[0].replace(" ", "") in (f"np.log({price})", f"log({price})"):
            msg += (f": the attribute is worth multiplying the price by exp({ratio:.4g}) = "
                    f"{np.exp(ratio):.4g} ({100 * (np.exp(ratio) - 1):+.3g}% at any price)")
        msg += "."
    msg += (" Pass at_price=p0 for the money amount at the reference price p0, or use "
            f"res.nlcom(\"-`{attribute}` / `{names[0]}`\") for the ratio itself.")
    return msg


# ---------------------------------------------------------------------------------- optimum
class _PriceProfit:
    """Demand, its price derivatives and parameter gradients on one group of rows."""

    def __init__(self, link: Any, b: np.ndarray, vmap: VariableMap, data: pd.DataFrame,
                 exog: np.ndarray, weights: np.ndarray, price: str, cost: float) -> None:
        self.link, self.b, self.vmap, self.price, self.cost = link, b, vmap, price, cost
        self.data, self.exog, self.w = data, exog, weights
        self.terms = vmap.terms_using(price)
        self.cols = np.concatenate([t.columns for t in self.terms])
        # price terms that use only the price: the same columns for every row (1-row builds)
        self.shared = not (set().union(*(t.variables for t in self.terms)) - {price})
        base = exog.copy()
        base[:, self.cols] = 0.0
        self.eta_rest = base @ b

    def _rows(self, p: float) -> pd.DataFrame:
        if self.shared:
            return pd.DataFrame({self.price: [float(p)]})
        d = self.data.copy()
        d[self.price] = float(p)
        return d

    def design(self, p: float) -> np.ndarray:
        """Price columns at price p, shape (1 or n, len(cols))."""
        return self.vmap.build_columns(self._rows(p), self.terms)

    def eta(self, p: float) -> np.ndarray:
        return self.eta_rest + self.design(p) @ self.b[self.cols]

    def demand(self, p: float) -> float:
        return float(self.w @ self.link.cdf(self.eta(p)))

    def profit(self, p: float) -> float:
        return (p - self.cost) * self.demand(p)

    def pieces(self, p: float) -> dict[str, Any]:
        """D, D', D'', their parameter gradients (k-vectors) at price p."""
        b, w, link = self.b, self.w, self.link
        rows = self._rows(p)
        xp = self.design(p)
        cols_d, dx = self.vmap.derivative(rows, self.price)
        cols_2, d2x = self.vmap.second_derivative(rows, self.price)
        eta = self.eta_rest + xp @ b[self.cols]
        g, gp, mu = link.pdf(eta), link.dpdf(eta), link.cdf(eta)
        s = dx @ b[cols_d]                                   # d eta / dp
        t = d2x @ b[cols_2] if len(cols_2) else np.zeros_like(s)
        if self.shared:
            s, t = np.full_like(eta, s[0]), np.full_like(eta, t[0])
        x_full = self.exog.copy()
        x_full[:, self.cols] = xp
        dmat = np.zeros_like(x_full)
        dmat[:, cols_d] = dx
        d1 = float(w @ (g * s))
        d2 = float(w @ (gp * s * s + g * t))
        grad_d = (w * g) @ x_full
        grad_d1 = (w * gp * s) @ x_full + (w * g) @ dmat
        return {"D": float(w @ mu), "D1": d1, "D2": d2, "gD": grad_d, "gD1": grad_d1}


def optimal_price(results: Any, price: str, *, cost: float = 0.0,
                  bounds: tuple[float, float] | None = None, at: AtSpec = "overall",
                  by: Any = None) -> DeltaResult:
    r"""The price maximising :math:`\pi(p) = (p - c)\, D(p)` under the fitted model.

    Parameters
    ----------
    results : BinaryResults
    price : str
        The raw price variable (any transform in the formula).
    cost : float
        Marginal cost :math:`c`.
    bounds : (float, float), optional
        The search interval. Default: the observed price range, because a demand curve
        extrapolated beyond the prices in the experiment is a modelling choice, not a
        default; widen it explicitly.
    at : 'overall', 'mean', dict or DataFrame
        Whose demand: ``'overall'`` (default) is the sample's average purchase probability
        with every row's price set to :math:`p`.
    by : str or list of str, optional
        One optimal price per group (e.g. per persona).

    Returns
    -------
    DeltaResult
        Rows ``price``, ``demand`` and ``profit`` at the optimum (per group), with their joint
        covariance.

    Raises
    ------
    NoInteriorOptimumError
        If profit is maximised at a bound (no first-order condition holds there).

    Notes
    -----
    The first-order condition is :math:`\pi'(p) = D(p) + (p - c) D'(p) = 0` with
    :math:`D'(p) = \sum_r w_r g_r\, \partial\eta_r/\partial p`. By the implicit function theorem

    .. math::

       \frac{\partial p^*}{\partial \beta'} = -\frac{\partial \pi'/\partial\beta'}{\pi''(p^*)},
       \quad \frac{\partial \pi'}{\partial \beta} = \sum_r w_r g_r x_r
       + (p - c) \sum_r w_r \big( g'_r s_r x_r + g_r D_r \big),

    with :math:`\pi'' = 2D' + (p - c) D''`; demand at the optimum has gradient
    :math:`\partial D/\partial\beta + D'\,\partial p^*/\partial\beta`, profit (envelope
    theorem) :math:`(p^* - c)\,\partial D/\partial\beta`. The optimum is located on a grid,
    refined by Brent's method and polished by Newton steps on the first-order condition.
    """
    link, params, cov, vmap = _parts(results)
    (price,) = vmap.check_variables([price], what="price variable")
    if vmap.kind(price) != "continuous":
        raise ValueError(f"{price!r} is {vmap.kind(price)}, not a continuous price")
    observed = vmap.estimation_data()[price].to_numpy(dtype=float)
    lo, hi = (float(observed.min()), float(observed.max())) if bounds is None else map(
        float, bounds)
    if not lo < hi:
        raise ValueError(f"bounds must satisfy lower < upper, got {(lo, hi)}")
    frame = _frame(results, vmap, at, by)
    b = params.to_numpy(dtype=float)
    est, jac, labels = [], [], []
    for gi, sl in enumerate(frame.slices()):
        prob = _PriceProfit(link, b, vmap, frame.data.iloc[sl], frame.exog[sl],
                            frame.weights[sl], price, float(cost))
        p_star = _maximise(prob, lo, hi, price)
        pc = prob.pieces(p_star)
        margin = p_star - cost
        d2profit = 2.0 * pc["D1"] + margin * pc["D2"]
        if not d2profit < 0.0:
            raise NoInteriorOptimumError(f"the profit's second derivative at {p_star:.6g} is "
                                         f"{d2profit:.3g}: not a strict maximum")
        dp = -(pc["gD"] + margin * pc["gD1"]) / d2profit
        est.extend([p_star, pc["D"], margin * pc["D"]])
        jac.extend([dp, pc["gD"] + pc["D1"] * dp, margin * pc["gD"]])
        group = None if frame.groups is None else frame.groups[gi]
        labels.extend([("price", group), ("demand", group), ("profit", group)])
    if frame.groups is None:
        index = pd.Index([lab for lab, _ in labels])
    else:
        index = pd.MultiIndex.from_tuples(
            [(lab,) + (g if isinstance(g, tuple) else (g,)) for lab, g in labels],
            names=[None] + list(frame.groups.names))
    return _result(np.array(est), np.array(jac), cov, index, list(params.index), "analytic")


def _maximise(prob: _PriceProfit, lo: float, hi: float, price: str) -> float:
    grid = np.linspace(lo, hi, 65)
    with np.errstate(all="ignore"):
        values = np.array([prob.profit(p) for p in grid])
    if not np.all(np.isfinite(values)):
        raise ValueError(f"demand is not finite over {price!r} in [{lo:g}, {hi:g}] (e.g. "
                         "np.log of a non-positive price); adjust bounds")
    i = int(np.argmax(values))
    a, c = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(lambda p: -prob.profit(p), bounds=(a, c), method="bounded",
                                   options={"xatol": 1e-10 * max(abs(hi - lo), 1.0)})
    p = float(res.x)
    span = hi - lo
    for _ in range(20):  # Newton on the first-order condition
        pc = prob.pieces(p)
        foc = pc["D"] + (p - prob.cost) * pc["D1"]
        d2 = 2.0 * pc["D1"] + (p - prob.cost) * pc["D2"]
        if d2 >= 0:
            break
        step = -foc / d2
        p_new = min(max(p + step, lo), hi)
        if abs(p_new - p) <= 1e-13 * max(abs(p), 1.0):
            p = p_new
            break
        p = p_new
    if p - lo <= 1e-6 * span or hi - p <= 1e-6 * span:
        which = "lower" if p - lo <= 1e-6 * span else "upper"
        raise NoInteriorOptimumError(
            f"profit (p - cost) x demand is maximised at the {which} bound {p:.6g} of the "
            f"search interval [{lo:.6g}, {hi:.6g}] for {price!r}: no interior optimum, so no "
            "first-order condition and no delta-method SE. Widen bounds= (extrapolating the "
            "demand curve beyond the prices observed) or check that demand falls with price")
    pc = prob.pieces(p)
    foc = pc["D"] + (p - prob.cost) * pc["D1"]
    if abs(foc) > 1e-6 * max(pc["D"], 1e-300):
        warnings.warn(f"the first-order condition holds only to {foc:.2e} at {p:.8g}",
                      RuntimeWarning, stacklevel=3)
    return p
