r"""Ready-made estimators for :func:`~beliefreg.efficiency.runs_needed`.

An *estimator* is any callable ``estimator(panel, measure) -> float``: given a panel (all runs,
or a resample of runs) and a :class:`~beliefreg.efficiency.Measure` (which says whether the
outcome is belief or choice and which column holds it), it returns one number. For example

>>> mean_of_measure = lambda panel, measure: panel[measure.column].mean()

Estimators that only depend on the condition means of the measure (as the two below do) may
also offer a vectorised form, ``estimator.batch(conditions, measure)``, which returns a
function from condition means, shape (m, C), to ``(estimates, undefined)``, both shape (m,);
:func:`~beliefreg.efficiency.runs_needed` then evaluates all resamples at once instead of
calling the estimator once per resample. The vectorised form must return what the callable
returns (the tests check this for the estimators here).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import patsy

from ..exceptions import CovarianceWarning, DataError, SeparationWarning
from ..models.binary import FractionalLogit, Logit
from ..models.design import check_full_rank
from .batch_fit import fit_logit_many
from .panel import Measure

__all__ = ["Estimator", "BatchEstimator", "LogitCoefficient", "price_coefficient",
           "MeasureMean"]

#: ``(condition means, shape (m, C)) -> (estimates, undefined)``, both shape (m,).
BatchFunction = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@runtime_checkable
class Estimator(Protocol):
    """``estimator(panel, measure) -> float``."""

    def __call__(self, panel: pd.DataFrame, measure: Measure) -> float: ...


@runtime_checkable
class BatchEstimator(Estimator, Protocol):
    """An estimator that can also evaluate many resamples from their condition means."""

    def batch(self, conditions: ConditionLayout, measure: Measure) -> BatchFunction | None: ...


class ConditionLayout:
    """What a vectorised estimator knows about the conditions of a panel.

    Attributes
    ----------
    data : pandas.DataFrame
        The whole panel (all rows used).
    codes : ndarray of int
        For each row of ``data``, the position of its condition (0 .. C-1).
    frame : pandas.DataFrame
        One row per condition, in code order (the first run of each condition).
    ids : list
        The condition identifiers, in code order.
    column : str
        The condition identifier column.
    """

    def __init__(self, data: pd.DataFrame, codes: np.ndarray, frame: pd.DataFrame,
                 ids: list[Any], column: str) -> None:
        self.column = column
        self.data = data
        self.codes = codes
        self.frame = frame
        self.ids = ids


def formula_environment(eval_env: Any, *, depth: int) -> Any:
    """patsy's environment for a formula, with ``np`` (numpy) available as a fallback.

    An int is a frame depth counted from the caller of the function calling this one.
    """
    if isinstance(eval_env, int):
        eval_env = patsy.EvalEnvironment.capture(eval_env + depth + 1)
    return eval_env.with_outer_namespace({"np": np})


def _rhs(formula: str) -> str:
    """The right-hand side of ``'~ x'`` or ``'x'``; a left-hand side is refused."""
    if "~" in formula:
        lhs, rhs = formula.split("~", 1)
        if lhs.strip():
            raise ValueError(f"give the right-hand side only (e.g. '~ np.log(price)'); the "
                             f"outcome is the measure (belief or choice), got {formula!r}")
        return rhs.strip()
    return formula.strip()


class LogitCoefficient:
    r"""One coefficient of a fractional logit of belief, or a logit of choice, on a formula.

    For ``measure.name == 'belief'`` the estimate is that of
    :class:`~beliefreg.FractionalLogit` (Bernoulli QMLE) of the belief column on ``formula``;
    for ``'choice'`` that of :class:`~beliefreg.Logit` (maximum likelihood) of the 0/1 choice.
    Both estimate the same :math:`\beta` in :math:`E[y \mid x] = \Lambda(x'\beta)`, because the
    expected choice equals the expected belief.

    Parameters
    ----------
    formula : str
        The right-hand side in patsy syntax, e.g. ``'~ np.log(price)'``.
    term : str, optional
        The coefficient returned (a name in the fitted ``params``); default: the only term
        other than the intercept.
    eval_env : int or patsy.EvalEnvironment
        Where names in the formula are looked up; 0 is the caller's namespace. ``np`` (numpy)
        is always available.

    Notes
    -----
    **Separation.** On a small resample of choices the logit may be perfectly or
    quasi-completely separated (e.g. every run buys at the low prices and none at the high
    ones): the MLE does not exist and the coefficient diverges. The call then emits
    :class:`~beliefreg.SeparationWarning` and returns where the iterations stopped (or NaN if
    the estimation core could not even form the covariance);
    :func:`~beliefreg.efficiency.runs_needed` counts such a resample as *not* within the
    tolerance and reports how many there were. No number is passed off as an estimate.

    **Vectorised form.** When every regressor is constant within a condition, the estimate on
    a resample with the same number of runs per condition is a function of the condition means
    of the measure (see :mod:`beliefreg.efficiency.batch_fit`); :meth:`batch` then fits all
    resamples together. Otherwise :meth:`batch` returns None and each resample is a call.

    Examples
    --------
    >>> from beliefreg.efficiency import LogitCoefficient, SyntheticRespondent, Measure
    >>> panel = SyntheticRespondent(10.6, -2.8, precision=18).panel(
    ...     [20, 40, 60, 80], runs=50, seed=1)
    >>> est = LogitCoefficient("~ np.log(price)")
    >>> round(est(panel, Measure("belief", "belief_yes")), 2)
    -2.82
    """

    def __init__(self, formula: str, term: str | None = None, *, eval_env: Any = 0) -> None:
        self.rhs = _rhs(formula)
        self.eval_env = formula_environment(eval_env, depth=1)
        self._term = term

    def __repr__(self) -> str:
        term = "" if self._term is None else f", term={self._term!r}"
        return f"LogitCoefficient('~ {self.rhs}'{term})"

    def _resolve_term(self, names: list[str]) -> int:
        if self._term is not None:
            if self._term not in names:
                raise DataError(f"term {self._term!r} is not among the model's terms {names}")
            return names.index(self._term)
        slopes = [n for n in names if n != "Intercept"]
        if len(slopes) != 1:
            raise ValueError(f"the formula has terms {slopes}; say which coefficient with "
                             "term=")
        return names.index(slopes[0])

    def __call__(self, panel: pd.DataFrame, measure: Measure) -> float:
        model_class = Logit if measure.binary else FractionalLogit
        formula = f"Q({measure.column!r}) ~ {self.rhs}"
        try:
            model = model_class.from_formula(formula, panel, eval_env=self.eval_env)
        except DataError as exc:
            # said in the user's terms: their formula, not the one built around the measure
            shown = list(map(str, panel.columns))
            shown = shown[:20] + (["..."] if len(shown) > 20 else [])
            raise DataError(f"{self!r} cannot be evaluated on the panel: "
                            + str(exc).replace(repr(formula), repr(f"~ {self.rhs}"))
                            + f"; the panel's columns: {shown}") from None
        j = self._resolve_term(model.exog_names)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SeparationWarning)
            try:
                res = model.fit()
            except np.linalg.LinAlgError:
                # Under perfect separation the information matrix can be numerically singular
                # and the estimation core fails while forming the covariance; the coefficient
                # does not exist, which the SeparationWarning (re-emitted below) says.
                if not any(issubclass(w.category, SeparationWarning) for w in caught):
                    raise
                value = float("nan")
            else:
                value = float(res.params.iloc[j])
        for w in caught:
            # only the coefficient is used: the covariance's warnings (a singular HC0 on a
            # one-run resample) said nothing about it, once per resample (hundreds of lines)
            if issubclass(w.category, CovarianceWarning):
                continue
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return value

    def batch(self, conditions: ConditionLayout, measure: Measure) -> BatchFunction | None:
        """Fit all resamples at once from their condition means (see the class Notes).

        Returns None when a regressor varies within a condition.
        """
        data = conditions.data
        try:
            x = patsy.dmatrix(self.rhs, data, NA_action="raise", eval_env=self.eval_env,
                              return_type="dataframe")
        except patsy.PatsyError:
            return None
        values = x.to_numpy(dtype=float)
        names = [str(c) for c in x.columns]
        _, first = np.unique(conditions.codes, return_index=True)
        exog = values[first]
        if not np.array_equal(values, exog[conditions.codes]):
            return None
        check_full_rank(exog, names)
        j = self._resolve_term(names)

        def estimate(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            fit = fit_logit_many(means, exog)
            undefined = fit.separated | ~fit.converged
            return fit.params[:, j], undefined

        return estimate


def price_coefficient(price: str = "price", *, log: bool = True) -> LogitCoefficient:
    """The price coefficient of a fractional logit of belief / a logit of choice on log price.

    The paper's demand model: :math:`E[y \\mid p] = \\Lambda(a + b \\log p)`, so *b* is the
    price elasticity of the odds of buying.

    Parameters
    ----------
    price : str
        The price column.
    log : bool
        Regress on ``np.log(price)`` (default) or on ``price``.

    Examples
    --------
    >>> price_coefficient()
    LogitCoefficient('~ np.log(price)', term='np.log(price)')
    """
    term = f"np.log({price})" if log else price
    return LogitCoefficient(f"~ {term}", term=term, eval_env=patsy.EvalEnvironment([]))


class MeasureMean:
    """The mean of the measure over all runs, or at one condition.

    Parameters
    ----------
    condition : optional
        A condition identifier: the mean over that condition's runs. Default: all rows.
    by : str
        The condition identifier column.

    Examples
    --------
    >>> import pandas as pd
    >>> from beliefreg.efficiency import Measure
    >>> panel = pd.DataFrame({"condition_id": [0, 0, 1, 1], "belief_yes": [.2, .4, .6, .8]})
    >>> MeasureMean(condition=1)(panel, Measure("belief", "belief_yes"))
    0.7
    """

    def __init__(self, condition: Any = None, *, by: str = "condition_id") -> None:
        self.condition = condition
        self.by = by

    def __repr__(self) -> str:
        return "MeasureMean()" if self.condition is None else (
            f"MeasureMean(condition={self.condition!r})")

    def __call__(self, panel: pd.DataFrame, measure: Measure) -> float:
        values = panel[measure.column]
        if self.condition is not None:
            if self.by not in panel.columns:
                raise DataError(f"the panel has no condition column {self.by!r}")
            rows = panel[self.by] == self.condition
            if not rows.any():
                raise DataError(f"no row has {self.by} == {self.condition!r}")
            values = values[rows]
        return float(values.mean())

    def batch(self, conditions: ConditionLayout, measure: Measure) -> BatchFunction | None:
        """Condition means to estimates: one column, or their average (equal runs each).

        Returns None if ``by`` is not the panel's condition column (each resample is then a
        call).
        """
        if self.condition is None:
            return lambda means: (means.mean(axis=1), np.zeros(len(means), dtype=bool))
        if self.by != conditions.column:
            return None
        if self.condition not in conditions.ids:
            raise DataError(f"no row has {self.by} == {self.condition!r}")
        c = conditions.ids.index(self.condition)
        return lambda means: (means[:, c].copy(), np.zeros(len(means), dtype=bool))
