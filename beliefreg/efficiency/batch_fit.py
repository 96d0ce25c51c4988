r"""Many logit fits that share one condition-level design, solved together.

When every regressor is constant within a condition and every condition has the same number of
runs *R*, the Bernoulli quasi-log-likelihood of the row-level data is, up to the factor *R*,

.. math::

   \ell(\beta) = R \sum_c \big[ \bar y_c \log \Lambda(x_c'\beta)
                 + (1 - \bar y_c) \log(1 - \Lambda(x_c'\beta)) \big],

a function of the condition means :math:`\bar y_c` only. So the fractional logit of belief and
the logit of choice on a resample of *R* runs per condition have the same estimate as an
unweighted fractional logit of the condition means on the condition design. This module solves
that problem for many outcome vectors at once (one Newton iteration is a handful of array
operations over all of them), which is what makes :func:`~beliefreg.efficiency.runs_needed`
fast. It mirrors :func:`beliefreg.models.bernoulli.fit_bernoulli` on designs below
:data:`~beliefreg.models.bernoulli.REUSE_MIN_ROWS` rows (same start, stopping rule and
separation criterion); the tests check that it returns the estimates of
:class:`~beliefreg.FractionalLogit` and :class:`~beliefreg.Logit`, and the same separation
verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["BatchFit", "fit_logit_many", "SEPARATION_EPS"]

#: A fitted probability this close to 0 or 1 signals separation (as in the estimation core).
SEPARATION_EPS = 1e-10


@dataclass
class BatchFit:
    """Estimates of many logit fits.

    Attributes
    ----------
    params : ndarray, shape (m, k)
    separated : ndarray of bool, shape (m,)
        Fitted probabilities reached 0 or 1 (within ``SEPARATION_EPS``): perfect or
        quasi-complete separation, so the (quasi-)MLE does not exist and ``params`` is where
        the iterations stopped, not an estimate.
    converged : ndarray of bool, shape (m,)
    """

    params: np.ndarray
    separated: np.ndarray
    converged: np.ndarray


def _loglike(ybar: np.ndarray, eta: np.ndarray) -> np.ndarray:
    return (ybar * eta - np.logaddexp(0.0, eta)).sum(axis=1)


def _solve(info: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Solve ``info[i] @ step[i] = grad[i]`` for every i; least squares where singular."""
    try:
        return np.linalg.solve(info, grad[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.empty_like(grad)
        for i in range(len(grad)):
            out[i] = np.linalg.lstsq(info[i], grad[i], rcond=None)[0]
        return out


def fit_logit_many(ybar: np.ndarray, exog: np.ndarray, *, maxiter: int = 100,
                   tol: float = 1e-10) -> BatchFit:
    r"""Fractional logit QMLE of each row of ``ybar`` on the common design ``exog``.

    Parameters
    ----------
    ybar : ndarray, shape (m, C)
        Outcomes in [0, 1]: one fit per row (e.g. the condition means of one resample).
    exog : ndarray, shape (C, k)
        The condition-level design (full column rank; checked by the caller).
    maxiter, tol
        Newton iterations stop for a fit when its largest scaled step
        :math:`|\Delta_j| / (1 + |\beta_j|)` is below ``tol`` or its Newton decrement is
        negligible (the rule of the estimation core).

    Returns
    -------
    BatchFit
    """
    ybar = np.asarray(ybar, dtype=float)
    exog = np.asarray(exog, dtype=float)
    m, k = ybar.shape[0], exog.shape[1]
    # Outer products x_c x_c', so that X' diag(w) X for every fit is one matrix product.
    outer = (exog[:, :, None] * exog[:, None, :]).reshape(len(exog), k * k)
    # The first Fisher-scoring step from beta = 0 in closed form (all fitted means are 1/2).
    b = np.linalg.solve(exog.T @ exog, exog.T @ (ybar - 0.5).T).T / 0.25
    mu = expit(b @ exog.T)
    grad = (ybar - mu) @ exog
    converged = np.zeros(m, dtype=bool)
    active = np.arange(m)
    for _ in range(maxiter):
        ba, ya, mua, ga = b[active], ybar[active], mu[active], grad[active]
        info = ((mua * (1.0 - mua)) @ outer).reshape(-1, k, k)
        step = _solve(info, ga)
        decrement = np.einsum("ij,ij->i", ga, step)
        done = np.max(np.abs(step) / (1.0 + np.abs(ba)), axis=1) < tol
        small = ~done & (decrement < 1e-16)
        if small.any():  # the quasi-log-likelihood is needed only for this rare test
            ll = _loglike(ya[small], ba[small] @ exog.T)
            done[small] = decrement[small] < 1e-20 * (1.0 + np.abs(ll))
        converged[active[done]] = True
        keep = ~done
        active, ba, ya, step = active[keep], ba[keep], ya[keep], step[keep]
        if not len(active):
            break
        new = ba + step
        mu_new = expit(new @ exog.T)
        grad_new = (ya - mu_new) @ exog
        # The quasi-log-likelihood is concave, so a non-negative slope at the end of the step
        # proves it went uphill; only the other fits halve their step until it does not fall.
        uphill = np.einsum("ij,ij->i", grad_new, step) >= 0.0
        if not uphill.all():
            idx = np.flatnonzero(~uphill)
            ll_old = _loglike(ya[idx], ba[idx] @ exog.T)
            t = np.ones(len(idx))
            pending = np.ones(len(idx), dtype=bool)
            for _half in range(30):
                cand = ba[idx] + t[:, None] * step[idx]
                ll_new = _loglike(ya[idx], cand @ exog.T)
                pending &= ~(ll_new >= ll_old - 1e-12 * (1.0 + np.abs(ll_old)))
                if not pending.any():
                    break
                t[pending] *= 0.5
            new[idx] = ba[idx] + t[:, None] * step[idx]
            mu_new[idx] = expit(new[idx] @ exog.T)
            grad_new[idx] = (ya[idx] - mu_new[idx]) @ exog
        b[active], mu[active], grad[active] = new, mu_new, grad_new
    mu = expit(b @ exog.T)
    separated = ((mu < SEPARATION_EPS) | (mu > 1.0 - SEPARATION_EPS)).any(axis=1)
    return BatchFit(params=b, separated=separated, converged=converged)
