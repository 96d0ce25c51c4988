r"""Predictions :math:`G(x'\hat\beta)` with delta-method standard errors and bands.

For a row :math:`x` the predicted mean is :math:`\hat\mu = G(x'\hat\beta)`; its Jacobian is
:math:`g(x'\hat\beta)\, x'`, so :math:`\mathrm{se}(\hat\mu) = g \sqrt{x' \widehat V x}`.
Two confidence intervals for the mean, named as in statsmodels
(``PredictionResultsMean.conf_int(method=...)``):

* ``method='endpoint'`` (the default, as in statsmodels): the Wald interval of the index,
  :math:`\hat\eta \pm z\,\mathrm{se}(\hat\eta)`, with its endpoints mapped through
  :math:`G`. It stays inside (0, 1) and is invariant to the link's parametrisation.
* ``method='delta'``: the Wald interval on the probability scale,
  :math:`\hat\mu \pm z\,\mathrm{se}(\hat\mu)`; it can leave [0, 1] near the boundary.

For an average of predicted means (a demand curve with ``at='overall'``), which is not
:math:`G` of one index, ``'endpoint'`` maps the mean to the index scale,
:math:`\eta^* = G^{-1}(\bar\mu)` with :math:`\mathrm{se}(\eta^*) = \mathrm{se}(\bar\mu) /
g(\eta^*)` (the delta method), and maps the Wald interval of :math:`\eta^*` back: for one row
this is exactly the interval above; for the logit link it is the logit-transformed interval of a
proportion (Stata's ``proportion``, ``citype(logit)``). :func:`mover_difference` gives the
interval of a difference of two such means, inside [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .delta import DeltaResult, _result, as_index
from .wald import NORMAL, WaldInference

__all__ = ["PredictionResults", "index_predictions", "CIMethod", "BandScale",
           "mean_conf_int", "mean_summary_frame", "mover_difference"]

#: How the confidence interval of a predicted mean is built (statsmodels' names).
CIMethod = Literal["endpoint", "delta"]
#: Former name of the option: ``'link'`` is ``'endpoint'``, ``'probability'`` is ``'delta'``.
BandScale = Literal["probability", "link"]

_SCALE_TO_METHOD = {"link": "endpoint", "probability": "delta"}


def check_method(method: Any, scale: Any = None) -> str:
    """The validated interval method; ``scale`` (former name) is accepted and mapped."""
    if scale is not None:
        if scale not in _SCALE_TO_METHOD:
            raise ValueError(f"scale must be 'probability' or 'link', got {scale!r} "
                             "(scale is the former name of method: 'delta' or 'endpoint')")
        mapped = _SCALE_TO_METHOD[scale]
        if method is not None and method != mapped:
            raise ValueError(f"method={method!r} and scale={scale!r} disagree; pass method "
                             "alone ('endpoint' or 'delta')")
        return mapped
    method = "endpoint" if method is None else method
    if method not in ("endpoint", "delta"):
        raise ValueError(f"method must be 'endpoint' (the index-scale interval mapped through "
                         f"the link, inside [0, 1]) or 'delta' (Wald on the probability "
                         f"scale), got {method!r}")
    return method


def mean_conf_int(mean: Any, std_err: Any, link: Any, q: float, *,
                  method: str = "endpoint") -> np.ndarray:
    r"""Confidence intervals, shape (n, 2), for means :math:`\bar\mu` in (0, 1).

    Parameters
    ----------
    mean, std_err : array_like, shape (n,)
        The means (probabilities, or averages of them) and their delta-method standard errors.
    link : Link
        The model's link (``cdf`` :math:`G`, ``pdf`` :math:`g`, ``ppf`` :math:`G^{-1}`).
    q : float
        The critical value (normal or t quantile).
    method : {'endpoint', 'delta'}
        ``'endpoint'``: :math:`G(\eta^* \pm q\,\mathrm{se}(\bar\mu)/g(\eta^*))` with
        :math:`\eta^* = G^{-1}(\bar\mu)` (the delta method on the index scale, mapped back;
        inside [0, 1]). ``'delta'``: :math:`\bar\mu \pm q\,\mathrm{se}(\bar\mu)`.

    A zero standard error gives the interval [mean, mean]; a mean that rounds to exactly 0 or 1
    in floating point (no finite index) gets the Wald interval clipped to [0, 1].
    """
    mu = np.asarray(mean, dtype=float)
    se = np.asarray(std_err, dtype=float)
    if method == "delta":
        return np.column_stack([mu - q * se, mu + q * se])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        eta = link.ppf(mu)
        se_eta = se / link.pdf(eta)
        lo, hi = link.cdf(eta - q * se_eta), link.cdf(eta + q * se_eta)
    # a mean that rounds to 0 or 1 has no finite index: the Wald interval, clipped to [0, 1]
    rounded = ~np.isfinite(eta) & np.isfinite(se) & ~np.isnan(mu)
    lo = np.where(rounded, np.clip(mu - q * se, 0.0, 1.0), lo)
    hi = np.where(rounded, np.clip(mu + q * se, 0.0, 1.0), hi)
    degenerate = (se == 0) & ~np.isnan(mu)
    lo, hi = np.where(degenerate, mu, lo), np.where(degenerate, mu, hi)
    # an average of probabilities can exceed 1 by rounding (1.0000000000000002)
    return np.clip(np.column_stack([lo, hi]), 0.0, 1.0)


def mover_difference(p1: float, p2: float, ci1: tuple[float, float], ci2: tuple[float, float],
                     corr: float) -> tuple[float, float]:
    r"""Interval of :math:`p_1 - p_2` from intervals of each, by MOVER (inside [-1, 1]).

    The method of variance estimates recovery (Newcombe 1998; Zou & Donner 2008, eq. for
    correlated estimates): with :math:`(l_i, u_i)` the intervals of :math:`p_i` and :math:`r`
    the correlation of the two estimates,

    .. math::

        L = d - \sqrt{(p_1 - l_1)^2 + (u_2 - p_2)^2 - 2 r (p_1 - l_1)(u_2 - p_2)}, \quad
        U = d + \sqrt{(u_1 - p_1)^2 + (p_2 - l_2)^2 - 2 r (u_1 - p_1)(p_2 - l_2)}.

    With symmetric Wald intervals it is the Wald interval of the difference; with intervals
    inside [0, 1] (``mean_conf_int(method='endpoint')``) it lies inside
    :math:`[l_1 - u_2,\ u_1 - l_2] \subseteq [-1, 1]`, since
    :math:`\sqrt{a^2 + b^2 - 2rab} \le a + b` for :math:`|r| \le 1`.

    References
    ----------
    Newcombe, R. G. (1998). Improved confidence intervals for the difference between binomial
    proportions based on paired data. *Statistics in Medicine* 17, 2635-2650.
    Zou, G. Y. and Donner, A. (2008). Construction of confidence limits about effect measures:
    a general approach. *Statistics in Medicine* 27, 1693-1702.
    """
    r = float(np.clip(corr, -1.0, 1.0))
    d = p1 - p2
    a, b = p1 - ci1[0], ci2[1] - p2
    c, e = ci1[1] - p1, p2 - ci2[0]
    low = d - math.sqrt(max(a * a + b * b - 2 * r * a * b, 0.0))
    high = d + math.sqrt(max(c * c + e * e - 2 * r * c * e, 0.0))
    return low, high


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

    def conf_int(self, alpha: float = 0.05, method: CIMethod | None = None, *,
                 scale: BandScale | None = None) -> np.ndarray:
        """Confidence intervals of the means, shape (n, 2).

        Parameters
        ----------
        alpha : float
            1 - the confidence level.
        method : {'endpoint', 'delta'}, default 'endpoint'
            As statsmodels' ``PredictionResultsMean.conf_int``: ``'endpoint'`` maps the
            Wald interval of the index :math:`x'\\hat\\beta` through :math:`G` (inside
            [0, 1]); ``'delta'`` is the Wald interval :math:`\\hat\\mu \\pm q\\,
            \\mathrm{se}(\\hat\\mu)` on the probability scale (can leave [0, 1]).
        scale : {'link', 'probability'}, optional
            Former name of ``method`` (``'link'`` = ``'endpoint'``, ``'probability'`` =
            ``'delta'``).

        Raises
        ------
        ValueError
            An unknown ``method`` or ``scale``, or the two disagreeing.
        """
        method = check_method(method, scale)
        q = self.delta.inference.critical_value(alpha)
        if method == "delta":
            mu, se = self.predicted_mean, self.se_mean
            return np.column_stack([mu - q * se, mu + q * se])
        return np.column_stack([self._cdf(self.linpred - q * self.se_linpred),
                                self._cdf(self.linpred + q * self.se_linpred)])

    def summary_frame(self, alpha: float = 0.05, method: CIMethod | None = None, *,
                      scale: BandScale | None = None) -> pd.DataFrame:
        """Columns ``mean, mean_se, mean_ci_lower, mean_ci_upper`` (statsmodels' layout).

        The interval is ``conf_int(alpha, method)``: by default (``'endpoint'``, as
        statsmodels GLM) built on the index scale and mapped through the link, so inside
        [0, 1]; ``method='delta'`` for the Wald interval on the probability scale.
        """
        ci = self.conf_int(alpha, method, scale=scale)
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


def mean_summary_frame(delta: DeltaResult, link: Any, alpha: float = 0.05,
                       method: CIMethod | None = None) -> pd.DataFrame:
    """``delta.summary_frame(alpha)`` for means in (0, 1), with the interval of ``method``.

    ``'endpoint'`` (default): :func:`mean_conf_int` on the index scale of ``link``, inside
    [0, 1]; ``'delta'``: the Wald interval of :meth:`DeltaResult.summary_frame` unchanged.
    The statistic and p-value columns are those of ``delta`` either way.
    """
    method = check_method(method)
    frame = delta.summary_frame(alpha)
    if method == "endpoint":
        ci = mean_conf_int(delta.estimate.to_numpy(), delta.std_err.to_numpy(), link,
                           delta.inference.critical_value(alpha), method="endpoint")
        frame["ci_lower"], frame["ci_upper"] = ci[:, 0], ci[:, 1]
    return frame
