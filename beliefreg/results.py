"""Results of beliefreg's estimators, with statsmodels' names.

:class:`LikelihoodResults` holds what every estimator reports (parameters, their covariance,
tests, the summary table); :class:`BinaryResults` adds what the binary and fractional models
know (fitted values, predictions, fit statistics).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import stats
from statsmodels.iolib.summary2 import Summary
from statsmodels.stats.contrast import ContrastResults

from .exceptions import CovarianceWarning
from .inference.covariance import Covariance
from .inference.datagrid import AtSpec, VariableMap, evaluation_frame
from .inference.delta import DeltaResult, JacobianMethod, delta_method
from .inference.margins import generic_margins, index_margins
from .inference.prediction import PredictionResults, index_predictions

__all__ = ["LikelihoodResults", "BinaryResults"]


def _default_variables(vmap: VariableMap, variables: Any, kind: str, binary: str) -> list[str]:
    """The named variables (validated), or by default every variable the kind applies to:
    all of them for ``'dydx'``; for elasticities only the continuous ones (and 0/1 ones
    treated as continuous with ``binary='derivative'``)."""
    if variables is not None or kind == "dydx":
        return vmap.check_variables(variables)
    allowed = ("continuous", "binary") if binary == "derivative" else ("continuous",)
    names = [v for v in vmap.variables if vmap.kind(v) in allowed]
    if not names:
        raise ValueError(f"kind={kind!r} needs a continuous variable; the model has none "
                         f"(variables: {vmap.variables})")
    return names


class LikelihoodResults:
    """Parameters, covariance and tests of a (quasi-)likelihood estimator.

    Inference is asymptotic (normal, z statistics), as for every M-estimator here.
    """

    def __init__(self, model: Any, params: np.ndarray, cov: np.ndarray, *,
                 estimator: Covariance, cov_kwds: dict[str, Any]) -> None:
        self.model = model
        names = self._param_names()
        self.params = pd.Series(np.asarray(params, float), index=names, name="params")
        self._cov = pd.DataFrame(cov, index=names, columns=names)
        negative = [name for name, v in zip(names, np.diag(cov)) if v < 0]
        if negative:
            warnings.warn(
                f"the {estimator.name} covariance is not positive semi-definite: the variances "
                f"of {negative} are negative, so their standard errors are NaN; use "
                "cov_kwds={'fix': True} (eigenvalue clipping) or one-way clustering",
                CovarianceWarning, stacklevel=4)
        self._estimator = estimator
        self.cov_type: str = estimator.name
        self.cov_kwds = cov_kwds
        self.use_t = False

    def _param_names(self) -> list[str]:
        return list(self.model.exog_names)

    # ------------------------------------------------------------------ inference
    @property
    def n_groups(self) -> tuple[int, ...] | None:
        """The number of clusters of each clustering variable (None unless clustered)."""
        return self._estimator.n_groups

    def cov_params(self) -> pd.DataFrame:
        """The covariance matrix of the estimates, of the type given at ``fit``."""
        return self._cov.copy()

    @property
    def bse(self) -> pd.Series:
        diag = np.diag(self._cov.to_numpy())
        # a negative variance (non-PSD two-way cluster covariance) was warned about at fit time
        return pd.Series(np.sqrt(np.where(diag >= 0, diag, np.nan)), index=self.params.index,
                         name="bse")

    @property
    def tvalues(self) -> pd.Series:
        """z statistics (asymptotic inference)."""
        return (self.params / self.bse).rename("tvalues")

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2.0 * stats.norm.sf(np.abs(self.tvalues)), index=self.params.index,
                         name="pvalues")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals, columns ``0`` (lower) and ``1`` (upper)."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        q = stats.norm.isf(alpha / 2.0)
        return pd.DataFrame({0: self.params - q * self.bse, 1: self.params + q * self.bse})

    def _constraint(self, hypothesis: Any) -> tuple[np.ndarray, np.ndarray]:
        names = list(self.params.index)
        if isinstance(hypothesis, tuple) and len(hypothesis) == 2:
            r = np.atleast_2d(np.asarray(hypothesis[0], float))
            q = np.asarray(hypothesis[1], float).reshape(-1)
        elif isinstance(hypothesis, (str, list)) and not (
                isinstance(hypothesis, list) and hypothesis and not isinstance(hypothesis[0], str)):
            lc = patsy.DesignInfo(names).linear_constraint(hypothesis)
            r, q = lc.coefs, lc.constants.reshape(-1)
        else:
            r = np.atleast_2d(np.asarray(hypothesis, float))
            q = np.zeros(r.shape[0])
        if r.shape[1] != len(names):
            raise ValueError(f"the restriction matrix has {r.shape[1]} columns, the model "
                             f"{len(names)} parameters")
        return r, q

    def t_test(self, hypothesis: Any) -> ContrastResults:
        """z tests of linear hypotheses, e.g. ``"np.log(price) = -1"`` or ``"a = b, c = 0"``.

        Accepts a string (comma-separated restrictions, term names as in ``params``), a list of
        strings, a restriction matrix ``R`` (tested against 0) or a tuple ``(R, q)``.
        """
        r, q = self._constraint(hypothesis)
        effect = r @ self.params.to_numpy()
        sd = np.sqrt(np.diag(r @ self._cov.to_numpy() @ r.T))
        return ContrastResults(effect=effect, sd=sd, statistic=(effect - q) / sd,
                               distribution="norm")

    def wald_test(self, hypothesis: Any) -> ContrastResults:
        """The joint Wald (chi-squared) test of linear hypotheses ``R b = q``."""
        r, q = self._constraint(hypothesis)
        diff = r @ self.params.to_numpy() - q
        middle = r @ self._cov.to_numpy() @ r.T
        stat = float(diff @ np.linalg.solve(middle, diff))
        return ContrastResults(statistic=stat, df_denom=r.shape[0], distribution="chi2")

    # ------------------------------------------------------------------ delta method
    def nlcom(self, func: Any, *, name: Any = None, jacobian: Any = None,
              method: JacobianMethod = "auto") -> DeltaResult:
        r"""The delta method for a smooth function of the parameters (Stata's ``nlcom``).

        The standard error is :math:`\sqrt{J \widehat V J'}` with :math:`\widehat V` the
        covariance the model was fitted with (``cov_type``: robust, clustered, ...) and
        :math:`J` the Jacobian of ``func`` at the estimate: ``jacobian`` if given, else the
        complex step (exact) when ``func`` is complex-safe, else central differences with a
        scale-aware step (see :mod:`beliefreg.inference.delta`).

        Parameters
        ----------
        func : callable or str
            ``func(params)`` with ``params`` a pandas Series indexed by term name; returns a
            scalar, an array or a Series (its index names the rows). Or a string expression
            in term names, e.g. ``"-sole / mrate"`` or ``"exp(`np.log(price)`)"`` (names
            that are not identifiers may be quoted in backticks); several expressions
            separated by commas give several rows.
        name : str or sequence, optional
            Row name(s) of the result.
        jacobian : callable or array_like, optional
            The analytic Jacobian, shape (m, k), or a function of ``params`` returning it.
        method : {'auto', 'complex', 'central'}
            The numerical Jacobian when ``jacobian`` is not given.

        Returns
        -------
        DeltaResult
            ``.summary_frame(alpha)`` has columns ``estimate, std_err, z, p_value,
            ci_lower, ci_upper``; ``.cov`` is the joint covariance of the rows.

        Raises
        ------
        beliefreg.inference.delta.NonSmoothFunctionError
            ``func`` is not finite or not differentiable at the estimate.
        ValueError
            An unknown name in a string expression.

        Examples
        --------
        >>> import beliefreg as br
        >>> from beliefreg.datasets import load_401k
        >>> res = br.FractionalLogit.from_formula("prate01 ~ mrate + age + sole",
        ...                                       load_401k()).fit()
        >>> res.nlcom("sole / mrate", name="ratio").summary_frame().round(3)
               estimate  std_err      z  p_value  ci_lower  ci_upper
        ratio     0.391    0.111  3.506      0.0     0.172     0.609
        """
        return delta_method(func, self.params, self._cov, jacobian=jacobian, names=name,
                            method=method)

    # ------------------------------------------------------------------ margins (generic)
    def _variable_map(self) -> VariableMap:
        """The raw variables behind the design (cached)."""
        if getattr(self, "_vmap", None) is None:
            self._vmap = VariableMap(self.model.design)
        return self._vmap

    def _predict_exog(self, params: np.ndarray, exog: np.ndarray) -> np.ndarray:
        """Predicted means, (n,) or (n, J), for a design matrix: the hook of the generic margins.

        Models other than the single-index ones implement it (e.g. shares of J alternatives);
        :meth:`margins` then works numerically in the data and in the parameters.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement _predict_exog")

    def _outcome_names(self) -> list[Any] | None:
        return None

    def _margins_delta(self, variables: Any = None, *, kind: str = "dydx",
                       at: AtSpec = "overall", by: Any = None,
                       binary: str = "change") -> DeltaResult:
        vmap = self._variable_map()
        names = _default_variables(vmap, variables, kind, binary)
        frame = evaluation_frame(vmap, at, by=by, weights=self.model.weights)
        return generic_margins(self._predict_exog, self.params, self._cov.to_numpy(), vmap,
                               frame, names, kind=kind, binary=binary,
                               outcome_names=self._outcome_names())

    def margins(self, variables: Any = None, *, kind: str = "dydx", at: AtSpec = "overall",
                by: Any = None, binary: str = "change", alpha: float = 0.05) -> pd.DataFrame:
        r"""Marginal effects and elasticities with respect to raw data variables.

        The derivative is taken with respect to the variable in the data, through every term
        of the formula that uses it (``np.log(price) + I(price**2)``, interactions): the
        variable is perturbed and the design rebuilt. Standard errors are delta-method ones,
        :math:`\sqrt{J \widehat V J'}`, with the covariance the model was fitted with.

        Parameters
        ----------
        variables : str or list of str, optional
            Raw variables of the formula (default: all of them for ``'dydx'``, the continuous
            ones for the other kinds). For a model built from arrays, design column names.
        kind : {'dydx', 'eyex', 'dyex', 'eydx'}
            ``dy/dx``; the elasticity ``(dy/dx)(x/y)``; ``(dy/dx) x``; ``(dy/dx)/y`` (``y`` is
            the predicted mean).
        at : 'overall', 'mean', dict or DataFrame
            ``'overall'`` (default): the average of the observation-level effects over the
            estimation sample (average partial effects). ``'mean'``: the effect at one row with
            every raw variable at its sample mean, transforms rebuilt from it (``I(age**2)`` at
            the mean age, as Stata's ``atmeans`` and marginaleffects do; a column you squared
            yourself is a separate variable and enters at its own mean); categorical variables
            at their most frequent level. A dict ``{variable: value or list}`` fixes those
            variables in every row and averages (Stata's ``at()``; a list gives one row per
            value). A DataFrame: averaged over its rows.
        by : str or list of str, optional
            Columns of the data: one row per group, each averaging within the group.
        binary : {'change', 'derivative'}
            Numeric 0/1 variables get the discrete change from 0 to 1 (default, as
            marginaleffects) or the derivative (as statsmodels' ``get_margeff`` by default and
            Stata without ``i.``). Categorical variables (strings, booleans, ``C(x)``) always
            get discrete changes of each level against the base level (``kind='dydx'`` only).
        alpha : float
            For the confidence interval.

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate, std_err, z, p_value, ci_lower, ci_upper``; one row per
            variable (per non-base level for categorical ones), per group with ``by``.

        Notes
        -----
        With prior weights, the averages over the sample (and the means for ``at='mean'``)
        are weighted by them.
        """
        return self._margins_delta(variables, kind=kind, at=at, by=by,
                                   binary=binary).summary_frame(alpha)

    # ------------------------------------------------------------------ summary
    def _cov_label(self) -> str:
        label = self._estimator.description
        groups = self.cov_kwds.get("groups")
        if self.n_groups is not None:
            names = groups if isinstance(groups, (list, tuple)) and all(
                isinstance(g, str) for g in groups) else ([groups] if isinstance(groups, str) else None)
            if names:
                label += " by " + " and ".join(names)
        return label

    def _summary_info(self) -> dict[str, str]:  # pragma: no cover - overridden
        return {}

    def params_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Estimates, SEs, z, p-values and the confidence interval as a DataFrame."""
        ci = self.conf_int(alpha)
        return pd.DataFrame({"Coef.": self.params, "Std.Err.": self.bse, "z": self.tvalues,
                             "P>|z|": self.pvalues,
                             f"[{alpha / 2:g}": ci[0], f"{1 - alpha / 2:g}]": ci[1]})

    def summary(self, alpha: float = 0.05, *, float_format: str = "%.4f") -> Summary:
        """The estimation table: ``print(res.summary())``, ``.as_html()``, ``.as_latex()``."""
        smry = Summary()
        smry.add_title(self.model.model_name)
        smry.add_dict(self._summary_info(), ncols=2)
        smry.add_df(self.params_frame(alpha), float_format=float_format)
        for note in self._summary_notes():
            smry.add_text(note)
        return smry

    def _summary_notes(self) -> list[str]:
        return []


class BinaryResults(LikelihoodResults):
    """Results of :class:`~beliefreg.FractionalLogit`, :class:`~beliefreg.FractionalProbit` and
    :class:`~beliefreg.Logit`.

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        Indexed by the formula's term names.
    cov_type : str
    hessian : {'observed', 'expected'}
        The Hessian in the bread of the covariance.
    quasi_llf : float
        The Bernoulli quasi-log-likelihood at the estimate (for :class:`Logit`, the
        log-likelihood, also available as ``llf``).
    rsquared : float
        ``corr(y, yhat)**2``, the fit measure Papke and Wooldridge report; no pseudo-R-squared
        or likelihood-ratio test is reported for fractional outcomes, where they mean nothing.
    """

    def __init__(self, model: Any, fitted: Any, cov: np.ndarray, *, estimator: Covariance,
                 hessian: str, cov_kwds: dict[str, Any]) -> None:
        super().__init__(model, fitted.params, cov, estimator=estimator, cov_kwds=cov_kwds)
        self.hessian = hessian
        self.quasi_llf = fitted.qllf
        self.converged = fitted.converged
        self.n_iter = fitted.n_iter
        self.n_boundary = fitted.n_boundary
        self._eta = fitted.eta

    @property
    def llf(self) -> float:
        """The log-likelihood; only defined for the 0/1 :class:`~beliefreg.Logit`."""
        if not self.model.binary_outcome:
            raise AttributeError("llf is not defined for a fractional outcome (the Bernoulli "
                                 "quasi-log-likelihood is not a likelihood); use quasi_llf")
        return self.quasi_llf

    @property
    def nobs(self) -> int:
        return self.model.nobs

    @property
    def df_model(self) -> int:
        """Number of slope parameters (k minus 1 if the model has an intercept)."""
        x = self.model.exog
        has_const = bool(np.any(np.all(x == x[0], axis=0) & (x[0] != 0)))
        return x.shape[1] - int(has_const)

    @property
    def df_resid(self) -> int:
        return self.nobs - self.model.k_exog

    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted means ``G(x'b)``, indexed like the rows used."""
        return pd.Series(self.model.link.cdf(self._eta), index=self.model.design.row_labels,
                         name="fittedvalues")

    @property
    def resid(self) -> pd.Series:
        """Response residuals ``y - G(x'b)``."""
        return pd.Series(self.model.endog - self.model.link.cdf(self._eta),
                         index=self.model.design.row_labels, name="resid")

    @property
    def rsquared(self) -> float:
        y = self.model.endog
        yhat = self.model.link.cdf(self._eta)
        if np.ptp(y) == 0 or np.ptp(yhat) == 0:
            return float("nan")
        return float(np.corrcoef(y, yhat)[0, 1] ** 2)

    def predict(self, newdata: Any = None, *, which: str = "mean") -> pd.Series | np.ndarray:
        """Predicted probabilities (or the linear predictor) for new data.

        For a formula model ``newdata`` is a DataFrame with the formula's variables (the design
        is rebuilt, transforms and categories included); for an array model it is a design
        matrix. Without ``newdata`` the in-sample fitted values.
        """
        pred = self.model.predict(self.params.to_numpy(), newdata, which=which)
        if newdata is None:
            return pd.Series(pred, index=self.model.design.row_labels, name="predicted")
        if isinstance(newdata, pd.DataFrame):
            return pd.Series(pred, index=newdata.index, name="predicted")
        return pred

    # ------------------------------------------------------------------ post-estimation
    def _predict_exog(self, params: np.ndarray, exog: np.ndarray) -> np.ndarray:
        return self.model.link.cdf(exog @ np.asarray(params))

    def _margins_delta(self, variables: Any = None, *, kind: str = "dydx",
                       at: AtSpec = "overall", by: Any = None,
                       binary: str = "change") -> DeltaResult:
        """Analytic margins of the single-index model (O(n k) work, no numerical Jacobian)."""
        vmap = self._variable_map()
        names = _default_variables(vmap, variables, kind, binary)
        frame = evaluation_frame(vmap, at, by=by, weights=self.model.weights)
        return index_margins(self.model.link, self.params, self._cov.to_numpy(), vmap, frame,
                             names, kind=kind, binary=binary)

    def elasticity(self, variable: str, *, at: AtSpec = "overall", by: Any = None,
                   alpha: float = 0.05) -> pd.DataFrame:
        r"""The elasticity of the expected outcome with respect to a raw variable.

        :math:`\partial \log E[y|x] / \partial \log v = g(\eta)\,(\partial\eta/\partial v)
        \, v / G(\eta)`, through every term that uses ``v`` (for ``np.log(price)`` alone it is
        :math:`\beta (1 - G)` for the logit). ``at='overall'`` averages the observation-level
        elasticities (as Stata's ``margins, eyex()`` and marginaleffects' ``avg_slopes``);
        ``at='mean'`` evaluates at the means; see :meth:`margins` for ``at`` and ``by``.
        Same as ``margins(variable, kind='eyex', ...)``.

        Examples
        --------
        >>> import numpy as np, beliefreg as br
        >>> from beliefreg.datasets import load_401k
        >>> res = br.FractionalLogit.from_formula(
        ...     "prate01 ~ mrate + I(mrate**2) + np.log(totemp) + age + sole", load_401k()).fit()
        >>> res.elasticity("totemp").round(4)
                estimate  std_err       z  p_value  ci_lower  ci_upper
        term                                                          
        totemp   -0.0259   0.0034 -7.5432      0.0   -0.0326   -0.0192
        """
        return self.margins(variable, kind="eyex", at=at, by=by, alpha=alpha,
                            binary="derivative")

    def get_prediction(self, newdata: Any = None) -> PredictionResults:
        r"""Predicted means with delta-method standard errors and bands.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows with every variable of the formula (the design is rebuilt); for an array
            model, a design matrix. Default: the estimation rows.

        Returns
        -------
        PredictionResults
            ``.summary_frame(alpha, scale='probability')`` has columns ``mean, mean_se,
            mean_ci_lower, mean_ci_upper``: Wald bands on the probability scale
            (``scale='link'``: built on the index and mapped through G, so inside [0, 1]).

        Examples
        --------
        >>> import numpy as np, pandas as pd, beliefreg as br
        >>> from beliefreg.datasets import load_401k
        >>> res = br.FractionalLogit.from_formula("prate01 ~ mrate + np.log(totemp)",
        ...                                       load_401k()).fit()
        >>> new = pd.DataFrame({"mrate": [0.5, 1.0], "totemp": [100, 100]})
        >>> res.get_prediction(new).summary_frame().round(4)
             mean  mean_se  mean_ci_lower  mean_ci_upper
        0  0.9078   0.0054         0.8973         0.9183
        1  0.9428   0.0051         0.9327         0.9528
        """
        vmap = self._variable_map()
        if newdata is None:
            exog, index = self.model.exog, self.model.design.row_labels
        else:
            frame = vmap.check_newdata(newdata)
            exog, index = vmap.build(frame), frame.index
        return index_predictions(self.model.link, self.params, self._cov.to_numpy(), exog,
                                 index)

    def demand_curve(self, variable: str, values: Any = None, *, at: AtSpec = "overall",
                     by: Any = None, alpha: float = 0.05) -> pd.DataFrame:
        r"""Predicted demand (mean outcome) over a grid of ``variable``, with delta-method bands.

        At each grid value :math:`v`, :math:`D(v) = \sum_r w_r G(x_r(v)'\beta)`: with
        ``at='overall'`` the sample average of the predicted probability with every row's
        ``variable`` set to :math:`v` (the design rebuilt, so ``np.log(price)`` is handled);
        ``at='mean'``: at the means. See :func:`beliefreg.economics.demand_curve`.

        Returns
        -------
        pandas.DataFrame
            Indexed by the grid value (and the ``by`` group); columns ``estimate, std_err, z,
            p_value, ci_lower, ci_upper``.
        """
        from .economics import demand_curve

        return demand_curve(self, variable, values, at=at, by=by).summary_frame(alpha)

    def wtp(self, attribute: str, price: str, *, at_price: float | None = None,
            alpha: float = 0.05) -> pd.DataFrame:
        r"""Willingness to pay: ``-b[attribute] / b[price]`` with a delta-method SE.

        For a formula linear in price. When price enters through ``np.log(price)`` (or any
        transform) the ratio is a change in log price, not money: this refuses with an
        explanation (the implied percentage premium) unless ``at_price=p0`` asks for the money
        amount at a reference price. See :func:`beliefreg.economics.wtp`.
        """
        from .economics import wtp

        return wtp(self, attribute, price, at_price=at_price).summary_frame(alpha)

    def optimal_price(self, price: str, *, cost: float = 0.0,
                      bounds: tuple[float, float] | None = None, at: AtSpec = "overall",
                      by: Any = None, alpha: float = 0.05) -> pd.DataFrame:
        r"""The price maximising ``(p - cost) x demand(p)``, with its delta-method SE.

        Demand is the predicted probability (averaged over ``at``); the search stays within
        the observed prices unless ``bounds`` says otherwise; the SE comes from the implicit
        function theorem on the first-order condition. Rows ``price``, ``demand``, ``profit``
        at the optimum. See :func:`beliefreg.economics.optimal_price`.
        """
        from .economics import optimal_price

        return optimal_price(self, price, cost=cost, bounds=bounds, at=at,
                             by=by).summary_frame(alpha)

    def plot_demand(self, variable: str, values: Any = None, *, at: AtSpec = "overall",
                    by: Any = None, observed: bool = True, alpha: float = 0.05,
                    ax: Any = None) -> Any:
        """Plot the fitted demand curve with its band and the observed mean outcomes.

        See :func:`beliefreg.plotting.plot_demand`; returns the matplotlib Axes.
        """
        from .plotting import plot_demand

        return plot_demand(self, variable, values, at=at, by=by, observed=observed,
                           alpha=alpha, ax=ax)

    def _summary_info(self) -> dict[str, str]:
        fit_label = "Log-likelihood:" if self.model.binary_outcome else "Quasi-log-likelihood:"
        info = {
            "Model:": self.model.model_name,
            "Dependent variable:": str(self.model.endog_names),
            "Link:": self.model.link.name,
            "No. observations:": str(self.nobs),
            "Df model:": str(self.df_model),
            "Df residuals:": str(self.df_resid),
            "Covariance type:": self._cov_label(),
            "Hessian (bread):": self.hessian if not self.model.link.canonical else "observed = expected",
            fit_label: f"{self.quasi_llf:.4f}",
            "R-squared (corr^2):": f"{self.rsquared:.4f}",
            "Converged:": f"{self.converged} ({self.n_iter} iterations)",
        }
        if self.n_groups is not None:
            info["No. clusters:"] = " x ".join(str(g) for g in self.n_groups)
        if self.model.weights is not None:
            info["Weights:"] = "yes (prior weights)"
        return info

    def _summary_notes(self) -> list[str]:
        notes = []
        if self.n_boundary:
            notes.append(f"Warning: {self.n_boundary} fitted probabilities are numerically 0 or 1"
                         " (separation); standard errors of the separating terms are very large.")
        if not self.model.binary_outcome and self.cov_type == "nonrobust":
            notes.append("Warning: nonrobust standard errors assume the Bernoulli likelihood is "
                         "correct, which a fractional outcome contradicts; use HC0 or cluster.")
        return notes
