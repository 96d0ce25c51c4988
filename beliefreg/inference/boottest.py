r"""The wild cluster score bootstrap (Kline and Santos 2012), as Stata's ``boottest`` runs it
after maximum-likelihood estimation (Roodman, Nielsen, MacKinnon and Webb 2019).

With few clusters, cluster-robust Wald tests over-reject (and their intervals under-cover)
even with t(G - 1) critical values. The wild cluster bootstrap is the standard remedy for
linear models; for ML and QML estimators (logit, probit, fractional and share models), whose
residuals are not defined, the **score bootstrap** perturbs the cluster score sums instead and
needs no re-estimation per draw.

**Restricted (the default; "WCR").** For a linear hypothesis :math:`R\beta = q` (one or more
rows), the model is re-estimated with the null imposed, giving :math:`\tilde\beta`; at it,
:math:`\tilde S_g` are the cluster score sums and :math:`\tilde A` the inverse of minus the
(unrestricted) Hessian, and :math:`u_g = R \tilde A \tilde S_g` (an r-vector). For weights
:math:`v_g` (one per cluster and draw) the bootstrap numerator and variance are

.. math::

   n(v) = \sum_g v_g u_g, \qquad
   D(v) = c \sum_g \big(v_g u_g - \pi_g n(v)\big)\big(v_g u_g - \pi_g n(v)\big)',

with :math:`\pi_g` the share of cluster *g* in the observations (or in the prior weights):
the recentring stands in for the re-estimation the score bootstrap skips. That is boottest's
choice (``recenter='share'``). The default for the binary and fractional models
(``recenter='hessian'``) recentres with each cluster's own part :math:`H_g` of minus the
Hessian instead, :math:`w_g = R\tilde A\,[v_g \tilde S_g - H_g \tilde A \sum_h v_h \tilde
S_h]`: the cluster scores after one Newton step of re-estimation on the bootstrap sample. For
a linear model this is exactly the restricted wild cluster bootstrap's residual scores
(:math:`X_g'(v_g \tilde u_g - X_g(\beta^* - \tilde\beta))`); boottest's version equals it
only when every :math:`H_g = \pi_g H`, which fails when a regressor is constant within
clusters (clustering by price with log price as the regressor). In the few-cluster Monte
Carlo of ``benchmarks/RESULTS.md`` it covers about one point closer to the nominal level. The statistic is :math:`t(v) = n(v) / \sqrt{D(v)}` (one restriction) or
:math:`F(v) = n(v)' D(v)^{-1} n(v) / r`; the sample statistic is the same function at
:math:`v = \iota` (all ones) -- with the share recentring a Rao score (LM) statistic, with
the Hessian recentring the same numerator over the variance at the one-step estimate (close
to the Wald statistic) -- and the bootstrap ones use random :math:`v`. *c* is the CR1 factor :math:`G/(G-1) \cdot (n-1)/(n-k)` (``small=True``, the default, matching the
cluster covariance of the fit; boottest's default after ML is ``small=False``, *c* = 1); it
scales every statistic alike, so p-values and confidence sets do not depend on it.

**Unrestricted ("WCU").** The same at the unrestricted estimate :math:`\hat\beta`, with
the sample statistic the Wald one, :math:`(R\hat\beta - q) / \sqrt{D(\iota)}`. This is what
is done for a **nonlinear** quantity :math:`f(\beta)` (``nlcom``, margins, predictions): the
bootstrap numerator is the linearisation :math:`\sum_g v_g J \hat A \hat S_g` (*J* the
Jacobian of *f* at :math:`\hat\beta`), and :math:`t = (f(\hat\beta) - \theta_0) / \sqrt{D(\iota)}`
is the delta-method t statistic with a CR1 variance. Imposing a nonlinear null would need a
nonlinearly constrained re-estimation for every trial value; boottest does not offer it
either (it tests margins as linear combinations). The restricted bootstrap has the better
size with few clusters (MacKinnon and Webb 2017); the unrestricted one is what there is for
nonlinear quantities: prefer a linear hypothesis on coefficients where one expresses the
question.

**p-values** are symmetric: the share of draws with :math:`|t(v)| \ge |t|` (or
:math:`F(v) \ge F`). **Weights**: Rademacher (:math:`\pm 1`) or Webb's six-point
distribution (:math:`\pm\sqrt{1/2}, \pm 1, \pm\sqrt{3/2}`). With Rademacher weights and
``reps`` at least :math:`2^G`, every one of the :math:`2^G` sign vectors is used once (as
boottest does): the p-value is then exact and does not depend on the seed.

**Confidence sets** (one restriction) are found by test inversion: the set of
:math:`\theta` with :math:`p(\theta) > \alpha` for the hypothesis :math:`R\beta = \theta`,
with the same draws for every :math:`\theta`. Restricted: the model is re-estimated at each
trial :math:`\theta`; the bounds are bracketed by stepping out from the estimate and then
bisected (the set may be unbounded: a bound is then infinite). Unrestricted: the bootstrap
distribution does not depend on :math:`\theta`, so the set is the interval
:math:`\hat\theta \pm d\, \mathrm{se}` with *d* the matching order statistic of
:math:`|t(v)|` (the bootstrap-t interval).

References: Kline, P. and Santos, A. (2012), "A score based approach to wild bootstrap
inference", *Journal of Econometric Methods* 1(1); Roodman, D., Nielsen, M. Ø., MacKinnon,
J. G. and Webb, M. D. (2019), "Fast and wild: bootstrap inference in Stata using boottest",
*Stata Journal* 19(1); Webb, M. D. (2014), "Reworking wild bootstrap based inference for
clustered errors", Queen's Economics Department WP 1315; MacKinnon, J. G. and Webb, M. D.
(2017), "Wild bootstrap inference for wildly different cluster sizes", *Journal of Applied
Econometrics* 32(2).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal

import numpy as np
import pandas as pd
from scipy import linalg

from ..exceptions import ConvergenceWarning
from .covariance import Scores, as_scores, cluster_factor

__all__ = ["BootTestResult", "ScoreProblem", "score_bootstrap_test", "bootstrap_weights",
           "wild_statistics", "restricted_fit", "WeightType"]

WeightType = Literal["rademacher", "webb"]

_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
_CHUNK_CELLS = 4_000_000  # weights per chunk (clusters x draws): 32 MB


# ---------------------------------------------------------------------------------- problem
@dataclass
class ScoreProblem:
    """What the score bootstrap needs from a fitted (quasi-)likelihood model.

    Attributes
    ----------
    params : ndarray, shape (k,)
        The unrestricted estimate.
    evaluate : callable
        ``evaluate(b) -> (objective, gradient, minus Hessian)`` of the (quasi-)log-likelihood.
    scores : callable
        ``scores(b)`` -> observation (or choice-situation) scores as
        :class:`~beliefreg.inference.covariance.Scores` or an (n, k) array.
    codes : ndarray of int, shape (n,)
        Bootstrap-cluster codes of the score rows, ``0 .. n_clusters - 1``.
    n_clusters : int
    unit_weights : ndarray, shape (n,), optional
        Prior weights of the score rows (for the cluster shares :math:`\\pi_g`).
    names : list of str
        Parameter names.
    cluster_hessians : callable, optional
        ``cluster_hessians(b, codes, G)`` -> (G, k, k): each cluster's share of minus the
        Hessian at ``b``; enables ``recenter='hessian'``.
    """

    params: np.ndarray
    evaluate: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]
    scores: Callable[[np.ndarray], Any]
    codes: np.ndarray
    n_clusters: int
    unit_weights: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    cluster_hessians: Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None = None

    @property
    def nobs(self) -> int:
        return len(self.codes)

    @property
    def k(self) -> int:
        return len(self.params)

    def shares(self) -> np.ndarray:
        r""":math:`\pi_g`, each cluster's share of the observations (or prior weights)."""
        w = np.ones(self.nobs) if self.unit_weights is None else self.unit_weights
        out = np.bincount(self.codes, weights=w, minlength=self.n_clusters)
        return out / out.sum()

    def factor(self) -> float:
        return cluster_factor(self.n_clusters, self.nobs, self.k)

    def cluster_scores(self, b: np.ndarray) -> np.ndarray:
        """(G, k) cluster sums of the scores at ``b``."""
        s: Scores = as_scores(self.scores(b))
        return np.asarray(s.group_sums(self.codes, self.n_clusters))

    def recentring(self, b: np.ndarray, u: np.ndarray, bread: np.ndarray, r: np.ndarray,
                   how: str) -> np.ndarray | None:
        """The matrix *M* of the recentred bootstrap scores ``v * u - M v`` (see
        :func:`wild_statistics`); None for boottest's cluster-share recentring."""
        if how == "share" or self.cluster_hessians is None:
            return None
        hess = self.cluster_hessians(b, self.codes, self.n_clusters)     # (G, k, k)
        sums = self.cluster_scores(b)                                     # (G, k)
        k_mat = np.einsum("rk,kl,glm,mn->grn", r, bread, hess, bread)   # (G, r, k)
        return np.einsum("grn,hn->grh", k_mat, sums)                     # (G, r, G)

    def bread(self, b: np.ndarray) -> np.ndarray:
        """The inverse of minus the Hessian at ``b``."""
        info = self.evaluate(b)[2]
        return linalg.pinvh(0.5 * (info + info.T))


def restricted_fit(problem: ScoreProblem, r: np.ndarray, q: np.ndarray, *,
                   start: np.ndarray | None = None, maxiter: int = 100,
                   tol: float = 1e-10) -> np.ndarray:
    r"""Maximise the (quasi-)log-likelihood subject to :math:`R\beta = q`.

    Parametrised as :math:`\beta = \beta_0 + N\theta` with :math:`R\beta_0 = q` and *N* a
    basis of the null space of *R*; Newton's method in :math:`\theta` (concave objective).
    """
    from ..models._base import newton_concave

    r = np.atleast_2d(np.asarray(r, float))
    q = np.asarray(q, float).reshape(-1)
    b0 = np.linalg.lstsq(r, q, rcond=None)[0]
    null = linalg.null_space(r)
    base = problem.params if start is None else np.asarray(start, float)
    theta0 = null.T @ (base - b0)

    def evaluate(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        value, grad, info = problem.evaluate(b0 + null @ theta)
        return value, null.T @ grad, null.T @ info @ null

    if null.shape[1] == 0:
        return b0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = newton_concave(evaluate, theta0, maxiter=maxiter, tol=tol, stacklevel=4)
    return b0 + null @ fit.params


# ---------------------------------------------------------------------------------- weights
def bootstrap_weights(n_clusters: int, reps: int, weights: WeightType,
                      seed: int | None) -> tuple[Callable[[], Iterator[np.ndarray]], int, bool]:
    """A re-startable source of wild weights: ``(chunks, B, exact)``.

    ``chunks()`` yields (G, b) blocks whose columns are the draws, the same sequence every
    time it is called (so test inversion uses the same draws for every trial value).
    Rademacher with ``reps >= 2**G`` enumerates all ``2**G`` sign vectors (``exact=True``).
    """
    if weights not in ("rademacher", "webb"):
        raise ValueError(f"weights must be 'rademacher' or 'webb', got {weights!r}")
    if int(reps) < 1:
        raise ValueError(f"reps must be a positive integer, got {reps}")
    g = int(n_clusters)
    if weights == "rademacher" and g <= 20 and 2 ** g <= reps:
        def enumerate_all() -> Iterator[np.ndarray]:
            codes = np.arange(2 ** g)
            step = max(1, _CHUNK_CELLS // g)
            for start in range(0, 2 ** g, step):
                block = codes[start:start + step]
                bits = (block[None, :] >> np.arange(g)[:, None]) & 1
                yield 1.0 - 2.0 * bits
        return enumerate_all, 2 ** g, True
    entropy = np.random.SeedSequence(seed).entropy

    def draw() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        step = max(1, _CHUNK_CELLS // max(g, 1))
        for start in range(0, int(reps), step):
            b = min(step, int(reps) - start)
            if weights == "rademacher":
                yield 1.0 - 2.0 * rng.integers(0, 2, size=(g, b))
            else:
                yield _WEBB[rng.integers(0, 6, size=(g, b))]
    return draw, int(reps), False


# ---------------------------------------------------------------------------------- statistics
def wild_statistics(u: np.ndarray, shares: np.ndarray, v: np.ndarray, *,
                    factor: float = 1.0, recentre: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    r"""Numerators and statistics for weight draws ``v`` (G, B).

    ``u`` is (G,) for one restriction or (G, r). Returns ``(numerators, stats)``: the
    numerators :math:`n(v) = \sum_g v_g u_g` ((B,) or (B, r)) and :math:`t(v) = n / \sqrt{D}`
    (one restriction) or :math:`F(v) = n' D^{-1} n / r`, with
    :math:`D = c \sum_g w_g w_g'` and the recentred bootstrap scores :math:`w_g`:

    * ``recentre=None`` (boottest): :math:`w_g = v_g u_g - \pi_g n(v)`;
    * ``recentre`` = *M*, shape (G, r, G) (or (G, G) for one restriction):
      :math:`w_g = v_g u_g - \sum_h M_{g\cdot h} v_h`, with
      :math:`M_{gh} = R \tilde A H_g \tilde A \tilde S_h` (*H_g* cluster *g*'s part of minus
      the Hessian): the cluster scores after one Newton step of re-estimation on the
      bootstrap sample, which for a linear model are exactly the residual scores of the
      restricted wild cluster bootstrap.
    """
    pi = shares
    one = u.ndim == 1
    uu = u[:, None] if one else u                      # (G, r)
    r = uu.shape[1]
    n = v.T @ uu                                       # (B, r)
    if recentre is None:
        if one:
            s2 = (v * v).T @ (u * u)
            m = v.T @ (pi * u)
            nn = n[:, 0]
            d = factor * (s2 - 2.0 * nn * m + nn * nn * float(pi @ pi))
            with np.errstate(divide="ignore", invalid="ignore"):
                t = nn / np.sqrt(np.where(d > 0, d, np.nan))
            return nn, t
        w = uu[:, None, :] * v[:, :, None] - pi[:, None, None] * n[None, :, :]   # (G, B, r)
    else:
        mr = recentre.reshape(len(u), r, -1) if recentre.ndim == 2 else recentre
        w = uu[:, None, :] * v[:, :, None] - np.einsum("grh,hb->gbr", mr, v)
    if one:
        d = factor * np.einsum("gb,gb->b", w[:, :, 0], w[:, :, 0])
        with np.errstate(divide="ignore", invalid="ignore"):
            t = n[:, 0] / np.sqrt(np.where(d > 0, d, np.nan))
        return n[:, 0], t
    d = factor * np.einsum("gbi,gbj->bij", w, w)
    stats = np.full(len(n), np.nan)
    ok = np.linalg.det(d) > 0
    if ok.any():
        sol = np.linalg.solve(d[ok], n[ok][:, :, None])[:, :, 0]
        stats[ok] = np.einsum("bi,bi->b", n[ok], sol) / r
    return n, stats


def _bootstrap_pvalue(stat: float, u: np.ndarray, shares: np.ndarray,
                      chunks: Callable[[], Iterator[np.ndarray]], factor: float, two_sided: bool,
                      keep: bool = False, recentre: np.ndarray | None = None
                      ) -> tuple[float, np.ndarray | None]:
    """Share of draws whose statistic is at least as extreme as ``stat``."""
    if not np.isfinite(stat):
        return float("nan"), None
    target = abs(stat) if two_sided else stat
    target = target * (1.0 - 1e-12)  # the identity draw reproduces the statistic to rounding
    hits, total, kept = 0, 0, []
    for v in chunks():
        _, s = wild_statistics(u, shares, v, factor=factor, recentre=recentre)
        s = np.abs(s) if two_sided else s
        hits += int(np.count_nonzero(s >= target))
        total += len(s)
        if keep:
            kept.append(s)
    return hits / total, (np.concatenate(kept) if keep else None)


# ---------------------------------------------------------------------------------- result
@dataclass
class BootTestResult:
    """The outcome of :meth:`~beliefreg.results.LikelihoodResults.boottest`.

    Attributes
    ----------
    hypothesis : str
    statistic : float
        t (one restriction, or a nonlinear quantity) or F (several restrictions); for the
        restricted bootstrap a score (LM) statistic, for the unrestricted one the Wald one.
    pvalue : float
        The bootstrap p-value (symmetric).
    conf_set : pandas.DataFrame or None
        The confidence set by test inversion: one row per interval (usually one), columns
        ``lower, upper`` (infinite when unbounded). None for joint hypotheses.
    level : float
    estimate : float or None
        The estimated value of the tested quantity (:math:`R\\hat\\beta` or
        :math:`f(\\hat\\beta)`), for one restriction.
    null_value : float or None
    reps : int
        Draws used (``2**G`` when every Rademacher draw was enumerated).
    exact : bool
        Every Rademacher sign vector was used once: the p-value is deterministic.
    weights : str
    impose_null : bool
    n_clusters : int
    df_num : int
        The number of restrictions.
    method : str
        A sentence saying what was done.
    dist : ndarray or None
        The bootstrap statistics at the null value.
    """

    hypothesis: str
    statistic: float
    pvalue: float
    conf_set: pd.DataFrame | None
    level: float
    estimate: float | None
    null_value: float | None
    reps: int
    exact: bool
    weights: str
    impose_null: bool
    n_clusters: int
    df_num: int
    method: str
    dist: np.ndarray | None = field(default=None, repr=False)

    @property
    def conf_int(self) -> tuple[float, float] | None:
        """The confidence set as one interval (its hull when it has several pieces)."""
        if self.conf_set is None or self.conf_set.empty:
            return None
        return float(self.conf_set["lower"].min()), float(self.conf_set["upper"].max())

    def summary_frame(self) -> pd.DataFrame:
        """One row: ``estimate, null, statistic, p_value, ci_lower, ci_upper``."""
        ci = self.conf_int or (np.nan, np.nan)
        return pd.DataFrame({"estimate": [self.estimate], "null": [self.null_value],
                             "statistic": [self.statistic], "p_value": [self.pvalue],
                             "ci_lower": [ci[0]], "ci_upper": [ci[1]]},
                            index=pd.Index([self.hypothesis]))

    def __repr__(self) -> str:
        stat = "t" if self.df_num == 1 else f"F({self.df_num}, .)"
        lines = [f"Wild cluster score bootstrap ({'restricted' if self.impose_null else 'unrestricted'}"
                 f", {self.weights} weights, {self.reps} draws"
                 f"{', all enumerated' if self.exact else ''}, {self.n_clusters} clusters)",
                 f"  H0: {self.hypothesis}",
                 f"  {stat} = {self.statistic:.4f}   bootstrap p = {self.pvalue:.4f}"]
        if self.conf_set is not None:
            pieces = " U ".join(f"[{lo:.6g}, {hi:.6g}]" for lo, hi in
                                self.conf_set[["lower", "upper"]].to_numpy())
            lines.append(f"  {self.level:.0%} confidence set: {pieces}")
        lines.append(f"  {self.method}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------- engine
def score_bootstrap_test(problem: ScoreProblem, *, r: np.ndarray | None = None,
                         q: np.ndarray | None = None, jacobian: np.ndarray | None = None,
                         estimate: float | None = None, null_value: float = 0.0,
                         hypothesis: str = "", reps: int = 999,
                         weights: WeightType = "rademacher", seed: int | None = None,
                         impose_null: bool = True, level: float = 0.95,
                         conf_set: bool = True, keep_dist: bool = False,
                         small: bool = True, recenter: str = "auto",
                         ptol: float = 1e-6) -> BootTestResult:
    r"""Run the score bootstrap test (see the module docstring).

    Either a linear hypothesis ``r`` (m, k), ``q`` (m,), or a nonlinear one: the Jacobian
    ``jacobian`` (k,) of :math:`f` at :math:`\hat\beta`, its value ``estimate`` and the
    ``null_value`` (always unrestricted). ``small=False`` drops the CR1 factor from the
    statistics (boottest's default after ML estimation); p-values and confidence sets do not
    depend on it. ``recenter``: ``'share'`` (boottest's), ``'hessian'`` (needs the model's
    cluster Hessians), ``'auto'`` (``'hessian'`` when available and G <= 2000).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if recenter not in ("auto", "hessian", "share"):
        raise ValueError(f"recenter must be 'auto', 'hessian' or 'share', got {recenter!r}")
    if recenter == "hessian" and problem.cluster_hessians is None:
        raise ValueError("recenter='hessian' needs the cluster Hessians, which this model "
                         "does not provide; use recenter='share' (boottest's)")
    how = ("hessian" if recenter == "hessian" or (
        recenter == "auto" and problem.cluster_hessians is not None
        and problem.n_clusters <= 2000) else "share")
    alpha = 1.0 - level
    chunks, n_draws, exact = bootstrap_weights(problem.n_clusters, reps, weights, seed)
    shares, factor = problem.shares(), (problem.factor() if small else 1.0)
    b_hat = problem.params
    label = (f"{'Rademacher' if weights == 'rademacher' else 'Webb'} weights; bootstrap "
             "scores recentred by " + ("one Newton step with the cluster Hessians"
                                       if how == "hessian" else "cluster shares (boottest)"))

    if jacobian is not None:
        j = np.asarray(jacobian, float).reshape(-1)
        a = problem.bread(b_hat)
        u = problem.cluster_scores(b_hat) @ a @ j
        rc = problem.recentring(b_hat, u, a, j[None, :], how)
        return _unrestricted(u, shares, factor, chunks, float(estimate), float(null_value),
                             hypothesis, n_draws, exact, weights, problem.n_clusters, level,
                             conf_set, keep_dist, rc,
                             "Unrestricted score bootstrap-t of a nonlinear quantity: the "
                             "bootstrap numerator is its linearisation at the estimate (delta "
                             f"method); {label}.")

    r = np.atleast_2d(np.asarray(r, float))
    q = np.asarray(q, float).reshape(-1)
    m = r.shape[0]
    est = float((r @ b_hat)[0]) if m == 1 else None
    if not impose_null:
        a = problem.bread(b_hat)
        u = problem.cluster_scores(b_hat) @ a @ r.T
        rc = problem.recentring(b_hat, u, a, r, how)
        if m == 1:
            return _unrestricted(u[:, 0], shares, factor, chunks, est, float(q[0]), hypothesis,
                                 n_draws, exact, weights, problem.n_clusters, level, conf_set,
                                 keep_dist, rc,
                                 f"Unrestricted wild cluster score bootstrap-t; {label}.")
        diff = r @ b_hat - q
        # the Wald statistic: numerator R b - q with the bootstrap's variance at v = 1
        d1 = factor * (u.T @ u)
        stat = float(diff @ np.linalg.solve(d1, diff)) / m
        p, dist = _bootstrap_pvalue(stat, u, shares, chunks, factor, False, keep_dist, rc)
        return BootTestResult(hypothesis, stat, p, None, level, None, None, n_draws, exact,
                              weights, False, problem.n_clusters, m,
                              f"Unrestricted wild cluster score bootstrap of the Wald F; {label}.",
                              dist)

    def restricted_stat(qv: np.ndarray, start: np.ndarray | None
                        ) -> tuple[float, tuple[np.ndarray, Any], np.ndarray]:
        b_tilde = restricted_fit(problem, r, qv, start=start)
        a_t = problem.bread(b_tilde)
        u_r = problem.cluster_scores(b_tilde) @ a_t @ r.T
        rc = problem.recentring(b_tilde, u_r, a_t, r, how)
        u_r = u_r[:, 0] if m == 1 else u_r
        _, s = wild_statistics(u_r, shares, np.ones((problem.n_clusters, 1)), factor=factor,
                               recentre=rc)
        return float(s[0]), (u_r, rc), b_tilde

    try:
        stat, (u0, rc0), b_tilde = restricted_stat(q, None)
    except ConvergenceWarning as exc:
        raise ValueError(f"could not impose the null {hypothesis!r}: the restricted "
                         f"(quasi-)likelihood maximisation failed ({exc}); the hypothesis may "
                         "be incompatible with the data (e.g. separation under the null)"
                         ) from None
    p, dist = _bootstrap_pvalue(stat, u0, shares, chunks, factor, m == 1, keep_dist, rc0)
    method = (f"Restricted wild cluster score bootstrap (null imposed by constrained "
              f"re-estimation); {label}.")
    cset = None
    if m == 1 and conf_set:
        def pvalue_at(theta: float, start: np.ndarray | None) -> tuple[float, np.ndarray]:
            try:
                s, (u_t, rc_t), b_t = restricted_stat(np.array([theta]), start)
            except (ConvergenceWarning, np.linalg.LinAlgError, FloatingPointError):
                return 0.0, start
            return _bootstrap_pvalue(s, u_t, shares, chunks, factor, True, False, rc_t)[0], b_t

        se = _wald_se(problem, r[0], b_hat, shares, factor)
        cset = _invert(pvalue_at, est, se, alpha, ptol)
    return BootTestResult(hypothesis, stat, p, cset, level, est, float(q[0]) if m == 1 else None,
                          n_draws, exact, weights, True, problem.n_clusters, m, method, dist)


def _wald_se(problem: ScoreProblem, row: np.ndarray, b: np.ndarray, shares: np.ndarray,
             factor: float) -> float:
    u = problem.cluster_scores(b) @ problem.bread(b) @ row
    return float(np.sqrt(factor * (u @ u)))


def _unrestricted(u: np.ndarray, shares: np.ndarray, factor: float, chunks: Any,
                  estimate: float, null_value: float, hypothesis: str, n_draws: int,
                  exact: bool, weights: str, n_clusters: int, level: float, conf_set: bool,
                  keep_dist: bool, recentre: Any, method: str) -> BootTestResult:
    se = float(np.sqrt(factor * (u.reshape(-1) @ u.reshape(-1))))
    stat = (estimate - null_value) / se if se > 0 else float("nan")
    u = u.reshape(-1)
    dists = [np.abs(wild_statistics(u, shares, v, factor=factor, recentre=recentre)[1])
             for v in chunks()]
    dist = np.concatenate(dists)
    finite = dist[np.isfinite(dist)]
    target = abs(stat) * (1.0 - 1e-12)
    p = float(np.count_nonzero(finite >= target) / len(dist)) if np.isfinite(stat) else np.nan
    cset = None
    if conf_set and np.isfinite(se) and se > 0:
        # p(theta) > alpha  <=>  #{|t*| >= s} > alpha B  <=>  s <= d_(m), m = floor(alpha B) + 1
        ordered = np.sort(finite)[::-1]
        m_idx = int(np.floor((1.0 - level) * len(dist))) + 1
        d = ordered[m_idx - 1] if m_idx <= len(ordered) else 0.0
        cset = pd.DataFrame({"lower": [estimate - d * se], "upper": [estimate + d * se]})
    return BootTestResult(hypothesis, stat, p, cset, level, estimate, null_value, n_draws, exact,
                          weights, False, n_clusters, 1, method, dist if keep_dist else None)


def _invert(pvalue_at: Callable[[float, Any], tuple[float, Any]], est: float, se: float,
            alpha: float, ptol: float) -> pd.DataFrame:
    """The set {theta: p(theta) > alpha}: step out from the estimate to bracket each bound,
    scan a grid between the brackets for holes, bisect every crossing."""
    if not (np.isfinite(se) and se > 0):
        se = max(abs(est), 1.0)
    start_cache: dict[float, Any] = {}

    def p_of(theta: float, start: Any = None) -> float:
        p, b = pvalue_at(theta, start)
        start_cache[theta] = b
        return p

    p_est, b_est = pvalue_at(est, None)

    def bracket(direction: float) -> float:
        step, start = 2.0 * se, b_est
        for _ in range(30):
            theta = est + direction * step
            p, b = pvalue_at(theta, start)
            start_cache[theta] = b
            if p <= alpha:
                return theta
            step *= 2.0
            start = b
        return direction * np.inf

    lo_out, hi_out = bracket(-1.0), bracket(1.0)
    lo_grid = lo_out if np.isfinite(lo_out) else est - 2.0 ** 30 * se
    hi_grid = hi_out if np.isfinite(hi_out) else est + 2.0 ** 30 * se
    grid = np.unique(np.concatenate([np.linspace(lo_grid, hi_grid, 25), [est]]))
    accepted = np.array([p_of(t, _nearest_start(start_cache, t)) > alpha for t in grid])
    pieces: list[list[float]] = []
    lower: float | None = -np.inf if (accepted[0] and not np.isfinite(lo_out)) else None
    for i, ok in enumerate(accepted):
        if ok and lower is None:
            lower = _bisect(p_of, grid[i - 1], grid[i], alpha, ptol * se, start_cache)
        if not ok and lower is not None:
            pieces.append([lower, _bisect(p_of, grid[i - 1], grid[i], alpha, ptol * se,
                                          start_cache)])
            lower = None
    if lower is not None:
        pieces.append([lower, np.inf])
    return pd.DataFrame(pieces, columns=["lower", "upper"])


def _nearest_start(cache: dict[float, Any], theta: float) -> Any:
    if not cache:
        return None
    key = min(cache, key=lambda t: abs(t - theta))
    return cache[key]


def _bisect(p_of: Callable[..., float], a: float, b: float, alpha: float, tol: float,
            cache: dict[float, Any]) -> float:
    """The crossing of p = alpha between ``a`` and ``b`` (accepted on exactly one side)."""
    acc_a = p_of(a, _nearest_start(cache, a)) > alpha
    for _ in range(200):
        if abs(b - a) <= tol:
            break
        mid = 0.5 * (a + b)
        if (p_of(mid, _nearest_start(cache, mid)) > alpha) == acc_a:
            a = mid
        else:
            b = mid
    return 0.5 * (a + b)


def _all_rademacher(g: int) -> np.ndarray:
    """Every sign vector of length ``g`` as columns (G, 2**G) (for tests)."""
    return np.array(list(itertools.product([1.0, -1.0], repeat=g))).T
