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

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .exceptions import BeliefregError
from .inference.datagrid import (AtSpec, EvalFrame, UnknownVariableError, VariableMap,
                                 evaluation_frame)
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
        x = frame.with_value(vmap, variable, value)
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


class _PriceColumns:
    r"""The design columns that use the price, with their first two price derivatives.

    Price terms may interact with other variables (``np.log(price):C(persona)``); the rows'
    distinct combinations of those variables (``keys``, usually a handful) are enumerated
    once and every row maps to one (``codes``). Columns linear in the price are exact
    (``price x other factors``: value :math:`p X_1`, slope :math:`X_1`, curvature 0, with
    :math:`X_1` the columns at price 1); the others (``np.log(price)``, ``I(price**2)``) come
    from a single patsy build of the stacked prices :math:`p, p \mp h_1, p \mp h_2` for all
    keys (central differences, steps :math:`\epsilon^{1/3} p` and :math:`\epsilon^{1/4} p`).
    """

    def __init__(self, vmap: VariableMap, price: str, terms: Sequence[Any],
                 data: pd.DataFrame | None = None) -> None:
        self.vmap, self.price = vmap, price
        self.linear = [t for t in terms if price in t.linear_in]
        self.other = [t for t in terms if price not in t.linear_in]
        self.cols = np.concatenate([t.columns for t in self.linear + self.other])
        self.n_linear = sum(len(t.columns) for t in self.linear)
        observed = vmap.estimation_data()[price].to_numpy(dtype=float)
        self.scale = float(np.std(observed)) or 1.0
        others = sorted(set().union(*(t.variables for t in terms)) - {price})
        if others:
            if data is None:
                raise ValueError("price terms with interactions need the rows' data")
            sub = data[others]
            # group numbers follow first appearance, as drop_duplicates keeps the first rows
            self.codes = sub.groupby(others, sort=False, observed=True).ngroup().to_numpy()
            self.keys = sub.drop_duplicates().reset_index(drop=True)
        else:
            self.keys = pd.DataFrame(index=range(1))
            self.codes = np.zeros(0 if data is None else len(data), dtype=int)
        if self.linear:
            ones = self.keys.copy()
            ones[price] = 1.0
            self.x1 = vmap.build_columns(ones, self.linear)          # (u, n_linear)

    def __call__(self, prices: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Columns, first and second price derivatives, each of shape (m prices, u keys, k)."""
        ps = np.atleast_1d(np.asarray(prices, dtype=float))
        m, u, k = len(ps), len(self.keys), len(self.cols)
        f, f1, f2 = np.empty((m, u, k)), np.zeros((m, u, k)), np.zeros((m, u, k))
        if self.linear:
            f[:, :, :self.n_linear] = ps[:, None, None] * self.x1[None]
            f1[:, :, :self.n_linear] = self.x1[None]
        if self.other:
            size = np.where(ps != 0, np.abs(ps), self.scale)
            h1 = (ps + _EPS ** (1 / 3) * size) - ps
            h2 = (ps + _EPS ** 0.25 * size) - ps
            shifted = np.concatenate([ps, ps + h1, ps - h1, ps + h2, ps - h2])
            rows = self.keys.loc[np.tile(np.arange(u), len(shifted))].reset_index(drop=True)
            rows[self.price] = np.repeat(shifted, u)
            with np.errstate(all="ignore"):
                x = self.vmap.build_columns(rows, self.other, allow_nan=True)
            x = x.reshape(5, m, u, -1)
            x0, xp1, xm1, xp2, xm2 = x
            f[:, :, self.n_linear:] = x0
            f1[:, :, self.n_linear:] = (xp1 - xm1) / (2.0 * h1)[:, None, None]
            f2[:, :, self.n_linear:] = (xp2 - 2.0 * x0 + xm2) / (h2 * h2)[:, None, None]
        return f, f1, f2


_EPS = np.finfo(float).eps


def _bracketed_root(fun: Any, lo: float, hi: float, f_lo: float, f_hi: float, x0: float,
                    scale: float) -> float:
    """Root of ``fun`` (returning value and derivative) in [lo, hi] with a sign change:
    Newton steps, bisection whenever Newton leaves the bracket."""
    x = min(max(x0, lo), hi)
    for _ in range(200):
        f, df = fun(x)
        if f == 0.0:
            return x
        if np.sign(f) == np.sign(f_lo):
            lo, f_lo = x, f
        else:
            hi, f_hi = x, f
        x_new = x - f / df if df != 0 and np.isfinite(df) else 0.5 * (lo + hi)
        if not lo < x_new < hi:
            x_new = 0.5 * (lo + hi)
        if abs(x_new - x) <= 1e-12 * max(abs(x), scale) or hi - lo <= 4 * _EPS * max(
                abs(x), scale):
            return x_new
        x = x_new
    return x


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

    Raises
    ------
    LogPriceWTPError
        Price enters nonlinearly and no ``at_price`` was given (the message gives the ratio
        and what it means), or price interacts with other variables.
    UnknownVariableError
        ``attribute`` is not a coefficient (e.g. a categorical variable as a whole: the
        message names its levels' coefficients), or ``price`` is not a variable of the
        formula; also a ``KeyError``.
    BeliefregError
        ``price`` is categorical.

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
    amount :math:`w` solving :math:`F(w) = \eta_p(p_0 + w) - \eta_p(p_0) + \beta_a = 0`
    (for log price, :math:`w = p_0(\exp(-\beta_a/\beta_{\log p}) - 1)`), whose Jacobian
    follows from the implicit function theorem: :math:`\partial w/\partial\beta =
    -(\partial F/\partial\beta)/(\partial F/\partial w)`.

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"price": np.repeat(np.arange(20.0, 52.0, 2.0), 20),
    ...                   "organic": np.tile([0, 1], 160)})
    >>> mu = 1 / (1 + np.exp(-(4.0 - 0.12 * d.price + 0.5 * d.organic)))
    >>> d["belief"] = rng.beta(20 * mu, 20 * (1 - mu))
    >>> res = br.FractionalLogit.from_formula("belief ~ price + organic", d).fit()
    >>> res.wtp("organic", "price").round(3)
                  estimate  std_err       z  p_value  ci_lower  ci_upper
    wtp(organic)      4.99    0.455  10.973      0.0     4.098     5.881
    """
    link, params, cov, vmap = _parts(results)
    if attribute not in params.index:
        raise UnknownVariableError(_unknown_attribute_message(vmap, params, attribute, price))
    (price,) = vmap.check_variables([price], what="price variable")
    if vmap.kind(price) == "categorical":
        numeric = [v for v in vmap.variables if vmap.kind(v) != "categorical"]
        raise BeliefregError(f"WTP needs a numeric price: {price!r} is categorical (its levels "
                             f"are not amounts of money); the formula's numeric variables are "
                             f"{numeric}")
    terms = _price_terms(vmap, price)
    names = list(params.index)
    ia = names.index(attribute)
    pcols = _PriceColumns(vmap, price, terms)
    if ia in set(pcols.cols.tolist()):
        raise ValueError(f"the attribute {attribute!r} is a price term")
    b = params.to_numpy(dtype=float)
    label = f"wtp({attribute})"
    if at_price is None:
        if vmap.linear_in(price) and len(pcols.cols) == 1:
            ip = int(pcols.cols[0])
            jac = np.zeros(len(b))
            jac[ia] = -1.0 / b[ip]
            jac[ip] = b[ia] / b[ip] ** 2
            return _result(np.array([-b[ia] / b[ip]]), jac[None], cov, pd.Index([label]),
                           names, "analytic")
        raise LogPriceWTPError(_log_price_message(params, attribute, price, terms))
    p0 = float(at_price)
    bp = b[pcols.cols]
    with np.errstate(all="ignore"):
        f0 = pcols([p0])[0][0, 0]
    if not np.isfinite(f0 @ bp):
        raise LogPriceWTPError(f"the formula's price terms {[t.name for t in terms]} are not "
                               f"defined at {price!r} = {p0:g}: pass a reference price inside "
                               "their domain")
    if _is_log_price(terms, price):
        # eta_p(p) = b_log * log(p): w = p0 (exp(-b_a / b_log) - 1), exact for any size
        if bp[0] == 0.0:
            raise LogPriceWTPError(f"demand does not respond to {price!r} (its coefficient "
                                   "is 0)")
        with np.errstate(over="ignore"):
            w = p0 * np.expm1(-b[ia] / bp[0])
        if not np.isfinite(w):
            raise LogPriceWTPError(f"the willingness to pay at {price!r} = {p0:g} overflows: "
                                   f"exp({-b[ia] / bp[0]:.4g}) is not finite")
    else:
        w = _solve_wtp(pcols, bp, b[ia], f0, p0, price)
    f1, slope_cols, _ = pcols([p0 + w])
    f1, slope_cols = f1[:, 0], slope_cols[:, 0]
    slope = float(slope_cols[0] @ bp)  # d eta_p / d p at p0 + w
    if slope == 0.0:
        raise LogPriceWTPError(f"demand does not respond to {price!r} at {p0 + w:g}")
    dfdb = np.zeros(len(b))
    dfdb[ia] = 1.0
    dfdb[pcols.cols] += f1[0] - f0
    return _result(np.array([w]), (-dfdb / slope)[None], cov, pd.Index([label]), names,
                   "analytic")


def _unknown_attribute_message(vmap: VariableMap, params: pd.Series, attribute: str,
                               price: str) -> str:
    """Why ``attribute`` has no WTP, and the coefficients that have one.

    WTP is a ratio of coefficients: the attribute must be the coefficient of a numeric
    regressor or of one level of a categorical one (``'C(region)[T.b]'``, against the base
    level), not a categorical variable as a whole (``'region'``).
    """
    names = list(params.index)
    price_cols: set[int] = set()
    if price in vmap.variables:
        price_cols = {int(c) for c in vmap.columns_of(price)}
    valid = [n for j, n in enumerate(names)
             if j not in price_cols and n not in ("Intercept", "const")]
    if attribute in vmap.variables and vmap.kind(attribute) == "categorical":
        levels = [names[int(c)] for t in vmap.terms_using(attribute) for c in t.columns
                  if len(t.variables) == 1]
        return (f"WTP needs a numeric regressor or one level of a categorical one: "
                f"{attribute!r} is categorical, so each of its levels has its own WTP against "
                f"the base level; pass one of {levels or valid}")
    return (f"unknown attribute {attribute!r}: WTP needs a numeric regressor (or one level "
            f"of a categorical one), a coefficient other than the price's: one of {valid}")


_LOG_CODES = ("np.log({})", "numpy.log({})", "log({})")


def _is_log_price(terms: Sequence[Any], price: str) -> bool:
    """Whether the price enters through exactly one term, ``np.log(price)`` (closed form)."""
    if len(terms) != 1 or len(terms[0].columns) != 1:
        return False
    code = terms[0].name.replace(" ", "")
    return any(code == c.format(name) for c in _LOG_CODES
               for name in (price, f"Q('{price}')", f'Q("{price}")'))


def _domain_edge(excess_at: Any, w_ok: float, w_bad: float) -> np.ndarray:
    """Trial changes approaching the edge of the index's domain from inside.

    ``w_ok`` gives a finite index and ``w_bad`` does not (e.g. a price at or below 0 under
    ``np.log``). The edge is located by bisection; the returned points approach it
    geometrically (distance halving 60 times), so a root between the last finite grid point
    and the edge, however close to the edge, is bracketed.
    """
    lo, hi = w_ok, w_bad
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        with np.errstate(all="ignore"):
            finite = np.isfinite(excess_at(np.array([mid]))[0])
        lo, hi = (mid, hi) if finite else (lo, mid)
    return lo + (w_ok - lo) * 2.0 ** -np.arange(1, 61)


def _solve_wtp(pcols: _PriceColumns, bp: np.ndarray, b_attr: float, f0: np.ndarray,
               p0: float, price: str) -> float:
    """The price change w closest to 0 with eta_p(p0 + w) - eta_p(p0) = -b_attr.

    Trial changes double from 1% of the price in each direction; where the index stops
    being finite (the edge of its domain, such as price 0 under a log), the trials approach
    that edge geometrically (:func:`_domain_edge`), so a root near the edge is not missed.
    """
    if b_attr == 0.0:
        return 0.0
    scale = abs(p0) if p0 != 0 else pcols.scale

    def excess_at(ws: np.ndarray) -> np.ndarray:
        return (pcols(p0 + ws)[0][:, 0] - f0) @ bp + b_attr

    steps = 0.01 * scale * 2.0 ** np.arange(60)
    best = None
    for direction in (1.0, -1.0):
        ws = np.concatenate([[0.0], direction * steps])
        with np.errstate(all="ignore"):
            excess = excess_at(ws)
        finite = np.isfinite(excess)
        stop = int(np.argmin(finite)) if not finite.all() else len(ws)
        if stop < len(ws) and stop > 0:
            edge = _domain_edge(excess_at, ws[stop - 1], ws[stop])
            with np.errstate(all="ignore"):
                edge_excess = excess_at(edge)
            keep = np.isfinite(edge_excess)
            ws = np.concatenate([ws[:stop], edge[keep]])
            excess = np.concatenate([excess[:stop], edge_excess[keep]])
            stop = len(ws)
        change = np.flatnonzero(np.sign(excess[1:stop]) != np.sign(excess[:stop - 1]))
        if len(change):
            i = int(change[0])
            cand = (ws[i], ws[i + 1], excess[i], excess[i + 1])
            if best is None or abs(cand[0]) < abs(best[0]):
                best = cand
    if best is None:
        raise LogPriceWTPError(f"no price change from {p0:g} offsets the attribute: the "
                               f"index does not return to its level as {price!r} varies "
                               "within the range where the formula is defined")
    a, c, fa, fc = best
    lo, hi, f_lo, f_hi = (a, c, fa, fc) if a < c else (c, a, fc, fa)

    def fun(w: float) -> tuple[float, float]:
        f, f1, _ = pcols([p0 + w])
        return float((f[0, 0] - f0) @ bp + b_attr), float(f1[0, 0] @ bp)

    return _bracketed_root(fun, lo, hi, f_lo, f_hi, 0.5 * (lo + hi), scale)


def _log_price_message(params: pd.Series, attribute: str, price: str,
                       terms: Sequence[Any]) -> str:
    names = [t.name for t in terms]
    msg = (f"{price!r} enters the formula through {names}, not linearly, so the willingness to "
           "pay in money depends on the reference price.")
    if len(names) == 1 and names[0] in params.index:
        ratio = -params[attribute] / params[names[0]]
        msg += f" -b[{attribute}] / b[{names[0]}] = {ratio:.4g} is a change in {names[0]}"
        if names[0].replace(" ", "") in (f"np.log({price})", f"log({price})"):
            msg += (f": the attribute is worth multiplying the price by exp({ratio:.4g}) = "
                    f"{np.exp(ratio):.4g} ({100 * (np.exp(ratio) - 1):+.3g}% at any price)")
        msg += "."
    msg += (" Pass at_price=p0 for the money amount at the reference price p0, or use "
            f"res.nlcom(\"-`{attribute}` / `{names[0]}`\") for the ratio itself.")
    return msg


# ---------------------------------------------------------------------------------- optimum
class _PriceProfit:
    r"""Demand :math:`D(p) = \sum_r w_r G(\eta_r(p))`, its price derivatives and parameter
    gradients, on one group of rows.

    :math:`\eta_r(p) = \eta_r^{\text{rest}} + f_{c(r)}(p)'\beta_p`, where :math:`f_c` are the
    price columns of the row's key *c* (:class:`_PriceColumns`): a whole grid of prices costs
    one design build, whatever the number of rows.
    """

    def __init__(self, link: Any, b: np.ndarray, vmap: VariableMap, data: pd.DataFrame,
                 exog: np.ndarray, weights: np.ndarray, price: str, cost: float) -> None:
        self.link, self.b, self.cost = link, b, cost
        self.exog, self.w = exog, weights
        self.pcols = _PriceColumns(vmap, price, vmap.terms_using(price), data)
        self.cols = self.pcols.cols
        self.codes = self.pcols.codes
        base = exog.copy()
        base[:, self.cols] = 0.0
        self.eta_rest = base @ b

    def demand_on_grid(self, prices: np.ndarray) -> np.ndarray:
        index = self.pcols(prices)[0] @ self.b[self.cols]            # (m, u)
        out = np.empty(len(prices))
        for start in range(0, len(prices), 8):  # bounded memory: n x 8 at a time
            block = self.eta_rest[:, None] + index[start:start + 8, self.codes].T
            out[start:start + 8] = self.w @ self.link.cdf(block)
        return out

    def derivatives(self, p: float, *, gradients: bool = False) -> dict[str, Any]:
        """D, D', D'' at p (and their parameter gradients, k-vectors, if asked)."""
        b, w, link = self.b, self.w, self.link
        f, f1, f2 = (a[0][self.codes] for a in self.pcols([p]))    # (n, len(cols)) each
        bp = b[self.cols]
        eta = self.eta_rest + f @ bp
        g, gp, mu = link.pdf(eta), link.dpdf(eta), link.cdf(eta)
        s = f1 @ bp                                                  # d eta / dp per row
        t = f2 @ bp
        out = {"D": float(w @ mu), "D1": float(w @ (g * s)),
               "D2": float(w @ (gp * s * s + g * t))}
        if gradients:
            x_full = self.exog.copy()
            x_full[:, self.cols] = f
            out["gD"] = (w * g) @ x_full
            grad_d1 = (w * gp * s) @ x_full
            grad_d1[self.cols] += (w * g) @ f1
            out["gD1"] = grad_d1
        return out


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
        with every row's price set to :math:`p`; a one-row DataFrame is a single profile.
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
    :math:`D'(p) = \sum_r w_r g_r s_r`, :math:`s_r = \partial\eta_r/\partial p`. By the
    implicit function theorem

    .. math::

       \frac{\partial p^*}{\partial \beta'} = -\frac{\partial \pi'/\partial\beta'}{\pi''(p^*)},
       \quad \frac{\partial \pi'}{\partial \beta} = \sum_r w_r g_r x_r
       + (p - c) \sum_r w_r \big( g'_r s_r x_r + g_r D_r \big),

    with :math:`\pi'' = 2D' + (p - c) D''` and :math:`D_r = \partial x_r/\partial p`; demand at
    the optimum has gradient :math:`\partial D/\partial\beta + D'\,\partial p^*/\partial\beta`,
    profit (envelope theorem) :math:`(p^* - c)\,\partial D/\partial\beta`. The optimum is
    located on a 65-point grid over ``bounds`` and refined by Newton steps on the first-order
    condition (bisection when a step leaves the bracket). For a logit in log price at a single
    profile and zero cost the condition has the closed form :math:`G^* = 1 + 1/\beta_{\log p}`;
    the tests check against it.

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"price": np.repeat(np.arange(20.0, 52.0, 2.0), 20)})
    >>> mu = 1 / (1 + np.exp(-(9.0 - 2.6 * np.log(d.price))))
    >>> d["belief"] = rng.beta(20 * mu, 20 * (1 - mu))
    >>> res = br.FractionalLogit.from_formula("belief ~ np.log(price)", d).fit()
    >>> res.optimal_price("price", cost=10).round(3)
            estimate  std_err       z  p_value  ci_lower  ci_upper
    price     34.625    0.908  38.132      0.0    32.846    36.405
    demand     0.449    0.016  28.621      0.0     0.418     0.480
    profit    11.055    0.153  72.449      0.0    10.756    11.354
    """
    link, params, cov, vmap = _parts(results)
    (price,) = vmap.check_variables([price], what="price variable")
    if vmap.kind(price) != "continuous":
        raise ValueError(f"{price!r} is {vmap.kind(price)}, not a continuous price")
    observed = vmap.estimation_data()[price].to_numpy(dtype=float)
    lo, hi = ((float(observed.min()), float(observed.max())) if bounds is None
              else (float(bounds[0]), float(bounds[1])))
    if not lo < hi:
        raise ValueError(f"bounds must satisfy lower < upper, got {(lo, hi)}")
    frame = _frame(results, vmap, at, by)
    b = params.to_numpy(dtype=float)
    est, jac, labels = [], [], []
    for gi, sl in enumerate(frame.slices()):
        prob = _PriceProfit(link, b, vmap, frame.data.iloc[sl], frame.exog[sl],
                            frame.weights[sl], price, float(cost))
        p_star = _maximise(prob, lo, hi, price)
        pc = prob.derivatives(p_star, gradients=True)
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
            names=["quantity"] + list(frame.groups.names))
    return _result(np.array(est), np.array(jac), cov, index, list(params.index), "analytic")


def _maximise(prob: _PriceProfit, lo: float, hi: float, price: str) -> float:
    grid = np.linspace(lo, hi, 65)
    with np.errstate(all="ignore"):
        profit = (grid - prob.cost) * prob.demand_on_grid(grid)
    if not np.all(np.isfinite(profit)):
        raise ValueError(f"demand is not finite over {price!r} in [{lo:g}, {hi:g}] (e.g. "
                         "np.log of a non-positive price); adjust bounds")
    i = int(np.argmax(profit))
    span = hi - lo

    def foc(p: float) -> tuple[float, float]:
        d = prob.derivatives(p)
        return (d["D"] + (p - prob.cost) * d["D1"],
                2.0 * d["D1"] + (p - prob.cost) * d["D2"])

    if i == 0 or i == len(grid) - 1:
        edge = grid[i]
        f_edge, _ = foc(edge)
        # at the lower bound profit still falls (foc < 0), at the upper it still rises
        if (i == 0 and f_edge <= 0) or (i == len(grid) - 1 and f_edge >= 0):
            which = "lower" if i == 0 else "upper"
            raise NoInteriorOptimumError(
                f"profit (p - cost) x demand is maximised at the {which} bound {edge:.6g} of "
                f"the search interval [{lo:.6g}, {hi:.6g}] for {price!r}: no interior "
                "optimum, so no first-order condition and no delta-method SE. Widen bounds= "
                "(extrapolating the demand curve beyond the prices observed) or check that "
                "demand falls with price")
    a, c = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    f_a, _ = foc(a)
    f_c, _ = foc(c)
    if not (f_a > 0 > f_c):
        raise NoInteriorOptimumError(
            f"the first-order condition for {price!r} does not change sign around the best "
            f"grid price {grid[i]:.6g} (profit may be flat or have several maxima)")
    p = _bracketed_root(foc, a, c, f_a, f_c, grid[i], span)
    if p - lo <= 1e-9 * span or hi - p <= 1e-9 * span:  # pragma: no cover - excluded above
        raise NoInteriorOptimumError(f"the optimum {p:.6g} is at a bound of [{lo}, {hi}]")
    return p
