r"""Predictions :math:`G(x'\hat\beta)` with delta-method standard errors and bands.

For a row :math:`x` the predicted mean is :math:`\hat\mu = G(x'\hat\beta)`; its Jacobian is
:math:`g(x'\hat\beta)\, x'`, so :math:`\mathrm{se}(\hat\mu) = g \sqrt{x' \widehat V x}`.
Bands are either Wald intervals on the probability scale, :math:`\hat\mu \pm z\,\mathrm{se}`
(what the delta method gives; they can leave [0, 1] near the boundary), or intervals built on
the index scale and mapped through :math:`G` (they stay in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .delta import DeltaResult, _result, as_index
from .wald import NORMAL, WaldInference

__all__ = ["PredictionResults", "index_predictions", "BandScale"]

BandScale = Literal["probability", "link"]


@dataclass
class PredictionResults:
    """Predicted means with delta-method standard errors (statsmodels' names).

    Attributes
    ----------
    predicted_mean : ndarray
        :math:`G(x'\\hat\\beta)` for each row.
    se_mean : ndarray
        Delta-method standard errors on the probability scale.
    linpred, se_linpred : ndarray
        The index :math:`x'\\hat\\beta` and its standard error.
    delta : DeltaResult
        The predictions as a :class:`~beliefreg.inference.delta.DeltaResult` (joint
        covariance of the rows in ``delta.cov``).
    """

    delta: DeltaResult
    linpred: np.ndarray
    se_linpred: np.ndarray
    _cdf: Any

    @property
    def predicted_mean(self) -> np.ndarray:
        return self.delta.estimate.to_numpy()

    @property
    def se_mean(self) -> np.ndarray:
        return self.delta.std_err.to_numpy()

    @property
    def row_labels(self) -> pd.Index:
        return self.delta.estimate.index

    def conf_int(self, alpha: float = 0.05, *, scale: BandScale = "probability") -> np.ndarray:
        """Bands, shape (n, 2): Wald on the ``'probability'`` scale, or mapped from ``'link'``."""
        q = self.delta.inference.critical_value(alpha)
        if scale == "probability":
            mu, se = self.predicted_mean, self.se_mean
            return np.column_stack([mu - q * se, mu + q * se])
        if scale == "link":
            return np.column_stack([self._cdf(self.linpred - q * self.se_linpred),
                                    self._cdf(self.linpred + q * self.se_linpred)])
        raise ValueError(f"scale must be 'probability' or 'link', got {scale!r}")

    def summary_frame(self, alpha: float = 0.05, *,
                      scale: BandScale = "probability") -> pd.DataFrame:
        """Columns ``mean, mean_se, mean_ci_lower, mean_ci_upper`` (statsmodels' layout)."""
        ci = self.conf_int(alpha, scale=scale)
        return pd.DataFrame({"mean": self.predicted_mean, "mean_se": self.se_mean,
                             "mean_ci_lower": ci[:, 0], "mean_ci_upper": ci[:, 1]},
                            index=self.row_labels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}\n{self.summary_frame().to_string()}"


def index_predictions(link: Any, params: pd.Series, cov: Any, exog: np.ndarray,
                      index: pd.Index, inference: WaldInference = NORMAL) -> PredictionResults:
    """Predictions ``G(exog @ params)`` with analytic delta-method SEs.

    ``inference`` sets the reference distribution of the bands (normal or t) and the rule for
    variances that are not positive (NaN with a warning; see :mod:`beliefreg.inference.wald`).
    """
    b = params.to_numpy(dtype=float)
    v = np.asarray(cov, dtype=float)
    eta = exog @ b
    g = link.pdf(eta)
    jac = exog * g[:, None]
    delta = _result(link.cdf(eta), jac, v, as_index(index), list(params.index), "analytic")
    delta = delta.with_inference(inference)
    # one variance check (and at most one warning) for both scales: Var(mu) = g^2 Var(eta)
    se_eta = inference.std_errors(exog, v, list(delta.estimate.index), what="prediction")
    delta._se = np.where(g > 0, g * se_eta, 0.0)
    return PredictionResults(delta=delta, linpred=eta, se_linpred=se_eta, _cdf=link.cdf)
