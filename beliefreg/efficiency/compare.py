"""Belief against choice on one panel: estimates, standard errors, variance ratios.

``compare_measures`` fits the fractional logit of belief and the logit of choice on the same
right-hand side and sets them side by side; it also reports, condition by condition, the mean
and the run-to-run variance of each measure. Belief and choice have the same expectation, and
Var(choice) = E[b(1 - b)] + Var(b) >= Var(b), so both ratios should be at least about 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import SeparationWarning
from ..models.binary import FractionalLogit, Logit
from ..results import BinaryResults
from .estimators import _rhs, formula_environment
from .panel import MEASURES, measure_panel

__all__ = ["MeasureComparison", "compare_measures"]


@dataclass
class MeasureComparison:
    """The result of :func:`compare_measures`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per term: ``belief``, ``belief_se``, ``choice``, ``choice_se`` and
        ``variance_ratio`` = (choice_se / belief_se)^2, the number of times more runs choice
        needs for the same precision.
    results : dict
        ``{'belief': BinaryResults, 'choice': BinaryResults or None}`` (None when the logit of
        choice is separated so badly that its covariance cannot be formed).
    separated : dict
        ``{'belief': bool, 'choice': bool}``: the fit emitted a
        :class:`~beliefreg.SeparationWarning` (the MLE does not exist; the estimates are where
        the iterations stopped and the standard errors are not meaningful).
    by_condition : pandas.DataFrame
        Per condition: ``runs``, ``mean_belief``, ``mean_choice``, ``var_belief``,
        ``var_choice`` (run-to-run, ddof 1; NaN with one run) and ``variance_ratio``.
    measure_variance_ratio : float or None
        Pooled within-condition variance of choice over that of belief; None when no condition
        has two runs.
    cov_type : dict
        The covariance used for each measure.
    """

    table: pd.DataFrame
    results: dict[str, BinaryResults | None]
    separated: dict[str, bool]
    by_condition: pd.DataFrame
    measure_variance_ratio: float | None
    cov_type: dict[str, str]
    formula: str

    def summary(self) -> str:
        """A plain-text report."""
        lines = [f"Belief vs choice: fractional logit of belief / logit of choice on "
                 f"{self.formula}",
                 f"covariance: belief {self.cov_type['belief']}, choice "
                 f"{self.cov_type['choice']}; "
                 f"{int(self.by_condition['runs'].sum())} rows, "
                 f"{len(self.by_condition)} conditions", "",
                 self.table.to_string(float_format=lambda v: f"{v:.4g}"), ""]
        for m in MEASURES:
            if self.separated[m]:
                lines.append(f"{m}: separation, the (quasi-)MLE does not exist; its estimates "
                             "and standard errors are not meaningful")
        if self.measure_variance_ratio is None:
            lines.append("run-to-run variance: undefined (one run per condition)")
        else:
            lines.append("run-to-run variance of choice / belief (pooled within conditions): "
                         f"{self.measure_variance_ratio:.3g}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _fit(model_class: type, formula: str, data: pd.DataFrame, eval_env: Any,
         cov_type: str | None, condition: str) -> tuple[BinaryResults | None, bool, str]:
    model = model_class.from_formula(formula, data, eval_env=eval_env)
    kw: dict[str, Any] = {}
    if cov_type == "cluster":
        kw["cov_kwds"] = {"groups": condition}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SeparationWarning)
        try:
            res = model.fit(cov_type=cov_type, **kw)
        except np.linalg.LinAlgError:
            if not any(issubclass(w.category, SeparationWarning) for w in caught):
                raise
            res = None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    separated = any(issubclass(w.category, SeparationWarning) for w in caught)
    used = cov_type or model_class.default_cov_type
    if used == "cluster":
        used = f"cluster by {condition}"
    return res, separated, used


def compare_measures(panel: pd.DataFrame, formula: str = "~ np.log(price)", *,
                     cov_type: str | None = None, condition: str = "condition_id",
                     run: str = "run", belief: str | None = None, choice: str = "choice",
                     alternative: Any = "yes", eval_env: Any = 0) -> MeasureComparison:
    """Fit belief and choice on the same regressors; compare estimates and variances.

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per (condition, run) (see :func:`~beliefreg.efficiency.panel.measure_panel`);
        one run per condition is allowed.
    formula : str
        The right-hand side, e.g. ``'~ np.log(price)'``; the outcome is belief for the
        :class:`~beliefreg.FractionalLogit` and the 0/1 choice for the
        :class:`~beliefreg.Logit`.
    cov_type : str, optional
        Default: each model's own (``'HC0'`` for the fractional logit, which is a QMLE;
        ``'nonrobust'``, the inverse information, for the logit of 0/1 choices). ``'cluster'``
        clusters both by the condition column; ``'HC0'``/``'HC1'``/``'nonrobust'`` apply to
        both.
    condition, run, belief, choice, alternative
        The panel's columns, as in :func:`~beliefreg.efficiency.runs_needed`.
    eval_env : int or patsy.EvalEnvironment
        Where names in the formula are looked up; 0 is the caller's namespace. ``np`` (numpy)
        is always available.

    Returns
    -------
    MeasureComparison

    Warns
    -----
    SeparationWarning
        The logit of choice (typically with one run) is separated; ``separated['choice']``
        is True. Standard errors that the estimation core could not form (a singular or
        indefinite information matrix) are reported as inf, and the estimates as NaN if it
        could not fit at all.

    Examples
    --------
    >>> from beliefreg.efficiency import SyntheticRespondent, compare_measures
    >>> panel = SyntheticRespondent(10.6, -2.8, precision=18).panel(
    ...     range(20, 100, 5), runs=200, seed=0)
    >>> cmp = compare_measures(panel, "~ np.log(price)")
    >>> round(cmp.measure_variance_ratio)
    19
    """
    rhs = _rhs(formula)
    eval_env = formula_environment(eval_env, depth=1)
    mp = measure_panel(panel, condition=condition, run=run, belief=belief, choice=choice,
                       alternative=alternative)
    results: dict[str, BinaryResults | None] = {}
    separated: dict[str, bool] = {}
    used: dict[str, str] = {}
    for m, model_class in (("belief", FractionalLogit), ("choice", Logit)):
        f = f"Q({mp.measures[m].column!r}) ~ {rhs}"
        results[m], separated[m], used[m] = _fit(model_class, f, mp.data, eval_env, cov_type,
                                                  condition)
    names = next(r for r in results.values() if r is not None).params.index
    cols: dict[str, pd.Series] = {}
    for m in MEASURES:
        r = results[m]
        cols[m] = r.params if r is not None else pd.Series(math.nan, index=names)
        # a separated logit's covariance may have a negative diagonal (sqrt warns)
        with np.errstate(invalid="ignore" if separated[m] else "warn"):
            se = r.bse if r is not None else pd.Series(math.inf, index=names)
        if separated[m]:
            # the data do not bound a separated logit's coefficients; a covariance that came
            # out negative or NaN on the diagonal means the same
            se = se.where(np.isfinite(se), math.inf)
        cols[f"{m}_se"] = se
    table = pd.DataFrame(cols)
    table["variance_ratio"] = (table["choice_se"] / table["belief_se"]) ** 2
    table.index.name = "term"

    by_condition = _by_condition(mp)
    both = by_condition.dropna(subset=["var_belief", "var_choice"])
    ratio: float | None = None
    if len(both):
        dof = both["runs"] - 1
        ratio = float((both["var_choice"] * dof).sum() / (both["var_belief"] * dof).sum())
    return MeasureComparison(table=table, results=results, separated=separated,
                             by_condition=by_condition, measure_variance_ratio=ratio,
                             cov_type=used, formula=f"~ {rhs}")


def _by_condition(mp) -> pd.DataFrame:
    data = mp.data
    b, c = mp.measures["belief"].column, mp.measures["choice"].column
    g = data.groupby(mp.condition, sort=True)
    out = pd.DataFrame({"runs": g.size(), "mean_belief": g[b].mean(),
                        "mean_choice": g[c].mean(), "var_belief": g[b].var(ddof=1),
                        "var_choice": g[c].var(ddof=1)})
    out["variance_ratio"] = out["var_choice"] / out["var_belief"]
    return out
