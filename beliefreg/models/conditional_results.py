"""Results of :class:`~beliefreg.ConditionalLogit`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .multinomial_results import ShareModelResults

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
        if isinstance(newdata, pd.DataFrame):
            return pd.Series(pred, index=newdata.index, name="predicted")
        return pred

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
