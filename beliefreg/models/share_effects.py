r"""Post-estimation for models of shares over several alternatives.

Predicted shares, marginal effects (margins), own- and cross-price elasticity matrices,
diversion ratios and willingness to pay for :class:`~beliefreg.MultinomialFractionalLogit` and
:class:`~beliefreg.ConditionalLogit`. Every quantity is a function of the parameters evaluated
on a set of rows; its standard error comes from the package's one delta-method engine
(:func:`beliefreg.inference.delta.delta_method`) with the covariance the model was fitted with.
The functions below are written with complex-safe operations, so the Jacobian is the complex
step (exact to rounding).

Derivatives are taken with respect to a *raw variable* of the data (``price_pampers``), not a
design column: the formula's design is rebuilt for the perturbed data, so
``np.log(price_pampers)``, polynomials and interactions are handled. The derivative of the
design is a central difference with one Richardson extrapolation (error :math:`O(h^4)`,
relative step :math:`10^{-3}`); it is exact up to rounding for terms linear in the variable.

Definitions (rows *i* of the evaluation data, alternatives *j*, a variable *v*; averages are
weighted by the model's prior weights on the estimation rows):

* margin (dydx): :math:`\frac{1}{n}\sum_i \partial p_{ij} / \partial v_i`;
* elasticity, ``aggregate=False`` (Stata's ``margins, eyex()``): the mean of the observation
  elasticities :math:`\frac{1}{n}\sum_i \frac{\partial p_{ij}}{\partial v_i}\frac{v_i}{p_{ij}}`;
* elasticity, ``aggregate=True`` (market demand): the elasticity of the mean share when *v*
  rises by the same percentage in every row,
  :math:`\sum_i \frac{\partial p_{ij}}{\partial v_i} v_i \big/ \sum_i p_{ij}`;
* diversion ratio from *l* to *m* (with *v* the price of *l*):
  :math:`D_{l \to m} = -\sum_i \partial p_{im}/\partial v_{i}
  \big/ \sum_i \partial p_{il}/\partial v_{i}`, the share of the demand that *l* loses to a
  price rise which goes to *m* (for the logit of one situation, :math:`p_m / (1 - p_l)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..exceptions import DataError
from ..frames import as_pandas_frame, is_dataframe_like
from ..inference.datagrid import UnknownVariableError
from ..inference.delta import DeltaResult, delta_method
from .design import Design, build_exog

__all__ = ["EffectMatrix", "SharePredictionResults", "design_derivative", "softmax_complex",
           "MultinomialEffects", "ConditionalEffects", "coefficient_ratio"]

_FD_REL_STEP = 1e-3


# ---------------------------------------------------------------------------------- results
def alternative_name(name: Any, alternatives: Sequence[str]) -> str | None:
    """The model's name of an alternative given as written or as its level.

    ``'C(choice) ~ x'`` names the alternatives ``'C(choice)[a]'``; ``'a'`` is accepted for it
    (exact names win; a level matching no or several names gives None).
    """
    if name in alternatives:
        return str(name)
    matches = [a for a in alternatives if a.endswith(f"[{name}]")]
    return matches[0] if len(matches) == 1 else None


@dataclass
class EffectMatrix:
    """A matrix of estimates (e.g. elasticities: alternatives x variables) with delta SEs.

    Attributes
    ----------
    delta : DeltaResult
        One row per cell, indexed by (row label, column label); its ``cov`` is the joint
        covariance of all cells (so differences of cells get correct standard errors).
    kind : str
        What the cells are (``'elasticity'``, ``'dydx'``, ``'diversion'``).
    """

    delta: DeltaResult
    rows: list[Any]
    columns: list[Any]
    kind: str
    row_name: str = "share of"
    column_name: str = "with respect to"

    def _matrix(self, values: pd.Series) -> pd.DataFrame:
        frame = pd.DataFrame(values.to_numpy().reshape(len(self.rows), len(self.columns)),
                             index=pd.Index(self.rows, name=self.row_name),
                             columns=pd.Index(self.columns, name=self.column_name))
        return frame

    @property
    def estimate(self) -> pd.DataFrame:
        return self._matrix(self.delta.estimate)

    @property
    def std_err(self) -> pd.DataFrame:
        return self._matrix(self.delta.std_err)

    def conf_int(self, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Lower and upper Wald bounds, each as a matrix."""
        ci = self.delta.conf_int(alpha)
        return self._matrix(ci["ci_lower"]), self._matrix(ci["ci_upper"])

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per cell, indexed (row, column): ``estimate, std_err, z, p_value,
        ci_lower, ci_upper``."""
        frame = self.delta.summary_frame(alpha)
        frame.index = pd.MultiIndex.from_product([self.rows, self.columns],
                                                 names=[self.row_name, self.column_name])
        return frame

    def __repr__(self) -> str:
        return (f"{type(self).__name__} ({self.kind}; rows: {self.row_name}, columns: "
                f"{self.column_name})\nestimate:\n{self.estimate.to_string()}\nstd_err:\n"
                f"{self.std_err.to_string()}")


@dataclass
class SharePredictionResults:
    """Predicted shares with delta-method standard errors (statsmodels' layout).

    Attributes
    ----------
    delta : DeltaResult
        One row per (row, alternative), or per alternative when averaged; ``delta.cov`` is the
        joint covariance (e.g. for differences between alternatives).
    """

    delta: DeltaResult

    @property
    def predicted_mean(self) -> pd.Series:
        return self.delta.estimate.rename("mean")

    @property
    def se_mean(self) -> pd.Series:
        return self.delta.std_err.rename("mean_se")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        return self.delta.conf_int(alpha)

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Columns ``mean, mean_se, mean_ci_lower, mean_ci_upper`` (Wald bands)."""
        ci = self.delta.conf_int(alpha)
        return pd.DataFrame({"mean": self.predicted_mean, "mean_se": self.se_mean,
                             "mean_ci_lower": ci["ci_lower"], "mean_ci_upper": ci["ci_upper"]})

    def __repr__(self) -> str:
        return f"{type(self).__name__}\n{self.summary_frame().to_string()}"


def _labels(rows: Sequence[Any], columns: Sequence[Any]) -> pd.MultiIndex:
    return pd.MultiIndex.from_product([list(rows), list(columns)])


# ---------------------------------------------------------------------------------- helpers
def softmax_complex(eta: Any) -> Any:
    """Row-wise softmax of a (n, J) array, real or complex (shifted by the real row maximum)."""
    c = np.real(eta).max(axis=1, keepdims=True)
    e = np.exp(eta - c)
    return e / e.sum(axis=1, keepdims=True)


def _raw_frame(design: Design, at: Any) -> pd.DataFrame | None:
    if at is None:
        return None if design.data is None else design.estimation_rows()
    if is_dataframe_like(at):
        at = as_pandas_frame(at, what="at", newdata=True)
    if not isinstance(at, pd.DataFrame):
        raise TypeError("at must be None (the estimation rows) or a DataFrame of rows to "
                        "evaluate at")
    if design.design_info is None:
        raise ValueError("at= needs a formula model; for an array model pass the rows as a "
                         "design matrix to predict")
    return at


def design_derivative(design: Design, frame: pd.DataFrame | None,
                      variable: str) -> tuple[np.ndarray, np.ndarray]:
    r"""The derivative of each design row with respect to a raw variable, and the variable.

    For a formula model the design is rebuilt at :math:`v \pm h` and :math:`v \pm h/2`
    (:math:`h_i = 10^{-3}\,|v_i|`, or :math:`10^{-3}` where :math:`v_i = 0`) and the two central
    differences are combined by Richardson extrapolation. For an array model the variable is
    a column name and the derivative is that unit vector.

    Returns
    -------
    derivative : ndarray, shape (n, k)
    values : ndarray, shape (n,)
    """
    names = list(design.exog_names)
    if design.design_info is None or frame is None:
        if variable not in names:
            raise UnknownVariableError(f"unknown variable {variable!r}; the model's columns "
                                       f"are {names}")
        j = names.index(variable)
        d = np.zeros_like(design.exog)
        d[:, j] = 1.0
        return d, design.exog[:, j].copy()
    if variable not in frame.columns:
        raise UnknownVariableError(f"variable {variable!r} is not a column of the data")
    values = frame[variable]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"variable {variable!r} is not numeric: margins and elasticities are "
                        "derivatives; compare predictions at its levels with get_prediction")
    v = values.to_numpy(dtype=float)
    h = _FD_REL_STEP * np.where(v != 0.0, np.abs(v), 1.0)
    # one design build for the four perturbed copies of the rows (patsy's cost is per call)
    shifts = (h, -h, h / 2, -h / 2)
    stacked = pd.concat([frame] * len(shifts), ignore_index=True)
    stacked[variable] = np.concatenate([v + s for s in shifts])
    up, down, up2, down2 = np.split(build_exog(design, stacked), len(shifts))
    d1 = (up - down) / (2.0 * h[:, None])
    d2 = (up2 - down2) / h[:, None]
    return (4.0 * d2 - d1) / 3.0, v


def _weighted_mean(values: Any, w: np.ndarray | None) -> Any:
    if w is None:
        return values.mean(axis=0)
    return np.tensordot(w, values, axes=(0, 0)) / w.sum()


def coefficient_ratio(results: Any, numerators: Sequence[str], denominators: Sequence[str] | str,
                      *, names: Sequence[Any]) -> DeltaResult:
    r""":math:`-b_a / b_p` for each numerator *a* and its denominator *p* (willingness to pay),
    with delta-method SEs. A single denominator is shared by all numerators."""
    params = results.params
    if isinstance(denominators, str):
        denominators = [denominators] * len(numerators)
    for name in list(numerators) + list(denominators):
        if name not in params.index:
            raise UnknownVariableError(f"{name!r} is not a parameter; parameters: "
                                       f"{list(params.index)}")
    num_idx = [params.index.get_loc(a) for a in numerators]
    den_idx = [params.index.get_loc(p) for p in denominators]

    def ratio(b: pd.Series) -> Any:
        x = np.asarray(b)
        return -x[num_idx] / x[den_idx]

    return _stamp(results, delta_method(ratio, params, results.cov_params(), names=list(names),
                                        method="complex"))


def _stamp(results: Any, delta: DeltaResult) -> DeltaResult:
    """The results' reference distribution (t with ``use_t``) and variance rule."""
    stamp = getattr(results, "_stamp", None)
    return stamp(delta) if stamp is not None else delta


# ---------------------------------------------------------------------------------- multinomial
class MultinomialEffects:
    """Post-estimation quantities of a fitted multinomial fractional logit on given rows."""

    def __init__(self, results: Any, at: Any = None) -> None:
        model = results.model
        self.results, self.model = results, model
        self.frame = _raw_frame(model.design, at)
        self.exog = model.exog if at is None else build_exog(model.design, at)
        self.weights = model.weights if at is None else None
        self.alternatives = list(model.alternatives)

    def _probs(self, b: Any, x: np.ndarray) -> Any:
        model = self.model
        coef = np.asarray(b).reshape(len(model._nonbase), model.k_exog).T
        eta = np.zeros((x.shape[0], len(self.alternatives)), dtype=np.result_type(coef, float))
        eta[:, model._nonbase] = x @ coef
        return softmax_complex(eta), coef

    def _delta(self, func: Callable[[Any], Any], names: pd.Index) -> DeltaResult:
        res = self.results
        return _stamp(res, delta_method(lambda b: func(b.to_numpy()), res.params,
                                        res.cov_params(), names=names, method="complex"))

    def prediction(self, *, average: bool) -> DeltaResult:
        def func(b: Any) -> Any:
            p, _ = self._probs(b, self.exog)
            return _weighted_mean(p, self.weights) if average else p.reshape(-1)

        if average:
            names = pd.Index(self.alternatives, name="alternative")
        else:
            rows = (self.frame.index if self.frame is not None
                    else pd.RangeIndex(self.exog.shape[0]))
            names = pd.MultiIndex.from_product([rows, self.alternatives])
        return self._delta(func, names)

    def _derivatives(self, variables: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [design_derivative(self.model.design, self.frame, v) for v in variables]

    def _dydx(self, b: Any, derivs: list[tuple[np.ndarray, np.ndarray]]
              ) -> tuple[Any, list[Any]]:
        """Shares (n, J) and, per variable, the observation derivatives (n, J)."""
        p, coef = self._probs(b, self.exog)
        out = []
        for d_x, _ in derivs:
            d = np.zeros(p.shape, dtype=p.dtype)
            d[:, self.model._nonbase] = d_x @ coef
            dbar = (p * d).sum(axis=1, keepdims=True)
            out.append(p * (d - dbar))
        return p, out

    def effects(self, variables: Sequence[str], *, kind: str,
                aggregate: bool = False) -> EffectMatrix:
        derivs = self._derivatives(variables)
        w = self.weights

        def func(b: Any) -> Any:
            p, dps = self._dydx(b, derivs)
            cols = []
            for (_, v), dp in zip(derivs, dps):
                if kind == "dydx":
                    cols.append(_weighted_mean(dp, w))
                elif aggregate:
                    cols.append(_weighted_mean(dp * v[:, None], w) / _weighted_mean(p, w))
                else:
                    cols.append(_weighted_mean(dp * v[:, None] / p, w))
            return np.stack(cols, axis=1).reshape(-1)  # rows: alternatives; columns: variables

        delta = self._delta(func, _labels(self.alternatives, variables))
        return EffectMatrix(delta, self.alternatives, list(variables), kind)

    def diversion(self, prices: dict[str, str]) -> EffectMatrix:
        unknown = [a for a in prices if alternative_name(a, self.alternatives) is None]
        if unknown:
            raise UnknownVariableError(f"alternatives {unknown} are not among {self.alternatives}")
        prices = {alternative_name(a, self.alternatives): v for a, v in prices.items()}
        alts = list(prices)
        if len(alts) < 1:
            raise ValueError("prices must map at least one alternative to its price variable")
        derivs = self._derivatives([prices[a] for a in alts])
        w = self.weights
        col_of = [self.alternatives.index(a) for a in alts]

        def func(b: Any) -> Any:
            _, dps = self._dydx(b, derivs)
            rows = []
            for r, dp in enumerate(dps):
                mean = _weighted_mean(dp, w)
                rows.append(-mean / mean[col_of[r]])
            return np.stack(rows).reshape(-1)  # rows: from (price rises); columns: to

        delta = self._delta(func, _labels(alts, self.alternatives))
        return EffectMatrix(delta, alts, self.alternatives, "diversion", row_name="from",
                            column_name="to")


# ---------------------------------------------------------------------------------- conditional
class ConditionalEffects:
    """Post-estimation quantities of a fitted conditional logit on given situations.

    Situations may offer different subsets of the alternatives. Shares of alternatives not
    offered are 0; effect matrices and diversion ratios have a row and a column for each
    alternative that some situation offers. The averages over situations of ``dydx`` and of the (non-aggregate)
    elasticities, cell (*m*, *l*), run over the situations that offer both *m* and *l* (a
    cell no situation defines is NaN); predicted shares averaged over situations, aggregate
    elasticities and diversion ratios sum over all situations, with zero shares where an
    alternative is not offered (market quantities).
    """

    def __init__(self, results: Any, at: Any = None, groups: Any = None) -> None:
        from .conditional import grid_structure

        model = results.model
        self.results, self.model = results, model
        if at is not None and is_dataframe_like(at):
            at = as_pandas_frame(at, what="at", newdata=True)
        self.frame = _raw_frame(model.design, at)
        if at is None:
            self.structure = model.structure
            self.exog = model.exog
            self.weights = model._w
        else:
            group_values = model._new_groups(at, groups)
            if model.alternative_col is None:
                raise ValueError("at= needs the model's alternatives column by name")
            self.structure = grid_structure(group_values, at[model.alternative_col], at.index,
                                            levels=model.alternatives)
            self.exog = build_exog(model.design, at)[:, model._keep]
            self.weights = None
        self.alternatives = list(self.structure.alternatives)
        self.available = self.structure.available
        self.z = self.structure.grid(self.exog)  # (G, J, k), zero where not offered
        # effects and diversion: the alternatives that some situation offers
        self._offered = np.flatnonzero(self.available.any(axis=0))
        self.offered_alternatives = [self.alternatives[j] for j in self._offered]
        w = np.ones(self.structure.n_groups) if self.weights is None else self.weights
        both = self.available[:, :, None] & self.available[:, None, :]
        pair = w[:, None, None] * both
        with np.errstate(invalid="ignore", divide="ignore"):
            self._pair_weights = pair / pair.sum(axis=0)  # (G, m, l); NaN if no situation
        self._never_together = ~both.any(axis=0)

    def _delta(self, func: Callable[[Any], Any], names: pd.Index) -> DeltaResult:
        res = self.results
        return _stamp(res, delta_method(lambda b: func(b.to_numpy()), res.params,
                                        res.cov_params(), names=names, method="complex"))

    def _probs(self, b: Any) -> Any:
        from .conditional import masked_softmax

        return masked_softmax(self.z @ b, self.available)

    def _pair_mean(self, values: Any) -> Any:
        """The (m, l) average over the situations offering both m and l."""
        return np.einsum("gml,gml->ml", self._pair_weights, values)

    def prediction(self, *, average: bool) -> DeltaResult:
        avail = self.available

        def func(b: Any) -> Any:
            p = self._probs(b)
            return _weighted_mean(p, self.weights) if average else p[avail]

        if average:
            names = pd.Index(self.alternatives, name="alternative")
        else:
            g, j = np.nonzero(avail)
            names = pd.MultiIndex.from_arrays(
                [self.structure.group_labels[g], pd.Index(self.alternatives)[j]])
        return self._delta(func, names)

    def _derivative(self, variable: str) -> tuple[np.ndarray, np.ndarray]:
        """(G, J, k) design derivatives of each row w.r.t. its own value, and (G, J) values."""
        d, v = design_derivative(self.model.design, self.frame, variable)
        if self.frame is not None:
            d = d[:, self.model._keep]
        return self.structure.grid(d), self.structure.grid(v)

    def _dydx(self, b: Any, d_z: np.ndarray) -> tuple[Any, Any]:
        r"""Shares (G, J) and :math:`\partial p_{gm} / \partial v_{gl}` as (G, m, l)."""
        p = self._probs(b)
        d = d_z @ b  # (G, J): d eta_gl / d v_gl
        dp = -p[:, :, None] * (p * d)[:, None, :]
        idx = np.arange(p.shape[1])
        dp[:, idx, idx] += p * d
        return p, dp

    def _restrict(self, matrix: Any) -> Any:
        """An (m, l) matrix restricted to the alternatives some situation offers."""
        return matrix[np.ix_(self._offered, self._offered)]

    def _check_pairs(self) -> None:
        never = self._restrict(self._never_together)
        if never.any():
            alts = self.offered_alternatives
            m, l = (int(i[0]) for i in np.nonzero(never))
            raise DataError(f"no situation offers both {alts[m]!r} and {alts[l]!r}, so the mean "
                            "effect of one on the other over the situations offering both is "
                            "undefined; use aggregate=True (market elasticities) or evaluate "
                            "at situations that offer them together")

    def effects(self, variable: str, *, kind: str, aggregate: bool = False) -> EffectMatrix:
        d_z, v = self._derivative(variable)
        w = self.weights
        offered = self.available
        if kind == "dydx" or not aggregate:
            self._check_pairs()

        def func(b: Any) -> Any:
            p, dp = self._dydx(b, d_z)
            if kind == "dydx":
                out = self._pair_mean(dp)
            elif aggregate:
                with np.errstate(invalid="ignore", divide="ignore"):  # never offered: dropped
                    out = _weighted_mean(dp * v[:, None, :], w) / _weighted_mean(p, w)[:, None]
            else:
                safe_p = np.where(offered, p, 1.0)  # cells not offered carry no weight
                out = self._pair_mean(dp * v[:, None, :] / safe_p[:, :, None])
            return self._restrict(out).reshape(-1)  # rows: share of m; columns: variable of l

        alts = self.offered_alternatives
        delta = self._delta(func, _labels(alts, alts))
        return EffectMatrix(delta, alts, alts, kind, column_name=f"{variable} of")

    def diversion(self, variable: str) -> EffectMatrix:
        d_z, _ = self._derivative(variable)
        w = self.weights

        def func(b: Any) -> Any:
            _, dp = self._dydx(b, d_z)
            mean = self._restrict(_weighted_mean(dp, w))  # (m, l)
            own = np.diagonal(mean)
            return (-mean / own[None, :]).T.reshape(-1)  # rows: from l; columns: to m

        alts = self.offered_alternatives
        delta = self._delta(func, _labels(alts, alts))
        return EffectMatrix(delta, alts, alts, "diversion", row_name="from", column_name="to")
