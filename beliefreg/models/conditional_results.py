"""Results of :class:`~beliefreg.ConditionalLogit`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..inference.datagrid import UnknownVariableError
from .design import newdata_index
from .multinomial_results import ShareModelResults
from .share_effects import (ConditionalEffects, EffectMatrix, SharePredictionResults,
                            coefficient_ratio)

__all__ = ["ConditionalResults"]


class ConditionalResults(ShareModelResults):
    """Results of :class:`~beliefreg.ConditionalLogit`.

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas.Series
        Indexed by the formula's term names (the intercept dropped).
    nobs : int
        The number of choice situations (the *n* of HC1 and of the cluster factor).
    n_rows : int
        The number of long-format rows used.
    alternatives : list
    quasi_llf : float
    """

    @property
    def nobs(self) -> int:
        return self.model.nobs

    @property
    def n_rows(self) -> int:
        return self.model.n_rows

    @property
    def alternatives(self) -> list[Any]:
        return self.model.alternatives

    @property
    def df_model(self) -> int:
        return len(self.params)

    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted shares, one per long row used, in the rows' order."""
        grid = self.model._probabilities(self.params.to_numpy())
        return pd.Series(self.model.structure.to_rows(grid), index=self.model.design.row_labels,
                         name="fittedvalues")

    @property
    def resid(self) -> pd.Series:
        return pd.Series(self.model.endog, index=self.model.design.row_labels) \
            .sub(self.fittedvalues).rename("resid")

    def _score_hooks(self):
        """The score bootstrap works on one score per choice situation."""
        model = self.model
        return model._evaluate, model.score_obs, model._w

    def fitted_shares(self) -> pd.DataFrame:
        """Fitted shares as a (situations x alternatives) table."""
        return pd.DataFrame(self.model._probabilities(self.params.to_numpy()),
                            index=self.model.structure.group_labels,
                            columns=self.alternatives)

    def predict(self, newdata: Any = None, *, groups: Any = None,
                which: str = "mean") -> pd.Series | np.ndarray:
        """Predicted shares (softmax within each new situation) or linear predictors.

        ``newdata`` is long-format data with the formula's variables and the situation id
        (the ``groups`` column named at fit, or ``groups=``); a situation may offer any subset
        of the alternatives. Without ``newdata``, the in-sample fitted shares.
        """
        if newdata is None:
            if which == "mean":
                return self.fittedvalues.rename("predicted")
            return pd.Series(self.model.predict(self.params.to_numpy(), which=which),
                             index=self.model.design.row_labels, name="predicted")
        pred = self.model.predict(self.params.to_numpy(), newdata, groups=groups, which=which)
        index = newdata_index(self.model.design, newdata, len(pred))
        return pred if index is None else pd.Series(pred, index=index, name="predicted")

    # ------------------------------------------------------------------ post-estimation
    def get_prediction(self, newdata: Any = None, *, groups: Any = None,
                       average: bool = False) -> SharePredictionResults:
        """Predicted shares with delta-method SEs, per (situation, alternative) or averaged.

        ``newdata`` is long-format data with one row per situation and alternative (default:
        the estimation data); ``average=True`` gives each alternative's mean share.
        ``.summary_frame(alpha)`` has columns ``mean, mean_se, mean_ci_lower, mean_ci_upper``.
        """
        return SharePredictionResults(ConditionalEffects(self, newdata, groups).prediction(
            average=average))

    def margins(self, variables: Any = None, *, kind: str = "dydx", at: Any = None,
                groups: Any = None, alpha: float = 0.05) -> pd.DataFrame:
        r"""Average effects of an alternative-specific attribute on every share.

        Row (*m*, *l*): :math:`\frac{1}{G}\sum_g \partial p_{gm} / \partial v_{gl}`, the
        effect on the share of *m* of the attribute (e.g. the price) of alternative *l*
        (``kind='dydx'``), or the mean elasticity (``kind='eyex'``; the matrix form is
        :meth:`elasticities`). Unlike the single-index models' margins, the attribute moves
        for one alternative at a time: raising every alternative's price at once changes no
        share in a logit.

        Parameters
        ----------
        variables : str
            One raw attribute column (e.g. ``'price'``).
        kind : {'dydx', 'eyex'}
        at : DataFrame, optional
            Long-format situations to average over (default: the estimation data).
        groups : array_like, optional
            The situation of each row of ``at`` (default: the column named at fit).
        alpha : float

        Returns
        -------
        pandas.DataFrame
            Indexed by (share of, attribute of); columns ``estimate, std_err, z, p_value,
            ci_lower, ci_upper``.
        """
        if isinstance(variables, (list, tuple)):
            if len(variables) != 1:
                raise ValueError("the conditional logit's margins take one attribute at a time")
            variables = variables[0]
        if not isinstance(variables, str):
            raise ValueError("name the attribute, e.g. margins('price')")
        if kind not in ("dydx", "eyex"):
            raise ValueError(f"kind must be 'dydx' or 'eyex', got {kind!r}")
        matrix = ConditionalEffects(self, at, groups).effects(
            variables, kind="dydx" if kind == "dydx" else "elasticity")
        frame = matrix.summary_frame(alpha)
        frame.index = frame.index.set_names(["share of", f"{variables} of"])
        return frame

    def elasticities(self, variable: str, *, at: Any = None, groups: Any = None,
                     aggregate: bool = False) -> EffectMatrix:
        r"""Own- (diagonal) and cross-elasticities of the shares with respect to an attribute.

        Row *m*, column *l*: the elasticity of the share of *m* with respect to the attribute
        (``variable``, a raw column such as ``price``) of alternative *l*. ``aggregate=False``
        averages the situation elasticities :math:`\partial \log p_{gm} / \partial \log
        v_{gl}`; ``aggregate=True`` is the elasticity of the mean share (see
        :mod:`beliefreg.models.share_effects`). For the logit with a linear price,
        :math:`e_{gml} = b\, v_{gl} (\delta_{ml} - p_{gl})`.
        """
        return ConditionalEffects(self, at, groups).effects(variable, kind="elasticity",
                                                            aggregate=aggregate)

    def diversion_ratios(self, price: str, *, at: Any = None,
                         groups: Any = None) -> EffectMatrix:
        r"""Diversion ratios from *l* (row) to *m* (column) when the price of *l* rises:
        :math:`-\sum_g \partial p_{gm}/\partial v_{gl} / \sum_g \partial p_{gl}/\partial
        v_{gl}` (the diagonal is -1).

        ``price`` is the price variable (one column of the long data, e.g. ``'price'``),
        not a mapping of alternatives to variables as for the multinomial model, whose
        alternatives have their own price columns."""
        if not isinstance(price, str):
            raise TypeError(f"price must be the name of the price variable in the long data "
                            f"(e.g. 'price'), got {type(price).__name__} {price!r}")
        return ConditionalEffects(self, at, groups).diversion(price)

    def wtp(self, attributes: Any = None, price: str = "price", *,
            alpha: float = 0.05) -> pd.DataFrame:
        """Willingness to pay :math:`-b_a / b_{price}` for each attribute term *a*.

        ``price`` is the term of the price, which must enter linearly (a WTP in money is
        then constant); for ``np.log(price)`` the WTP depends on the price level: write it
        with :meth:`nlcom`. ``attributes`` default to every other term (e.g. the brand
        constants: the price premium each brand commands). Returns one row per attribute:
        ``estimate, std_err, z, p_value, ci_lower, ci_upper``.
        """
        names = list(self.params.index)
        if price not in names:
            linear_hint = [n for n in names if price in n]
            hint = (f" (found {linear_hint}: a WTP in money needs a price that enters "
                    "linearly; write the function with nlcom)" if linear_hint else "")
            raise UnknownVariableError(f"price term {price!r} is not a parameter{hint}; "
                                       f"parameters: {names}")
        if attributes is None:
            attributes = [n for n in names if n != price]
        elif isinstance(attributes, str):
            attributes = [attributes]
        return coefficient_ratio(self, list(attributes), price,
                                 names=list(attributes)).summary_frame(alpha)

    def _summary_info(self) -> dict[str, str]:
        fit_label = "Log-likelihood:" if self.model.is_choice else "Quasi-log-likelihood:"
        info = {
            "Model:": self.model.model_name,
            "Dependent variable:": str(self.model.endog_names),
            "Alternatives:": ", ".join(str(a) for a in self.alternatives),
            "Choice situations (n):": str(self.nobs),
            "Long rows:": str(self.n_rows),
            "Df residuals:": str(self.df_resid),
            "Covariance type:": self._cov_label(),
            fit_label: f"{self.quasi_llf:.4f}",
            "Converged:": f"{self.converged} ({self.n_iter} iterations)",
        }
        if self.n_groups is not None:
            info["No. clusters:"] = " x ".join(str(g) for g in self.n_groups)
        if self.model.weights is not None:
            info["Weights:"] = "yes (prior weights, per situation)"
        return info
