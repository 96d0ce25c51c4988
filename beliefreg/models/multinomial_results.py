"""Results of the multinomial fractional logit and the conditional logit.

Both are :class:`~beliefreg.results.LikelihoodResults` (params, covariance, tests, summary);
what they add is what a model of shares over several alternatives knows: fitted and predicted
share vectors, and (in :mod:`beliefreg.models.choice_effects`) elasticity matrices, margins,
diversion ratios and willingness to pay with delta-method standard errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from statsmodels.iolib.summary2 import Summary

from .._passes import has_intercept
from ..inference.covariance import Covariance
from ..inference.datagrid import UnknownVariableError
from ..results import LikelihoodResults
from .design import newdata_index
from .share_effects import (EffectMatrix, MultinomialEffects, SharePredictionResults,
                            coefficient_ratio, softmax_complex)

__all__ = ["ShareModelResults", "MultinomialResults"]


class ShareModelResults(LikelihoodResults):
    """What the multinomial and conditional logit results share (not used directly).

    Attributes
    ----------
    quasi_llf : float
        The multinomial quasi-log-likelihood at the estimate (a log-likelihood only for 0/1
        choices: see ``llf``).
    converged : bool
    n_iter : int
    """

    def __init__(self, model: Any, fitted: Any, cov: np.ndarray, *, estimator: Covariance,
                 cov_kwds: dict[str, Any], use_t: bool = False) -> None:
        # separated (a share fitted as 0: an alternative never chosen): the robust covariance
        # is rounding there, as for the binary models (an SE of 0.085 for a constant of -47)
        super().__init__(model, fitted.params, cov, estimator=estimator, cov_kwds=cov_kwds,
                         use_t=use_t, separated=fitted.n_boundary)
        self.quasi_llf = fitted.qllf
        self.converged = fitted.converged
        self.n_iter = fitted.n_iter
        self.n_boundary = fitted.n_boundary

    def _param_names(self) -> list[str]:
        return list(self.model.param_names)

    @property
    def llf(self) -> float:
        """The log-likelihood; only defined when every outcome row is a 0/1 choice."""
        if not self.model.is_choice:
            raise AttributeError("llf is not defined for shares (the multinomial "
                                 "quasi-log-likelihood is not a likelihood); use quasi_llf")
        return self.quasi_llf

    @property
    def df_resid(self) -> int:
        return self.nobs - len(self.params)

    def _summary_notes(self) -> list[str]:
        notes = self._inference_notes()
        if self.n_boundary:
            notes.append(f"Warning: {self.n_boundary} observations have fitted shares "
                         "numerically 0 (separation); standard errors of the separating terms "
                         "are very large.")
        if not self.model.is_choice and self.cov_type == "nonrobust":
            notes.append("Warning: nonrobust standard errors assume the multinomial likelihood "
                         "is correct, which fractional shares contradict; use HC0 or cluster.")
        return notes


class MultinomialResults(ShareModelResults):
    """Results of :class:`~beliefreg.MultinomialFractionalLogit`.

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        Indexed ``'alternative:term'`` (non-base alternatives, then terms).
    alternatives : list of str
        All alternatives in the outcome's order; ``base`` is the reference one.
    quasi_llf : float
    rsquared : pandas.Series
        Per alternative, ``corr(y_j, yhat_j)**2`` (no pseudo-R-squared for shares).
    """

    @property
    def alternatives(self) -> list[str]:
        return list(self.model.alternatives)

    @property
    def base(self) -> str:
        return self.model.base

    @property
    def nobs(self) -> int:
        return self.model.nobs

    @property
    def df_model(self) -> int:
        """Number of slope parameters: K minus one intercept per non-base alternative."""
        has_const = has_intercept(self.model.exog)
        return len(self.params) - int(has_const) * len(self.model.nonbase_alternatives)

    def params_by_alternative(self) -> pd.DataFrame:
        """The coefficients as a (terms x non-base alternatives) table, like ``MNLogit``."""
        return pd.DataFrame(self.model._coef_matrix(self.params.to_numpy()),
                            index=self.model.exog_names,
                            columns=self.model.nonbase_alternatives)

    def bse_by_alternative(self) -> pd.DataFrame:
        return pd.DataFrame(self.model._coef_matrix(self.bse.to_numpy()),
                            index=self.model.exog_names,
                            columns=self.model.nonbase_alternatives)

    def _frame(self, values: np.ndarray, index: Any) -> pd.DataFrame:
        return pd.DataFrame(values, index=index, columns=self.alternatives)

    @property
    def fittedvalues(self) -> pd.DataFrame:
        """Fitted share vectors (n, J), indexed like the rows used."""
        return self._frame(self.model.predict(self.params.to_numpy()),
                           self.model.design.row_labels)

    @property
    def resid(self) -> pd.DataFrame:
        """Response residuals ``y - yhat`` (n, J)."""
        return self._frame(self.model.endog, self.model.design.row_labels) - self.fittedvalues

    @property
    def rsquared(self) -> pd.Series:
        y, yhat = self.model.endog, self.fittedvalues.to_numpy()
        out = [np.corrcoef(y[:, j], yhat[:, j])[0, 1] ** 2
               if np.ptp(y[:, j]) > 0 and np.ptp(yhat[:, j]) > 0 else np.nan
               for j in range(y.shape[1])]
        return pd.Series(out, index=self.alternatives, name="rsquared")

    def predict(self, newdata: Any = None, *, which: str = "mean") -> pd.DataFrame | np.ndarray:
        """Predicted share vectors (``which='mean'``) or linear predictors for new data.

        For a formula model ``newdata`` is a DataFrame with the formula's variables (the design
        is rebuilt: transforms and categories included); for an array model a design matrix.
        Without ``newdata``, the in-sample fitted shares. Standard errors: ``get_prediction``.
        """
        pred = self.model.predict(self.params.to_numpy(), newdata, which=which)
        if newdata is None:
            return self._frame(pred, self.model.design.row_labels)
        index = newdata_index(self.model.design, newdata, len(pred))
        return pred if index is None else self._frame(pred, index)

    # ------------------------------------------------------------------ post-estimation
    def _predict_exog(self, params: np.ndarray, exog: np.ndarray) -> np.ndarray:
        """Predicted shares (n, J) for a design matrix: the hook of the generic :meth:`margins`."""
        model = self.model
        b = np.asarray(params)
        eta = np.zeros((exog.shape[0], len(model.alternatives)), dtype=np.result_type(b, float))
        eta[:, model._nonbase] = exog @ b.reshape(len(model._nonbase), model.k_exog).T
        return softmax_complex(eta)

    def _outcome_names(self) -> list[Any]:
        return list(self.alternatives)

    def get_prediction(self, newdata: Any = None, *,
                       average: bool = False) -> SharePredictionResults:
        """Predicted shares with delta-method standard errors.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict at (the formula's variables); default the estimation rows.
        average : bool
            If True, the mean predicted share of each alternative over the rows (weighted by
            the prior weights on the estimation rows); else one estimate per (row,
            alternative).

        Returns
        -------
        SharePredictionResults
            ``.summary_frame(alpha)``: columns ``mean, mean_se, mean_ci_lower,
            mean_ci_upper``; ``.delta`` holds the joint covariance.
        """
        return SharePredictionResults(MultinomialEffects(self, newdata).prediction(
            average=average))

    def _variables(self, variables: Any) -> list[str]:
        if variables is None:
            raise ValueError("name the variables, e.g. variables=['price_a', 'price_b']")
        return [variables] if isinstance(variables, str) else list(variables)

    def elasticities(self, variables: Any, *, at: Any = None,
                     aggregate: bool = False) -> EffectMatrix:
        """Own- and cross-elasticities of every alternative's share (alternatives x variables).

        The matrix form of ``margins(variables, kind='eyex')`` (which gives the same
        ``aggregate=False`` numbers in long form, plus ``at``/``by`` options and discrete
        changes for categorical variables), with the aggregate (market-demand) variant.

        Parameters
        ----------
        variables : str or list of str
            Raw variables, e.g. the prices of the alternatives.
        at : DataFrame, optional
            Rows to average over (default the estimation rows).
        aggregate : bool
            False (default): the mean of the observation elasticities (Stata's ``margins,
            eyex()``). True: the elasticity of the mean share (market demand) to a common
            percentage change of the variable. See :mod:`beliefreg.models.share_effects`.
        """
        return MultinomialEffects(self, at).effects(self._variables(variables),
                                                    kind="elasticity", aggregate=aggregate)

    def diversion_ratios(self, prices: dict[str, str], *, at: Any = None) -> EffectMatrix:
        r"""Diversion ratios: where the demand an alternative loses to its price rise goes.

        ``prices`` maps alternatives to their price variables (``{'b_pampers':
        'price_pampers', ...}``). Row *l*, column *m*: :math:`-\sum_i \partial p_{im} /
        \partial v_l / \sum_i \partial p_{il} / \partial v_l` (the diagonal is -1).
        """
        return MultinomialEffects(self, at).diversion(dict(prices))

    def wtp(self, attribute: str, price: str, *, alpha: float = 0.05) -> pd.DataFrame:
        """Willingness to pay, :math:`-b_{j,a} / b_{j,p}`, in each non-base equation.

        ``attribute`` and ``price`` are term names (``'quality'``, ``'price_a'``); the ratio is
        a WTP when both enter the alternative's utility linearly. For other forms write the
        function yourself with :meth:`nlcom`. Returns one row per non-base alternative:
        ``estimate, std_err, z, p_value, ci_lower, ci_upper``.
        """
        alts = self.model.nonbase_alternatives
        for term in (attribute, price):
            if term not in self.model.exog_names:
                raise UnknownVariableError(f"{term!r} is not a term; terms: "
                                           f"{self.model.exog_names}")
        return coefficient_ratio(self, [f"{a}:{attribute}" for a in alts],
                                 [f"{a}:{price}" for a in alts],
                                 names=alts).summary_frame(alpha)

    def _summary_info(self) -> dict[str, str]:
        fit_label = "Log-likelihood:" if self.model.is_choice else "Quasi-log-likelihood:"
        info = {
            "Model:": self.model.model_name,
            "Alternatives:": ", ".join(self.alternatives),
            "Base alternative:": self.base,
            "No. observations:": str(self.nobs),
            "No. parameters:": str(len(self.params)),
            "Df residuals:": str(self.df_resid),
            "Covariance type:": self._cov_label(),
            fit_label: f"{self.quasi_llf:.4f}",
            "Converged:": f"{self.converged} ({self.n_iter} iterations)",
        }
        if self.n_groups is not None:
            info["No. clusters:"] = " x ".join(str(g) for g in self.n_groups)
        if self.model.weights is not None:
            info["Weights:"] = "yes (prior weights)"
        return info

    def summary(self, alpha: float = 0.05, *, float_format: str = "%.4f") -> Summary:
        """The estimation table, one block per non-base alternative."""
        smry = Summary()
        smry.add_title(self.model.model_name)
        smry.add_dict(self._summary_info(), ncols=2)
        frame = self.params_frame(alpha)
        k = self.model.k_exog
        for j, alt in enumerate(self.model.nonbase_alternatives):
            block = frame.iloc[j * k:(j + 1) * k].copy()
            block.index = [f"{alt}: {t}" if i == 0 else t
                           for i, t in enumerate(self.model.exog_names)]
            smry.add_df(block, float_format=float_format)
        smry.add_text(f"Coefficients of each alternative relative to the base {self.base!r}.")
        for note in self._summary_notes():
            smry.add_text(note)
        return smry
