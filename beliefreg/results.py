"""Results of beliefreg's estimators, with statsmodels' names.

:class:`LikelihoodResults` holds what every estimator reports (parameters, their covariance,
tests, the summary table); :class:`BinaryResults` adds what the binary and fractional models
know (fitted values, predictions, fit statistics).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
import patsy
from statsmodels.iolib.summary2 import Summary
from statsmodels.stats.contrast import ContrastResults

from ._passes import has_intercept
from .exceptions import CovarianceWarning
from .inference.covariance import Covariance
from .inference.datagrid import AtSpec, VariableMap, evaluation_frame
from .inference.delta import DeltaResult, JacobianMethod, delta_method
from .inference.wald import WaldInference, check_covariance
from .inference.margins import generic_margins, index_margins
from .inference.prediction import (CIMethod, PredictionResults, index_predictions,
                                   mean_summary_frame)
from .models.design import newdata_index

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

    Inference is asymptotic (normal, z statistics) by default; ``fit(use_t=True)`` uses t
    statistics with ``df_inference`` degrees of freedom (G - 1 when clustered, else n - k)
    and F statistics for joint tests, in every p-value, interval, test and delta-method
    quantity (see :mod:`beliefreg.inference.wald`). ``boottest`` gives wild cluster score
    bootstrap p-values and confidence sets (:mod:`beliefreg.inference.boottest`).

    Attributes
    ----------
    use_t : bool
    cov_check : CovarianceCheck
        The eigenvalue check of the covariance made at fit (a
        :class:`~beliefreg.exceptions.CovarianceWarning` was issued if it failed).
    """

    def __init__(self, model: Any, params: np.ndarray, cov: np.ndarray, *,
                 estimator: Covariance, cov_kwds: dict[str, Any], use_t: bool = False,
                 separated: int = 0) -> None:
        self.model = model
        names = self._param_names()
        self.params = pd.Series(np.asarray(params, float), index=names, name="params")
        self._cov = pd.DataFrame(cov, index=names, columns=names)
        self._estimator = estimator
        self.cov_type: str = estimator.name
        self.cov_kwds = cov_kwds
        self.cov_check = check_covariance(cov, n_groups=estimator.n_groups, nparams=len(names),
                                          fixed=bool(getattr(estimator, "fix", False)),
                                          name=estimator.name, params=params)
        if separated and estimator.name != "nonrobust":
            # the sandwich's bread and meat both vanish along the separating direction: what
            # is left is rounding (an SE of 3 or of NaN for the same fit), not an estimate
            self.cov_check = dataclasses.replace(
                self.cov_check, singular=True, degenerate=True,
                reason=f"the fit is separated ({separated} fitted probabilities are 0 or 1: "
                       f"the (quasi-)MLE does not exist), and the {estimator.name} covariance "
                       "divides two numerically zero quantities there, so no standard error "
                       "is reported; cov_type='nonrobust' gives the model-based (very large) "
                       "ones, or drop the separating terms")
        if self.cov_check.reason:
            negative = [n for n, v in zip(names, np.diag(cov)) if not v > 0]
            detail = (f"; the variances of {negative} are negative, so their standard errors "
                      "are NaN" if negative else "")
            warnings.warn(self.cov_check.reason + detail + "; every other standard error, "
                          "test or delta-method quantity whose variance is not positive is NaN",
                          CovarianceWarning, stacklevel=4)
        self.use_t = bool(use_t)
        self._inference = WaldInference(self.df_inference if self.use_t else None,
                                        self.cov_check)

    def _param_names(self) -> list[str]:
        return list(self.model.exog_names)

    # ------------------------------------------------------------------ inference
    @property
    def n_groups(self) -> tuple[int, ...] | None:
        """The number of clusters of each clustering variable (None unless clustered)."""
        return self._estimator.n_groups

    @property
    def df_inference(self) -> int:
        """The degrees of freedom of t inference (``use_t=True``): G - 1 for a cluster
        covariance (the smaller G for two-way), else n - k. See :mod:`beliefreg.inference.wald`."""
        if self.n_groups is not None:
            return int(min(self.n_groups)) - 1
        return int(self.model.nobs) - len(self.params)

    @property
    def inference(self) -> WaldInference:
        """The reference distribution (normal, or t(df) with ``use_t``) and the covariance
        check every standard error, test and delta-method quantity of these results uses."""
        return self._inference

    def _stamp(self, obj: Any) -> Any:
        """Give a delta-method result (or an object holding one in ``.delta``) this fit's
        reference distribution and variance rule."""
        if isinstance(obj, DeltaResult):
            return obj.with_inference(self._inference)
        obj.delta = obj.delta.with_inference(self._inference)
        return obj

    def cov_params(self) -> pd.DataFrame:
        """The covariance matrix of the estimates, of the type given at ``fit``."""
        return self._cov.copy()

    @property
    def bse(self) -> pd.Series:
        """Standard errors; NaN where the variance is not positive (a covariance that is not
        positive semi-definite, warned about at fit)."""
        diag = np.diag(self._cov.to_numpy())
        fixed = self.cov_check.fixed
        if self.cov_check.degenerate:
            diag = np.full_like(diag, np.nan)
        return pd.Series(np.sqrt(np.where(diag > 0, diag, 0.0 if fixed else np.nan)),
                         index=self.params.index, name="bse")

    @property
    def tvalues(self) -> pd.Series:
        """z statistics (t statistics with ``use_t``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.params / self.bse).rename("tvalues")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values: normal, or t(``df_inference``) with ``use_t``."""
        return pd.Series(self._inference.pvalue(self.tvalues.to_numpy()),
                         index=self.params.index, name="pvalues")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals, columns ``0`` (lower) and ``1`` (upper); normal
        critical values, or t(``df_inference``) ones with ``use_t``."""
        q = self._inference.critical_value(alpha)
        return pd.DataFrame({0: self.params - q * self.bse, 1: self.params + q * self.bse})

    def _constraint(self, hypothesis: Any) -> tuple[np.ndarray, np.ndarray]:
        names = list(self.params.index)
        if isinstance(hypothesis, tuple) and len(hypothesis) == 2:
            r = np.atleast_2d(np.asarray(hypothesis[0], float))
            q = np.asarray(hypothesis[1], float).reshape(-1)
        elif isinstance(hypothesis, (str, list)) and not (
                isinstance(hypothesis, list) and hypothesis and not isinstance(hypothesis[0], str)):
            # `persona[T.student]`: the backtick quoting of nlcom's expressions (patsy's
            # constraint parser knows the parameter names without it)
            known = set(names)

            def unquote(text: str) -> str:
                return re.sub(r"`([^`]+)`",
                              lambda m: m.group(1) if m.group(1) in known else m.group(0), text)

            hypothesis = (unquote(hypothesis) if isinstance(hypothesis, str)
                          else [unquote(h) for h in hypothesis])
            try:
                lc = patsy.DesignInfo(names).linear_constraint(hypothesis)
            except patsy.PatsyError as exc:
                raise ValueError(f"cannot read the hypothesis {hypothesis!r} ({exc.message}); "
                                 f"write it in the parameter names {names}") from None
            r, q = lc.coefs, lc.constants.reshape(-1)
        else:
            r = np.atleast_2d(np.asarray(hypothesis, float))
            q = np.zeros(r.shape[0])
        if r.shape[1] != len(names):
            raise ValueError(f"the restriction matrix has {r.shape[1]} columns, the model "
                             f"{len(names)} parameters")
        return r, q

    def t_test(self, hypothesis: Any) -> ContrastResults:
        """Tests of linear hypotheses, e.g. ``"np.log(price) = -1"`` or ``"a = b, c = 0"``:
        z tests, or t tests with ``df_inference`` degrees of freedom with ``use_t``.

        Accepts a string (comma-separated restrictions, term names as in ``params``), a list of
        strings, a restriction matrix ``R`` (tested against 0) or a tuple ``(R, q)``. A
        restriction whose variance is not positive gets a NaN statistic (with a warning).
        """
        r, q = self._constraint(hypothesis)
        effect = r @ self.params.to_numpy()
        sd = self._inference.std_errors(r, self._cov.to_numpy(), what="restriction")
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = (effect - q) / sd
        if self.use_t:
            return ContrastResults(t=statistic, effect=effect, sd=sd,
                                   df_denom=self.df_inference)
        return ContrastResults(effect=effect, sd=sd, statistic=statistic, distribution="norm")

    def wald_test(self, hypothesis: Any) -> ContrastResults:
        """The joint Wald test of linear hypotheses ``R b = q``: chi-squared with r degrees
        of freedom, or with ``use_t`` the F statistic W / r with (r, ``df_inference``) degrees
        of freedom (Stata's ``test`` after a clustered fit).

        If :math:`R \\widehat V R'` is not positive definite (a covariance that is not positive
        semi-definite, or singular: G <= k clusters), the statistic is NaN with a
        :class:`~beliefreg.exceptions.CovarianceWarning`; after ``fix=True`` (eigenvalue
        clipping) a singular :math:`R \\widehat V R'` is inverted by the pseudo-inverse and
        the degrees of freedom are its rank.
        """
        r, q = self._constraint(hypothesis)
        diff = r @ self.params.to_numpy() - q
        middle = r @ self._cov.to_numpy() @ r.T
        middle = 0.5 * (middle + middle.T)
        values = np.linalg.eigvalsh(middle)
        top = float(np.max(np.abs(values), initial=0.0))
        df_num = r.shape[0]
        if values[0] <= 1e-10 * top or top == 0.0 or self.cov_check.degenerate:
            if self.cov_check.fixed:
                df_num = int(np.sum(values > 1e-10 * top))
                stat = float(diff @ np.linalg.pinv(middle, rcond=1e-10, hermitian=True) @ diff)
            else:
                reason = self.cov_check.reason or "the restrictions are linearly dependent"
                warnings.warn(f"R V R' is not positive definite (eigenvalues "
                              f"{', '.join(f'{x:.3g}' for x in values)}), so the Wald statistic"
                              f" is NaN rather than negative or infinite: {reason}",
                              CovarianceWarning, stacklevel=2)
                stat = float("nan")
        else:
            stat = float(diff @ np.linalg.solve(middle, diff))
        if self.use_t:
            return ContrastResults(F=stat / df_num, df_num=df_num, df_denom=self.df_inference)
        return ContrastResults(statistic=stat, df_denom=df_num, distribution="chi2")

    # ------------------------------------------------------------------ wild bootstrap
    def _score_problem(self, cluster: Any = None):
        """The pieces the score bootstrap needs (:class:`~beliefreg.inference.boottest.ScoreProblem`)."""
        from .inference.boottest import ScoreProblem
        from .inference.covariance import Clustered

        model = self.model
        evaluate, scores, unit_weights = self._score_hooks()
        cluster_hessians = self._cluster_hessian_hook()
        n_units = len(unit_weights) if unit_weights is not None else None
        if cluster is not None:
            from .models._base import resolve_covariance

            reduce = getattr(model, "_situation_clusters", None)
            est, _ = resolve_covariance(model.design, "cluster", {"groups": cluster},
                                        nobs=getattr(model, "nobs", None), reduce=reduce)
        else:
            est = self._estimator
        if isinstance(est, Clustered):
            pick = int(np.argmin(est.counts))  # two-way: bootstrap the dimension with fewer G
            codes, count = est.codes[pick], int(est.counts[pick])
        else:
            n = n_units if n_units is not None else int(model.nobs)
            codes, count = np.arange(n), n
        return ScoreProblem(params=self.params.to_numpy(), evaluate=evaluate, scores=scores,
                            codes=np.asarray(codes, np.intp), n_clusters=count,
                            unit_weights=unit_weights, names=list(self.params.index),
                            cluster_hessians=cluster_hessians)

    def _cluster_hessian_hook(self):
        """``f(b, codes, G)`` -> each cluster's part of minus the Hessian, or None."""
        return None

    def _score_hooks(self):
        """``(evaluate, scores, unit_weights)`` of the model (overridden per family)."""
        model = self.model
        return model._evaluate, model._scores, model.weights

    def boottest(self, hypothesis: Any = None, *, nlcom: Any = None, margins: Any = None,
                 value: float = 0.0, row: Any = None, reps: int = 999,
                 weights: str = "rademacher", seed: int | None = None,
                 impose_null: bool = True, level: float = 0.95, cluster: Any = None,
                 conf_set: bool = True, keep_dist: bool = False, small: bool = True,
                 recenter: str = "auto"):
        r"""Wild cluster score bootstrap test and confidence set (Stata's ``boottest``).

        The restricted score bootstrap of Kline and Santos (2012) as ``boottest`` runs it after
        ML estimation (Roodman et al. 2019): the model is re-estimated under the null, the
        cluster score sums at the restricted estimate are multiplied by wild weights, and the
        p-value is the share of bootstrap statistics at least as large as the sample one.
        Confidence sets come from inverting the test. Nonlinear quantities use the
        unrestricted score bootstrap-t. The details, formulas and references are in
        :mod:`beliefreg.inference.boottest`.

        Use it when clusters are few (under about 20-30), where cluster-robust Wald intervals
        under-cover even with t(G - 1) critical values.

        Parameters
        ----------
        hypothesis : str, tuple or DeltaResult
            A linear hypothesis in term names, ``"np.log(price) = 0"``, ``"a + b = 1"``,
            ``"a = 0, b = 0"`` (joint: an F statistic, no confidence set), or ``(R, q)``. Or a
            :class:`~beliefreg.inference.delta.DeltaResult` (``res.nlcom(...)``,
            ``res.get_prediction(...).delta``): its quantity is tested against ``value``.
        nlcom : str or callable, optional
            Instead of ``hypothesis``: a smooth function of the parameters as for
            :meth:`nlcom`, tested against ``value``.
        margins : dict, optional
            Instead of ``hypothesis``: keyword arguments of :meth:`margins` (e.g.
            ``{'variables': 'price', 'kind': 'eyex'}``), tested against ``value``.
        value : float
            The null value of a nonlinear quantity.
        row : label, optional
            Which row of a multi-row quantity to test.
        reps : int
            Bootstrap draws (boottest's default is 999; 9999 makes the p-value's simulation
            error small). With Rademacher weights and ``reps >= 2**G`` all ``2**G`` sign
            vectors are used once instead (exact, seed-free).
        weights : {'rademacher', 'webb'}
            Webb's six-point weights are better with fewer than about 12 clusters, where
            Rademacher weights have few distinct draws.
        seed : int, optional
            Seed of the weights (``numpy.random.default_rng``): results are reproducible.
        impose_null : bool
            Restricted (default, "WCR") or unrestricted ("WCU") bootstrap for linear
            hypotheses; nonlinear quantities are always unrestricted.
        level : float
            Confidence level of the set.
        cluster : str or array, optional
            The bootstrap clusters (default: the fit's cluster variable; with two-way
            clustering the one with fewer clusters; without clustering each observation, a
            heteroskedasticity-robust wild bootstrap).
        conf_set : bool
            Compute the confidence set (for one restriction).
        keep_dist : bool
            Keep the bootstrap statistics in ``.dist``.
        small : bool
            Scale the statistics by the CR1 factor (as the fit's cluster covariance); False
            gives boottest's numbers after ML estimation. p-values do not depend on it.
        recenter : {'auto', 'hessian', 'share'}
            How the bootstrap cluster scores are recentred in the variance of each draw.
            ``'share'`` is boottest's (the sum of the bootstrap scores spread over the
            clusters by their share of the observations). ``'hessian'`` takes one Newton
            step of re-estimation with each cluster's own Hessian, which for a linear model
            is exactly the restricted wild cluster bootstrap; it covered about one point
            closer to 95% in our few-cluster Monte Carlo (``benchmarks/RESULTS.md``).
            ``'auto'`` (default): ``'hessian'`` for the binary and fractional models with
            at most 2000 clusters, else ``'share'`` (the share models have no cluster
            Hessians yet).

        Returns
        -------
        BootTestResult
            ``.statistic``, ``.pvalue``, ``.conf_set`` (intervals), ``.conf_int`` (its hull),
            ``print(result)``, ``.summary_frame()``.

        Examples
        --------
        >>> import beliefreg as br
        >>> from beliefreg.datasets import load_401k
        >>> data = load_401k()
        >>> res = br.FractionalLogit.from_formula("prate01 ~ mrate + age + sole", data).fit(
        ...     cov_type="cluster", cov_kwds={"groups": "age"}, use_t=True)
        >>> bt = res.boottest("mrate = 0", reps=999, weights="webb", seed=1)
        >>> bt.pvalue < 0.01
        True
        """
        from .inference.boottest import score_bootstrap_test

        given = [x is not None for x in (hypothesis, nlcom, margins)]
        if sum(given) != 1:
            raise ValueError("give exactly one of hypothesis, nlcom= or margins=")
        problem = self._score_problem(cluster)
        common = dict(reps=reps, weights=weights, seed=seed, level=level, conf_set=conf_set,
                      keep_dist=keep_dist, small=small, recenter=recenter)
        if nlcom is not None:
            hypothesis = self.nlcom(nlcom)
        elif margins is not None:
            hypothesis = self._margins_delta(**dict(margins))
        if isinstance(hypothesis, DeltaResult):
            names = list(hypothesis.estimate.index)
            if row is None:
                if len(names) != 1:
                    raise ValueError(f"the quantity has {len(names)} rows {names[:6]}; "
                                     "choose one with row=")
                i = 0
            else:
                if row not in names:
                    raise KeyError(f"row {row!r} is not among {names[:10]}")
                i = names.index(row)
            label = f"{names[i]} = {value:g}"
            return score_bootstrap_test(problem, jacobian=hypothesis.jacobian.to_numpy()[i],
                                        estimate=float(hypothesis.estimate.iloc[i]),
                                        null_value=value, hypothesis=label, **common)
        r, q = self._constraint(hypothesis)
        label = hypothesis if isinstance(hypothesis, str) else f"R b = q ({r.shape[0]} rows)"
        return score_bootstrap_test(problem, r=r, q=q, hypothesis=str(label),
                                    impose_null=impose_null, **common)

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
        func : callable, str or list of str
            ``func(params)`` with ``params`` a pandas Series indexed by term name (by
            position: ``params.iloc[i]``); returns a scalar, an array or a Series (its index
            names the rows). Or a string expression in term names, e.g. ``"-sole / mrate"``
            or ``"exp(`np.log(price)`)"`` (names that are not identifiers may be quoted in
            backticks); several expressions separated by commas, or a list of expressions,
            give several rows.
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
        return self._stamp(delta_method(func, self.params, self._cov, jacobian=jacobian,
                                        names=name, method=method))

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
        return self._stamp(generic_margins(self._predict_exog, self.params,
                                           self._cov.to_numpy(), vmap, frame, names, kind=kind,
                                           binary=binary, outcome_names=self._outcome_names()))

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
        """Estimates, SEs, z (or t with ``use_t``), p-values and the confidence interval."""
        ci = self.conf_int(alpha)
        stat = self._inference.stat_name
        return pd.DataFrame({"Coef.": self.params, "Std.Err.": self.bse, stat: self.tvalues,
                             f"P>|{stat}|": self.pvalues,
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

    def _inference_notes(self) -> list[str]:
        """Notes every summary carries: t inference, covariance problems."""
        notes = []
        if self.use_t:
            notes.append(f"Inference: t({self.df_inference}) statistics and critical values "
                         f"(use_t=True; df = " + ("G - 1" if self.n_groups is not None
                                                   else "n - k") + ").")
        if self.cov_check.reason:
            notes.append("Warning: " + self.cov_check.reason + ".")
        return notes

    def _summary_notes(self) -> list[str]:
        return self._inference_notes()


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
    rsquared_adj : float
        ``1 - (1 - rsquared) (n - 1) / (n - k)``.
    """

    def __init__(self, model: Any, fitted: Any, cov: np.ndarray, *, estimator: Covariance,
                 hessian: str, cov_kwds: dict[str, Any], use_t: bool = False) -> None:
        super().__init__(model, fitted.params, cov, estimator=estimator, cov_kwds=cov_kwds,
                         use_t=use_t, separated=fitted.n_boundary)
        self.hessian = hessian
        self._quasi_llf = fitted.qllf  # None until asked for: a pass over the rows
        self.converged = fitted.converged
        self.n_iter = fitted.n_iter
        self.n_boundary = fitted.n_boundary
        self._eta = fitted.eta

    @property
    def quasi_llf(self) -> float:
        """The Bernoulli quasi-log-likelihood at the estimate, computed on first use."""
        if self._quasi_llf is None:
            from .models.bernoulli import quasi_loglike

            self._quasi_llf = quasi_loglike(self.model.endog, self._eta, self.model.weights,
                                            self.model.link)
        return self._quasi_llf

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
        return x.shape[1] - int(has_intercept(x))

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

    @property
    def rsquared_adj(self) -> float:
        r"""``rsquared`` adjusted for the number of parameters,
        :math:`1 - (1 - R^2)(n - 1)/(n - k)` (the usual adjustment, applied to the squared
        correlation; what ``statsmodels.iolib.summary2.summary_col`` reports as "R-squared
        Adj.")."""
        r2 = self.rsquared
        if not np.isfinite(r2) or self.df_resid <= 0:
            return float("nan")
        return float(1.0 - (1.0 - r2) * (self.nobs - 1) / self.df_resid)

    def predict(self, newdata: Any = None, *, which: str = "mean") -> pd.Series | np.ndarray:
        """Predicted probabilities (or the linear predictor) for new data.

        For a formula model ``newdata`` is a DataFrame (or a dict of columns, a polars or
        pyarrow frame) with the formula's variables (the design is rebuilt, transforms and
        categories included); for an array model it is a design matrix. Without ``newdata``
        the in-sample fitted values.

        Returns a Series indexed like a DataFrame ``newdata`` (``RangeIndex`` for other frames
        of a formula model), an ndarray for an array ``newdata`` of an array model: what
        statsmodels' ``results.predict`` returns for the same inputs. Rows with missing values
        get NaN (statsmodels drops them from a dict's predictions; here every row keeps its
        position).
        """
        pred = self.model.predict(self.params.to_numpy(), newdata, which=which)
        if newdata is None:
            return pd.Series(pred, index=self.model.design.row_labels, name="predicted")
        index = newdata_index(self.model.design, newdata, len(pred))
        return pred if index is None else pd.Series(pred, index=index, name="predicted")

    def _score_hooks(self):
        model, kind = self.model, self.hessian

        def evaluate(b: np.ndarray):
            scores = model._scores(b)
            return (model.loglike(b), scores.u @ scores.exog,
                    model.information(b, hessian=kind))

        return evaluate, model._scores, model.weights

    def _cluster_hessian_hook(self):
        from .models.bernoulli import hessian_weights

        model, kind = self.model, self.hessian

        def cluster_hessians(b: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
            x = model.exog
            h = hessian_weights(model.endog, x @ b, model.weights, model.link, kind)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
            out = np.empty((n_groups, x.shape[1], x.shape[1]))
            for g in range(n_groups):
                rows = order[bounds[g]:bounds[g + 1]]
                xg = x[rows]
                out[g] = xg.T @ (xg * h[rows, None])
            return out

        return cluster_hessians

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
        return self._stamp(index_margins(self.model.link, self.params, self._cov.to_numpy(),
                                         vmap, frame, names, kind=kind, binary=binary))

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
            ``.summary_frame(alpha, method='endpoint')`` has columns ``mean, mean_se,
            mean_ci_lower, mean_ci_upper``. As statsmodels GLM's ``get_prediction``, the
            default interval (``method='endpoint'``) is the Wald interval of the index
            :math:`x'\hat\beta` mapped through G, so inside [0, 1]; ``method='delta'`` gives
            the Wald interval on the probability scale, :math:`\hat\mu \pm q\,
            \mathrm{se}(\hat\mu)`, which can leave [0, 1] near the boundary. ``mean_se`` is
            the delta-method standard error of the mean either way.

        Examples
        --------
        >>> import numpy as np, pandas as pd, beliefreg as br
        >>> from beliefreg.datasets import load_401k
        >>> res = br.FractionalLogit.from_formula("prate01 ~ mrate + np.log(totemp)",
        ...                                       load_401k()).fit()
        >>> new = pd.DataFrame({"mrate": [0.5, 1.0], "totemp": [100, 100]})
        >>> res.get_prediction(new).summary_frame().round(4)
             mean  mean_se  mean_ci_lower  mean_ci_upper
        0  0.9078   0.0054         0.8968         0.9178
        1  0.9428   0.0051         0.9318         0.9520
        """
        vmap = self._variable_map()
        if newdata is None:
            exog, index = self.model.exog, self.model.design.row_labels
        else:
            frame = vmap.check_newdata(newdata)
            exog, index = vmap.build(frame), frame.index
        return index_predictions(self.model.link, self.params, self._cov.to_numpy(), exog,
                                 index, self._inference)

    def demand_curve(self, variable: str, values: Any = None, *, at: AtSpec = "overall",
                     by: Any = None, alpha: float = 0.05,
                     method: CIMethod = "endpoint") -> pd.DataFrame:
        r"""Predicted demand (mean outcome) over a grid of ``variable``, with delta-method bands.

        At each grid value :math:`v`, :math:`D(v) = \sum_r w_r G(x_r(v)'\beta)`: with
        ``at='overall'`` the sample average of the predicted probability with every row's
        ``variable`` set to :math:`v` (the design rebuilt, so ``np.log(price)`` is handled);
        ``at='mean'``: at the means. See :func:`beliefreg.economics.demand_curve`.

        Parameters
        ----------
        method : {'endpoint', 'delta'}, default 'endpoint'
            The band, named as in :meth:`get_prediction`. ``'endpoint'``: the delta method on
            the index scale, :math:`\eta^* = G^{-1}(D)` with :math:`\mathrm{se}(\eta^*) =
            \mathrm{se}(D)/g(\eta^*)`, its Wald interval mapped through G (inside [0, 1];
            at one row, ``at='mean'``, it is statsmodels' ``'endpoint'`` interval).
            ``'delta'``: :math:`D \pm q\,\mathrm{se}(D)`, which can leave [0, 1].
            See :func:`beliefreg.inference.prediction.mean_conf_int`.

        Returns
        -------
        pandas.DataFrame
            Indexed by the grid value (and the ``by`` group); columns ``estimate, std_err, z,
            p_value, ci_lower, ci_upper`` (``std_err`` the delta-method SE of D either way).

        Raises
        ------
        ValueError
            ``method`` is not ``'endpoint'`` or ``'delta'``.
        """
        from .economics import demand_curve

        return mean_summary_frame(self._stamp(demand_curve(self, variable, values, at=at, by=by)),
                                  self.model.link, alpha, method)

    def wtp(self, attribute: str, price: str, *, at_price: float | None = None,
            alpha: float = 0.05) -> pd.DataFrame:
        r"""Willingness to pay: ``-b[attribute] / b[price]`` with a delta-method SE.

        For a formula linear in price. When price enters through ``np.log(price)`` (or any
        transform) the ratio is a change in log price, not money: this refuses with an
        explanation (the implied percentage premium) unless ``at_price=p0`` asks for the money
        amount at a reference price. See :func:`beliefreg.economics.wtp`.
        """
        from .economics import wtp

        return self._stamp(wtp(self, attribute, price,
                              at_price=at_price)).summary_frame(alpha)

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

        return self._stamp(optimal_price(self, price, cost=cost, bounds=bounds, at=at,
                                         by=by)).summary_frame(alpha)

    def plot_demand(self, variable: str, values: Any = None, *, at: AtSpec = "overall",
                    by: Any = None, observed: bool = True, alpha: float = 0.05,
                    method: CIMethod = "endpoint", ax: Any = None) -> Any:
        """Plot the fitted demand curve with its band and the observed mean outcomes.

        See :func:`beliefreg.plotting.plot_demand`; returns the matplotlib Axes.
        """
        from .plotting import plot_demand

        return plot_demand(self, variable, values, at=at, by=by, observed=observed,
                           alpha=alpha, method=method, ax=ax)

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
        notes = self._inference_notes()
        if self.n_boundary:
            notes.append(f"Warning: {self.n_boundary} fitted probabilities are numerically 0 or 1"
                         " (separation); standard errors of the separating terms are very large.")
        if not self.model.binary_outcome and self.cov_type == "nonrobust":
            notes.append("Warning: nonrobust standard errors assume the Bernoulli likelihood is "
                         "correct, which a fractional outcome contradicts; use HC0 or cluster.")
        return notes
