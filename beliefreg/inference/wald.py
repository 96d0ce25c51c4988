r"""Wald inference: the reference distribution (normal or t) and variances that can be trusted.

Every standard error in beliefreg is :math:`\sqrt{J \widehat V J'}` for some Jacobian *J* (a
unit vector for a coefficient). Two things decide what is reported from it, and both live here
so that a coefficient, a test, an ``nlcom`` quantity, a margin and a prediction all follow one
rule:

**The reference distribution.** By default z statistics and normal critical values
(asymptotic inference for an M-estimator). With ``fit(use_t=True)``, t statistics with *df*
degrees of freedom and F statistics for joint tests, where

* *df* = G - 1 for a cluster-robust covariance (G = the number of clusters; with two-way
  clustering the smaller of the two counts), as Stata does after ``vce(cluster)`` and
  linearmodels with ``debiased=True``; few clusters make the normal critical value too small
  (Cameron and Miller 2015, section VI.C; Monte Carlo in ``benchmarks/RESULTS.md``);
* *df* = n - k otherwise (*n* the estimation units: rows, or choice situations for the
  conditional logit), the residual degrees of freedom as statsmodels' ``use_t`` uses. For a
  heteroskedasticity-robust covariance this is a convention, not a small-sample theory:
  with n in the hundreds it changes little.

**Variances that are not positive.** A covariance estimate need not be positive
semi-definite (two-way clustering: :math:`V_a + V_b - V_{a\cap b}`), and a one-way cluster
covariance with G <= k clusters is singular (its meat has rank at most G - 1). Then
:math:`J \widehat V J'` can be negative or zero for a quantity whose true variance is
positive. Such a variance is never turned into a standard error of 0 (z = inf, p = 0) or into
a negative test statistic: the standard error is NaN and a
:class:`~beliefreg.exceptions.CovarianceWarning` says which quantity and why. Only a quantity
that does not depend on the parameters at all (a zero Jacobian row) gets a standard error of
exactly 0. With ``cov_kwds={'fix': True}`` (the eigenvalue clipping of Cameron, Gelbach and
Miller 2011, R's ``vcovCL(fix = TRUE)``), the clipped covariance is positive semi-definite by
construction and its variances are used as they are (0 in the clipped directions).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import stats

from ..exceptions import CovarianceWarning

__all__ = ["CovarianceCheck", "check_covariance", "WaldInference", "NORMAL"]

# Relative size below which an eigenvalue (or a variance) is rounding noise.
_EIG_RTOL = 1e-10
_VAR_RTOL = 256 * np.finfo(float).eps
_DEGENERATE_RTOL = 1e-8


@dataclass(frozen=True)
class CovarianceCheck:
    """What the eigenvalues of a parameter covariance say about it.

    Attributes
    ----------
    eigenvalues : ndarray, shape (k,)
        Ascending.
    psd : bool
        No eigenvalue below :math:`-10^{-10} \\lambda_{max}`.
    singular : bool
        An eigenvalue within rounding of 0, or a one-way cluster covariance with G <= k.
    fixed : bool
        The negative eigenvalues were clipped to 0 at fit (``cov_kwds={'fix': True}``).
    degenerate : bool
        A one-way cluster covariance with G <= k whose every eigenvalue is within rounding of
        0 relative to the parameters (the model fits each cluster's scores exactly, so the
        cluster score sums cancel), or a robust covariance of a separated fit (set by the
        results): no standard error can be read from it, and every one is NaN.
    reason : str
        Empty when the covariance is positive definite; else a sentence for messages.
    """

    eigenvalues: np.ndarray
    psd: bool
    singular: bool
    fixed: bool = False
    reason: str = ""
    degenerate: bool = False

    @property
    def ok(self) -> bool:
        return self.psd and not self.singular


def check_covariance(cov: Any, *, n_groups: Sequence[int] | None = None, nparams: int,
                     fixed: bool = False, name: str = "",
                     params: Any = None) -> CovarianceCheck:
    """Check a parameter covariance by its eigenvalues (not its diagonal).

    Parameters
    ----------
    cov : array_like, shape (k, k)
    n_groups : sequence of int, optional
        The cluster counts of a cluster-robust covariance (one entry per clustering variable).
    nparams : int
        *k*.
    fixed : bool
        Whether negative eigenvalues were clipped.
    name : str
        The covariance type, for messages.
    params : array_like, shape (k,), optional
        The estimates: with G <= k clusters, a covariance whose largest eigenvalue is below
        :math:`(10^{-8} \\max(1, \\max_j |b_j|))^2` is numerically zero (``degenerate``).
    """
    v = np.asarray(cov, dtype=float)
    label = f"the {name} covariance" if name else "the covariance"
    if not np.isfinite(v).all():
        return CovarianceCheck(np.full(len(v), np.nan), False, True, fixed,
                               f"{label} has non-finite entries")
    values = np.linalg.eigvalsh(0.5 * (v + v.T)) if len(v) else np.zeros(0)
    top = float(np.max(np.abs(values), initial=0.0))
    psd = bool(values.size == 0 or values[0] >= -_EIG_RTOL * top)
    reasons = []
    if not psd:
        shown = ", ".join(f"{x:.3g}" for x in values[:3])
        if n_groups is not None and len(n_groups) == 2:
            reasons.append(f"{label} is not positive semi-definite (smallest eigenvalues "
                           f"{shown}; two-way clustering can produce this): use "
                           "cov_kwds={'fix': True} (eigenvalue clipping) or one-way clustering")
        else:
            reasons.append(f"{label} is not positive semi-definite beyond rounding (smallest "
                           f"eigenvalues {shown}): the design or the fit is close to "
                           "singular (collinear terms, or separation)")
    singular = False
    if n_groups is not None and len(n_groups) == 1 and n_groups[0] <= nparams:
        singular = True
        reasons.append(f"{label} is singular: {n_groups[0]} clusters for {nparams} parameters "
                       f"(a one-way cluster covariance has rank at most G - 1 = "
                       f"{n_groups[0] - 1}); some linear combinations have no variance "
                       "estimate: use fewer parameters, more clusters, or the wild cluster "
                       "bootstrap (res.boottest)")
        if params is not None and not fixed:
            scale = max(1.0, float(np.max(np.abs(np.asarray(params, float)), initial=0.0)))
            if top <= (_DEGENERATE_RTOL * scale) ** 2:
                reasons.append(f"every cluster's scores sum to 0 (the model fits each of the "
                               f"{n_groups[0]} clusters exactly), so the covariance is "
                               f"numerically zero (largest eigenvalue {top:.3g}) and no "
                               "standard error can be read from it")
                return CovarianceCheck(values, psd, True, bool(fixed), "; ".join(reasons),
                                       degenerate=True)
    elif psd and values.size and values[0] <= _EIG_RTOL * top * 1e-3 and not fixed:
        singular = True
        reasons.append(f"{label} is singular (smallest eigenvalue {values[0]:.3g}, largest "
                       f"{top:.3g})")
    return CovarianceCheck(values, psd, singular, bool(fixed), "; ".join(reasons))


@dataclass(frozen=True)
class WaldInference:
    """The reference distribution and the variance rule of Wald inference.

    Attributes
    ----------
    df : float or None
        Degrees of freedom of the t (and denominator of the F) distribution; None for the
        normal (and chi-squared) distribution.
    check : CovarianceCheck or None
        The eigenvalue check of the parameter covariance, if known.
    """

    df: float | None = None
    check: CovarianceCheck | None = field(default=None, compare=False)

    @property
    def use_t(self) -> bool:
        return self.df is not None

    @property
    def stat_name(self) -> str:
        """``'t'`` or ``'z'``."""
        return "t" if self.use_t else "z"

    def critical_value(self, alpha: float) -> float:
        """The two-sided critical value for level ``alpha``."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if self.use_t:
            return float(stats.t.isf(alpha / 2.0, self.df))
        return float(stats.norm.isf(alpha / 2.0))

    def pvalue(self, statistic: Any) -> np.ndarray:
        """Two-sided p-values of t or z statistics (NaN stays NaN)."""
        s = np.abs(np.asarray(statistic, dtype=float))
        return 2.0 * (stats.t.sf(s, self.df) if self.use_t else stats.norm.sf(s))

    def std_errors(self, jacobian: np.ndarray, cov: np.ndarray,
                   names: Sequence[Any] | None = None, *, what: str = "quantity") -> np.ndarray:
        r"""Standard errors :math:`\sqrt{\mathrm{diag}(J V J')}` under the variance rule.

        A variance that is not positive beyond rounding (relative to
        :math:`\sum_{jk} |J_j| |V_{jk}| |J_k|`) gives NaN and one
        :class:`~beliefreg.exceptions.CovarianceWarning` naming the rows, unless the
        covariance was fixed by eigenvalue clipping; a zero Jacobian row gives 0.
        """
        j = np.atleast_2d(np.asarray(jacobian, dtype=float))
        v = np.asarray(cov, dtype=float)
        var = np.einsum("ij,ij->i", j @ v, j)
        aj = np.abs(j)
        scale = np.einsum("ij,ij->i", aj @ np.abs(v), aj)
        constant = ~np.any(j != 0.0, axis=1)
        if self.check is not None and self.check.fixed:
            return np.where(constant, 0.0, np.sqrt(np.clip(var, 0.0, None)))
        bad = (var <= _VAR_RTOL * scale) & ~constant
        if self.check is not None and self.check.degenerate:
            bad = ~constant
        se = np.where(constant, 0.0, np.sqrt(np.where(bad, np.nan, var)))
        if bad.any():
            idx = np.flatnonzero(bad)
            shown = [names[i] for i in idx[:5]] if names is not None else list(idx[:5])
            reason = (self.check.reason if self.check is not None and self.check.reason
                      else "the covariance gives this direction no positive variance")
            warnings.warn(
                f"the variance of {len(idx)} {what}(s) {shown} is not positive "
                f"(J V J' = {var[idx[0]]:.4g}), so the standard error is NaN rather than 0 or "
                f"imaginary: {reason}", CovarianceWarning, stacklevel=3)
        return se


NORMAL = WaldInference()
