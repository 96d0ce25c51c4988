r"""The Bernoulli quasi-likelihood of Papke and Wooldridge (1996) and its Newton fit.

For an outcome :math:`y_i \in [0, 1]` with :math:`E[y_i \mid x_i] = G(x_i'\beta)` and prior
weights :math:`w_i`,

.. math::

   \ell(\beta) = \sum_i w_i \big[ y_i \log G(x_i'\beta) + (1 - y_i) \log(1 - G(x_i'\beta)) \big].

Its maximiser is consistent for :math:`\beta` whenever the conditional mean is right, whatever
the distribution of :math:`y_i` (a quasi-MLE); for 0/1 outcomes it is the ML logit/probit.
With :math:`r = g / (G (1 - G))` the observation scores are
:math:`s_i = w_i (y_i - G_i) r_i x_i`, and minus the Hessian is :math:`X' \mathrm{diag}(h) X`
with

* expected information: :math:`h_i = w_i g_i r_i`;
* observed: :math:`h_i = w_i [g_i r_i - (y_i - G_i) r_i'],\;
  r' = r \, (g'/g - r (1 - 2G))`.

For the canonical logit link :math:`r \equiv 1` and the two coincide.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import linalg, optimize

from .._blas_threads import single_blas_thread
from .._passes import BLOCK_ROWS, block_scratch, weighted_gram
from ..exceptions import ConvergenceWarning, SeparationWarning
from .links import Link, score_ratio

__all__ = ["HessianKind", "BernoulliFit", "quasi_loglike", "score_weights", "hessian_weights",
           "information", "evaluate", "fit_bernoulli", "working_weights", "inverse_information"]

HessianKind = Literal["observed", "expected"]

_BLOCK_ROWS = BLOCK_ROWS

#: Designs with at least this many rows start from a subsample and reuse Hessians
#: (:func:`fit_bernoulli`); smaller ones take plain Newton steps.
REUSE_MIN_ROWS = 65536
#: The subsample of the start: every this-many-th row.
PRESAMPLE_STRIDE = 32
#: A Newton step below this (on the scale of the linear predictor) lets the next pass reuse
#: its Hessian.
REUSE_STEP = 1e-3
# A subsample with fewer rows per column than this gives no start.
_PRESAMPLE_ROWS_PER_COLUMN = 64
# The error a step is predicted to leave below which the next pass is taken to be the last.
_FINAL_ERROR = 1e-14

# A fitted probability this close to 0 or 1 signals separation.
_SEPARATION_EPS = 1e-10
# Under separation, stop once the predicted gain is below this share of |ll| + 0.1 (R's glm
# stops when the relative change in deviance is below 1e-8).
_SEPARATION_TOL = 1e-8


@functools.lru_cache(maxsize=None)
def _boundary_threshold(link_name: str, link: Link) -> float:
    """The ``t`` with ``G(-t) = eps``: |eta| beyond it means a fitted probability at 0 or 1.

    Both links are symmetric (``1 - G(t) = G(-t)``), so one threshold serves both tails.
    """
    log_eps = np.log(_SEPARATION_EPS)
    return float(optimize.brentq(lambda t: float(link.log_cdf(np.array([-t]))[0]) - log_eps,
                                 0.0, 1e3, xtol=1e-12))


def _at_boundary(eta: np.ndarray, link: Link) -> np.ndarray:
    """Rows whose fitted probability is within ``1e-10`` of 0 or 1 (one comparison per row)."""
    return np.abs(eta) > _boundary_threshold(link.name, link)


def _any_at_boundary(eta: np.ndarray, link: Link) -> bool:
    """``_at_boundary(eta, link).any()`` from two reductions, without an n-vector temporary.

    ``fmax``/``fmin`` skip NaN as the comparison does (NaN is never beyond the threshold).
    """
    if len(eta) == 0:
        return False
    t = _boundary_threshold(link.name, link)
    return bool(np.fmax.reduce(eta) > t or -np.fmin.reduce(eta) > t)


def inverse_information(info: np.ndarray) -> np.ndarray:
    """Invert minus the Hessian; a singular matrix (separation) gets huge, finite variances.

    When the information is numerically singular, which happens only when coefficients are not
    identified, its eigenvalues are floored at ``1e-14`` times the largest one, so the variance
    in the unidentified directions is at least ``1e14`` over that eigenvalue: effectively
    infinite, never NaN, and never a small number.
    """
    try:
        return linalg.cho_solve(linalg.cho_factor(info, check_finite=False), np.eye(len(info)),
                                check_finite=False)
    except linalg.LinAlgError:
        pass
    values, vectors = np.linalg.eigh(info)
    floor = max(values.max(), np.finfo(float).tiny) * 1e-14
    if values.min() < -floor:
        # an indefinite observed Hessian away from the maximum: use the symmetric inverse
        return np.linalg.pinv(info, hermitian=True)
    return (vectors / np.maximum(values, floor)) @ vectors.T


def quasi_loglike(y: np.ndarray, eta: np.ndarray, w: np.ndarray | None, link: Link) -> float:
    """The Bernoulli quasi-log-likelihood at the linear predictor ``eta``."""
    contrib = link.log_sf(eta) + y * link.log_odds(eta)
    return float(contrib.sum() if w is None else w @ contrib)


def working_weights(y: np.ndarray, eta: np.ndarray, w: np.ndarray | None, link: Link,
                    kind: HessianKind) -> tuple[np.ndarray, np.ndarray]:
    r"""Score weights :math:`u_i` and Hessian weights :math:`h_i` together.

    The scores are :math:`s_i = u_i x_i` with :math:`u_i = w_i (y_i - G_i) r_i`; minus the
    Hessian is :math:`X' \mathrm{diag}(h) X`. The cdf and the density are computed once.
    """
    if kind not in ("observed", "expected"):
        raise ValueError(f"hessian must be 'observed' or 'expected', got {kind!r}")
    mu = link.cdf(eta)
    resid = y - mu
    if link.canonical:  # logit: r = 1, g = mu (1 - mu), observed = expected
        u, h = resid, mu * (1.0 - mu)
    else:
        r = score_ratio(link, eta)
        u = resid * r
        h = link.pdf(eta) * r
        if kind == "observed":
            h = h - resid * r * (link.dlog_pdf(eta) - r * (1.0 - 2.0 * mu))
    if w is not None:
        u, h = w * u, w * h
    return u, h


def score_weights(y: np.ndarray, eta: np.ndarray, w: np.ndarray | None,
                  link: Link) -> np.ndarray:
    r""":math:`u_i = w_i (y_i - G_i) r_i`, so that the scores are :math:`s_i = u_i x_i`."""
    u = (y - link.cdf(eta)) * score_ratio(link, eta)
    return u if w is None else w * u


def hessian_weights(y: np.ndarray, eta: np.ndarray, w: np.ndarray | None, link: Link,
                    kind: HessianKind) -> np.ndarray:
    r""":math:`h_i` such that minus the Hessian is :math:`X' \mathrm{diag}(h) X`."""
    return working_weights(y, eta, w, link, kind)[1]


def information(exog: np.ndarray, h: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    r""":math:`X' \mathrm{diag}(h) X`, in one blocked pass (no n x k temporary).

    ``out`` is accepted for compatibility and ignored: the scratch is one row block
    (:func:`beliefreg._passes.weighted_gram`).
    """
    return weighted_gram(exog, h)


@dataclass
class BernoulliFit:
    """The outcome of :func:`fit_bernoulli`.

    ``info`` is minus the Hessian of kind ``info_kind`` at ``params`` (the last pass computed
    it there), so the covariance need not recompute it; ``u`` are the score weights
    :math:`u_i` at ``params`` (:func:`score_weights`, prior weights included), from the same
    pass. ``qllf`` is None unless the fit needed it (step checks, separation): evaluating it
    costs a pass of log-sums over the rows, so the results compute it when first asked for
    (``BinaryResults.quasi_llf``).
    """

    params: np.ndarray
    eta: np.ndarray
    qllf: float | None
    n_iter: int
    converged: bool
    n_boundary: int
    info: np.ndarray
    info_kind: HessianKind
    u: np.ndarray | None = None


def evaluate(y: np.ndarray, exog: np.ndarray, w: np.ndarray | None, link: Link,
             params: np.ndarray, kind: HessianKind, *, scores_out: np.ndarray | None = None,
             with_info: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The gradient and minus the Hessian of the quasi-log-likelihood in one pass over the rows.

    The rows are processed in cache-sized blocks, so the design is read once per Newton
    iteration and no n x k temporary is allocated. The quasi-log-likelihood itself depends on
    the returned linear predictor only (:func:`quasi_loglike`), so it is computed when needed.
    If ``scores_out`` (shape (n,)) is given, the score weights :math:`u_i` of the same pass are
    written into it: the values :func:`score_weights` returns at the returned ``eta``, so the
    sandwich needs no further pass over the link functions.

    Returns
    -------
    grad : ndarray, shape (k,)
    info : ndarray, shape (k, k)
        Minus the Hessian of the given ``kind``.
    eta : ndarray, shape (n,)
        The linear predictor.
    """
    n, k = exog.shape
    eta = np.empty(n)
    grad = np.zeros(k)
    info = np.zeros((k, k))
    scratch = block_scratch(exog, _BLOCK_ROWS)
    # h >= 0 for the logit and for the expected information: then X'diag(h)X = Z'Z with
    # Z = diag(sqrt h) X, which numpy computes with dsyrk (half the arithmetic of a product)
    nonnegative = link.canonical or kind == "expected"
    with single_blas_thread():
        for start in range(0, n, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            xb = exog[rows]
            eb = np.matmul(xb, params, out=eta[rows])
            u, h = working_weights(y[rows], eb, None if w is None else w[rows], link, kind)
            if scores_out is not None:
                scores_out[rows] = u
            grad += xb.T @ u
            if not with_info:
                continue
            if nonnegative:
                z = np.multiply(xb, np.sqrt(h, out=h)[:, None], out=scratch[:len(eb)])
                info += z.T @ z
            else:
                info += xb.T @ np.multiply(xb, h[:, None], out=scratch[:len(eb)])
    return grad, (0.5 * (info + info.T) if with_info else None), eta


def _solve_pd(a: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """Solve ``a @ step = grad`` by Cholesky; None if ``a`` is not positive definite."""
    try:
        return linalg.cho_solve(linalg.cho_factor(a, check_finite=False), grad,
                                check_finite=False)
    except linalg.LinAlgError:
        return None


def first_scoring_step(y: np.ndarray, exog: np.ndarray, w: np.ndarray | None, link: Link, *,
                       gram: np.ndarray | None = None) -> np.ndarray:
    r"""The first Fisher-scoring step from :math:`\beta = 0`, in closed form.

    At zero every fitted mean is 1/2, so the information is :math:`g(0) r(0) X'WX` and the
    gradient :math:`r(0) X'W(y - 1/2)`: the step is a least-squares fit. ``gram``, if given,
    is :math:`X'WX` (the rank check's :math:`X'X` when there are no weights), which saves a
    pass over the data.
    """
    if gram is None:
        gram = exog.T @ exog if w is None else weighted_gram(exog, w)
    rhs = exog.T @ (y - 0.5 if w is None else w * (y - 0.5))
    g0 = float(link.pdf(np.zeros(1))[0])
    return np.linalg.solve(gram, rhs) / g0


def fit_bernoulli(y: np.ndarray, exog: np.ndarray, w: np.ndarray | None, link: Link, *,
                  start_params: np.ndarray | None = None, maxiter: int = 100,
                  tol: float = 1e-10, scale: np.ndarray | None = None,
                  gram: np.ndarray | None = None) -> BernoulliFit:
    """Maximise the Bernoulli quasi-log-likelihood by Newton's method with step halving.

    For the logit, Newton's method and Fisher scoring coincide. For the probit the step uses
    the observed Hessian where it is negative definite and the expected information (Fisher
    scoring, globally well behaved) where it is not. Iterations stop when the next step is
    negligible: its largest entry on the scale of the linear predictor,
    ``|step_j| s_j / (1 + |b_j| s_j)`` with ``s_j`` the root mean square of column *j*
    (``scale``; computed if not given), is below ``tol``, or the
    Newton decrement (the predicted gain in the quasi-log-likelihood) is below
    ``1e-20 * (1 + |ll|)``; the latter is what ends the iterations under separation, where
    coefficients diverge while the likelihood settles.

    Designs of at least :data:`REUSE_MIN_ROWS` rows save passes over the data, and the
    maximum is the same: the iterations start from a fit on every
    :data:`PRESAMPLE_STRIDE`-th row, whose Hessian (scaled to n rows) gives the first step,
    and a pass that follows a small Newton step (below :data:`REUSE_STEP`) computes the
    gradient only and steps with the Hessian of the pass before (a chord step: near the
    maximum it contracts the error by about that small step, almost as much as a Newton step).
    Convergence is declared only at a pass that computed the Hessian, so ``info`` and ``u``
    are always those of the estimate, and (on this path) only once the last step is below
    ``1e-13`` as well as ``tol``: the estimate and its covariance are those of the maximum to
    about 1e-13, where plain Newton steps stop anywhere below ``tol``. Whether the next pass
    needs the Hessian is decided from the contraction observed so far
    (:func:`_needs_hessian`); a chord step whose end slope shows it overshot is replaced by a
    Newton step. Chord steps and their mix with Newton steps (Shamanskii's method): C. T.
    Kelley, *Iterative Methods for Linear and Nonlinear Equations*, SIAM, 1995, chapter 5.

    Without ``start_params`` the iterations start from :func:`first_scoring_step` (of the
    subsample, for a large design); ``gram`` is passed on to it. Given ``start_params`` are
    kept: the subsample is skipped (a warm start may already be at the maximum), and the
    chord steps remain.

    Warns
    -----
    ConvergenceWarning
        If ``maxiter`` iterations did not converge.
    SeparationWarning
        If fitted probabilities reached 0 or 1 (perfect or quasi-complete separation).
    """
    k = exog.shape[1]
    b = None if start_params is None else np.asarray(start_params, dtype=float).copy()
    if b is not None and b.shape != (k,):
        raise ValueError(f"start_params must have {k} values, got {b.shape}")
    if scale is None:
        scale = np.sqrt(np.einsum("ij,ij->j", exog, exog) / max(len(exog), 1))
    scale = np.where(scale > 0, scale, 1.0)
    fitted = _newton(y, exog, w, link, b, scale, maxiter, tol,
                     reuse=len(y) >= REUSE_MIN_ROWS, gram=gram)
    if not fitted.converged:
        warnings.warn(f"the quasi-likelihood maximisation did not converge in {fitted.n_iter} "
                      "iterations; raise maxiter or check the design", ConvergenceWarning,
                      stacklevel=3)
    if fitted.n_boundary:
        warnings.warn(
            f"fitted probabilities are numerically 0 or 1 for {fitted.n_boundary} "
            "observation(s): perfect or quasi-complete separation, so the (quasi-)MLE may not "
            "exist; the coefficients of the separating terms are not identified and their "
            "standard errors are very large", SeparationWarning, stacklevel=3)
    return fitted


def _needs_hessian(size: float, stale_distance: float, contraction: float) -> bool:
    """Whether the pass after a step of ``size`` should compute the Hessian too.

    A step taken with a Hessian computed a distance ``d`` away leaves an error of about
    ``c (d + size) size`` (``c size**2`` for a Newton step, ``d = 0``), with ``c`` the
    ``contraction`` observed so far (at least 1; distances on the scale of the linear
    predictor). The next pass computes the Hessian when that error is below
    :data:`_FINAL_ERROR` (it will be the last pass: the covariance needs the Hessian at the
    estimate) or when the Hessian in hand is too far away to contract the error much
    (``c (d + size)`` above :data:`REUSE_STEP`); otherwise it computes the gradient only.
    """
    reach = contraction * (stale_distance + size)
    return reach * size < _FINAL_ERROR or reach >= REUSE_STEP


def _presample(y: np.ndarray, exog: np.ndarray, w: np.ndarray | None, link: Link,
               b: np.ndarray | None, scale: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """A start and its Hessian from every ``PRESAMPLE_STRIDE``-th row; None if it failed.

    The rows are strided rather than the first ones, so that sorted data give a
    representative subsample. A subsample that did not converge or is separated gives no
    start (the full data may well be fine), and neither does one with fewer than
    ``_PRESAMPLE_ROWS_PER_COLUMN`` rows per column (a wide design).
    """
    rows = slice(None, None, PRESAMPLE_STRIDE)
    if len(range(0, len(y), PRESAMPLE_STRIDE)) < _PRESAMPLE_ROWS_PER_COLUMN * exog.shape[1]:
        return None  # too few rows per coefficient for a start worth its passes
    xs = np.ascontiguousarray(exog[rows])
    gram = xs.T @ xs
    norms = np.sqrt(np.diag(gram))
    if not np.all(norms > 0):
        return None
    # a column that (nearly) depends on others in the subsample, such as a rare dummy
    # none of whose rows were drawn: no start from it
    eigenvalues = np.linalg.eigvalsh(gram / np.outer(norms, norms))
    if not eigenvalues[0] > 1e-8 * eigenvalues[-1]:
        return None
    ws = None if w is None else w[rows]
    # a subsample that needs more than 12 passes (separated, or a poor start) gives none
    sub = _newton(y[rows], xs, ws, link, b, scale, 12, 1e-6, reuse=False,
                  gram=gram if ws is None else None)
    if not sub.converged or sub.n_boundary:
        return None
    # the information is a sum over rows (of weights, with weights): scaled to all of them
    share = len(y) / len(xs) if w is None else float(w.sum()) / float(ws.sum())
    return sub.params, sub.info * share


def _newton(y: np.ndarray, exog: np.ndarray, w: np.ndarray | None, link: Link,
            b: np.ndarray | None, scale: np.ndarray, maxiter: int, tol: float, *,
            reuse: bool, gram: np.ndarray | None = None) -> BernoulliFit:
    """The iterations of :func:`fit_bernoulli` (no warnings; ``reuse`` saves passes)."""
    kind: HessianKind = "expected" if link.canonical else "observed"
    # the score weights of the current and of the trial point, swapped on acceptance
    u, u_new = np.empty(len(y)), np.empty(len(y))
    # a start the caller chose is kept (a warm start may already be at the maximum)
    start = _presample(y, exog, w, link, b, scale) if reuse and b is None else None
    if start is None and b is None:
        b = first_scoring_step(y, exog, w, link, gram=gram)
    if start is not None:
        b, info = start
        grad, _, eta = evaluate(y, exog, w, link, b, kind, scores_out=u, with_info=False)
        fresh = False  # info is not the full data's Hessian at b
    else:
        grad, info, eta = evaluate(y, exog, w, link, b, kind, scores_out=u)
        fresh = True
    # how far (on the scale of the linear predictor) b is from where info was computed;
    # infinite for the subsample's Hessian, whose error is not a distance
    stale_distance = 0.0 if fresh else np.inf
    # the largest ratio seen of a step to what the previous full step predicted for it
    contraction, predicted = 1.0, np.inf
    polished = False
    ll: float | None = None  # quasi_loglike(y, eta, w, link), computed when first needed
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        step = _solve_pd(info, grad)
        if step is None and not fresh:
            grad, info, eta = evaluate(y, exog, w, link, b, kind, scores_out=u)
            fresh, stale_distance, predicted = True, 0.0, np.inf
            step = _solve_pd(info, grad)
        if step is None and kind == "observed":
            _, expected, _ = evaluate(y, exog, w, link, b, "expected")
            step = _solve_pd(expected, grad)
        if step is None:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        decrement = float(grad @ step)
        size = float(np.max(np.abs(step) * scale / (1.0 + np.abs(b) * scale)))
        if predicted > 0 and np.isfinite(predicted):
            contraction = max(contraction, size / predicted)
        # Newton converges quadratically: a negligible step means b is already within about
        # that step of the maximum, and grad and info are exact at b. With reuse, a step
        # between 10 x _FINAL_ERROR and tol (the schedule aimed lower) is taken once more, so
        # that the estimate and its covariance are those of the maximum to about 1e-13.
        if fresh:
            done = size < tol
            if not done and decrement < 1e-16:
                if ll is None:
                    ll = quasi_loglike(y, eta, w, link)
                done = decrement < 1e-20 * (1.0 + abs(ll))
            if done:
                if not reuse or size < 10 * _FINAL_ERROR or polished:
                    converged = True
                    break
                polished = True
        with_info = not reuse or polished or _needs_hessian(size, stale_distance, contraction)
        t = 1.0
        ll_new = None
        rejected = False
        while True:
            b_new = b + t * step
            grad_new, info_new, eta_new = evaluate(y, exog, w, link, b_new, kind,
                                                   scores_out=u_new, with_info=with_info)
            ll_new = None
            # The quasi-log-likelihood is concave in b (log G and log(1 - G) are concave for
            # the logit and the probit), so f(b_new) - f(b) >= t * grad_new'step: a slope at the
            # end of the step above -1e-12 proves that the step lost less than the 1e-12 the
            # comparison below tolerates (near the maximum the slope of a tiny last step is
            # rounding noise of either sign). Only otherwise are the two values computed and
            # compared, which costs two passes of log-sums over the rows.
            slope_end = float(grad_new @ step)
            if slope_end >= -1e-12 or t < 1e-8:
                break
            if not fresh:
                # A chord step is kept when the slope at its end is at least -1/2 of the slope
                # at its start: along the step the objective is then, to third order, a
                # parabola whose maximum the step passed by at most half its length, so the
                # step gained at least 3/8 of the slope times the step. Otherwise a Newton step
                # is taken from b. (Comparing two quasi-log-likelihoods would cost two passes.)
                rejected = slope_end < -0.5 * decrement
                break
            if ll is None:
                ll = quasi_loglike(y, eta, w, link)
            ll_new = quasi_loglike(y, eta_new, w, link)
            if ll_new >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            t *= 0.5
        if rejected:
            grad, info, eta = evaluate(y, exog, w, link, b, kind, scores_out=u)
            fresh, stale_distance, predicted = True, 0.0, np.inf
            continue
        # what the next step should be if this one behaves as Newton's (or chord) steps do
        predicted = (stale_distance + size) * size if t == 1.0 else np.inf
        b, grad, eta, ll = b_new, grad_new, eta_new, ll_new
        if with_info:
            info, fresh, stale_distance = info_new, True, 0.0
        else:
            fresh, stale_distance = False, stale_distance + t * size
        u, u_new = u_new, u
        if _any_at_boundary(eta, link):
            if ll is None:
                ll = quasi_loglike(y, eta, w, link)
            separated = decrement < _SEPARATION_TOL * (abs(ll) + 0.1)
        else:
            separated = False
        if separated:
            # Separation: the likelihood only creeps towards its supremum while coefficients
            # diverge. Stop where R's glm does (relative change below 1e-8), so the reported
            # standard errors are large and finite rather than overflowing.
            converged = True
            break
    if not fresh:  # the covariance needs the Hessian at the estimate
        grad, info, eta = evaluate(y, exog, w, link, b, kind, scores_out=u)
    n_boundary = int(np.count_nonzero(_at_boundary(eta, link))) if _any_at_boundary(
        eta, link) else 0
    return BernoulliFit(params=b, eta=eta, qllf=ll, n_iter=it, converged=converged,
                        n_boundary=n_boundary, info=info, info_kind=kind, u=u)
