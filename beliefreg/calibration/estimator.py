r"""PPI++ and DSL on arrays: the rectified estimating equation, power tuning and the sandwich.

Notation. *n* human rows :math:`(x_i, y_i, f_i)` (regressors, human answer, the LLM's
prediction for the same question) and *N* simulated rows :math:`(\tilde x_j, \tilde f_j)`;
:math:`s(\theta; x, y)` is the model's observation score (quasi-likelihood gradient, prior
weights included; the weights are normalised to mean 1 within each sample) and :math:`I(\theta;
x)` its expected information.

PPI++ (Angelopoulos, Duchi and Zrnic 2023)
    :math:`\hat\theta_\lambda` solves

    .. math::

        \frac1n \sum_i \big[s(\theta; x_i, y_i) - \lambda\, s(\theta; x_i, f_i)\big]
        + \frac{\lambda}{N} \sum_j s(\theta; \tilde x_j, \tilde f_j) = 0 ,

    the maximiser of the rectified quasi-log-likelihood. :math:`\lambda = 0` is the human-only
    fit, :math:`\lambda = 1` the original PPI. Valid (consistent, asymptotically normal, with
    the sandwich below) **whatever the predictions are**, provided the human rows and the
    simulated rows are draws of the regressors from the same population and the prediction is
    a fixed function of the row (not fitted on these human answers).

    Covariance :math:`\hat V = \bar B^{-1} M \bar B^{-1}`. The bread :math:`\bar B` is by
    default (``bread='rectified'``) the derivative of the estimating equation,
    :math:`(1-\lambda)\bar I_h + \lambda \bar I_u` with :math:`\bar I_h`, :math:`\bar I_u`
    the average expected information of the human and of the simulated rows: continuous in
    :math:`\lambda` and the human-only bread at :math:`\lambda = 0`. ``bread='pooled'`` is
    ``ppi_py``'s convention: the average over both samples pooled, the human rows alone at
    exactly :math:`\lambda = 0` (so the covariance jumps as :math:`\lambda` leaves 0; the two
    agree asymptotically). The meat is

    .. math::

        M = c \sum_g S_g S_g', \quad
        S_g = \frac1n \sum_{i \in g} (a_i - \bar a) + \frac{\lambda}{N} \sum_{j \in g}
        (b_j - \bar b), \quad a_i = s(x_i, y_i) - \lambda s(x_i, f_i),\;
        b_j = s(\tilde x_j, \tilde f_j),

    each sample centred at its own mean. HC0: every row its own group, :math:`c = 1`
    (``ddof=1`` scales the human part by :math:`n/(n-1)` and the simulated part by
    :math:`N/(N-1)`, the ``np.cov`` convention of ``ppi_py``). Cluster: a group may hold human
    and simulated rows (a person who answered and whose persona was simulated, a persona asked
    several questions): their covariance is then in the meat; :math:`c` is the CR1 factor
    :func:`~beliefreg.inference.covariance.cluster_factor` with *G* the groups and the rows that
    enter the meat (the human rows alone when :math:`\lambda = 0`). At :math:`\lambda = 0`
    this is the human-only HC0 or CR1 covariance exactly (the human scores sum to zero).

    Power tuning: the meat is quadratic in :math:`\lambda`, :math:`M(\lambda) = M_{AA} +
    \lambda(M_{AF} + M_{FA}) + \lambda^2 M_{FF}`; :math:`\hat\lambda` minimises
    :math:`\mathrm{tr}(W M(\lambda) W')` with :math:`W` the inverse of the pooled bread (the
    trace of the covariance) or its row for one coefficient, evaluated at the
    :math:`\lambda = 1` estimate,
    and is clipped to [0, 1] (as ``ppi_py``'s ``_calc_lam_glm``; here with the same
    clustering and weights as the covariance).

DSL (Egami, Hinck, Stewart and Wei 2023)
    The human rows are a sample, with known probabilities :math:`\pi_i > 0`, of the rows of
    the full sample (human rows plus the simulated rows that were *not* sampled for human
    labelling). The design-adjusted outcome :math:`\tilde y_i = f_i + R_i (y_i - f_i)/\pi_i`
    (:math:`R_i` = 1 for a human row) replaces the outcome in the estimating equation over all
    :math:`n + N` rows; since the scores are linear in the outcome this is

    .. math::

        \sum_i \Big[\frac{1}{\pi_i} s(x_i, y_i) + \Big(1 - \frac1{\pi_i}\Big) s(x_i, f_i)\Big]
        + \sum_j s(\tilde x_j, \tilde f_j) = 0 .

    Valid whatever the predictions are, provided the sampling probabilities are known and
    positive (the labelled rows need not look like the others); the covariance is the usual
    sandwich over the :math:`n + N` rows (HC0 or CR1), with the expected information of all
    rows as the bread.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ..exceptions import ConvergenceWarning, DataError
from ..inference.covariance import cluster_factor, sandwich
from ..models.bernoulli import inverse_information
from .families import Family

__all__ = ["Samples", "CalibratedFit", "ppi_fit", "dsl_fit", "rectified_fit",
           "tune_lambda", "ppi_meat_parts"]


@dataclass
class Samples:
    """The three samples on one design. Weights normalised to mean 1 within each sample (for
    DSL over both samples together); ``codes`` are integer cluster codes over the human rows
    followed by the simulated rows, or None (HC0)."""

    family: Family
    x_h: np.ndarray
    y_h: np.ndarray
    f_h: np.ndarray
    w_h: np.ndarray
    x_u: np.ndarray
    f_u: np.ndarray
    w_u: np.ndarray
    codes: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.x_h)

    @property
    def N(self) -> int:
        return len(self.x_u)


@dataclass
class CalibratedFit:
    """The outcome of :func:`ppi_fit` or :func:`dsl_fit`."""

    params: np.ndarray
    cov: np.ndarray
    lam: float
    bread: np.ndarray
    n_iter: int
    converged: bool
    n_groups: int | None
    method: str


def rectified_fit(s: Samples, c_y: np.ndarray, c_f: np.ndarray, c_u: np.ndarray,
                  start: np.ndarray, *, maxiter: int = 100, tol: float = 1e-10
                  ) -> tuple[np.ndarray, int, bool]:
    r"""Maximise :math:`\sum_i w_i[c^y_i \ell(x_i, y_i) + c^f_i \ell(x_i, f_i)] + \sum_j
    c^u_j w_j \ell(\tilde x_j, \tilde f_j)` by Fisher scoring with step halving.

    The step uses the expected information :math:`\sum_i w_i (c^y_i + c^f_i) I_i + \sum_j
    w_j c^u_j I_j` (positive definite for PPI++ with :math:`\lambda \le 1` and for DSL), so
    every step is an ascent direction; for the logit links it is Newton's method. Stops when
    the largest step entry relative to :math:`1 + |\theta_k|` is below ``tol``.
    """
    fam = s.family

    def objective(theta):
        return float((c_y * s.w_h) @ fam.loglike_rows(theta, s.x_h, s.y_h)
                     + (c_f * s.w_h) @ fam.loglike_rows(theta, s.x_h, s.f_h)
                     + (c_u * s.w_u) @ fam.loglike_rows(theta, s.x_u, s.f_u))

    def gradient(theta):
        return (c_y @ fam.scores(theta, s.x_h, s.y_h, s.w_h)
                + c_f @ fam.scores(theta, s.x_h, s.f_h, s.w_h)
                + c_u @ fam.scores(theta, s.x_u, s.f_u, s.w_u))

    def info(theta):
        return (fam.information(theta, s.x_h, s.w_h * (c_y + c_f))
                + fam.information(theta, s.x_u, s.w_u * c_u))

    theta = np.asarray(start, float).copy()
    value = objective(theta)
    for it in range(1, maxiter + 1):
        step = _solve(info(theta), gradient(theta))
        if np.max(np.abs(step) / (1.0 + np.abs(theta)), initial=0.0) < tol:
            return theta, it, True
        t = 1.0
        while True:
            cand = theta + t * step
            new = objective(cand)
            if (np.isfinite(new) and new >= value - 1e-13 * (1.0 + abs(value))) or t < 1e-8:
                break
            t *= 0.5
        theta, value = cand, new
    warnings.warn(f"the calibrated estimating equation did not converge in {maxiter} "
                  "iterations; check the design or raise maxiter", ConvergenceWarning,
                  stacklevel=4)
    return theta, maxiter, False


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return linalg.cho_solve(linalg.cho_factor(a, check_finite=False), b, check_finite=False)
    except linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


def _ppi_coefficients(s: Samples, lam: float):
    n, N = s.n, s.N
    return (np.full(n, 1.0 / n), np.full(n, -lam / n), np.full(N, lam / N))


def pooled_bread(s: Samples, theta: np.ndarray, lam: float, bread: str = "pooled") -> np.ndarray:
    r"""The average expected information.

    ``'pooled'``: over the human rows and the simulated rows pooled (``ppi_py``'s convention),
    the human rows alone when :math:`\lambda = 0`. ``'rectified'``: the derivative of the
    rectified estimating equation, :math:`(1-\lambda)\bar I_h + \lambda \bar I_u`
    (continuous in :math:`\lambda`).
    """
    fam = s.family
    info = fam.information(theta, s.x_h, s.w_h)
    if lam == 0.0:
        return info / s.n
    if bread == "rectified":
        return (1.0 - lam) * info / s.n + lam * fam.information(theta, s.x_u, s.w_u) / s.N
    return (info + fam.information(theta, s.x_u, s.w_u)) / (s.n + s.N)


def _group_sums(rows: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, rows.shape[1]))
    np.add.at(out, codes, rows)
    return out


def ppi_meat_parts(s: Samples, theta: np.ndarray, *, ddof: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    r"""The group sums of the two parts of the PPI++ estimating function.

    Returns ``(S_A, S_F, codes, n_groups)`` with :math:`S_g(\lambda) = S_{A,g} + \lambda
    S_{F,g}`: :math:`S_A` sums :math:`(s(x_i, y_i) - \text{mean})/n` over the human rows of
    each group, :math:`S_F` sums :math:`-(s(x_i, f_i) - \text{mean})/n` over the human rows
    and :math:`(s(\tilde x_j, \tilde f_j) - \text{mean})/N` over the simulated rows. For HC0
    (``codes`` None) every row is a group and ``ddof`` scales each sample's rows by
    :math:`\sqrt{m/(m - \mathrm{ddof})}`.
    """
    fam = s.family
    n, N = s.n, s.N
    sy = fam.scores(theta, s.x_h, s.y_h, s.w_h)
    sf = fam.scores(theta, s.x_h, s.f_h, s.w_h)
    su = fam.scores(theta, s.x_u, s.f_u, s.w_u)
    a = (sy - sy.mean(axis=0)) / n
    fh = -(sf - sf.mean(axis=0)) / n
    fu = (su - su.mean(axis=0)) / N
    if s.codes is None:
        if ddof:
            a, fh = a * np.sqrt(n / (n - ddof)), fh * np.sqrt(n / (n - ddof))
            fu = fu * np.sqrt(N / (N - ddof))
        rows_a = np.vstack([a, np.zeros_like(fu)])
        rows_f = np.vstack([fh, fu])
        return rows_a, rows_f, np.arange(n + N), n + N
    codes = s.codes
    n_groups = int(codes.max()) + 1
    rows_a = np.vstack([a, np.zeros_like(fu)])
    rows_f = np.vstack([fh, fu])
    return (_group_sums(rows_a, codes, n_groups), _group_sums(rows_f, codes, n_groups),
            codes, n_groups)


def tune_lambda(bread_inv: np.ndarray, s_a: np.ndarray, s_f: np.ndarray,
                coord: int | None = None) -> float:
    r"""The :math:`\lambda` in [0, 1] minimising the trace of the covariance (``coord`` None)
    or the variance of coefficient ``coord``: :math:`-\mathrm{tr}(W(M_{AF} + M_{FA})W') /
    (2\,\mathrm{tr}(W M_{FF} W'))`, clipped."""
    w = bread_inv if coord is None else bread_inv[[coord]]
    ta, tf = s_a @ w.T, s_f @ w.T            # (G, r)
    num = -2.0 * float(np.sum(ta * tf))
    den = 2.0 * float(np.sum(tf * tf))
    if not den > 0.0:
        return 0.0
    return float(np.clip(num / den, 0.0, 1.0))


def _meat(s_a: np.ndarray, s_f: np.ndarray, lam: float) -> np.ndarray:
    sums = s_a + lam * s_f
    return sums.T @ sums


def ppi_fit(s: Samples, start: np.ndarray, *, lam: float | None = None,
            coord: int | None = None, ddof: int = 0, maxiter: int = 100,
            tol: float = 1e-10, bread: str = "rectified") -> CalibratedFit:
    """PPI++ on the samples: tuned (``lam`` None) or fixed :math:`\\lambda`; see the module."""
    if lam is None:
        theta1, _, _ = rectified_fit(s, *_ppi_coefficients(s, 1.0), start, maxiter=maxiter,
                                     tol=tol)
        bread_inv = inverse_information(pooled_bread(s, theta1, 1.0, "pooled"))
        s_a, s_f, _, _ = ppi_meat_parts(s, theta1, ddof=ddof)
        lam = tune_lambda(bread_inv, s_a, s_f, coord)
    lam = float(lam)
    theta, n_iter, converged = rectified_fit(s, *_ppi_coefficients(s, lam), start,
                                             maxiter=maxiter, tol=tol)
    bread = pooled_bread(s, theta, lam, bread)
    bread_inv = inverse_information(bread)
    s_a, s_f, codes, n_groups = ppi_meat_parts(s, theta, ddof=ddof)
    meat = _meat(s_a, s_f, lam)
    groups = None
    if s.codes is not None:
        # the rows that enter the meat: the human rows alone when lambda = 0
        used = codes[: s.n] if lam == 0.0 else codes
        g = len(np.unique(used))
        m = s.n if lam == 0.0 else s.n + s.N
        meat = cluster_factor(g, m, len(theta)) * meat
        groups = g
    return CalibratedFit(params=theta, cov=sandwich(bread_inv, meat), lam=lam, bread=bread,
                         n_iter=n_iter, converged=converged, n_groups=groups, method="PPI++")


def dsl_fit(s: Samples, start: np.ndarray, sampling_prob: np.ndarray, *,
            maxiter: int = 100, tol: float = 1e-10) -> CalibratedFit:
    """DSL with known sampling probabilities of the human rows; see the module."""
    pi = np.asarray(sampling_prob, float)
    if pi.shape != (s.n,) or not np.all((pi > 0.0) & (pi <= 1.0)):
        raise DataError("sampling probabilities must lie in (0, 1], one per human row")
    m = s.n + s.N
    c_y = 1.0 / (pi * m)
    c_f = (1.0 - 1.0 / pi) / m
    c_u = np.full(s.N, 1.0 / m)
    theta, n_iter, converged = rectified_fit(s, c_y, c_f, c_u, start, maxiter=maxiter, tol=tol)
    fam = s.family
    bread = (fam.information(theta, s.x_h, s.w_h) + fam.information(theta, s.x_u, s.w_u)) / m
    rows = np.vstack([c_y[:, None] * fam.scores(theta, s.x_h, s.y_h, s.w_h)
                      + c_f[:, None] * fam.scores(theta, s.x_h, s.f_h, s.w_h),
                      c_u[:, None] * fam.scores(theta, s.x_u, s.f_u, s.w_u)])
    groups = None
    if s.codes is None:
        meat = rows.T @ rows
    else:
        g = int(s.codes.max()) + 1
        sums = _group_sums(rows, s.codes, g)
        meat = cluster_factor(g, m, len(theta)) * (sums.T @ sums)
        groups = g
    cov = sandwich(inverse_information(bread), meat)
    return CalibratedFit(params=theta, cov=cov, lam=float("nan"), bread=bread, n_iter=n_iter,
                         converged=converged, n_groups=groups, method="DSL")
